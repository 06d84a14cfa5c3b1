package dev.iommufd.mock.hw;

/**
 * A fault record: the FRCD_LO/FRCD_HI register pair the unit fills when it faults a request it cannot turn
 * into a page request. Eight records form a ring; FSTS.FRI names the next one written. A record whose F bit
 * is still set when its turn comes is not overwritten: the fault is dropped and FSTS.PFO set. Software clears
 * a record by writing 1 to F.
 *
 * <pre>
 * FRCD_LO: the faulting IOVA (all 64 bits).
 *
 * FRCD_HI:
 *  63  62      48 47      40 39    37  36  35             16 15              0
 * +---+----------+----------+--------+----+-----------------+-----------------+
 * | F |   rsv    |  REASON  | ACCESS | PV |      PASID      |       RID       |
 * +---+----------+----------+--------+----+-----------------+-----------------+
 * </pre>
 * ACCESS is the request's {@link dev.iommufd.spi.hw.Translation} access bits (R 1, W 2, X 4).
 */
public final class MockFaultRecord {
    /** FRCD_HI [15:0] RID. */
    public static final long RID_MASK = 0xffffL;
    /** FRCD_HI [35:16] PASID. */
    public static final int PASID_SHIFT = 16;
    /** FRCD_HI [36] PV. */
    public static final long PASID_VALID = 1L << 36;
    /** FRCD_HI [39:37] ACCESS. */
    public static final int ACCESS_SHIFT = 37;
    /** FRCD_HI [47:40] REASON. */
    public static final int REASON_SHIFT = 40;
    /** FRCD_HI [63] F: the record holds a fault. */
    public static final long FAULT = 1L << 63;

    /** The device table entry is not valid (or the unit has no device table). */
    public static final int REASON_CONTEXT_INVALID = 1;
    /** The request carried a PASID and the PASID directory or table entry is not valid. */
    public static final int REASON_PASID_INVALID = 2;
    /** The context is in blocked mode. */
    public static final int REASON_BLOCKED = 3;
    /** No leaf translates the IOVA. */
    public static final int REASON_NOT_PRESENT = 4;
    /** The leaf does not permit the access. */
    public static final int REASON_PERMISSION = 5;
    /** The IOVA is beyond the 38 bits the tables translate. */
    public static final int REASON_ADDRESS_SIZE = 6;
    /** CTRL.TE is clear. */
    public static final int REASON_NOT_ENABLED = 7;
    /** A table read hit no RAM. */
    public static final int REASON_WALK_ABORT = 8;
    /** A reserved MODE, a leaf at L2, or a table pointer at L0. */
    public static final int REASON_MALFORMED = 9;

    private MockFaultRecord() {
    }

    /** The FRCD_HI word of a fault. */
    public static long high(int rid, int pasid, int access, int reason) {
        long pv = pasid >= 0 ? PASID_VALID | ((long) pasid << PASID_SHIFT) : 0;
        return FAULT | ((long) (reason & 0xff) << REASON_SHIFT) | ((long) (access & 7) << ACCESS_SHIFT) | pv
                | (rid & RID_MASK);
    }

    public static int rid(long high) {
        return (int) (high & RID_MASK);
    }

    public static int reason(long high) {
        return (int) (high >>> REASON_SHIFT) & 0xff;
    }

    public static int access(long high) {
        return (int) (high >>> ACCESS_SHIFT) & 7;
    }

    /** The PASID, or -1 without PV. */
    public static int pasid(long high) {
        return (high & PASID_VALID) != 0 ? (int) (high >>> PASID_SHIFT) & 0xfffff : -1;
    }
}
