package dev.iommufd.vtd.layout;

/**
 * CAP_REG (offset 0x08, 64 bit, read-only): what the remapping unit can do (VT-d spec 11.4.2).
 *
 * <pre>
 *  63     62      61    60    59  58 57  56    55  54   53  48 47   40  39  38 37  34 33    24
 * +------+-------+-----+-----+---+-----+-----+---+---+-------+-------+---+---+-------+--------+
 * |ESRTPS|ESIRTPS|ECMDS|FL5LP| PI| rsv |FL1GP|DRD|DWD| MAMV  |  NFR  |PSI|rsv| SLLPS |  FRO   |
 * +------+-------+-----+-----+---+-----+-----+---+---+-------+-------+---+---+-------+--------+
 *   23    22   21    16 15 13 12     8  7    6    5     4    3    2   0
 * +-----+----+--------+-----+--------+----+----+----+------+-----+-----+
 * |ISOCH| ZLR|  MGAW  | rsv | SAGAW  | CM |PHMR|PLMR| RWBF | AFL | ND  |
 * +-----+----+--------+-----+--------+----+----+----+------+-----+-----+
 * </pre>
 *
 * Address widths: AGAW {@code k} (the AW field of context/PASID entries, bit {@code k} of SAGAW) is a
 * {@code 30 + 9k}-bit address space walked with {@code k + 2} levels: 1 = 39 bit/3 levels, 2 = 48/4, 3 = 57/5.
 */
public final class CapabilityRegister {
    private CapabilityRegister() {
    }

    public static final int ND_SHIFT = 0;
    public static final long AFL = 1L << 3;
    public static final long RWBF = 1L << 4;
    public static final long PLMR = 1L << 5;
    public static final long PHMR = 1L << 6;
    public static final long CM = 1L << 7;
    public static final int SAGAW_SHIFT = 8;
    public static final int MGAW_SHIFT = 16;
    public static final long ZLR = 1L << 22;
    public static final int FRO_SHIFT = 24;
    public static final int SLLPS_SHIFT = 34;
    /** SLLPS bit: 2 MiB second-stage pages. */
    public static final int SLLPS_2M = 1;
    /** SLLPS bit: 1 GiB second-stage pages. */
    public static final int SLLPS_1G = 2;
    public static final long PSI = 1L << 39;
    public static final int NFR_SHIFT = 40;
    public static final int MAMV_SHIFT = 48;
    public static final long DWD = 1L << 54;
    public static final long DRD = 1L << 55;
    public static final long FL1GP = 1L << 56;
    public static final long PI = 1L << 59;
    public static final long FL5LP = 1L << 60;
    public static final long ECMDS = 1L << 61;
    public static final long ESIRTPS = 1L << 62;
    public static final long ESRTPS = 1L << 63;

    /** SAGAW bit for 3-level (39-bit) tables. */
    public static final int SAGAW_39 = 1 << 1;
    /** SAGAW bit for 4-level (48-bit) tables. */
    public static final int SAGAW_48 = 1 << 2;
    /** SAGAW bit for 5-level (57-bit) tables. */
    public static final int SAGAW_57 = 1 << 3;

    public static int nd(long cap) {
        return (int) Bits.get(cap, ND_SHIFT, 3);
    }

    /** Number of domain IDs: {@code 2^(4 + 2*ND)}. */
    public static int domainCount(long cap) {
        return 1 << (4 + 2 * nd(cap));
    }

    public static int sagaw(long cap) {
        return (int) Bits.get(cap, SAGAW_SHIFT, 5);
    }

    /** Maximum guest address width in bits ({@code MGAW + 1}). */
    public static int mgaw(long cap) {
        return (int) Bits.get(cap, MGAW_SHIFT, 6) + 1;
    }

    /** Byte offset of the first fault recording register ({@code FRO * 16}). */
    public static int faultRecordOffset(long cap) {
        return (int) Bits.get(cap, FRO_SHIFT, 10) * 16;
    }

    public static int sllps(long cap) {
        return (int) Bits.get(cap, SLLPS_SHIFT, 4);
    }

    /** Number of fault recording registers ({@code NFR + 1}). */
    public static int faultRecordCount(long cap) {
        return (int) Bits.get(cap, NFR_SHIFT, 8) + 1;
    }

    public static int mamv(long cap) {
        return (int) Bits.get(cap, MAMV_SHIFT, 6);
    }

    public static boolean has(long cap, long bit) {
        return (cap & bit) != 0;
    }

    /** Address width in bits of AGAW {@code k}. */
    public static int agawToWidth(int agaw) {
        return 30 + 9 * agaw;
    }

    /** Paging levels of AGAW {@code k}. */
    public static int agawToLevels(int agaw) {
        return agaw + 2;
    }

    /** Linux {@code width_to_agaw}: the smallest AGAW whose width covers {@code width} bits. */
    public static int widthToAgaw(int width) {
        return (width - 30 + 8) / 9;
    }

    public static long encode(int nd, int sagaw, int mgawBits, int fro16, int sllps, int nfr, int mamv, long flags) {
        return Bits.put(nd, ND_SHIFT, 3) | Bits.put(sagaw, SAGAW_SHIFT, 5) | Bits.put(mgawBits - 1, MGAW_SHIFT, 6)
                | Bits.put(fro16, FRO_SHIFT, 10) | Bits.put(sllps, SLLPS_SHIFT, 4) | Bits.put(nfr, NFR_SHIFT, 8)
                | Bits.put(mamv, MAMV_SHIFT, 6) | flags;
    }
}
