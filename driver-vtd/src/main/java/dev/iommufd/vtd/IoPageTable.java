package dev.iommufd.vtd;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.vtd.layout.FirstStagePte;
import dev.iommufd.vtd.layout.SecondStagePte;

/**
 * A VT-d I/O page table in physical memory: the second-stage format ({@link SecondStagePte}) or the first-stage
 * x86-64 format ({@link FirstStagePte}), 3 to 5 levels of 512-entry 4 KiB tables (what Linux's generic page
 * table {@code iommu_pt.h} does over its {@code vtdss} / {@code x86_64} formats).
 *
 * <h2>How a range is walked</h2>
 * Map, unmap and the dirty harvest descend from the root once per range, recursively: at each level they visit the
 * entries of the range in one table, descending into a child table for the part of the range it covers, and
 * at the leaf level they handle the run of consecutive PTEs of one table with the bulk verbs of
 * {@link PhysicalMemory} ({@code writeRun64} for leaves whose address advances by the page size,
 * {@code indexOfAny64} for "is this run empty / where is the next present entry", {@code read64s} for scans,
 * {@code updateMatching64s} for "list the dirty leaves and clear their D bits" in one pass). A one-page map
 * takes a short path (one read per level and a compare-and-set of the leaf, as the kernel's
 * {@code __map_single_page}).
 *
 * <h2>Concurrency (the kernel's rule: the caller holds a range lock)</h2>
 * Map, unmap, iova_to_phys and the dirty harvest may run concurrently on <em>disjoint</em> IOVA ranges without a
 * lock; callers must not race on overlapping ranges (iommufd's areas guarantee it). Shared upper-level tables are
 * installed with compare-and-set of the empty parent entry (the kernel's {@code cmpxchg} in
 * {@code pt_install_table}): the loser frees its fresh page and descends into the winner's table. A table is freed
 * (through the gather, after the IOTLB sync) only when the unmapped range covers its whole span, so no other
 * caller can be using it. Leaves are written with plain (release) stores after checking that the slots are empty,
 * since only the owner of a range writes its leaves; the hardware model sets A/D bits with compare-and-set and
 * the harvest clears D with an atomic read-modify-write, so neither loses the other's update. Nothing is
 * allocated on the map/unmap/lookup/harvest paths except table frames (the per-thread scan buffer is created
 * once per thread).
 */
final class IoPageTable {
    /** Per-thread scan buffer for {@code read64s}: one table's worth of words. */
    private static final ThreadLocal<long[]> SCAN = ThreadLocal.withInitial(() -> new long[SecondStagePte.ENTRIES]);
    /** Per-thread index buffer of {@code updateMatching64s} (the dirty harvest): one table's worth of indices. */
    private static final ThreadLocal<int[]> FOUND = ThreadLocal.withInitial(() -> new int[SecondStagePte.ENTRIES]);

    private final PhysicalMemory mem;
    private final FrameAllocator frames;
    final boolean firstStage;
    final int levels;
    final long root;
    /** The largest leaf level: 1 (4 KiB only), 2 (2 MiB) or 3 (1 GiB). */
    final int maxLeafLevel;
    /** Input address bits the table translates: 12 + 9 * levels. */
    private final int vaBits;
    /** The bits of an entry that make it present: R|W (second stage) or P (first stage). */
    private final long presentMask;
    private volatile boolean forceSnoop;
    private final PagingDomain owner;

    IoPageTable(PagingDomain owner, PhysicalMemory mem, boolean firstStage, int levels, int maxLeafLevel) {
        this.owner = owner;
        this.mem = mem;
        this.frames = mem.frames();
        this.firstStage = firstStage;
        this.levels = levels;
        this.maxLeafLevel = maxLeafLevel;
        this.vaBits = shift(levels + 1);
        this.presentMask = firstStage ? FirstStagePte.P : SecondStagePte.PRESENT;
        this.root = frames.allocateFrame();
    }

    void setForceSnoop(boolean on) {
        forceSnoop = on;
    }

    private boolean present(long e) {
        return (e & presentMask) != 0;
    }

