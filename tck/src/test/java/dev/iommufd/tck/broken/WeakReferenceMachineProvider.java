package dev.iommufd.tck.broken;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import java.util.EnumSet;
import java.util.Set;

/**
 * Defect: declares DIRTY_TRACKING, consistently refuses it on every device of its reference machine (deviceCapable
 * false, EOPNOTSUPP on allocation): a driver hiding an untested capability behind a weak reference machine. Every
 * per-device rule passes; only CAP-11 catches it.
 */
public final class WeakReferenceMachineProvider extends WrappingProvider {
    public static final String ID = "broken-weakmachine";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "declares DIRTY_TRACKING but no function of its reference machine is capable of it";
    }

    @Override
    protected boolean deviceCapable(DeviceHandle device, Capability capability, boolean mockAnswer) {
        return capability != Capability.DIRTY_TRACKING && super.deviceCapable(device, capability, mockAnswer);
    }

    @Override
    protected void beforePagingAlloc(int flags) {
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) != 0) {
            throw ErrnoException.notSupported("dirty tracking on this unit");
        }
    }
}
