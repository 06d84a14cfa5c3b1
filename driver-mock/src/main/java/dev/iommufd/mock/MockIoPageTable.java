package dev.iommufd.mock;

import static dev.iommufd.mock.hw.MockIoPte.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;

/**
 * The software side of a mock I/O page table (format: {@link dev.iommufd.mock.hw.MockIoPte}): writes, clears and
 * reads the raw words in physical memory. The driver's own reader here ({@link #leafEntry}) is independent of the
 * hardware's walker.
 *
 * <p>Concurrency (the kernel's io-pgtable rule: map and unmap on disjoint ranges may run at once): leaves are plain
 * stores (disjoint ranges never share a leaf); table pointers change only by compare-and-set. A table pointer's
 * SW_COUNT counts the child table's present entries plus reservations: a mapper reserves (increments) before it
 * writes entries into a child table, and an unmapper releases (decrements) after it cleared entries; the release
 * that reaches zero clears the pointer in the same CAS and hands the child to the gather, so a table is never
 * freed while someone is about to write into it. The root table lives as long as the domain.
 *
 * <p>Nothing here allocates Java objects on success paths.
 */
final class MockIoPageTable {
    /** {@link #acquire} flag: the table was created by this call. */
    private static final long CREATED = 1L;

    private final PhysicalMemory memory;
    private final FrameAllocator frames;
    private final long root;

    MockIoPageTable(PhysicalMemory memory) {
        this.memory = memory;
        this.frames = memory.frames();
        this.root = frames.allocateFrame();
    }

    long root() {
        return root;
    }

    /** Thrown by {@link #map} after some pages were written: the caller unwinds them. */
    static final class PartialMapException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final long pagesWritten;
        final ErrnoException error;

