package dev.iommufd.tck.broken;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;

/**
 * Defect: functions without a PASID capability are not {@code deviceCapable(DIRTY_TRACKING)} and DIRTY_TRACKING
 * allocation for them fails with EOPNOTSUPP as it should, but attaching a DIRTY_TRACKING domain allocated for a capable
 * function to them succeeds: the attach-time check (intel {@code paging_domain_compatible}, selftest
 * {@code mock_domain_nop_attach}: -EINVAL) is missing.
 */
public final class MissingAttachCheckProvider extends WrappingProvider {
    public static final String ID = "broken-noattachcheck";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "a DIRTY_TRACKING domain attaches to a device that is not deviceCapable(DIRTY_TRACKING)";
    }

    private static boolean lacksDirty(DeviceHandle device) {
        return device.function().pasidBits() == 0;
    }

    @Override
    protected boolean deviceCapable(DeviceHandle device, Capability capability, boolean mockAnswer) {
        if (capability == Capability.DIRTY_TRACKING && lacksDirty(device)) {
            return false;
        }
        return super.deviceCapable(device, capability, mockAnswer);
    }

    @Override
    protected void beforePagingAlloc(DeviceHandle device, int flags) {
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) != 0 && lacksDirty(device)) {
            throw ErrnoException.notSupported("dirty tracking on " + device.function().address());
        }
    }
}
