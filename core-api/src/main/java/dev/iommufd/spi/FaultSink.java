package dev.iommufd.spi;

/**
 * Where a driver delivers I/O page faults (the kernel's {@code iommu_report_device_fault}). Implemented by the
 * core. Called from the driver's interrupt/queue-draining context; must not block on the driver's locks.
 */
public interface FaultSink {

    /**
     * Reports one page request. Requests without LAST_PAGE are kept until the group's last one arrives. When no
     * domain with a fault handler is attached to the device/PASID, the core answers the group itself with
     * {@link PageResponse#FAILURE} (the kernel's {@code iommu_report_device_fault} {@code err_abort} path); groups
     * delivered to a FAULT object are answered by user space, or INVALID when the attachment goes away.
     */
    void reportPageFault(DeviceHandle device, IoPageFault fault);
}
