package dev.iommufd.spi;

import java.util.List;

/**
 * What a paging domain can translate.
 *
 * @param apertures the IOVA windows, sorted and disjoint; one for most IOMMUs, two for POWER (the 32-bit and
 *        the 64-bit DMA window)
 * @param pgsizeBitmap the supported page sizes: bit {@code n} set means {@code 2^n} bytes is a page size
 *        (the kernel's {@code pgsize_bitmap}); the lowest bit is the domain's minimum granule
 */
public record DomainGeometry(List<Aperture> apertures, long pgsizeBitmap) {
    public DomainGeometry {
        apertures = List.copyOf(apertures);
        if (apertures.isEmpty()) {
            throw new IllegalArgumentException("a paging domain needs at least one aperture");
        }
        if (pgsizeBitmap == 0) {
            throw new IllegalArgumentException("pgsizeBitmap must not be empty");
        }
    }

    public static DomainGeometry of(long start, long last, long pgsizeBitmap) {
        return new DomainGeometry(List.of(new Aperture(start, last)), pgsizeBitmap);
    }

    /** The smallest page size. */
    public long minPageSize() {
        return Long.lowestOneBit(pgsizeBitmap);
    }
}
