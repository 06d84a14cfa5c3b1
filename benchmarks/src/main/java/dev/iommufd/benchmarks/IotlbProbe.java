package dev.iommufd.benchmarks;

/**
 * B7 at the hardware level: one IOMMU model's IOTLB ({@code dev.iommufd.vtd.hw.Iotlb},
 * {@code dev.iommufd.smmuv3.hw.Smmuv3Tlb}), driven through its own package-private fill and invalidation verbs by a
 * probe class this module places in the model's package (classpath only). The probe holds a fresh IOTLB of the
 * unit's size; nothing else of the unit (queues, registers, walks) is involved.
 *
 * <p>A "domain" is what the format's domain-wide invalidation names: the VT-d domain ID (second-stage entries,
 * legacy mode: PASID 0), or the SMMUv3 ASID (stage-1 entries of VMID 0).
 */
public interface IotlbProbe {
    /** Entries of the IOTLB (the unit's size: VT-d 1024, SMMUv3 4096). */
    int capacity();

    /** Caches a 4 KiB read/write translation of {@code iova} for {@code domain}, as a page walk's fill does. */
    void fill(int domain, long iova, long pa);

    /**
     * Page-selective invalidation of {@code pages} 4 KiB pages from {@code iova} (a power of two, {@code iova}
     * aligned to it), as the hardware executes the invalidation the driver issues: VT-d a page-selective IOTLB
     * invalidation with address mask {@code log2(pages)}; SMMUv3 a {@code TLBI_NH_VA} (range form) of the ASID.
     */
    void invalidatePages(int domain, long iova, int pages);

    /** Domain-wide invalidation: VT-d domain-selective IOTLB invalidation; SMMUv3 {@code TLBI_NH_ASID}. */
    void invalidateDomain(int domain);

    /** Live entries (for the smoke test). */
    int liveEntries();
}
