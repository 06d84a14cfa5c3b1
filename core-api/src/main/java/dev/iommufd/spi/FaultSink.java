package dev.iommufd.spi;

/**
 * Where a driver delivers I/O page faults (the kernel's {@code iommu_report_device_fault}). Implemented by the
 * core. Called from the driver's interrupt/queue-draining context; must not block on the driver's locks.
 */
public interface FaultSink {

    /**
     * Reports one page request. When no domain with a fault handler is attached to the device/PASID, the core
     * answers the group itself with {@link PageResponse#INVALID} (after the last page of the group).
     */
    void reportPageFault(DeviceHandle device, IoPageFault fault);
}
