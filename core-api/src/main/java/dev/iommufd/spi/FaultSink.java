package dev.iommufd.spi;

/**
 * Where a driver delivers I/O page faults (the kernel's {@code iommu_report_device_fault}). Implemented by the
 * core. Called from the driver's interrupt/queue-draining context; must not block on the driver's locks.
 */
public interface FaultSink {

    /**
     * Reports one page request. When no domain with a fault handler is attached to the device/PASID, the core
     * answers the request with {@link PageResponse#INVALID} at once ({@code iopf_error_response}). Otherwise
     * requests without LAST_PAGE are kept until the group's last one arrives; the group is answered by user space
     * (through the FAULT object), INVALID when its attachment goes away, or FAILURE when the core cannot take it.
     */
    void reportPageFault(DeviceHandle device, IoPageFault fault);
}
