package dev.iommufd.vtd.layout;

/**
 * Fault recording register FRCD (VT-d spec 11.4.14): 128 bits, {@code NFR + 1} of them from
 * {@code CAP.FRO * 16}.
 *
 * <pre>
 *   63                                      12 11          0
 *  +------------------------------------------+-------------+
 *  |                  FI                      |  reserved   |     qword 0: faulting page address
 *  +------------------------------------------+-------------+
 *  127 126 125 124 123        104 103     96 95  94  93   92  80 79          64
 *  +---+---+-------+-------------+----------+----+----+-----+------+-------------+
 *  | F | T |  AT   |     PV      |    FR    | PP | EXE| PRIV| rsvd |    SID      |   qword 1
 *  +---+---+-------+-------------+----------+----+----+-----+------+-------------+
 * </pre>
 *
 * T = 1 for a read (Linux prints "DMA Read"), 0 for a write. F is set by hardware and cleared by software
 * writing 1 to it. This model places PRIV at bit 93 and EXE at bit 94 (VT-d 3.x layout).
 */
public final class FaultRecord {
    private FaultRecord() {
    }

    public static final int SIZE = 16;
    public static final long FI_MASK = 0xffff_ffff_ffff_f000L;
    // qword 1 (bit numbers relative to bit 64)
    public static final int SID_SHIFT = 0;
    public static final long T2 = 1L << 28;
    public static final long PRIV = 1L << 29;
    public static final long EXE = 1L << 30;
    public static final long PP = 1L << 31;
    public static final int FR_SHIFT = 32;
    public static final int PV_SHIFT = 40;
    public static final int AT_SHIFT = 60;
    public static final long T = 1L << 62;
    public static final long F = 1L << 63;

    public static long encodeHi(int sid, int reason, boolean read, int pasid, boolean priv, boolean exe) {
        return Bits.put(sid, SID_SHIFT, 16) | Bits.put(reason, FR_SHIFT, 8) | (read ? T : 0)
                | (pasid >= 0 ? PP | Bits.put(pasid, PV_SHIFT, 20) : 0) | (priv ? PRIV : 0) | (exe ? EXE : 0) | F;
    }

    public static boolean fault(long hi) {
        return (hi & F) != 0;
    }

    public static int sid(long hi) {
        return (int) Bits.get(hi, SID_SHIFT, 16);
    }

    public static int reason(long hi) {
        return (int) Bits.get(hi, FR_SHIFT, 8);
    }

    public static boolean read(long hi) {
        return (hi & T) != 0;
    }

    public static boolean pasidPresent(long hi) {
        return (hi & PP) != 0;
    }

    public static int pasid(long hi) {
        return (int) Bits.get(hi, PV_SHIFT, 20);
    }
}
