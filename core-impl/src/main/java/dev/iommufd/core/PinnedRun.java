package dev.iommufd.core;

/**
 * One run of an IOAS's mappings as iommufd's state has them: {@code length} bytes from IOVA {@code iova} reach
 * physical addresses from {@code physicalAddress}, advancing together, with the same permissions. Produced by
 * {@link IoPageTable#pinnedRuns()} for machine snapshots.
 *
 * @param iova the first IOVA
 * @param physicalAddress the physical address {@code iova} reaches
 * @param length bytes in the run
 * @param prot {@link dev.iommufd.spi.IoProt} bits of the area(s) the run belongs to
 */
public record PinnedRun(long iova, long physicalAddress, long length, int prot) {
}
