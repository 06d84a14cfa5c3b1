package dev.iommufd.vtd.layout;

/**
 * Scalable-mode PASID directory entry (VT-d spec 9.5): 64 bits at {@code PASIDDIRPTR + (pasid >> 6) * 8}.
 *
 * <pre>
 *   63                                   12 11         2   1    0
 *  +---------------------------------------+------------+-----+---+
 *  |                 PTP                   |  reserved  | FPD | P |
 *  +---------------------------------------+------------+-----+---+
 * </pre>
 */
public final class PasidDirectoryEntry {
    private PasidDirectoryEntry() {
    }

    public static final int SIZE = 8;
    /** PASID bits below the directory index: one PASID table holds 64 entries. */
    public static final int PASID_PDE_SHIFT = 6;
    public static final long P = 1L;
    public static final long FPD = 1L << 1;
    public static final long RESERVED = 0xffcL;
    public static final long PTP_MASK = 0xffff_ffff_ffff_f000L;

    public static long entryAddress(long dir, int pasid) {
        return dir + (long) (pasid >>> PASID_PDE_SHIFT) * SIZE;
    }

    public static long encode(long ptp, boolean fpd) {
        return (ptp & PTP_MASK) | (fpd ? FPD : 0) | P;
    }

    public static boolean present(long e) {
        return (e & P) != 0;
    }

    public static boolean fpd(long e) {
        return (e & FPD) != 0;
    }

    public static long tablePointer(long e) {
        return e & PTP_MASK;
    }

    public static long reserved(int haw) {
        return RESERVED | Bits.aboveHaw(haw);
    }
}
