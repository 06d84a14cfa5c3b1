package dev.iommufd.vtd.layout;

/**
 * Scalable-mode PASID table entry (VT-d spec 9.6): 512 bits (8 qwords) at {@code PTP + (pasid & 0x3f) * 64}.
 *
 * <pre>
 *   63                          12 11 10   9    8    6   5   4   2   1    0
 *  +------------------------------+-----+-----+------+----+-----+-----+---+
 *  |          SSPTPTR             | rsv |SSADE| PGTT |SLEE|  AW | FPD | P |     qword 0
 *  +------------------------------+-----+-----+------+----+-----+-----+---+
 *   127           96 95 94 93 91  90   89    88     87   86   80 79           64
 *  +----------------+-----+------+----+----+------+------+-------+-------------+
 *  |      PAT       | rsv |  EMT |EMTE| CD |PGSNP |PWSNP | rsvd  |     DID     |     qword 1
 *  +----------------+-----+------+----+----+------+------+-------+-------------+
 *   191                         140 139 136  135  134  133  132 131 130  129  128
 *  +-------------------------------+--------+----+----+----+----+-------+----+----+
 *  |            FSPTPTR            |  rsvd  |EAFE|SMEP| NXE| WPE| FSPM  | ERE| SRE|     qword 2
 *  +-------------------------------+--------+----+----+----+----+-------+----+----+
 *  |                         qwords 3..7: not used by this model                 |
 *  +-----------------------------------------------------------------------------+
 * </pre>
 *
 * PGTT: 001 first-stage only, 010 second-stage only, 011 nested, 100 pass-through. FSPM (FLPM): 0 = 4-level,
 * 1 = 5-level first-stage paging.
 */
public final class PasidTableEntry {
    private PasidTableEntry() {
    }

    public static final int SIZE = 64;
    public static final int PASIDS_PER_TABLE = 64;

    // qword 0
    public static final long P = 1L;
    public static final long FPD = 1L << 1;
    public static final int AW_SHIFT = 2;
    public static final long SLEE = 1L << 5;
    public static final int PGTT_SHIFT = 6;
    public static final long SSADE = 1L << 9;
    public static final long RESERVED_Q0 = 0xc00L;
    public static final long SSPTPTR_MASK = 0xffff_ffff_ffff_f000L;
    public static final int PGTT_FIRST_STAGE = 1;
    public static final int PGTT_SECOND_STAGE = 2;
    public static final int PGTT_NESTED = 3;
    public static final int PGTT_PASS_THROUGH = 4;

    // qword 1
    public static final int DID_SHIFT = 0;
    public static final long RESERVED_Q1 = 0x7f_0000L;
    public static final long PWSNP = 1L << 23;
    public static final long PGSNP = 1L << 24;
    public static final long CD = 1L << 25;
    public static final long EMTE = 1L << 26;
    public static final int EMT_SHIFT = 27;
    public static final int PAT_SHIFT = 32;

    // qword 2
    public static final long SRE = 1L;
    public static final long ERE = 1L << 1;
    public static final int FSPM_SHIFT = 2;
    public static final long WPE = 1L << 4;
    public static final long NXE = 1L << 5;
    public static final long SMEP = 1L << 6;
    public static final long EAFE = 1L << 7;
    public static final long RESERVED_Q2 = 0xf00L;
    public static final long FSPTPTR_MASK = 0xffff_ffff_ffff_f000L;
    public static final int FSPM_4_LEVEL = 0;
    public static final int FSPM_5_LEVEL = 1;

    public static long entryAddress(long pasidTable, int pasid) {
        return pasidTable + (long) (pasid & (PASIDS_PER_TABLE - 1)) * SIZE;
    }

    public static long encodeQ0(long ssptptr, int aw, int pgtt, boolean ssade, boolean fpd) {
        return (ssptptr & SSPTPTR_MASK) | (ssade ? SSADE : 0) | Bits.put(pgtt, PGTT_SHIFT, 3) | Bits.put(aw, AW_SHIFT, 3)
                | (fpd ? FPD : 0) | P;
    }

    public static long encodeQ1(int did, boolean pwsnp, boolean pgsnp) {
        return Bits.put(did, DID_SHIFT, 16) | (pwsnp ? PWSNP : 0) | (pgsnp ? PGSNP : 0);
    }

    public static long encodeQ2(long fsptptr, int fspm, boolean sre, boolean wpe, boolean eafe) {
        return (fsptptr & FSPTPTR_MASK) | (eafe ? EAFE : 0) | (wpe ? WPE : 0) | Bits.put(fspm, FSPM_SHIFT, 2) | (sre ? SRE : 0);
    }

    public static boolean present(long q0) {
        return (q0 & P) != 0;
    }

    public static boolean fpd(long q0) {
        return (q0 & FPD) != 0;
    }

    public static int aw(long q0) {
        return (int) Bits.get(q0, AW_SHIFT, 3);
    }

    public static int pgtt(long q0) {
        return (int) Bits.get(q0, PGTT_SHIFT, 3);
    }

    public static boolean ssade(long q0) {
        return (q0 & SSADE) != 0;
    }

    public static long ssptptr(long q0) {
        return q0 & SSPTPTR_MASK;
    }

    public static int did(long q1) {
        return (int) Bits.get(q1, DID_SHIFT, 16);
    }

    public static boolean pgsnp(long q1) {
        return (q1 & PGSNP) != 0;
    }

    public static int fspm(long q2) {
        return (int) Bits.get(q2, FSPM_SHIFT, 2);
    }

    public static long fsptptr(long q2) {
        return q2 & FSPTPTR_MASK;
    }

    public static boolean sre(long q2) {
        return (q2 & SRE) != 0;
    }

    public static boolean wpe(long q2) {
        return (q2 & WPE) != 0;
    }

    public static boolean nxe(long q2) {
        return (q2 & NXE) != 0;
    }

    public static boolean ere(long q2) {
        return (q2 & ERE) != 0;
    }

    public static long reservedQ0(int haw) {
        return RESERVED_Q0 | Bits.aboveHaw(haw);
    }

    public static long reservedQ2(int haw) {
        return RESERVED_Q2 | Bits.aboveHaw(haw);
    }
}
