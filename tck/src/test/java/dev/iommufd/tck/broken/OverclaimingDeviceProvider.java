package dev.iommufd.tck.broken;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import java.util.EnumSet;
import java.util.Set;

/**
 * Defect: does not declare DIRTY_TRACKING (and refuses DIRTY_TRACKING domains accordingly) but its per-device
 * {@code deviceCapable(dev, DIRTY_TRACKING)} still says yes, as a driver that reads the unit's feature bit without
 * checking what it implements would.
 */
public final class OverclaimingDeviceProvider extends WrappingProvider {
    public static final String ID = "broken-overclaim";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "deviceCapable claims DIRTY_TRACKING, which capabilities() does not declare";
    }

    @Override
    public Set<Capability> capabilities() {
        EnumSet<Capability> c = EnumSet.copyOf(mock.capabilities());
        c.remove(Capability.DIRTY_TRACKING);
        return java.util.Collections.unmodifiableSet(c);
    }

    @Override
    protected void beforePagingAlloc(int flags) {
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) != 0) {
            throw ErrnoException.notSupported("dirty tracking");
        }
    }

    @Override
    protected boolean deviceCapable(DeviceHandle device, Capability capability, boolean mockAnswer) {
        return capability == Capability.DIRTY_TRACKING ? mockAnswer : super.deviceCapable(device, capability, mockAnswer);
    }
}
