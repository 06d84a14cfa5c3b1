package dev.iommufd.mock.hw;

/**
 * The mock IOMMU's I/O page-table entry: one little-endian 64-bit word in physical memory. The format is this
 * project's own (the kernel's selftest mock domain keeps an xarray of PFNs; this model keeps its equivalent in
 * hardware-walkable tables), shaped after the markers the kernel mock stores with each PFN.
 *
 * <h2>Tables</h2>
 * A table is one 4 KiB frame of 512 entries. Three levels translate a 38-bit IOVA (the mock aperture,
 * {@code [1 << 24, (1 << 31) - 1]}, uses the low 31 bits):
 * <pre>
 *  37        29 28        20 19        11 10          0
 * +------------+------------+------------+-------------+
 * | L2 index   | L1 index   | L0 index   | page offset |
 * +------------+------------+------------+-------------+
 *   root table   512 MiB/entry  1 MiB/entry  2 KiB (MOCK_IO_PAGE_SIZE)
 * </pre>
 * An L2 entry points to an L1 table. An L1 entry points to an L0 table, or is a 1 MiB block leaf
 * ({@link #LEAF} set; MOCK_HUGE_PAGE_SIZE). An L0 entry is a 2 KiB page leaf ({@link #LEAF} set).
 *
 * <h2>Entry</h2>
 * <pre>
 *  63 62 61          52 51                                    11 10   7  6   5   4   3   2   1   0
 * +-----+--------------+----------------------------------------+------+---+---+---+---+---+---+---+
 * | rsv |  SW_COUNT    |  ADDR (physical address bits 51:11)    | rsv  | E | S | D | L | W | R | P |
 * +-----+--------------+----------------------------------------+------+---+---+---+---+---+---+---+
 * </pre>
 * <ul>
 *   <li>P: present. An entry with P clear must be all zero.
 *   <li>R, W: read / write permitted (leaves only; zero in table pointers).
 *   <li>L: leaf. Clear in a table pointer; set in every L0 entry and in L1 block entries; never set at L2.
 *   <li>D: dirty. Set by the hardware on a write through the leaf while its context has DE set (and by the
 *       selftest's IOMMU_TEST_OP_DIRTY); cleared by software (read_and_clear_dirty).
 *   <li>S: MOCK_PFN_START_IOVA, the first leaf written by one map_pages call (software-only; hardware ignores).
 *   <li>E: MOCK_PFN_LAST_IOVA, the last leaf written by one map_pages call (software-only; hardware ignores).
 *       A one-page map carries both S and E.
 *   <li>ADDR: for a page leaf, bits 51:11 of the page's physical address; for a block leaf bits 51:20 (19:11
 *       zero); for a table pointer, bits 51:12 of the next table (bit 11 zero).
 *   <li>SW_COUNT: in table pointers only, the number of present entries of the child table plus in-flight
 *       reservations by software mappers (software-only; the hardware ignores these bits). It lets the driver
 *       free an emptied table without scanning it, and is only ever changed with compare-and-set.
 * </ul>
 */
public final class MockIoPte {
    /** P: present. */
    public static final long PRESENT = 1L << 0;
    /** R: DMA reads permitted. */
    public static final long READ = 1L << 1;
    /** W: DMA writes permitted. */
    public static final long WRITE = 1L << 2;
    /** L: leaf (page or block). */
    public static final long LEAF = 1L << 3;
    /** D: dirty. */
    public static final long DIRTY = 1L << 4;
    /** S: MOCK_PFN_START_IOVA (software). */
    public static final long START = 1L << 5;
    /** E: MOCK_PFN_LAST_IOVA (software). */
    public static final long LAST = 1L << 6;

    /** ADDR: bits 51:11. */
    public static final long ADDR_MASK = ((1L << 52) - 1) & ~((1L << 11) - 1);
    /** A table pointer's address: bits 51:12. */
    public static final long TABLE_ADDR_MASK = ((1L << 52) - 1) & ~((1L << 12) - 1);
    /** A block leaf's address: bits 51:20. */
    public static final long BLOCK_ADDR_MASK = ((1L << 52) - 1) & ~((1L << 20) - 1);

    /** SW_COUNT: first bit. */
    public static final int SW_COUNT_SHIFT = 52;
    /** SW_COUNT: bits 61:52. */
    public static final long SW_COUNT_MASK = 0x3ffL << SW_COUNT_SHIFT;
    /** SW_COUNT: one. */
    public static final long SW_COUNT_ONE = 1L << SW_COUNT_SHIFT;

    /** log2 of MOCK_IO_PAGE_SIZE. */
    public static final int PAGE_SHIFT = 11;
    /** MOCK_IO_PAGE_SIZE: 2 KiB, half a CPU page. */
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;
    /** log2 of MOCK_HUGE_PAGE_SIZE. */
    public static final int BLOCK_SHIFT = 20;
    /** MOCK_HUGE_PAGE_SIZE: 1 MiB, 512 pages, an L1 block leaf. */
    public static final long BLOCK_SIZE = 1L << BLOCK_SHIFT;
    /** log2 of the IOVA range an L2 entry covers (512 MiB). */
    public static final int L2_ENTRY_SHIFT = 29;
    /** Entries per table. */
    public static final int ENTRIES = 512;
    /** Index bits per level. */
    public static final int INDEX_BITS = 9;
    /** IOVA bits the three levels translate; an IOVA at or above {@code 1 << IOVA_BITS} faults. */
    public static final int IOVA_BITS = 38;

    private MockIoPte() {
    }

    /** The L2 (root) index of {@code iova}. */
    public static int l2Index(long iova) {
        return (int) (iova >>> L2_ENTRY_SHIFT) & (ENTRIES - 1);
    }

    /** The L1 index of {@code iova}. */
    public static int l1Index(long iova) {
        return (int) (iova >>> BLOCK_SHIFT) & (ENTRIES - 1);
    }

    /** The L0 index of {@code iova}. */
    public static int l0Index(long iova) {
        return (int) (iova >>> PAGE_SHIFT) & (ENTRIES - 1);
    }

    public static boolean isPresent(long pte) {
        return (pte & PRESENT) != 0;
    }

    public static boolean isLeaf(long pte) {
        return (pte & LEAF) != 0;
    }

    /** A table pointer to the table at {@code tablePa} with a software count. */
    public static long tablePointer(long tablePa, long count) {
        return PRESENT | (tablePa & TABLE_ADDR_MASK) | (count << SW_COUNT_SHIFT);
    }

    /** The next table's physical address. */
    public static long tableAddress(long pte) {
        return pte & TABLE_ADDR_MASK;
    }

    /** The software count of a table pointer. */
    public static int swCount(long pte) {
        return (int) ((pte & SW_COUNT_MASK) >>> SW_COUNT_SHIFT);
    }

    /** The physical address a page leaf maps. */
    public static long pageAddress(long pte) {
        return pte & ADDR_MASK;
    }

    /** The physical address a block leaf maps. */
    public static long blockAddress(long pte) {
        return pte & BLOCK_ADDR_MASK;
    }
}
