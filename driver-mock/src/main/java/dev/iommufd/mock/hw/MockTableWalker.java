package dev.iommufd.mock.hw;

import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.PhysicalMemory;

/**
 * The hardware's walk of a mock I/O page table (format: {@link MockIoPte}). Reads only physical memory; shared by
 * the unit's translation and by tests that decode what the driver wrote. Allocates nothing.
 */
public final class MockTableWalker {
    /** Flag in {@link #walk}'s result: the leaf is a 1 MiB block (an L1 entry). */
    public static final long RESULT_BLOCK = 1L;

    private MockTableWalker() {
    }

    /**
     * Walks the tables under {@code root} for {@code iova}.
     *
     * @return the physical address of the present leaf entry, with {@link #RESULT_BLOCK} or'ed in for a block
     *         leaf; or the negated {@link MockFaultRecord} reason ({@code -REASON_NOT_PRESENT},
     *         {@code -REASON_ADDRESS_SIZE}, {@code -REASON_MALFORMED}, {@code -REASON_WALK_ABORT})
     */
    public static long walk(PhysicalMemory memory, long root, long iova) {
        if ((iova >>> MockIoPte.IOVA_BITS) != 0) {
            return -MockFaultRecord.REASON_ADDRESS_SIZE;
        }
        try {
            long l2 = memory.read64(root + 8L * MockIoPte.l2Index(iova));
            if (!MockIoPte.isPresent(l2)) {
                return -MockFaultRecord.REASON_NOT_PRESENT;
            }
            if (MockIoPte.isLeaf(l2)) {
                return -MockFaultRecord.REASON_MALFORMED;
            }
            long l1Pa = MockIoPte.tableAddress(l2) + 8L * MockIoPte.l1Index(iova);
            long l1 = memory.read64(l1Pa);
            if (!MockIoPte.isPresent(l1)) {
                return -MockFaultRecord.REASON_NOT_PRESENT;
            }
            if (MockIoPte.isLeaf(l1)) {
                return l1Pa | RESULT_BLOCK;
            }
            long l0Pa = MockIoPte.tableAddress(l1) + 8L * MockIoPte.l0Index(iova);
            long l0 = memory.read64(l0Pa);
            if (!MockIoPte.isPresent(l0)) {
                return -MockFaultRecord.REASON_NOT_PRESENT;
            }
            if (!MockIoPte.isLeaf(l0)) {
                return -MockFaultRecord.REASON_MALFORMED;
            }
            return l0Pa;
        } catch (BusErrorException e) {
            return -MockFaultRecord.REASON_WALK_ABORT;
        }
    }

    /**
     * Decodes the physical address {@code iova} translates to under {@code root}, ignoring permissions.
     *
     * @return the physical address, or -1 when nothing translates it
     */
    public static long physicalAddress(PhysicalMemory memory, long root, long iova) {
        long r = walk(memory, root, iova);
        if (r < 0) {
            return -1;
        }
        long pte = memory.read64(r & ~RESULT_BLOCK);
        if ((r & RESULT_BLOCK) != 0) {
            return MockIoPte.blockAddress(pte) | (iova & (MockIoPte.BLOCK_SIZE - 1));
        }
        return MockIoPte.pageAddress(pte) | (iova & (MockIoPte.PAGE_SIZE - 1));
    }

    /** Reports every table frame under {@code root} (root included) to {@code visitor}. */
    public static void visitTables(PhysicalMemory memory, long root, java.util.function.LongConsumer visitor) {
        visitor.accept(root);
        for (int i = 0; i < MockIoPte.ENTRIES; i++) {
            long l2 = memory.read64(root + 8L * i);
            if (!MockIoPte.isPresent(l2) || MockIoPte.isLeaf(l2)) {
                continue;
            }
            long l1Table = MockIoPte.tableAddress(l2);
            visitor.accept(l1Table);
            for (int j = 0; j < MockIoPte.ENTRIES; j++) {
                long l1 = memory.read64(l1Table + 8L * j);
                if (MockIoPte.isPresent(l1) && !MockIoPte.isLeaf(l1)) {
                    visitor.accept(MockIoPte.tableAddress(l1));
                }
            }
        }
    }
}
