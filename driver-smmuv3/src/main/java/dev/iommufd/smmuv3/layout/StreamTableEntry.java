package dev.iommufd.smmuv3.layout;

import static dev.iommufd.smmuv3.layout.BitField.bit;
import static dev.iommufd.smmuv3.layout.BitField.range;

/**
 * The Stream Table Entry (STE): 64 bytes, eight little-endian dwords (IHI0070 5.2, Linux
 * {@code STRTAB_STE_*}). Only the non-secure fields are modelled; dwords 4-7 are RES0 for non-secure streams.
 *
 * <pre>
 * dword 0
 *  63:59    58:56  55:6                        5:4    3:1     0
 * +--------+------+---------------------------+------+-------+---+
 * |S1CDMax | RES0 | S1ContextPtr[55:6]        |S1Fmt |Config | V |
 * +--------+------+---------------------------+------+-------+---+
 * dword 1
 *  51:50   49:48   45:44  40:37   36    35:32   31:30 29:28 27      25    19  17  16:13 12   7:6   5:4   3:2  1:0
 * +-------+-------+------+-------+-----+-------+-----+-----+--------+-----+---+---+-----+---+-----+-----+-----+-----+
 * |INSTCFG|PRIVCFG|SHCFG |ALLOCCF|MTCFG|MemAttr|STRW |EATS |S1STALLD|S2FWB|MEV|DCP|CONT |DRE|S1CSH|S1COR|S1CIR|S1DSS|
 * +-------+-------+------+-------+-----+-------+-----+-----+--------+-----+---+---+-----+---+-----+-----+-----+-----+
 * dword 2
 *  58  57  56   55   54    53    52    51    50:48 47:46 45:44 43:42 41:40 39:38  37:32   31:16  15:0
 * +---+---+----+----+-----+-----+-----+-----+-----+-----+-----+-----+-----+------+-------+------+------+
 * |S2R|S2S|S2HA|S2HD|S2PTW|S2AFF|S2END|S2A64|S2PS |S2TG |S2SH0|S2OR0|S2IR0|S2SL0 |S2T0SZ | RES0 |S2VMID|
 * +---+---+----+----+-----+-----+-----+-----+-----+-----+-----+-----+-----+------+-------+------+------+
 * dword 3
 *  63:56  55:4                      3     2        1:0
 * +------+-------------------------+----+--------+------+
 * | RES0 | S2TTB[55:4]             |S2DS|S2SL0_2 |secure|
 * +------+-------------------------+----+--------+------+
 * </pre>
 */
public final class StreamTableEntry {
    private StreamTableEntry() {
    }

    /** Bytes per STE. */
    public static final int SIZE = 64;
    /** Dwords per STE. */
    public static final int DWORDS = 8;

    // dword 0
    public static final long V = bit(0, 0);
    public static final long CONFIG = range(0, 3, 1);
    public static final long S1FMT = range(0, 5, 4);
    /** S1ContextPtr[55:6] kept in place: the field value shifted left by 6 is the address. */
    public static final long S1CONTEXTPTR = range(0, 55, 6);
    public static final long S1CDMAX = range(0, 63, 59);
    // dword 1
    public static final long S1DSS = range(1, 1, 0);
    public static final long S1CIR = range(1, 3, 2);
    public static final long S1COR = range(1, 5, 4);
    public static final long S1CSH = range(1, 7, 6);
    public static final long DRE = bit(1, 12);
    public static final long CONT = range(1, 16, 13);
    public static final long DCP = bit(1, 17);
    public static final long PPAR = bit(1, 18);
    public static final long MEV = bit(1, 19);
    public static final long S2FWB = bit(1, 25);
    public static final long S1STALLD = bit(1, 27);
    public static final long EATS = range(1, 29, 28);
    public static final long STRW = range(1, 31, 30);
    public static final long MEMATTR = range(1, 35, 32);
    public static final long MTCFG = bit(1, 36);
    public static final long ALLOCCFG = range(1, 40, 37);
    public static final long SHCFG = range(1, 45, 44);
    public static final long NSCFG = range(1, 47, 46);
    public static final long PRIVCFG = range(1, 49, 48);
    public static final long INSTCFG = range(1, 51, 50);
    // dword 2
    public static final long S2VMID = range(2, 15, 0);
    public static final long S2T0SZ = range(2, 37, 32);
    public static final long S2SL0 = range(2, 39, 38);
    public static final long S2IR0 = range(2, 41, 40);
    public static final long S2OR0 = range(2, 43, 42);
    public static final long S2SH0 = range(2, 45, 44);
    public static final long S2TG = range(2, 47, 46);
    public static final long S2PS = range(2, 50, 48);
    public static final long S2AA64 = bit(2, 51);
    public static final long S2ENDI = bit(2, 52);
    public static final long S2AFFD = bit(2, 53);
    public static final long S2PTW = bit(2, 54);
    public static final long S2HD = bit(2, 55);
    public static final long S2HA = bit(2, 56);
    public static final long S2S = bit(2, 57);
    public static final long S2R = bit(2, 58);
    /** Linux {@code STRTAB_STE_2_VTCR}: bits [50:32] as one group. */
    public static final long VTCR = range(2, 50, 32);
    // dword 3
    public static final long S2SL0_2 = bit(3, 2);
    public static final long S2DS = bit(3, 3);
    /** S2TTB[55:4] kept in place (field value shifted left by 4 is the address). */
    public static final long S2TTB = range(3, 55, 4);

    // Config encodings
    public static final int CONFIG_ABORT = 0;
    public static final int CONFIG_BYPASS = 4;
    public static final int CONFIG_S1_TRANS = 5;
    public static final int CONFIG_S2_TRANS = 6;
    public static final int CONFIG_NESTED = 7;

    // S1Fmt encodings
    public static final int S1FMT_LINEAR = 0;
    public static final int S1FMT_64K_L2 = 2;
    public static final int S1FMT_4K_L2 = 1;

    // S1DSS encodings
    public static final int S1DSS_TERMINATE = 0;
    public static final int S1DSS_BYPASS = 1;
    public static final int S1DSS_SSID0 = 2;

    // EATS encodings
    public static final int EATS_ABT = 0;
    public static final int EATS_TRANS = 1;
    public static final int EATS_S1CHK = 2;

    // STRW encodings
    public static final int STRW_NSEL1 = 0;
    public static final int STRW_EL2 = 2;

    // SHCFG encodings
    public static final int SHCFG_INCOMING = 1;

    // S2TG encodings
    public static final int S2TG_4K = 0;
    public static final int S2TG_64K = 1;
    public static final int S2TG_16K = 2;

    /** Cacheability encoding for S1CIR/S1COR, S2IR0/S2OR0: write-back read-allocate. */
    public static final int CACHE_WBRA = 1;
    /** Shareability: inner shareable. */
    public static final int SH_ISH = 3;

    /** The CD table address encoded in dword 0 (S1ContextPtr[55:6]). */
    public static long s1ContextPtr(long dword0) {
        return dword0 & BitField.mask(S1CONTEXTPTR);
    }

    /** The stage-2 table address encoded in dword 3 (S2TTB[55:4]). */
    public static long s2Ttb(long dword3) {
        return dword3 & BitField.mask(S2TTB);
    }

    /** Whether the Config field says stage 1 translates (0b1x1). */
    public static boolean stage1Enabled(int config) {
        return (config & 0b101) == 0b101;
    }

    /** Whether the Config field says stage 2 translates (0b11x). */
    public static boolean stage2Enabled(int config) {
        return (config & 0b110) == 0b110;
    }
}
