package dev.iommufd.vtd.layout;

/**
 * First-stage paging entry (VT-d spec 9.7): the x86-64 (IA-32e) paging format, 4 levels (48-bit input) or
 * 5 levels (57-bit, PASID entry FSPM = 1, needs CAP.FL5LP). Level 1 maps 4 KiB; PS at level 2 maps 2 MiB,
 * at level 3 maps 1 GiB (needs CAP.FL1GP).
 *
 * <pre>
 *   63  62    52 51                   12  11  10   9    8   7    6   5    4     3    2     1    0
 *  +---+--------+-----------------------+----+----+----+---+----+---+---+-----+-----+-----+-----+---+
 *  |XD |ignored |        ADDR           |ign | EA |ign | G | PS | D | A | PCD | PWT | U/S | R/W | P |
 *  +---+--------+-----------------------+----+----+----+---+----+---+---+-----+-----+-----+-----+---+
 * </pre>
 *
 * In a large leaf bit 12 is PAT and bits 20:13 (2 MiB) or 29:13 (1 GiB) are reserved. PS is reserved at
 * levels 4 and 5. Address bits at and above HAW are reserved; XD is reserved when the PASID entry's NXE is 0.
 */
public final class FirstStagePte {
    private FirstStagePte() {
    }

    public static final long P = 1L;
    public static final long RW = 1L << 1;
    public static final long US = 1L << 2;
    public static final long PWT = 1L << 3;
    public static final long PCD = 1L << 4;
    public static final long A = 1L << 5;
    public static final long D = 1L << 6;
    public static final long PS = 1L << 7;
    public static final long G = 1L << 8;
    public static final long EA = 1L << 10;
    public static final long PAT_LARGE = 1L << 12;
    public static final long XD = 1L << 63;
    public static final long ADDR_MASK = 0x000f_ffff_ffff_f000L;

    public static boolean present(long e) {
        return (e & P) != 0;
    }

    public static long address(long e, int level) {
        if (level > 1 && (e & PS) != 0) {
            return e & ADDR_MASK & ~(SecondStagePte.levelSize(level) - 1);
        }
        return e & ADDR_MASK;
    }

    /** A table entry as Linux writes it: {@code phys | P | R/W | U/S | A}. */
    public static long table(long tablePa) {
        return (tablePa & ADDR_MASK) | P | RW | US | A;
    }

    /** A leaf as Linux writes it: {@code phys | P | U/S | A}, plus {@code R/W | D} when writable, PS above level 1. */
    public static long leaf(long pa, int level, boolean writable) {
        return (pa & ADDR_MASK) | P | US | A | (writable ? RW | D : 0) | (level > 1 ? PS : 0);
    }

    public static long reserved(int level, boolean large, int haw, boolean nxe) {
        long base = Bits.aboveHaw(haw) & ADDR_MASK; // HAW..51
        long xd = nxe ? 0 : XD;
        if (level >= 4) {
            return base | xd | PS;
        }
        if (large) {
            return base | xd | (level == 2 ? 0x1f_e000L : 0x3fff_e000L);
        }
        return base | xd;
    }
}
