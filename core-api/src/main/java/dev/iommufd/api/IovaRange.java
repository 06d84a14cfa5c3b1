package dev.iommufd.api;

/**
 * An IOVA range {@code [start, last]}, inclusive, compared unsigned ({@code struct iommu_iova_range}).
 */
public record IovaRange(long start, long last) {

    /** Whether the range holds {@code iova} (unsigned). */
    public boolean contains(long iova) {
        return Long.compareUnsigned(iova, start) >= 0 && Long.compareUnsigned(iova, last) <= 0;
    }

    @Override
    public String toString() {
        return String.format("[%#x, %#x]", start, last);
    }
}