    private static boolean isLeaf(long e, int level) {
        return level == 1 || (e & SecondStagePte.PS) != 0; // PS is bit 7 in both formats
    }

    private static long address(long e) {
        return e & SecondStagePte.ADDR_MASK;
    }

    /** log2 of the bytes one entry at {@code level} maps. */
    private static int shift(int level) {
        return 12 + SecondStagePte.LEVEL_STRIDE * (level - 1);
    }

    private long tableEntry(long pa) {
        return firstStage ? FirstStagePte.table(pa) : SecondStagePte.table(pa);
    }

    private long leafEntry(long pa, int level, int prot) {
        boolean write = (prot & IoProt.WRITE) != 0;
        if (firstStage) {
            return FirstStagePte.leaf(pa, level, write);
        }
        long attrs = ((prot & IoProt.READ) != 0 ? SecondStagePte.R : 0) | (write ? SecondStagePte.W : 0)
                | (forceSnoop ? SecondStagePte.SNP : 0);
        return SecondStagePte.leaf(pa, level, attrs);
    }

    static int levelOf(long pgsize) {
        if (pgsize == 1L << 12) {
            return 1;
        }
        if (pgsize == 1L << 21) {
            return 2;
        }
        if (pgsize == 1L << 30) {
            return 3;
        }
        return 0;
    }

    // ---------------------------------------------------------------- map

    /**
     * Why a map stopped: a slot in use at {@link #va} (EEXIST) or a table allocation that failed there
     * ({@link #cause}). Only on the failure path.
     */
    private static final class MapStop extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final long va;
        final transient ErrnoException cause;

