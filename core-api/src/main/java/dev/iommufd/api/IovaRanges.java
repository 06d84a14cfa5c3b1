package dev.iommufd.api;

import java.util.List;

/**
 * The result of {@code IOMMU_IOAS_IOVA_RANGES}: the IOVA ranges usable for mapping (the holes of the IOAS's
 * reserved set, ascending) and the alignment every map/copy IOVA and length must have.
 *
 * @param ranges usable ranges, ascending, disjoint
 * @param iovaAlignment {@code out_iova_alignment}: 1 on a fresh IOAS, at most PAGE_SIZE
 */
public record IovaRanges(List<IovaRange> ranges, long iovaAlignment) {
    public IovaRanges {
        ranges = List.copyOf(ranges);
    }
}
