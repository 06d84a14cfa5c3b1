package dev.iommufd.smmuv3.layout;

/**
 * The Level-1 Stream Table Descriptor (L1STD) of a 2-level stream table: 8 bytes (IHI0070 5.1, Linux
 * {@code STRTAB_L1_DESC_*}).
 *
 * <pre>
 *  63:56  55:6                             5     4:0
 * +------+--------------------------------+-----+------+
 * | RES0 | L2Ptr[55:6]                    |RES0 | Span |
 * +------+--------------------------------+-----+------+
 * </pre>
 *
 * Span 0 = invalid (no level-2 table); 1..11 = the level-2 table holds {@code 2^(Span-1)} STEs; 12..31
 * reserved (treated as invalid). L2Ptr bits below the table size are treated as zero.
 */
public final class StreamTableDescriptor {
    private StreamTableDescriptor() {
    }

    public static final int SIZE = 8;
    public static final long SPAN_MASK = 0x1f;
    public static final long L2PTR_MASK = 0x00ff_ffff_ffff_ffc0L;
    /** Largest valid Span. */
    public static final int SPAN_MAX = 11;

    public static long encode(long l2Table, int span) {
        if ((l2Table & ~L2PTR_MASK) != 0 || span < 0 || span > SPAN_MAX) {
            throw new IllegalArgumentException("bad L1STD l2=" + Long.toHexString(l2Table) + " span=" + span);
        }
        return l2Table | span;
    }

    public static int span(long desc) {
        return (int) (desc & SPAN_MASK);
    }

    /** L2Ptr with the bits below the level-2 table's size treated as zero. */
    public static long l2Table(long desc) {
        int span = span(desc);
        long ptr = desc & L2PTR_MASK;
        if (span >= 1) {
            long size = (1L << (span - 1)) * StreamTableEntry.SIZE;
            ptr &= ~(size - 1);
        }
        return ptr;
    }
}
