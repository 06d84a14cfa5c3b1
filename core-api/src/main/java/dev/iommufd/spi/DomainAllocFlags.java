package dev.iommufd.spi;

/**
 * Paging-domain allocation flags; the same bits as the uAPI's {@code enum iommufd_hwpt_alloc_flags}.
 * {@code FAULT_ID_VALID} is handled by the core and never reaches a driver.
 */
public final class DomainAllocFlags {
    /** IOMMU_HWPT_ALLOC_NEST_PARENT: the domain can be the second stage of nested domains. */
    public static final int NEST_PARENT = 1 << 0;
    /** IOMMU_HWPT_ALLOC_DIRTY_TRACKING: the domain supports set_dirty_tracking/read_and_clear_dirty. */
    public static final int DIRTY_TRACKING = 1 << 1;
    /** IOMMU_HWPT_FAULT_ID_VALID (core-only). */
    public static final int FAULT_ID_VALID = 1 << 2;
    /** IOMMU_HWPT_ALLOC_PASID: the domain may be attached to PASIDs. */
    public static final int PASID = 1 << 3;

    private DomainAllocFlags() {
    }
}
