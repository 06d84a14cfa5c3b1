package dev.iommufd.mock.hw;

/**
 * The mock IOMMU's translation context: the device table entry of a requester ID and the PASID table entries
 * under it.
 *
 * <h2>Device table</h2>
 * {@link MockRegisters#DTBR} points to a 1 MiB, naturally aligned table of 65536 entries of 16 bytes, indexed by
 * the 16-bit requester ID. Entry {@code rid} is at {@code DTBR + rid * 16}: word 0 at offset 0, word 1 at 8.
 *
 * <h3>Word 0: context word (also the format of a PASID table entry)</h3>
 * <pre>
 *  63         48 47                                 12 11       5   4     3    2   1    0
 * +-------------+-------------------------------------+----------+-----+-----+---------+---+
 * |    DTAG     |  ROOT (root table PA bits 47:12)    |   rsv    | PRE | DE  |  MODE   | V |
 * +-------------+-------------------------------------+----------+-----+-----+---------+---+
 * </pre>
 * <ul>
 *   <li>V: valid; a request that selects an entry with V clear faults ({@link MockFaultRecord#REASON_CONTEXT_INVALID}).
 *   <li>MODE: {@link #MODE_BLOCKED} (every request faults), {@link #MODE_IDENTITY} (IOVA = PA),
 *       {@link #MODE_PAGING} (walk the tables at ROOT; see {@link MockIoPte}); 3 is reserved and faults.
 *   <li>DE: dirty-bit update enable: a write through a writable leaf sets the leaf's D bit.
 *   <li>PRE: page-request enable (device table entries only): a translation fault of the RID queues a page
 *       request instead of recording a fault.
 *   <li>ROOT: the root (L2) table; the unit supports 48-bit physical addresses.
 *   <li>DTAG: the domain tag the IOTLB files translations under; entries of one address space share a tag, and
 *       software invalidates by tag.
 * </ul>
 * Software switches a context by one 64-bit store of word 0, so the hardware never sees a mix of two domains.
 *
 * <h3>Word 1 (device table entries only)</h3>
 * <pre>
 *  63         48 47                                 12 11                  1   0
 * +-------------+-------------------------------------+---------------------+-----+
 * |     rsv     |  PDIR (PASID directory PA 47:12)    |         rsv         | PDV |
 * +-------------+-------------------------------------+---------------------+-----+
 * </pre>
 * PDV: the PASID directory is valid; requests with a PASID prefix fault without it.
 *
 * <h2>PASID directory and tables</h2>
 * The directory is a 16 KiB (4-frame, naturally aligned) table of 2048 8-byte entries indexed by PASID bits 19:9:
 * <pre>
 *  63         48 47                                 12 11                  1   0
 * +-------------+-------------------------------------+---------------------+-----+
 * |     rsv     |  PTBL (PASID table PA 47:12)        |         rsv         |  P  |
 * +-------------+-------------------------------------+---------------------+-----+
 * </pre>
 * A PASID table is one 4 KiB frame of 512 context words (word-0 format above; PRE ignored) indexed by PASID
 * bits 8:0.
 */
public final class MockContextEntry {
    /** Bytes per device table entry. */
    public static final int DTE_SIZE = 16;
    /** Device table entries: one per 16-bit requester ID. */
    public static final int DTE_COUNT = 1 << 16;
    /** Frame order of the device table (1 MiB). */
    public static final int DEVICE_TABLE_ORDER = 8;

    /** V. */
    public static final long VALID = 1L << 0;
    /** MODE: first bit. */
    public static final int MODE_SHIFT = 1;
    /** MODE: bits 2:1. */
    public static final long MODE_MASK = 3L << MODE_SHIFT;
    /** MODE value: blocked. */
    public static final int MODE_BLOCKED = 0;
    /** MODE value: identity. */
    public static final int MODE_IDENTITY = 1;
    /** MODE value: paging. */
    public static final int MODE_PAGING = 2;
    /** DE: dirty-bit update enable. */
    public static final long DIRTY_ENABLE = 1L << 3;
    /** PRE: page-request enable (device table entries). */
    public static final long PAGE_REQUEST_ENABLE = 1L << 4;
    /** ROOT / PDIR / PTBL: bits 47:12. */
    public static final long ADDR_MASK = ((1L << 48) - 1) & ~((1L << 12) - 1);
    /** DTAG: first bit. */
    public static final int DTAG_SHIFT = 48;
    /** DTAG: bits 63:48. */
    public static final long DTAG_MASK = 0xffffL << DTAG_SHIFT;
    /** Largest domain tag (tag 0 is never used by the driver). */
    public static final int DTAG_MAX = 0xffff;

    /** Word 1: PDV. */
    public static final long PASID_DIR_VALID = 1L << 0;
    /** PASID directory entry: P. */
    public static final long PASID_DIR_PRESENT = 1L << 0;
    /** PASID directory: entries (PASID bits 19:9). */
    public static final int PASID_DIR_ENTRIES = 2048;
    /** Frame order of the PASID directory (16 KiB). */
    public static final int PASID_DIR_ORDER = 2;
    /** PASID table: entries (PASID bits 8:0). */
    public static final int PASID_TABLE_ENTRIES = 512;
    /** Bits of a PASID. */
    public static final int PASID_BITS = 20;

    private MockContextEntry() {
    }

    /** A context word. */
    public static long contextWord(int mode, long rootPa, int dtag, boolean dirtyEnable) {
        return VALID | ((long) mode << MODE_SHIFT) | (dirtyEnable ? DIRTY_ENABLE : 0) | (rootPa & ADDR_MASK)
                | ((long) dtag << DTAG_SHIFT);
    }

    public static int mode(long word0) {
        return (int) ((word0 & MODE_MASK) >>> MODE_SHIFT);
    }

    public static long root(long word0) {
        return word0 & ADDR_MASK;
    }

    public static int dtag(long word0) {
        return (int) (word0 >>> DTAG_SHIFT) & DTAG_MAX;
    }

    /** The physical address of device table entry {@code rid}. */
    public static long dtePa(long deviceTable, int rid) {
        return deviceTable + (long) rid * DTE_SIZE;
    }

    /** The physical address of the directory entry for {@code pasid}. */
    public static long pasidDirEntryPa(long directory, int pasid) {
        return directory + (long) (pasid >>> 9) * 8;
    }

    /** The physical address of the PASID table entry for {@code pasid} in {@code table}. */
    public static long pasidEntryPa(long table, int pasid) {
        return table + (long) (pasid & (PASID_TABLE_ENTRIES - 1)) * 8;
    }
}
