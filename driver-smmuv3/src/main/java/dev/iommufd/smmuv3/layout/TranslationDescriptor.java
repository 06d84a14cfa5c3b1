package dev.iommufd.smmuv3.layout;

/**
 * VMSAv8-64 translation table descriptors, 64-bit, for stage 1 and stage 2 and all three granules
 * (Arm ARM D8.3; Linux {@code io-pgtable-arm.c} {@code ARM_LPAE_PTE_*}).
 *
 * <pre>
 * Table descriptor (levels 0-2)
 *  63   62:61    60       59       58:52  51:48  47:g                  g-1:12        11:2     1 0
 * +----+-------+--------+--------+------+------+---------------------+-------------+--------+-+-+
 * |NSTb|APTable|UXNTable|PXNTable| ign  | RES0 | NLTA[47:g]          |NLTA[51:48]* | ignored|1|1|
 * +----+-------+--------+--------+------+------+---------------------+-------------+--------+-+-+
 *                                                                     * 64 KiB granule only, bits [15:12]
 * Stage-1 block (levels 1-2, 01) / page (level 3, 11) descriptor
 *  63:59 58:55 54      53  52   51  50:48 47:b               b-1:16 15:12      11  10  9:8  7      6      5  4:2      1 0
 * +-----+-----+-------+---+----+---+-----+------------------+------+----------+---+---+----+------+------+--+--------+-+-+
 * |PBHA | SW  |UXN/XN |PXN|Cont|DBM|RES0 | OA[47:b]         | RES0 |OA[51:48]*|nG |AF |SH  |AP[2] |AP[1] |NS|AttrIndx|T|1|
 * +-----+-----+-------+---+----+---+-----+------------------+------+----------+---+---+----+------+------+--+--------+-+-+
 * Stage-2 block / page descriptor
 *  63:59 58:55 54:53   52   51  50:48 47:b               ...  15:12      11    10  9:8  7        6        5:2      1 0
 * +-----+-----+-------+----+---+-----+------------------+---+----------+-----+---+----+--------+--------+--------+-+-+
 * |PBHA | SW  |XN[1:0]|Cont|DBM|RES0 | OA[47:b]         |   |OA[51:48]*|FnXS |AF |SH  |S2AP[1] |S2AP[0] |MemAttr |T|1|
 * +-----+-----+-------+----+---+-----+------------------+---+----------+-----+---+----+--------+--------+--------+-+-+
 *                                                             S2AP[1] = write allowed, S2AP[0] = read allowed
 * </pre>
 * {@code b} is the block/page size's shift; {@code g} the granule's. DS (FEAT_LPA2) layouts are not modelled.
 */
public final class TranslationDescriptor {
    private TranslationDescriptor() {
    }

    public static final long VALID = 1L;
    /** Bit 1: 1 = table (levels 0-2) or page (level 3); 0 = block (levels 1-2) or reserved (level 3). */
    public static final long TYPE_TABLE_OR_PAGE = 1L << 1;
    public static final long TYPE_MASK = 3L;
    public static final long TYPE_BLOCK = 1L;
    public static final long TYPE_TABLE = 3L;
    public static final long TYPE_PAGE = 3L;

    // stage 1 leaf
    public static final int ATTRINDX_SHIFT = 2;
    public static final long ATTRINDX_MASK = 7L << ATTRINDX_SHIFT;
    public static final long NS = 1L << 5;
    /** AP[1]: accessible at EL0 (unprivileged). Linux {@code ARM_LPAE_PTE_AP_UNPRIV}. */
    public static final long AP_UNPRIV = 1L << 6;
    /** AP[2]: read-only. Linux {@code ARM_LPAE_PTE_AP_RDONLY}. */
    public static final long AP_RDONLY = 1L << 7;
    public static final int SH_SHIFT = 8;
    public static final long SH_MASK = 3L << SH_SHIFT;
    public static final long SH_OS = 2L << SH_SHIFT;
    public static final long SH_IS = 3L << SH_SHIFT;
    public static final long AF = 1L << 10;
    public static final long NG = 1L << 11;
    public static final long DBM = 1L << 51;
    public static final long CONT = 1L << 52;
    public static final long PXN = 1L << 53;
    public static final long UXN = 1L << 54;
    /** Linux {@code ARM_LPAE_PTE_XN}: both execute-never bits. */
    public static final long XN = PXN | UXN;

