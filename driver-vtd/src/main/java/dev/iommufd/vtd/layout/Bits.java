package dev.iommufd.vtd.layout;

/** Field extraction and insertion on raw 64-bit words, shared by every VT-d layout class. */
final class Bits {
    private Bits() {
    }

    /** Bits {@code [lo, lo + width)} of {@code word}, right-aligned. */
    static long get(long word, int lo, int width) {
        return (word >>> lo) & mask(width);
    }

    /** {@code value} placed at bits {@code [lo, lo + width)}; bits of {@code value} beyond {@code width} are dropped. */
    static long put(long value, int lo, int width) {
        return (value & mask(width)) << lo;
    }

    static long mask(int width) {
        return width == 64 ? -1L : (1L << width) - 1;
    }

    /** Bits {@code haw..63}: physical address bits the unit cannot emit, reserved in every pointer field. */
    static long aboveHaw(int haw) {
        return haw >= 64 ? 0 : -1L << haw;
    }
}