        MapStop(long va, ErrnoException cause) {
            super(null, null, false, false);
            this.va = va;
            this.cause = cause;
        }
    }

    /**
     * Maps {@code pgcount} pages of {@code pgsize}. On failure nothing this call mapped remains, except on ENOMEM.
     *
     * @throws ErrnoException EINVAL for a page size the table cannot hold; EEXIST when an entry is in use;
     *         ENOMEM with the bytes mapped before the allocation failed as progress (they stay mapped)
     */
    long map(long iova, long paddr, long pgsize, long pgcount, int prot) {
        int level = levelOf(pgsize);
        if (level == 0 || level > maxLeafLevel) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: page size %#x is not supported by this domain", pgsize);
        }
        long leaf = leafEntry(paddr, level, prot);
        if (pgcount == 1 && mapSingle(iova, level, leaf)) {
            return pgsize;
        }
        long end = iova + pgsize * pgcount;
        try {
            // the leaf for an IOVA va is leaf + (va - iova): the output address advances with the input address
            mapRange(root, levels, iova, end, leaf - iova, level);
        } catch (MapStop stop) {
            long done = stop.va - iova;
            if (stop.cause != null) {
                throw stop.cause.withProgress(done);
            }
            if (done > 0) {
                unmapQuietly(iova, done, level);
            }
            throw ErrnoException.of(Errno.EEXIST, "vtd: iova %#x is already mapped", stop.va);
        }
        return pgsize * pgcount;
    }

    /** The kernel's {@code __map_single_page}: every table exists and the slot is empty; false sends the caller to the full path. */
    private boolean mapSingle(long iova, int level, long leaf) {
        long table = root;
        for (int l = levels; l > level; l--) {
            long e = mem.read64(table + SecondStagePte.index(iova, l) * 8L);
            if (!present(e) || isLeaf(e, l)) {
                return false;
            }
            table = address(e);
        }
        return mem.compareAndSet64(table + SecondStagePte.index(iova, level) * 8L, 0, leaf);
    }

    /**
     * Maps {@code [va, end)} (inside this table's span) with leaves at {@code leafLevel}; the leaf of an IOVA x is
     * {@code x + delta}. Tables on the way are allocated and installed with compare-and-set.
     */
    private void mapRange(long table, int level, long va, long end, long delta, int leafLevel) {
        int shift = shift(level);
        int i = SecondStagePte.index(va, level);
        if (level == leafLevel) {
            int count = (int) Math.min(SecondStagePte.ENTRIES - i, (end - va) >>> shift);
            writeLeaves(table + i * 8L, count, va, delta, level);
            return;
        }
        long size = 1L << shift;
        while (va < end && i < SecondStagePte.ENTRIES) {
            long ea = table + i * 8L;
            long e = mem.read64(ea);
            if (e == 0) {
                e = installTable(ea, va);
            }
            if (!present(e) || isLeaf(e, level)) {
                throw new MapStop(va, null); // a larger leaf (or a foreign entry) is in the way
            }
            long next = (va | (size - 1)) + 1;
            mapRange(address(e), level - 1, va, Math.min(end, next), delta, leafLevel);
            va = next;
            i++;
        }
    }

    /** Installs a fresh table in the empty slot {@code ea}; returns the slot's entry (ours or a racing caller's). */
    private long installTable(long ea, long va) {
        long t;
        try {
            t = frames.allocateFrame();
        } catch (ErrnoException e) {
            throw new MapStop(va, e);
        }
        long ne = tableEntry(t);
        if (mem.compareAndSet64(ea, 0, ne)) {
            return ne;
        }
        frames.free(t, 0); // a concurrent map of a disjoint range installed the table first
        return mem.read64(ea);
    }

    /** Writes {@code count} leaves from slot {@code ea} (IOVA {@code va}), each slot checked empty first. */
    private void writeLeaves(long ea, int count, long va, long delta, int level) {
        long size = 1L << shift(level);
        if (count == 1) {
            if (!installLeaf(ea, va, level, va + delta)) {
                throw new MapStop(va, null);
            }
            return;
        }
        while (count > 0) {
            int k = mem.indexOfAny64(ea, count, -1L); // the first slot in use
            int run = k < 0 ? count : k;
            if (run > 0) {
                mem.writeRun64(ea, run, va + delta, size);
            }
            if (k < 0) {
                return;
            }
            long kva = va + (long) k * size;
            long kea = ea + 8L * k;
            if (!installLeaf(kea, kva, level, kva + delta)) {
                throw new MapStop(kva, null);
            }
            va = kva + size;
            ea = kea + 8;
            count -= k + 1;
        }
    }

    private boolean installLeaf(long ea, long va, int level, long leaf) {
        if (mem.compareAndSet64(ea, 0, leaf)) {
            return true;
        }
        long e = mem.read64(ea);
        // Linux switch_to_super_page / clear_contig: an empty lower table where a large leaf goes is replaced and freed
        if (level > 1 && present(e) && !isLeaf(e, level) && tableEmpty(address(e), level - 1)
                && mem.compareAndSet64(ea, e, leaf)) {
            owner.flushRange(va, va + SecondStagePte.levelSize(level) - 1, false);
            freeTree(address(e), level - 1);
            return true;
        }
        return false;
    }

    private boolean tableEmpty(long table, int level) {
        int i = 0;
        while (i < SecondStagePte.ENTRIES) {
            int k = mem.indexOfAny64(table + i * 8L, SecondStagePte.ENTRIES - i, -1L);
            if (k < 0) {
                return true;
            }
            i += k;
            long e = mem.read64(table + i * 8L);
            if (!present(e) || isLeaf(e, level) || !tableEmpty(address(e), level - 1)) {
                return false;
            }
            i++;
        }
        return true;
    }

    /** Undoes the first {@code length} bytes of a failed map: clears the leaves (tables stay) and flushes. */
    private void unmapQuietly(long iova, long length, int level) {
        unmapRange(root, levels, iova, iova + length, level, null);
        owner.flushRange(iova, iova + length - 1, true);
    }

    // ---------------------------------------------------------------- unmap

    /**
     * Unmaps up to {@code pgcount} pages of {@code pgsize} from {@code iova}, stopping at the first slot that is not
     * a present leaf of that size (a hole, a larger leaf, or smaller leaves: see {@link IommuDomain#unmapPages}).
     * Tables whose whole span the unmapped range covers go to the gather's freelist, detached from their parent
     * (Linux {@code __unmap_range}: "if the unmapping range fully covers the table then we can free it"); their
     * words are left as they were, since the frame is dropped when the freelist is drained after the sync.
     *
     * @return bytes unmapped; 0 for a misaligned {@code iova} or one beyond the table's input width
     */
    long unmap(long iova, long pgsize, long pgcount, IotlbGather gather) {
        int level = levelOf(pgsize);
        if (level == 0 || pgcount <= 0 || (iova & (pgsize - 1)) != 0 || (iova >>> vaBits) != 0) {
            return 0;
        }
        // pages beyond the table's width are holes: clamp rather than overflow
        long count = Math.min(pgcount, ((1L << vaBits) - iova) >>> shift(level));
        long end = iova + count * pgsize;
        return unmapRange(root, levels, iova, end, level, gather) - iova;
    }

    /**
     * Unmaps the leaves of {@code [va, end)} (inside this table's span) at {@code leafLevel}; returns the IOVA where
     * it stopped ({@code end} when all of it was unmapped). With a {@code null} gather no table is freed and every
     * leaf is cleared.
     */
    private long unmapRange(long table, int level, long va, long end, int leafLevel, IotlbGather gather) {
        int shift = shift(level);
        int i = SecondStagePte.index(va, level);
        if (level == leafLevel) {
            int count = (int) Math.min(SecondStagePte.ENTRIES - i, (end - va) >>> shift);
            long ea = table + i * 8L;
            int k = leafRun(ea, count, level);
            // a whole table of leaves below the root is freed by the caller with its words: no need to clear them
            boolean freedByParent = k == SecondStagePte.ENTRIES && gather != null && level < levels;
            if (k == 1) {
                mem.write64(ea, 0);
            } else if (k > 1 && !freedByParent) {
                mem.writeRun64(ea, k, 0, 0);
            }
            return va + ((long) k << shift);
        }
        long size = 1L << shift;
        while (va < end && i < SecondStagePte.ENTRIES) {
            long ea = table + i * 8L;
            long e = mem.read64(ea);
            if (!present(e) || isLeaf(e, level)) {
                return va; // a hole, or a leaf larger than the pages being unmapped
            }
            long next = (va | (size - 1)) + 1;
            long childEnd = Math.min(end, next);
            long reached = unmapRange(address(e), level - 1, va, childEnd, leafLevel, gather);
            if (reached != childEnd) {
                return reached;
            }
            if (gather != null && (va & (size - 1)) == 0 && childEnd == next) {
                // every leaf below was unmapped, and lower tables are already on the freelist
                mem.write64(ea, 0);
                gather.addFreedTable(address(e), 0);
            }
            va = next;
            i++;
        }
        return Math.min(va, end);
    }

    /** How many of the {@code count} slots from {@code ea} are, from the first on, present leaves at {@code level}. */
    private int leafRun(long ea, int count, int level) {
        if (count == 1) {
            long e = mem.read64(ea);
            return present(e) && isLeaf(e, level) ? 1 : 0;
        }
        long[] w = SCAN.get();
        mem.read64s(ea, w, 0, count);
        long need = level == 1 ? 0 : SecondStagePte.PS;
        for (int k = 0; k < count; k++) {
            long e = w[k];
            if ((e & presentMask) == 0 || (e & need) != need) {
                return k;
            }
        }
        return count;
    }

    // ---------------------------------------------------------------- lookup and dirty harvest

    /** iova_to_phys: the physical address, or {@link IommuDomain#NO_TRANSLATION}. */
    long iovaToPhys(long iova) {
        if ((iova >>> vaBits) != 0) {
            return IommuDomain.NO_TRANSLATION;
        }
        long table = root;
        for (int l = levels; l >= 1; l--) {
            long e = mem.read64(table + SecondStagePte.index(iova, l) * 8L);
            if (!present(e)) {
                return IommuDomain.NO_TRANSLATION;
            }
            if (isLeaf(e, l)) {
                long size = SecondStagePte.levelSize(l);
                return (address(e) & ~(size - 1)) | (iova & (size - 1));
            }
            table = address(e);
        }
        return IommuDomain.NO_TRANSLATION;
    }

    /**
     * Second stage only: reports and (unless {@code noClear}) clears D on leaves intersecting {@code [iova, last]},
     * visiting only present subtrees; each dirty leaf is reported whole. D is cleared with an atomic
     * read-modify-write of dirty entries only (the kernel's {@code test_and_clear_bit}), so a D bit the hardware
     * sets concurrently on another entry, or an A bit on this one, is never lost.
     */
    void readAndClearDirty(long iova, long last, boolean noClear, DirtyRecorder dirty) {
        if ((iova >>> vaBits) != 0 || Long.compareUnsigned(last, iova) < 0) {
            return;
        }
        dirtyWalk(root, levels, 0, iova, last, noClear, dirty, FOUND.get());
    }

    private void dirtyWalk(long table, int level, long base, long iova, long last, boolean noClear, DirtyRecorder dirty,
            int[] found) {
        int shift = shift(level);
        long size = 1L << shift;
        int i = Long.compareUnsigned(iova, base) > 0 ? SecondStagePte.index(iova, level) : 0;
        long tableLast = base + ((long) SecondStagePte.ENTRIES << shift) - 1;
        int end = Long.compareUnsigned(last, tableLast) < 0 ? SecondStagePte.index(last, level) + 1 : SecondStagePte.ENTRIES;
        if (level == 1) {
            dirtyLeaves(table, base, i, end, noClear, dirty, found);
            return;
        }
        while (i < end) {
            long ea = table + i * 8L;
            long e = mem.read64(ea);
            if (!present(e)) {
                int k = mem.indexOfAny64(ea, end - i, presentMask); // the next present entry: skip empty subtrees
                if (k < 0) {
                    return;
                }
                i += k;
                ea = table + i * 8L;
                e = mem.read64(ea);
                if (!present(e)) {
                    i++; // cleared since the scan
                    continue;
                }
            }
            long start = base + ((long) i << shift);
            if (!isLeaf(e, level)) {
                dirtyWalk(address(e), level - 1, start, iova, last, noClear, dirty, found);
            } else if ((e & SecondStagePte.D) != 0) {
                harvest(ea, start, size, noClear, dirty);
            }
            i++;
        }
    }

    /**
     * The dirty leaves among entries {@code [i, end)} of a leaf table, in one pass over the table's words:
     * {@link PhysicalMemory#updateMatching64s} lists the present leaves with D set and clears their D bits with one
     * atomic read-modify-write each (the kernel's {@code test_and_clear_bit}: an A or D bit the hardware sets
     * concurrently is not lost, and a leaf whose D was cleared by someone else in between is not reported).
     */
    private void dirtyLeaves(long table, long base, int i, int end, boolean noClear, DirtyRecorder dirty, int[] found) {
        long d = SecondStagePte.D;
        int n = mem.updateMatching64s(table + i * 8L, end - i, d, d, presentMask, noClear ? 0 : d, 0, found);
        long va = base + ((long) i << 12);
        for (int k = 0; k < n; k++) {
            long start = va + ((long) found[k] << 12);
            dirty.record(start, 1L << 12);
            if (!noClear) {
                dirty.gather().addRange(start, 1L << 12);
            }
        }
    }

    private void harvest(long ea, long start, long size, boolean noClear, DirtyRecorder dirty) {
        if (noClear) {
            dirty.record(start, size);
            return;
        }
        if ((mem.getAndClear64(ea, SecondStagePte.D) & SecondStagePte.D) != 0) {
            dirty.record(start, size);
            dirty.gather().addRange(start, size);
        }
    }

    // ---------------------------------------------------------------- teardown

    /** Frees every table, the root included. */
    void free() {
        freeTree(root, levels);
    }

    private void freeTree(long table, int level) {
        if (level > 1) {
            int i = 0;
            while (i < SecondStagePte.ENTRIES) {
                int k = mem.indexOfAny64(table + i * 8L, SecondStagePte.ENTRIES - i, presentMask);
                if (k < 0) {
                    break;
                }
                i += k;
                long e = mem.read64(table + i * 8L);
                if (!isLeaf(e, level)) {
                    freeTree(address(e), level - 1);
                }
                i++;
            }
        }
        frames.free(table, 0);
    }
}
