package dev.iommufd.api;

import java.util.List;

/**
 * VFIO_IOMMU_GET_INFO on an iommufd used as a VFIO type1 container, in typed form.
 *
 * @param iovaPgsizes {@code iova_pgsizes}: the page sizes every domain of the compat IOAS supports (at least
 *        PAGE_SIZE, at least the IOAS's IOVA alignment)
 * @param iovaRanges the usable IOVA ranges (holes of the reserved ranges), the IOVA_RANGE capability
 * @param dmaAvail the DMA_AVAIL capability ({@code U32_MAX}: iommufd has no mapping count limit)
 */
public record VfioIommuInfo(long iovaPgsizes, List<IovaRange> iovaRanges, long dmaAvail) {
}