    // stage 2 leaf
    public static final int S2_MEMATTR_SHIFT = 2;
    public static final long S2_MEMATTR_MASK = 0xfL << S2_MEMATTR_SHIFT;
    public static final long S2_MEMATTR_OIWB = 0xfL << S2_MEMATTR_SHIFT;
    public static final long S2_MEMATTR_NC = 0x5L << S2_MEMATTR_SHIFT;
    public static final long S2_MEMATTR_DEV = 0x1L << S2_MEMATTR_SHIFT;
    /** S2AP[0]: reads allowed. Linux {@code ARM_LPAE_PTE_HAP_READ}. */
    public static final long S2AP_READ = 1L << 6;
    /** S2AP[1]: writes allowed. Linux {@code ARM_LPAE_PTE_HAP_WRITE}. */
    public static final long S2AP_WRITE = 1L << 7;
    /** Stage-2 XN[1] (bit 54); bit 53 is XN[0] with IDR3.XNX. */
    public static final long S2_XN = 1L << 54;

    // table descriptor attributes (stage 1)
    public static final long PXN_TABLE = 1L << 59;
    public static final long UXN_TABLE = 1L << 60;
    /** APTable[0]: no EL0 access below. */
    public static final long AP_TABLE_NO_EL0 = 1L << 61;
    /** APTable[1]: no write access below. */
    public static final long AP_TABLE_RDONLY = 1L << 62;
    public static final long NS_TABLE = 1L << 63;

    /** Address bits [47:12] of a descriptor. */
    public static final long ADDR_47_12 = 0x0000_ffff_ffff_f000L;
    /** OA[51:48] held in bits [15:12] with the 64 KiB granule. */
    public static final long ADDR_51_48_IN_64K = 0xf000L;

    public static boolean isValid(long desc) {
        return (desc & VALID) != 0;
    }

    /** Whether a valid descriptor at {@code level} is a table (levels 0-2, type 0b11). */
    public static boolean isTable(long desc, int level) {
        return level < 3 && (desc & TYPE_MASK) == TYPE_TABLE;
    }

    /**
     * The output (or next-level table) address of a descriptor, aligned down to {@code alignShift}
     * (the granule for tables and pages, the block size for blocks). With the 64 KiB granule, bits [15:12] of the
     * descriptor are OA[51:48].
     */
    public static long outputAddress(long desc, TranslationGranule granule, int alignShift) {
        long pa = desc & ADDR_47_12 & -(1L << alignShift);
        if (granule == TranslationGranule.G64K) {
            pa |= (desc & ADDR_51_48_IN_64K) << 36;
        }
        return pa;
    }

    /**
     * The descriptor address field for {@code pa} (Linux {@code paddr_to_iopte}): PA[47:g] in place, and with the
     * 64 KiB granule PA[51:48] in bits [15:12].
     */
    public static long addressField(long pa, TranslationGranule granule) {
        long field = pa & ADDR_47_12 & -granule.size();
        if (granule == TranslationGranule.G64K) {
            field |= (pa >>> 36) & ADDR_51_48_IN_64K;
        }
        return field;
    }

    /** Whether {@code pa} can be expressed in a descriptor of {@code granule} (48 bits, or 52 with 64 KiB). */
    public static boolean addressEncodable(long pa, TranslationGranule granule) {
        int bits = granule == TranslationGranule.G64K ? 52 : 48;
        return (pa >>> bits) == 0;
    }
}
