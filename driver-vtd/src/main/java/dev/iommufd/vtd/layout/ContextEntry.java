package dev.iommufd.vtd.layout;

/**
 * Legacy-mode context entry (VT-d spec 9.3): 128 bits, 256 per 4 KiB context table, indexed by devfn.
 *
 * <pre>
 *   63                                   12 11      4 3   2  1    0
 *  +---------------------------------------+---------+------+-----+---+
 *  |               SLPTPTR                 |reserved |  TT  | FPD | P |   lo (bits 63:0)
 *  +---------------------------------------+---------+------+-----+---+
 *  127                   88 87           72  71  70    67 66  64
 *  +-----------------------+---------------+----+--------+------+
 *  |       reserved        |      DID      |rsvd| AVAIL  |  AW  |       hi (bits 127:64)
 *  +-----------------------+---------------+----+--------+------+
 * </pre>
 *
 * TT: 00 untranslated requests through the second-stage tables (translation requests blocked); 01 also
 * translation/translated requests (device-TLB); 10 pass-through (needs ECAP.PT); 11 reserved.
 * AW: the AGAW of the table at SLPTPTR (see {@link CapabilityRegister}).
 */
public final class ContextEntry {
    private ContextEntry() {
    }

    /** Bytes per legacy context entry. */
    public static final int SIZE = 16;
    public static final long P = 1L;
    public static final long FPD = 1L << 1;
    public static final int TT_SHIFT = 2;
    public static final int TT_MULTI_LEVEL = 0;
    public static final int TT_DEV_IOTLB = 1;
    public static final int TT_PASS_THROUGH = 2;
    public static final long SLPTPTR_MASK = 0xffff_ffff_ffff_f000L;
    /** lo bits 11:4. */
    public static final long RESERVED_LO = 0xff0L;
    public static final int AW_SHIFT = 0;
    public static final int AVAIL_SHIFT = 3;
    public static final int DID_SHIFT = 8;
    /** hi bits 7 and 63:24 (overall 71, 127:88). */
    public static final long RESERVED_HI = 0xffff_ffff_ff00_0080L;

    public static long entryAddress(long ctp, int devfn) {
        return ctp + (long) devfn * SIZE;
    }

    public static long encodeLo(long slptptr, int tt, boolean fpd) {
        return (slptptr & SLPTPTR_MASK) | Bits.put(tt, TT_SHIFT, 2) | (fpd ? FPD : 0) | P;
    }

    public static long encodeHi(int aw, int did) {
        return Bits.put(aw, AW_SHIFT, 3) | Bits.put(did, DID_SHIFT, 16);
    }

    public static boolean present(long lo) {
        return (lo & P) != 0;
    }

    public static boolean fpd(long lo) {
        return (lo & FPD) != 0;
    }

    public static int tt(long lo) {
        return (int) Bits.get(lo, TT_SHIFT, 2);
    }

    public static long slptptr(long lo) {
        return lo & SLPTPTR_MASK;
    }

    public static int aw(long hi) {
        return (int) Bits.get(hi, AW_SHIFT, 3);
    }

    public static int did(long hi) {
        return (int) Bits.get(hi, DID_SHIFT, 16);
    }

    public static long reservedLo(int haw) {
        return RESERVED_LO | Bits.aboveHaw(haw);
    }
}
