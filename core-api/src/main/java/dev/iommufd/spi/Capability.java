package dev.iommufd.spi;

/**
 * What a driver declares it can do. Declared means the behaviour works (the TCK checks it); not declared means
 * every operation that needs it fails with {@code EOPNOTSUPP} (the TCK checks that too).
 */
public enum Capability {
    /** Paging domains with map/unmap/iova_to_phys (every real driver). */
    PAGING,
    /** A blocking domain: attached devices reach nothing. */
    BLOCKED_DOMAIN,
    /** An identity (pass-through) domain. */
    IDENTITY_DOMAIN,
    /** {@code enforce_cache_coherency} succeeds on paging domains (IOMMU_CAP_ENFORCE_CACHE_COHERENCY). */
    ENFORCE_CACHE_COHERENCY,
    /** Paging domains allocated with {@link DomainAllocFlags#NEST_PARENT} and nested domains over them. */
    NESTING,
    /** {@link DomainAllocFlags#DIRTY_TRACKING}, set_dirty_tracking and read_and_clear_dirty. */
    DIRTY_TRACKING,
    /** Attaching domains to a device's PASIDs ({@code set_dev_pasid}) and {@link DomainAllocFlags#PASID}. */
    PASID,
    /** I/O page faults (PRI page requests / stall) delivered to the core and answered with page responses. */
    IOPF,
    /** vIOMMU objects, vDevices and invalidation through the vIOMMU. */
    VIOMMU,
    /** {@code IOMMU_GET_HW_INFO} returns a vendor structure (not just type NONE). */
    HW_INFO,
    /** Deferred (queued) IOTLB flushing: {@link IotlbGather#queued()} may be honoured. */
    DEFERRED_FLUSH
}
