package dev.iommufd.core.selftest;

import dev.iommufd.core.IommufdContext;
import dev.iommufd.core.IommufdDevice;
import dev.iommufd.core.IommufdObject;
import dev.iommufd.core.ObjectKind;
import dev.iommufd.platform.PciFunction;

/**
 * The selftest device object ({@code struct selftest_obj} of type TYPE_IDEV): a mock PCI function plugged into the
 * machine, bound to the context as an iommufd device (without holding the file, as the kernel exempts mock
 * devices) and attached at the RID. IOMMU_DESTROY of it (or closing the file) detaches every PASID and the RID,
 * unbinds, and releases the function from the driver ({@code iommufd_selftest_destroy} + {@code mock_dev_destroy}).
 */
final class SelftestDevice extends IommufdObject {
    final IommufdContext ctx;
    PciFunction function;
    IommufdDevice idev;

    SelftestDevice(IommufdContext ctx) {
        super(ObjectKind.SELFTEST);
        this.ctx = ctx;
    }

    @Override
    protected void destroy() {
        if (idev != null) {
            for (int pasid : MockDomainOps.attachedPasids(idev)) {
                idev.detach(pasid);
            }
            idev.detach(IommufdDevice.NO_PASID);
            idev.unbind();
            idev = null;
        }
        if (function != null) {
            ctx.subsystem().iommu().release(function);
            function = null;
        }
    }
}
