package dev.iommufd.smmuv3.layout;

/**
 * A field of a multi-dword SMMU structure (STE, CD, command, event record), packed into one {@code long}
 * constant so that every field of every layout is a named constant next to its ASCII diagram.
 *
 * <pre>
 *  63            24 23      16 15       8 7        0
 * +----------------+----------+----------+----------+
 * |      0         |  width   |  shift   |  dword   |
 * +----------------+----------+----------+----------+
 * </pre>
 *
 * {@code shift} is the bit position of the field's least significant bit inside dword {@code dword}; the
 * field never straddles two dwords (the SMMU architecture defines none that do, except S2TTB/TTB address
 * fields whose upper bits are simply RES0 up to bit 63, which are modelled inside one dword).
 */
public final class BitField {
    private BitField() {
    }

    /** A field of {@code width} bits at {@code [shift + width - 1 : shift]} of dword {@code dword}. */
    public static long of(int dword, int shift, int width) {
        if (dword < 0 || dword > 255 || shift < 0 || width < 1 || shift + width > 64) {
            throw new IllegalArgumentException("bad field dword=" + dword + " shift=" + shift + " width=" + width);
        }
        return dword | (long) shift << 8 | (long) width << 16;
    }

    /** A field given as the specification's inclusive range {@code [hi:lo]} of dword {@code dword}. */
    public static long range(int dword, int hi, int lo) {
        return of(dword, lo, hi - lo + 1);
    }

    /** A one-bit field. */
    public static long bit(int dword, int bit) {
        return of(dword, bit, 1);
    }

    public static int dword(long field) {
        return (int) (field & 0xff);
    }

    public static int shift(long field) {
        return (int) (field >>> 8 & 0xff);
    }

    public static int width(long field) {
        return (int) (field >>> 16 & 0xff);
    }

    /** The field's bits in place inside its dword. */
    public static long mask(long field) {
        int w = width(field);
        long m = w == 64 ? -1L : (1L << w) - 1;
        return m << shift(field);
    }

    /** Extracts the field from its dword value. */
    public static long extract(long field, long dwordValue) {
        int w = width(field);
        long m = w == 64 ? -1L : (1L << w) - 1;
        return dwordValue >>> shift(field) & m;
    }

    /** The value placed at the field's position (value bits beyond the width are an error). */
    public static long place(long field, long value) {
        int w = width(field);
        if (w < 64 && (value >>> w) != 0) {
            throw new IllegalArgumentException("value " + Long.toHexString(value) + " does not fit in " + w + " bits");
        }
        return value << shift(field);
    }

    /** Reads the field from a structure held as dwords starting at {@code words[offset]}. */
    public static long get(long[] words, int offset, long field) {
        return extract(field, words[offset + dword(field)]);
    }

    public static long get(long[] words, long field) {
        return get(words, 0, field);
    }

    /** Replaces the field in {@code words[offset + dword]} with {@code value}. */
    public static void set(long[] words, int offset, long field, long value) {
        int d = offset + dword(field);
        words[d] = words[d] & ~mask(field) | place(field, value);
    }

    public static void set(long[] words, long field, long value) {
        set(words, 0, field, value);
    }

    /** Whether a one-bit (or any) field is non-zero. */
    public static boolean isSet(long[] words, long field) {
        return (words[dword(field)] & mask(field)) != 0;
    }
}
