package dev.iommufd.vtd.layout;

/**
 * Page request descriptor (VT-d spec 7.5.1.1): 256 bits written by hardware into the page request queue at
 * {@code PQA + PQT}.
 *
 * <pre>
 *   63   54  53  52  51         32 31        16 15   10   9    8   7      0
 *  +-------+---+---+-------------+------------+-------+-----+----+--------+
 *  | rsvd  |PM |EXE|    PASID    |    RID     | rsvd  | PDP | PP |  type  |   qword 0
 *  +-------+---+---+-------------+------------+-------+-----+----+--------+
 *   63                             12 11          3   2      1     0
 *  +---------------------------------+-------------+------+-----+-----+
 *  |             ADDR                |  PRG index  | LPIG | WR  | RD  |     qword 1
 *  +---------------------------------+-------------+------+-----+-----+
 *  |                 private data (qwords 2, 3)                        |
 *  +-------------------------------------------------------------------+
 * </pre>
 */
public final class PageRequestDescriptor {
    private PageRequestDescriptor() {
    }

    public static final int SIZE = 32;
    /** The type field of a page request. */
    public static final int TYPE_PAGE_REQUEST = 1;
    public static final long PASID_PRESENT = 1L << 8;
    public static final long PRIV_DATA_PRESENT = 1L << 9;
    public static final int RID_SHIFT = 16;
    public static final int PASID_SHIFT = 32;
    public static final long EXE = 1L << 52;
    public static final long PM = 1L << 53;
    public static final long RD = 1L;
    public static final long WR = 1L << 1;
    public static final long LPIG = 1L << 2;
    public static final int PRG_INDEX_SHIFT = 3;
    public static final long ADDR_MASK = 0xffff_ffff_ffff_f000L;

    public static long encodeQ0(int rid, int pasid, boolean exe, boolean priv) {
        return TYPE_PAGE_REQUEST | Bits.put(rid, RID_SHIFT, 16) | (pasid >= 0 ? PASID_PRESENT | Bits.put(pasid, PASID_SHIFT, 20) : 0)
                | (exe ? EXE : 0) | (priv ? PM : 0);
    }

    public static long encodeQ1(long addr, boolean read, boolean write, boolean lastInGroup, int prgIndex) {
        return (addr & ADDR_MASK) | Bits.put(prgIndex, PRG_INDEX_SHIFT, 9) | (lastInGroup ? LPIG : 0) | (write ? WR : 0) | (read ? RD : 0);
    }

    public static int rid(long q0) {
        return (int) Bits.get(q0, RID_SHIFT, 16);
    }

    public static boolean pasidPresent(long q0) {
        return (q0 & PASID_PRESENT) != 0;
    }

    public static int pasid(long q0) {
        return (int) Bits.get(q0, PASID_SHIFT, 20);
    }

    public static int prgIndex(long q1) {
        return (int) Bits.get(q1, PRG_INDEX_SHIFT, 9);
    }

    public static long address(long q1) {
        return q1 & ADDR_MASK;
    }
}
