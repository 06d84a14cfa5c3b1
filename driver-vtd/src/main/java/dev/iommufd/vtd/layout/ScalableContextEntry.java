package dev.iommufd.vtd.layout;

/**
 * Scalable-mode context entry (VT-d spec 9.4): 256 bits, 128 per 4 KiB context table. The root entry's lower
 * half points at the table for devfn 0..127, the upper half at the one for devfn 128..255; the index is
 * {@code devfn & 0x7f}.
 *
 * <pre>
 *   63                              12 11   9 8     5   4     3     2     1    0
 *  +----------------------------------+------+-------+-----+------+-----+-----+---+
 *  |           PASIDDIRPTR            | PDTS | rsvd  | PRE |PASIDE| DTE | FPD | P |  qword 0
 *  +----------------------------------+------+-------+-----+------+-----+-----+---+
 *   127                          85  84      83                    64
 *  +-------------------------------+--------+-----------------------+
 *  |            reserved           |RID_PRIV|       RID_PASID       |              qword 1
 *  +-------------------------------+--------+-----------------------+
 *  |                       reserved (qwords 2, 3)                   |
 *  +----------------------------------------------------------------+
 * </pre>
 *
 * PDTS: the PASID directory has {@code 2^(PDTS + 7)} entries (each covers 64 PASIDs).
 */
public final class ScalableContextEntry {
    private ScalableContextEntry() {
    }

    /** Bytes per scalable-mode context entry. */
    public static final int SIZE = 32;
    public static final long P = 1L;
    public static final long FPD = 1L << 1;
    public static final long DTE = 1L << 2;
    public static final long PASIDE = 1L << 3;
    public static final long PRE = 1L << 4;
    /** qword 0 bits 8:5. */
    public static final long RESERVED_Q0 = 0x1e0L;
    public static final int PDTS_SHIFT = 9;
    public static final long PASIDDIRPTR_MASK = 0xffff_ffff_ffff_f000L;
    public static final int RID_PASID_SHIFT = 0;
    public static final long RID_PRIV = 1L << 20;
    /** qword 1 bits 63:21. */
    public static final long RESERVED_Q1 = 0xffff_ffff_ffe0_0000L;

    /** Address of the entry for {@code devfn} given the root entry's two halves. */
    public static long entryAddress(long ctp, int devfn) {
        return ctp + (long) (devfn & 0x7f) * SIZE;
    }

    public static long encodeQ0(long pasidDir, int pdts, boolean dte, boolean paside, boolean pre, boolean fpd) {
        return (pasidDir & PASIDDIRPTR_MASK) | Bits.put(pdts, PDTS_SHIFT, 3) | (pre ? PRE : 0) | (paside ? PASIDE : 0)
                | (dte ? DTE : 0) | (fpd ? FPD : 0) | P;
    }

    public static long encodeQ1(int ridPasid) {
        return Bits.put(ridPasid, RID_PASID_SHIFT, 20);
    }

    public static boolean present(long q0) {
        return (q0 & P) != 0;
    }

    public static int pdts(long q0) {
        return (int) Bits.get(q0, PDTS_SHIFT, 3);
    }

    /** PASIDs covered by the directory: {@code 2^(PDTS + 7) * 64}. */
    public static int pasidLimit(long q0) {
        return 1 << (pdts(q0) + 7 + PasidDirectoryEntry.PASID_PDE_SHIFT);
    }

    public static long pasidDirPointer(long q0) {
        return q0 & PASIDDIRPTR_MASK;
    }

    public static int ridPasid(long q1) {
        return (int) Bits.get(q1, RID_PASID_SHIFT, 20);
    }

    /** Linux {@code context_pdts}: PDTS for a PASID table of {@code pasids} entries ({@code log2(pasids >> 6) - 7}). */
    public static int pdtsFor(int pasids) {
        int dirEntries = Math.max(1, pasids >>> PasidDirectoryEntry.PASID_PDE_SHIFT);
        return Math.max(0, 31 - Integer.numberOfLeadingZeros(dirEntries) - 7);
    }

    public static long reservedQ0(int haw) {
        return RESERVED_Q0 | Bits.aboveHaw(haw);
    }
}
