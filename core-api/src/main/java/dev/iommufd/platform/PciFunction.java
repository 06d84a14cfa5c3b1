package dev.iommufd.platform;

/**
 * A PCI function on the simulated machine: its address, its capabilities, the IOMMU unit it sits behind, and
 * the DMA it issues.
 *
 * <p>DMA goes through the unit's translation ({@link dev.iommufd.spi.hw.IommuUnitModel#translate}) page by
 * page and ends in physical memory or in a fault. A request that crosses a page is split at the translation
 * boundary, as a device's DMA engine would; the whole request stops at the first failure (bytes before it have
 * been transferred). DMA methods are thread-safe and allocate nothing when translations hit.
 */
public interface PciFunction {

    PciAddress address();

    /** The 16-bit requester ID. */
    default int rid() {
        return address().rid();
    }

    /** Width of the PASID capability in bits (1-20), or 0 when the function has no PASID capability. */
    int pasidBits();

    /** Whether the function has an ATS capability. */
    boolean atsCapable();

    /** Whether the function has a PRI (page request interface) capability. */
    boolean priCapable();

    /**
     * Whether the function is an SR-IOV virtual function ({@code pdev->is_virtfn}); its PRI, if
     * {@link #priCapable()}, is its PF's, shared by all VFs. Added additively; false by default.
     */
    default boolean virtualFunction() {
        return false;
    }

    /** The name of the IOMMU unit the function sits behind (firmware scope: DMAR DRHD, IORT, IVRS). */
    String iommuUnit();

    /** The function's IOMMU group. */
    IommuGroup group();

    /**
     * Reads {@code length} bytes of memory at I/O virtual address {@code iova} into {@code dst}.
     *
     * @return {@link DmaStatus#OK}, or the status of the first page that failed
     */
    DmaStatus dmaRead(DmaAttributes attrs, long iova, byte[] dst, int offset, int length);

    /** Writes {@code length} bytes from {@code src} to I/O virtual address {@code iova}. */
    DmaStatus dmaWrite(DmaAttributes attrs, long iova, byte[] src, int offset, int length);

    /** Convenience: an untagged read. */
    default DmaStatus dmaRead(long iova, byte[] dst) {
        return dmaRead(DmaAttributes.NONE, iova, dst, 0, dst.length);
    }

    /** Convenience: an untagged write. */
    default DmaStatus dmaWrite(long iova, byte[] src) {
        return dmaWrite(DmaAttributes.NONE, iova, src, 0, src.length);
    }
}
