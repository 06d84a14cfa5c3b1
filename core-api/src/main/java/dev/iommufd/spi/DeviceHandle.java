package dev.iommufd.spi;

import dev.iommufd.platform.IommuGroup;
import dev.iommufd.platform.PciFunction;

/**
 * A device probed by a driver (the kernel's {@code struct device} with its {@code dev_iommu}). Drivers return
 * their own implementation from {@link IommuDriver#probeDevice}; the core only calls these methods and passes
 * the handle back.
 */
public interface DeviceHandle {

    PciFunction function();

    /** The driver that probed it. */
    IommuDriver driver();

    /** The name of the IOMMU unit the device sits behind. */
    default String unit() {
        return function().iommuUnit();
    }

    /** The device's IOMMU group. */
    default IommuGroup group() {
        return function().group();
    }

    /**
     * log2 of the number of PASIDs the device and its IOMMU support together ({@code dev->iommu->max_pasids}),
     * 0 when PASIDs cannot be used.
     */
    int maxPasidLog2();
}
