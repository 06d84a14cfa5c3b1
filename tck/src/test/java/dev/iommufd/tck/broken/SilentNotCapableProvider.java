package dev.iommufd.tck.broken;

import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;

/**
 * Defect: says a function without a PASID capability is not {@code deviceCapable(NESTING)} (as a unit whose
 * functions differ would), but allocates a NEST_PARENT domain for it anyway instead of failing with EOPNOTSUPP.
 */
public final class SilentNotCapableProvider extends WrappingProvider {
    public static final String ID = "broken-notcapable-silent";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "NEST_PARENT succeeds on a device that is not deviceCapable(NESTING)";
    }

    @Override
    protected boolean deviceCapable(DeviceHandle device, Capability capability, boolean mockAnswer) {
        if (capability == Capability.NESTING && device.function().pasidBits() == 0) {
            return false;
        }
        return super.deviceCapable(device, capability, mockAnswer);
    }
}