        PartialMapException(long pagesWritten, ErrnoException error) {
            super(error.getMessage(), error, false, false);
            this.pagesWritten = pagesWritten;
            this.error = error;
        }
    }

    /**
     * Writes {@code pgcount} leaves of {@code pgsize} (page or block); the first carries START, the last LAST.
     *
     * @throws PartialMapException when a table frame cannot be allocated (ENOMEM) or an entry is in use (EEXIST),
     *         with the number of leaves written before it
     */
    void map(long iova, long paddr, long pgsize, long pgcount, int prot) {
        long bits = PRESENT | LEAF | ((prot & IoProt.READ) != 0 ? READ : 0) | ((prot & IoProt.WRITE) != 0 ? WRITE : 0);
        boolean block = pgsize == BLOCK_SIZE;
        long done = 0;
        try {
            while (done < pgcount) {
                long va = iova + done * pgsize;
                long l2e = root + 8L * l2Index(va);
                long table;
                int index;
                long n;
                long parent;
                if (block) {
                    index = l1Index(va);
                    n = Math.min(pgcount - done, ENTRIES - index);
                    table = acquire(l2e, n) & ~CREATED;
                    parent = l2e;
                } else {
                    long l1 = acquire(l2e, 1) & ~CREATED;
                    long l1e = l1 + 8L * l1Index(va);
                    index = l0Index(va);
                    n = Math.min(pgcount - done, ENTRIES - index);
                    long r;
                    try {
                        r = acquire(l1e, n);
                    } catch (ErrnoException e) {
                        release(l2e, 1, null);
                        throw e;
                    }
                    if ((r & CREATED) == 0) {
                        release(l2e, 1, null); // the L0 table existed: our reservation on L1 was not an entry
                    }
                    table = r & ~CREATED;
                    parent = l1e;
                }
                for (long k = 0; k < n; k++) {
                    long entry = table + 8L * (index + k);
                    if (memory.read64(entry) != 0) {
                        done += k;
                        releaseTail(parent, n - k, l2e, block);
                        throw ErrnoException.of(Errno.EEXIST, "iova %#x is already mapped", va + k * pgsize);
                    }
                    long pte = bits | ((paddr + (done + k) * pgsize) & (block ? BLOCK_ADDR_MASK : ADDR_MASK));
                    if (done + k == 0) {
                        pte |= START;
                    }
                    if (done + k == pgcount - 1) {
                        pte |= LAST;
                    }
                    memory.write64(entry, pte);
                }
                done += n;
            }
        } catch (ErrnoException e) {
            throw new PartialMapException(done, e);
        }
    }

    /** Releases the reservations of leaves that were not written after an EEXIST (tables stay for the unwind). */
    private void releaseTail(long parent, long unwritten, long l2e, boolean block) {
        if (release(parent, unwritten, null) && !block) {
            release(l2e, 1, null);
        }
    }

    /**
     * Reserves {@code n} entries in the child table of the pointer at {@code parentPa}, creating the table when
     * absent.
     *
     * @return the child table's physical address, or'ed with {@link #CREATED} when this call created it
     */
    private long acquire(long parentPa, long n) {
        for (;;) {
            long e = memory.read64(parentPa);
            if (e == 0) {
                long t = frames.allocateFrame();
                if (memory.compareAndSet64(parentPa, 0, tablePointer(t, n))) {
                    return t | CREATED;
                }
                frames.free(t, 0);
                continue;
            }
            if (isLeaf(e)) {
                throw ErrnoException.of(Errno.EEXIST, "a larger page is already mapped over the range (entry %#x)", e);
            }
            if (swCount(e) + n > (SW_COUNT_MASK >>> SW_COUNT_SHIFT)) {
                throw new IllegalStateException("table reservation count overflow at " + Long.toHexString(parentPa));
            }
            if (memory.compareAndSet64(parentPa, e, e + n * SW_COUNT_ONE)) {
                return tableAddress(e);
            }
        }
    }

    /**
     * Releases {@code n} entries of the child table of {@code parentPa}; at zero, clears the pointer and frees the
     * table (through {@code gather} after the IOTLB sync, or at once when {@code gather} is null).
     *
     * @return whether the child table was freed
     */
    private boolean release(long parentPa, long n, IotlbGather gather) {
        for (;;) {
            long e = memory.read64(parentPa);
            long c = swCount(e) - n;
            if (c < 0) {
                throw new IllegalStateException("table count underflow at " + Long.toHexString(parentPa));
            }
            if (c == 0) {
                if (memory.compareAndSet64(parentPa, e, 0)) {
                    if (gather != null) {
                        gather.addFreedTable(tableAddress(e), 0);
                    } else {
                        frames.free(tableAddress(e), 0);
                    }
                    return true;
                }
            } else if (memory.compareAndSet64(parentPa, e, e - n * SW_COUNT_ONE)) {
                return false;
            }
        }
    }

    /**
     * Clears up to {@code pgcount} leaves of {@code pgsize} from {@code iova}, stopping at the first hole or at a
     * leaf of another size; emptied tables go to {@code gather} (or are freed at once when null).
     *
     * @return the number of leaves cleared
     */
    long unmap(long iova, long pgsize, long pgcount, IotlbGather gather) {
        boolean block = pgsize == BLOCK_SIZE;
        long done = 0;
        while (done < pgcount) {
            long va = iova + done * pgsize;
            if ((va >>> IOVA_BITS) != 0) {
                break;
            }
            long l2e = root + 8L * l2Index(va);
            long e2 = memory.read64(l2e);
            if (!isPresent(e2)) {
                break;
            }
            long l1 = tableAddress(e2);
            long k = 0;
            long n;
            if (block) {
                int index = l1Index(va);
                n = Math.min(pgcount - done, ENTRIES - index);
                for (; k < n; k++) {
                    long entry = l1 + 8L * (index + k);
                    long e = memory.read64(entry);
                    if (!isPresent(e) || !isLeaf(e)) {
                        break;
                    }
                    memory.write64(entry, 0);
                }
                if (k > 0) {
                    release(l2e, k, gather);
                }
            } else {
                long l1e = l1 + 8L * l1Index(va);
                long e1 = memory.read64(l1e);
                if (!isPresent(e1) || isLeaf(e1)) {
                    break;
                }
                long l0 = tableAddress(e1);
                int index = l0Index(va);
                n = Math.min(pgcount - done, ENTRIES - index);
                for (; k < n; k++) {
                    long entry = l0 + 8L * (index + k);
                    if (!isPresent(memory.read64(entry))) {
                        break;
                    }
                    memory.write64(entry, 0);
                }
                if (k > 0 && release(l1e, k, gather)) {
                    release(l2e, 1, gather);
                }
            }
            done += k;
            if (k < n) {
                break;
            }
        }
        return done;
    }

    /**
     * The driver's own lookup: the physical address of the present leaf entry translating {@code iova}, or'ed with
     * 1 for a block leaf; -1 when none.
     */
    long leafEntry(long iova) {
        if ((iova >>> IOVA_BITS) != 0) {
            return -1;
        }
        long e2 = memory.read64(root + 8L * l2Index(iova));
        if (!isPresent(e2)) {
            return -1;
        }
        long l1e = tableAddress(e2) + 8L * l1Index(iova);
        long e1 = memory.read64(l1e);
        if (!isPresent(e1)) {
            return -1;
        }
        if (isLeaf(e1)) {
            return l1e | 1;
        }
        long l0e = tableAddress(e1) + 8L * l0Index(iova);
        return isPresent(memory.read64(l0e)) ? l0e : -1;
    }

    /** {@code iova_to_phys}: the physical address, or -1. */
    long iovaToPhys(long iova) {
        long r = leafEntry(iova);
        if (r < 0) {
            return -1;
        }
        long pte = memory.read64(r & ~1L);
        if ((r & 1) != 0) {
            return blockAddress(pte) | (iova & (BLOCK_SIZE - 1));
        }
        return pageAddress(pte) | (iova & (PAGE_SIZE - 1));
    }

    /** Sets D in the leaf containing {@code iova}; returns whether one was present. */
    boolean setDirty(long iova) {
        long r = leafEntry(iova);
        if (r < 0) {
            return false;
        }
        memory.getAndOr64(r & ~1L, DIRTY);
        return true;
    }

    /**
     * Reports every dirty leaf intersecting {@code [iova, iova + size)} as its whole IOPTE range and clears D
     * unless {@code noClear}; with a null {@code dirty}, only clears (the core's "clear all" before enabling
     * tracking). Skips absent tables a whole table-span at a time.
     */
    void readAndClearDirty(long iova, long size, boolean noClear, DirtyRecorder dirty) {
        long last = iova + size - 1;
        long va = iova;
        while (Long.compareUnsigned(va, last) <= 0 && (va >>> IOVA_BITS) == 0) {
            long e2 = memory.read64(root + 8L * l2Index(va));
            if (!isPresent(e2)) {
                va = nextBoundary(va, 1L << L2_ENTRY_SHIFT);
                continue;
            }
            long l1e = tableAddress(e2) + 8L * l1Index(va);
            long e1 = memory.read64(l1e);
            if (!isPresent(e1)) {
                va = nextBoundary(va, BLOCK_SIZE);
                continue;
            }
            if (isLeaf(e1)) {
                harvest(l1e, e1, va & ~(BLOCK_SIZE - 1), BLOCK_SIZE, noClear, dirty);
                va = nextBoundary(va, BLOCK_SIZE);
                continue;
            }
            long l0 = tableAddress(e1);
            long blockEnd = nextBoundary(va, BLOCK_SIZE);
            while (va != blockEnd && Long.compareUnsigned(va, last) <= 0) {
                long entry = l0 + 8L * l0Index(va);
                long e0 = memory.read64(entry);
                if (isPresent(e0)) {
                    harvest(entry, e0, va & ~(PAGE_SIZE - 1), PAGE_SIZE, noClear, dirty);
                }
                va = nextBoundary(va, PAGE_SIZE);
            }
        }
    }

    private void harvest(long entry, long pte, long base, long size, boolean noClear, DirtyRecorder dirty) {
        if ((pte & DIRTY) == 0) {
            return;
        }
        if (!noClear) {
            memory.getAndClear64(entry, DIRTY);
        }
        if (dirty != null) {
            dirty.record(base, size);
        }
    }

    private static long nextBoundary(long va, long size) {
        return (va & ~(size - 1)) + size;
    }

    /** Whether any leaf is present. */
    boolean hasMappings() {
        for (int i = 0; i < ENTRIES; i++) {
            if (memory.read64(root + 8L * i) != 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Frees every table (root included).
     *
     * @return the number of leaves that were still present
     */
    long destroy() {
        long live = 0;
        for (int i = 0; i < ENTRIES; i++) {
            long e2 = memory.read64(root + 8L * i);
            if (!isPresent(e2)) {
                continue;
            }
            long l1 = tableAddress(e2);
            for (int j = 0; j < ENTRIES; j++) {
                long e1 = memory.read64(l1 + 8L * j);
                if (!isPresent(e1)) {
                    continue;
                }
                if (isLeaf(e1)) {
                    live++;
                    continue;
                }
                long l0 = tableAddress(e1);
                for (int k = 0; k < ENTRIES; k++) {
                    if (isPresent(memory.read64(l0 + 8L * k))) {
                        live++;
                    }
                }
                frames.free(l0, 0);
            }
            frames.free(l1, 0);
        }
        frames.free(root, 0);
        return live;
    }
}
