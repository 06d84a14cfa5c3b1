package dev.iommufd.tck.broken;

import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IommuDriver;

/** A mock device handle as the wrapping driver hands it out. */
final class WrappingDevice implements DeviceHandle {
    final DeviceHandle inner;
    private final WrappingDriver driver;

    WrappingDevice(DeviceHandle inner, WrappingDriver driver) {
        this.inner = inner;
        this.driver = driver;
    }

    @Override
    public PciFunction function() {
        return inner.function();
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    @Override
    public int maxPasidLog2() {
        return inner.maxPasidLog2();
    }
}
