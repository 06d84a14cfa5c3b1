package dev.iommufd.vtd.layout;

/**
 * Second-stage paging entry (VT-d spec 9.8, "Second-Stage Paging Entries"): 64 bits, 512 per 4 KiB table.
 * Level 1 maps 4 KiB; a level-2 entry with PS maps 2 MiB, a level-3 entry with PS maps 1 GiB (SLLPS).
 *
 * <pre>
 *   63   62  61    52 51                       12  11   10   9   8   7   6   5  3   2   1   0
 *  +----+---+--------+---------------------------+----+----+---+---+----+----+-----+---+---+---+
 *  |ign | TM|ignored |          ADDR             |SNP |ign | D | A | PS |IPAT| EMT | X | W | R |
 *  +----+---+--------+---------------------------+----+----+---+---+----+----+-----+---+---+---+
 * </pre>
 *
 * An entry is present iff R or W is set. Hardware ANDs R and W over every level of the walk. SNP is a leaf
 * bit (reserved in non-leaf entries, and in leaves unless ECAP.SC or scalable mode); PS is reserved at
 * levels 4 and 5. In a 2 MiB leaf bits 20:12 are reserved, in a 1 GiB leaf bits 29:12. Bits at and above
 * HAW, and TM (bit 62), are reserved in every entry this model walks; bits 52..61 and 63 are ignored.
 * A and D are written by hardware only when the PASID entry has SSADE.
 */
public final class SecondStagePte {
    private SecondStagePte() {
    }

    public static final long R = 1L;
    public static final long W = 1L << 1;
    public static final long X = 1L << 2;
    public static final long PS = 1L << 7;
    public static final long A = 1L << 8;
    public static final long D = 1L << 9;
    public static final long SNP = 1L << 11;
    /** The bits whose OR makes an entry present: R | W. */
    public static final long PRESENT = R | W;
    public static final long TM = 1L << 62;
    public static final long ADDR_MASK = 0x000f_ffff_ffff_f000L;
    /** Ignored bits 52..61 and 63 (software available). */
    public static final long IGNORED = 0xbff0_0000_0000_0000L;

    public static final int LEVEL_STRIDE = 9;
    public static final int ENTRIES = 512;

    /** Index of {@code iova} in a level-{@code level} table (level 1 = 4 KiB leaves). */
    public static int index(long iova, int level) {
        return (int) ((iova >>> (12 + LEVEL_STRIDE * (level - 1))) & (ENTRIES - 1));
    }

    /** Bytes mapped by one entry at {@code level}. */
    public static long levelSize(int level) {
        return 1L << (12 + LEVEL_STRIDE * (level - 1));
    }

    public static boolean present(long e) {
        return (e & (R | W)) != 0;
    }

    public static boolean isLeaf(long e, int level) {
        return level == 1 || (e & PS) != 0;
    }

    public static long address(long e) {
        return e & ADDR_MASK;
    }

    /** A table (non-leaf) entry as Linux writes it: {@code phys | R | W}. */
    public static long table(long tablePa) {
        return (tablePa & ADDR_MASK) | R | W;
    }

    /** A leaf: {@code pa} with R/W/SNP from {@code attrs}, PS for {@code level > 1}. */
    public static long leaf(long pa, int level, long attrs) {
        return (pa & ADDR_MASK) | attrs | (level > 1 ? PS : 0);
    }

    /**
     * Reserved bits of an entry at {@code level}.
     *
     * @param leafLarge whether it is a PS=1 entry at level 2 or 3
     * @param snpAllowed whether SNP is a legal leaf bit (ECAP.SC or scalable mode)
     */
    public static long reserved(int level, boolean leafLarge, int haw, boolean snpAllowed) {
        long base = ~(Bits.mask(haw) | IGNORED) & ~0xfffL; // address bits HAW..51 and TM
        long snp = snpAllowed ? 0 : SNP;
        if (level == 1) {
            return base | snp;
        }
        if (leafLarge) {
            long lowAddr = level == 2 ? 0x1f_f000L : 0x3fff_f000L;
            return base | snp | lowAddr;
        }
        return base | SNP | (level >= 4 ? PS : 0);
    }
}
