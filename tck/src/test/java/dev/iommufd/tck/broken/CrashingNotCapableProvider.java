package dev.iommufd.tck.broken;

import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;

/**
 * Defect: says a function without a PASID capability is not {@code deviceCapable(DIRTY_TRACKING)}, and a
 * DIRTY_TRACKING allocation for it crashes (a missing per-unit structure dereferenced) instead of failing with
 * EOPNOTSUPP.
 */
public final class CrashingNotCapableProvider extends WrappingProvider {
    public static final String ID = "broken-notcapable-crash";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "DIRTY_TRACKING allocation crashes on a device that is not deviceCapable(DIRTY_TRACKING)";
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
            throw new NullPointerException("dirty bitmap of " + device.function().address());
        }
    }
}
