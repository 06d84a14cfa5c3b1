package dev.iommufd.vtd.layout;

/**
 * ECAP_REG (offset 0x10, 64 bit, read-only): extended capabilities (VT-d spec 11.4.3).
 *
 * <pre>
 *  63 52  51   50  49   48    47   46   45    44   43   42  41   40   39  35  34   33   32
 * +-----+----+---+-----+-----+----+----+-----+----+----+---+---+-----+-----+----+----+----+
 * | rsv | PMS|rsv| RPS |SMPWC|FLTS|SLTS|SLADS| VCS|SMTS|PDS|DIT|PASID| PSS |EAFS|NWFS|rsv |
 * +-----+----+---+-----+-----+----+----+-----+----+----+---+---+-----+-----+----+----+----+
 *   31  30   29   28  27   26   25   24   23  20 19 18 17      8   7    6   5    4    3    2    1   0
 * +---+----+----+---+----+----+----+----+------+-----+---------+----+----+---+----+----+----+----+---+
 * |SRS|ERS |PRS |rsv|rsv |NEST| MTS|rsv | MHMV | rsv |   IRO   | SC | PT |rsv| EIM| IR | DT | QI | C |
 * +---+----+----+---+----+----+----+----+------+-----+---------+----+----+---+----+----+----+----+---+
 * </pre>
 */
public final class ExtendedCapabilityRegister {
    private ExtendedCapabilityRegister() {
    }

    public static final long C = 1L << 0;
    public static final long QI = 1L << 1;
    public static final long DT = 1L << 2;
    public static final long IR = 1L << 3;
    public static final long EIM = 1L << 4;
    public static final long PT = 1L << 6;
    public static final long SC = 1L << 7;
    public static final int IRO_SHIFT = 8;
    public static final int MHMV_SHIFT = 20;
    public static final long MTS = 1L << 25;
    public static final long NEST = 1L << 26;
    public static final long PRS = 1L << 29;
    public static final long ERS = 1L << 30;
    public static final long SRS = 1L << 31;
    public static final long NWFS = 1L << 33;
    public static final long EAFS = 1L << 34;
    public static final int PSS_SHIFT = 35;
    public static final long PASID = 1L << 40;
    public static final long DIT = 1L << 41;
    public static final long PDS = 1L << 42;
    public static final long SMTS = 1L << 43;
    public static final long VCS = 1L << 44;
    public static final long SLADS = 1L << 45;
    public static final long SLTS = 1L << 46;
    public static final long FLTS = 1L << 47;
    public static final long SMPWC = 1L << 48;
    public static final long RPS = 1L << 49;
    public static final long PMS = 1L << 51;

    /** Byte offset of the IVA register ({@code IRO * 16}); the IOTLB register follows at +8. */
    public static int iotlbRegisterOffset(long ecap) {
        return (int) Bits.get(ecap, IRO_SHIFT, 10) * 16;
    }

    /** PASID width supported: {@code PSS + 1} bits. */
    public static int pasidBits(long ecap) {
        return (int) Bits.get(ecap, PSS_SHIFT, 5) + 1;
    }

    public static boolean has(long ecap, long bit) {
        return (ecap & bit) != 0;
    }

    public static long encode(int iro16, int pss, long flags) {
        return Bits.put(iro16, IRO_SHIFT, 10) | Bits.put(pss, PSS_SHIFT, 5) | flags;
    }
}
