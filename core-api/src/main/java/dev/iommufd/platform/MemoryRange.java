package dev.iommufd.platform;

/**
 * A physical (or I/O virtual) address range {@code [base, base + size)}.
 *
 * @param base first address
 * @param size length in bytes, {@code > 0}
 */
public record MemoryRange(long base, long size) {
    public MemoryRange {
        if (size <= 0) {
            throw new IllegalArgumentException("size must be positive: " + size);
        }
        if (base + size - 1 < base && base + size != 0) {
            throw new IllegalArgumentException("range wraps: base " + Long.toHexString(base) + " size " + Long.toHexString(size));
        }
    }

    /** The last address, inclusive. */
    public long last() {
        return base + size - 1;
    }

    /** Whether {@code [addr, addr + length)} lies inside this range. */
    public boolean contains(long addr, long length) {
        return Long.compareUnsigned(addr, base) >= 0 && length >= 0
                && Long.compareUnsigned(addr + length - 1, last()) <= 0 && Long.compareUnsigned(addr + length - 1, addr) >= 0;
    }
}
