package dev.iommufd.mock.hw;

/**
 * The mock IOMMU's register window: 4 KiB of little-endian registers. 32-bit registers accept only 32-bit
 * accesses and 64-bit registers only 64-bit accesses; any other width, or an offset with no register, is a
 * bus error. Reads of write-only registers return 0; writes to read-only registers are ignored.
 *
 * <pre>
 * offset  name            width  access  contents
 * 0x000   VERSION         32     RO      [31:16] major = 1, [15:0] minor = 0
 * 0x008   CAP             64     RO      see CAP_* below
 * 0x010   CTRL            32     RW      [0] TE translation enable, [1] PQE page-request queue enable
 * 0x014   STATUS          32     RO      [0] TES, [1] PQES: CTRL bits as they took effect
 * 0x018   DTBR            64     RW      device table base, bits 47:12 (ignored while TE is set)
 * 0x020   INV_ADDR        64     RW      first IOVA of a ranged invalidation
 * 0x028   INV_LAST        64     RW      last IOVA (inclusive) of a ranged invalidation
 * 0x030   INV_CMD         64     WO      [3:0] OP, [31:16] DTAG; executes synchronously when written
 * 0x038   INV_COUNT       32     RO      invalidation commands executed
 * 0x040   DEVSEL          32     RW      [15:0] requester ID selected for DEVCAP
 * 0x044   DEVCAP          32     RO      board-provided mock device flags of the DEVSEL function
 * 0x048   FSTS            32     RW1C    [3:0] FRI next fault record index (RO), [8] PFO overflow (W1C)
 * 0x050   PQ_BASE         64     RW      page-request queue base, bits 47:12 (one 4 KiB frame, 256 entries)
 * 0x058   PQ_HEAD         32     RW      [7:0] next entry software reads
 * 0x05c   PQ_TAIL         32     RO      [7:0] next entry hardware writes
 * 0x060   PQ_MSI_ADDR     64     RW      MSI address signalled when an entry is queued
 * 0x068   PQ_MSI_DATA     32     RW      MSI data
 * 0x06c   PQ_STS          32     RW1C    [0] PQO queue overflow
 * 0x070   PRS             64     WO      page response, see PRS_* below
 * 0x078   PRS_LAST        64     RO      the last value written to PRS
 * 0x080   PRS_COUNT       32     RO      page responses received
 * 0x088   IOTLB_HITS      64     RO      IOTLB hits since reset
 * 0x090   IOTLB_MISSES    64     RO      IOTLB misses (table walks) since reset
 * 0x100   FRCD_LO(i)      64     RO      fault record i (0..7): faulting IOVA          (at 0x100 + 16 * i)
 * 0x108   FRCD_HI(i)      64     RW1C    fault record i: see {@link MockFaultRecord}     (at 0x108 + 16 * i)
 * </pre>
 */
public final class MockRegisters {
    /** Window size. */
    public static final long WINDOW_SIZE = 0x1000;

    public static final long VERSION = 0x000;
    public static final long CAP = 0x008;
    public static final long CTRL = 0x010;
    public static final long STATUS = 0x014;
    public static final long DTBR = 0x018;
    public static final long INV_ADDR = 0x020;
    public static final long INV_LAST = 0x028;
    public static final long INV_CMD = 0x030;
    public static final long INV_COUNT = 0x038;
    public static final long DEVSEL = 0x040;
    public static final long DEVCAP = 0x044;
    public static final long FSTS = 0x048;
    public static final long PQ_BASE = 0x050;
    public static final long PQ_HEAD = 0x058;
    public static final long PQ_TAIL = 0x05c;
    public static final long PQ_MSI_ADDR = 0x060;
    public static final long PQ_MSI_DATA = 0x068;
    public static final long PQ_STS = 0x06c;
    public static final long PRS = 0x070;
    public static final long PRS_LAST = 0x078;
    public static final long PRS_COUNT = 0x080;
    public static final long IOTLB_HITS = 0x088;
    public static final long IOTLB_MISSES = 0x090;
    /** FRCD_LO of record 0; record i is at {@code FRCD_BASE + 16 * i}. */
    public static final long FRCD_BASE = 0x100;
    /** Fault records. */
    public static final int FRCD_COUNT = 8;

