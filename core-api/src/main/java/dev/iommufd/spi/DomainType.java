package dev.iommufd.spi;

/** The kinds of {@link IommuDomain}, as the kernel's {@code IOMMU_DOMAIN_*}. */
public enum DomainType {
    /** Every DMA is blocked. */
    BLOCKED,
    /** DMA addresses are physical addresses (pass-through). */
    IDENTITY,
    /** A kernel-managed I/O page table: map/unmap. */
    PAGING,
    /** A user-managed first stage over a {@link DomainAllocFlags#NEST_PARENT} paging domain. */
    NESTED
}
