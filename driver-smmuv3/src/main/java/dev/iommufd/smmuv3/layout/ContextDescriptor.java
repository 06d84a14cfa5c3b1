package dev.iommufd.smmuv3.layout;

import static dev.iommufd.smmuv3.layout.BitField.bit;
import static dev.iommufd.smmuv3.layout.BitField.range;

/**
 * The Context Descriptor (CD): 64 bytes, eight little-endian dwords (IHI0070 5.4, Linux {@code CTXDESC_CD_*}),
 * and the level-1 CD descriptor (L1CD) of 2-level CD tables.
 *
 * <pre>
 * dword 0
 *  63:48  47   46 45 44 43 42  41   40  39   38   37   36  35   34:32 31 30   29:28 27:26 25:24 23:22 21:16 15   14   13:12 11:10 9:8  7:6  5:0
 * +------+----+--+--+--+--+---+----+---+----+----+----+---+----+-----+--+----+-----+-----+-----+-----+-----+----+----+-----+-----+----+----+-----+
 * | ASID |ASET|A |R |S |HA|HD |AA64|PAN|TBI1|TBI0|UWXN|WXN|AFFD| IPS |V |EPD1| SH1 | OR1 | IR1 | TG1 |T1SZ |ENDI|EPD0| SH0 | OR0 |IR0 |TG0 |T0SZ |
 * +------+----+--+--+--+--+---+----+---+----+----+----+---+----+-----+--+----+-----+-----+-----+-----+-----+----+----+-----+-----+----+----+-----+
 * dword 1                                   dword 2                              dword 3
 *  63:56  55:4            3    2    1    0   63:56  55:4          3   2    1    0   63:32  31:0
 * +------+---------------+----+----+----+--+ +------+-------------+---+----+----+--+ +------+------+
 * | misc | TTB0[55:4]    |HAFT|E0PD|HAD0|NS| | misc | TTB1[55:4]  |AIE|E0PD|HAD1|NS| | MAIR1| MAIR0|
 * +------+---------------+----+----+----+--+ +------+-------------+---+----+----+--+ +------+------+
 *
 * L1CD (8 bytes)
 *  63:56  55:12                       11:1   0
 * +------+---------------------------+------+---+
 * | RES0 | L2Ptr[55:12]              | RES0 | V |
 * +------+---------------------------+------+---+
 * </pre>
 */
public final class ContextDescriptor {
    private ContextDescriptor() {
    }

    public static final int SIZE = 64;
    public static final int DWORDS = 8;

    // dword 0
    public static final long T0SZ = range(0, 5, 0);
    public static final long TG0 = range(0, 7, 6);
    public static final long IR0 = range(0, 9, 8);
    public static final long OR0 = range(0, 11, 10);
    public static final long SH0 = range(0, 13, 12);
    public static final long EPD0 = bit(0, 14);
    public static final long ENDI = bit(0, 15);
    public static final long T1SZ = range(0, 21, 16);
    public static final long TG1 = range(0, 23, 22);
    public static final long IR1 = range(0, 25, 24);
    public static final long OR1 = range(0, 27, 26);
    public static final long SH1 = range(0, 29, 28);
    public static final long EPD1 = bit(0, 30);
    public static final long V = bit(0, 31);
    public static final long IPS = range(0, 34, 32);
    public static final long AFFD = bit(0, 35);
    public static final long WXN = bit(0, 36);
    public static final long UWXN = bit(0, 37);
    public static final long TBI0 = bit(0, 38);
    public static final long TBI1 = bit(0, 39);
    public static final long PAN = bit(0, 40);
    public static final long AA64 = bit(0, 41);
    public static final long HD = bit(0, 42);
    public static final long HA = bit(0, 43);
    public static final long S = bit(0, 44);
    public static final long R = bit(0, 45);
    public static final long A = bit(0, 46);
    public static final long ASET = bit(0, 47);
    public static final long ASID = range(0, 63, 48);
    // dword 1
    public static final long HAD0 = bit(1, 1);
    /** TTB0[55:4] kept in place. */
    public static final long TTB0 = range(1, 55, 4);
    // dword 2
    public static final long HAD1 = bit(2, 1);
    public static final long TTB1 = range(2, 55, 4);
    // dword 3
    public static final long MAIR = range(3, 63, 0);

    /** TG0 encodings (TCR_EL1.TG0). */
    public static final int TG0_4K = 0;
    public static final int TG0_64K = 1;
    public static final int TG0_16K = 2;
    /** TG1 encodings (TCR_EL1.TG1). */
    public static final int TG1_16K = 1;
    public static final int TG1_4K = 2;
    public static final int TG1_64K = 3;

    /** Linux io-pgtable-arm's MAIR: attr 0 NC (0x44), 1 WBRWA (0xff), 2 Device-nGnRE (0x04), 3 inner NC outer WB (0xf4). */
    public static final long LINUX_MAIR = 0x0000_0000_f404_ff44L;

    // ---- L1CD
    public static final int L1_SIZE = 8;
    public static final long L1_V = 1L;
    public static final long L1_L2PTR_MASK = 0x00ff_ffff_ffff_f000L;
    /** Linux {@code CTXDESC_SPLIT}: SSID bits resolved by a 4 KiB leaf table (S1Fmt=1). */
    public static final int SPLIT_4K = 6;
    /** SSID bits resolved by a 64 KiB leaf table (S1Fmt=2). */
    public static final int SPLIT_64K = 10;

    public static long ttb0(long dword1) {
        return dword1 & BitField.mask(TTB0);
    }

    public static long encodeL1(long leafTable) {
        if ((leafTable & ~L1_L2PTR_MASK) != 0) {
            throw new IllegalArgumentException("L1CD leaf table not 4 KiB aligned: " + Long.toHexString(leafTable));
        }
        return leafTable | L1_V;
    }
}
