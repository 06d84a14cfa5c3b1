package dev.iommufd.spi;

/**
 * An IOVA range a domain can translate, {@code [start, last]} inclusive (u64, compared unsigned).
 */
public record Aperture(long start, long last) {
    public Aperture {
        if (Long.compareUnsigned(start, last) > 0) {
            throw new IllegalArgumentException(String.format("aperture start %#x > last %#x", start, last));
        }
    }

    public boolean contains(long iova, long length) {
        long end = iova + length - 1;
        return length > 0 && Long.compareUnsigned(end, iova) >= 0 && Long.compareUnsigned(iova, start) >= 0
                && Long.compareUnsigned(end, last) <= 0;
    }
}
