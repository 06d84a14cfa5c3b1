package dev.iommufd.platform;

/** What a device sees at the end of one DMA request. */
public enum DmaStatus {
    /** The request completed: data read or written. */
    OK,
    /**
     * The IOMMU refused the request (translation, permission or configuration fault); the device gets an
     * Unsupported Request / Completer Abort. The unit recorded (or, where configured, suppressed) a fault.
     */
    FAULT,
    /**
     * The translation faulted, and the function has PRI enabled: the IOMMU queued a page request. The device
     * retries after the page response.
     */
    PAGE_REQUEST,
    /** The translated physical address has no RAM behind it. */
    BUS_ERROR
}