    /** VERSION value of this model: 1.0. */
    public static final int VERSION_1_0 = 0x0001_0000;
    /** VERSION: major number shift. */
    public static final int VERSION_MAJOR_SHIFT = 16;

    /** CAP [7:0] PAW: physical address width (48). */
    public static final long CAP_PAW_MASK = 0xffL;
    /** CAP [15:8] MAX_PASID_LOG2 (20). */
    public static final int CAP_MAX_PASID_LOG2_SHIFT = 8;
    /** CAP [23:16] IOTLB_WAYS. */
    public static final int CAP_IOTLB_WAYS_SHIFT = 16;
    /** CAP [31:24] IOTLB_SETS_LOG2. */
    public static final int CAP_IOTLB_SETS_LOG2_SHIFT = 24;
    /** CAP [32] HUGE: 1 MiB block leaves. */
    public static final long CAP_HUGE = 1L << 32;
    /** CAP [33] DIRTY: hardware dirty-bit updates. */
    public static final long CAP_DIRTY = 1L << 33;
    /** CAP [34] PRQ: page-request queue. */
    public static final long CAP_PRQ = 1L << 34;
    /** CAP [35] PASID: PASID directory. */
    public static final long CAP_PASID = 1L << 35;

    /** CTRL / STATUS: translation enable. */
    public static final int CTRL_TE = 1 << 0;
    /** CTRL / STATUS: page-request queue enable. */
    public static final int CTRL_PQE = 1 << 1;

    /** INV_CMD [3:0] OP: invalidate every IOTLB entry. */
    public static final int INV_OP_ALL = 1;
    /** INV_CMD OP: every entry of DTAG. */
    public static final int INV_OP_TAG = 2;
    /** INV_CMD OP: entries of DTAG overlapping {@code [INV_ADDR, INV_LAST]}. */
    public static final int INV_OP_TAG_RANGE = 3;
    /** INV_CMD OP mask. */
    public static final long INV_OP_MASK = 0xfL;
    /** INV_CMD DTAG shift. */
    public static final int INV_DTAG_SHIFT = 16;

    /** FSTS [3:0] FRI. */
    public static final int FSTS_FRI_MASK = 0xf;
    /** FSTS [8] PFO. */
    public static final int FSTS_PFO = 1 << 8;

    /** Page-request queue entries (one 4 KiB frame of 16-byte entries). */
    public static final int PQ_ENTRIES = 256;
    /** PQ_STS [0] PQO. */
    public static final int PQ_STS_PQO = 1 << 0;

    /** PRS [15:0] RID. */
    public static final long PRS_RID_MASK = 0xffffL;
    /** PRS [35:16] PASID. */
    public static final int PRS_PASID_SHIFT = 16;
    /** PRS [36] PV. */
    public static final long PRS_PASID_VALID = 1L << 36;
    /** PRS [45:37] PRGI. */
    public static final int PRS_PRGI_SHIFT = 37;
    /** PRS [49:48] CODE (PageResponse.SUCCESS / INVALID / FAILURE). */
    public static final int PRS_CODE_SHIFT = 48;

    private MockRegisters() {
    }

    /** FRCD_LO of record {@code i}. */
    public static long frcdLo(int i) {
        return FRCD_BASE + 16L * i;
    }

    /** FRCD_HI of record {@code i}. */
    public static long frcdHi(int i) {
        return FRCD_BASE + 16L * i + 8;
    }

    /** The PRS value of a page response. */
    public static long pageResponse(int rid, int pasid, boolean pasidValid, int prgi, int code) {
        return (rid & PRS_RID_MASK) | ((long) (pasid & 0xfffff) << PRS_PASID_SHIFT) | (pasidValid ? PRS_PASID_VALID : 0)
                | ((long) (prgi & 0x1ff) << PRS_PRGI_SHIFT) | ((long) (code & 3) << PRS_CODE_SHIFT);
    }
}
