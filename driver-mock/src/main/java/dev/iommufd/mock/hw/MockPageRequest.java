package dev.iommufd.mock.hw;

/**
 * A page-request queue entry: 16 bytes in the 4 KiB queue at PQ_BASE, entry {@code i} at {@code PQ_BASE + 16 * i}.
 * The unit writes entries at PQ_TAIL and signals the PQ MSI; software reads from PQ_HEAD and advances it. The
 * queue is full when {@code (tail + 1) % 256 == head}; a request that finds it full sets PQ_STS.PQO and is
 * recorded as a fault instead.
 *
 * <pre>
 * word 0:
 *  63                                        12 11     6   5    4    3     2   1   0
 * +--------------------------------------------+--------+----+-----+------+---+---+---+
 * |  ADDR (page address bits 63:12)            |  rsv   | PV |LAST | PRIV | X | W | R |
 * +--------------------------------------------+--------+----+-----+------+---+---+---+
 *
 * word 1:
 *  63                     45 44        36 35               16 15              0
 * +-------------------------+------------+-------------------+-----------------+
 * |          rsv            |   PRGI     |      PASID        |       RID       |
 * +-------------------------+------------+-------------------+-----------------+
 * </pre>
 * The page address is 4 KiB granular, as in a PCIe page request message; PRGI is the 9-bit page request group
 * index.
 */
public final class MockPageRequest {
    /** Bytes per entry. */
    public static final int SIZE = 16;

    public static final long READ = 1L << 0;
    public static final long WRITE = 1L << 1;
    public static final long EXEC = 1L << 2;
    public static final long PRIV = 1L << 3;
    /** LAST: last request of its group. */
    public static final long LAST = 1L << 4;
    /** PV: PASID valid. */
    public static final long PASID_VALID = 1L << 5;
    /** Word 0 ADDR: bits 63:12. */
    public static final long ADDR_MASK = ~0xfffL;

    /** Word 1 [15:0] RID. */
    public static final long RID_MASK = 0xffffL;
    /** Word 1 [35:16] PASID. */
    public static final int PASID_SHIFT = 16;
    /** Word 1 [44:36] PRGI. */
    public static final int PRGI_SHIFT = 36;
    /** PRGI values. */
    public static final int PRGI_MASK = 0x1ff;

    private MockPageRequest() {
    }

    public static long word1(int rid, int pasid, int prgi) {
        return (rid & RID_MASK) | ((long) (pasid & 0xfffff) << PASID_SHIFT) | ((long) (prgi & PRGI_MASK) << PRGI_SHIFT);
    }

    public static int rid(long word1) {
        return (int) (word1 & RID_MASK);
    }

    public static int pasid(long word1) {
        return (int) (word1 >>> PASID_SHIFT) & 0xfffff;
    }

    public static int prgi(long word1) {
        return (int) (word1 >>> PRGI_SHIFT) & PRGI_MASK;
    }
}
