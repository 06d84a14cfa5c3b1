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
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;

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
 * {@code writeRunIfEmpty64} for "write the leaves into the empty slots from here" (a map), {@code indexOfAny64} for
 * "is this run empty / where is the next present entry", {@code read64s} for scans,
 * {@code clearLeading64s} for "clear the present 4 KiB leaves from here" (an unmap through the remembered leaf table),
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
 *
 * <h2>The last leaf table (a per-thread walk cache)</h2>
 * A thread remembers the 4 KiB-leaf table its last map or unmap reached ({@link ThreadScratch}: the table's
 * identity, the 2 MiB region, the leaf table's address and the {@link #detaches} count read before that walk).
 * A map or unmap of 4 KiB pages inside that region, while no table of this page table was detached since,
 * starts at that leaf table instead of walking from the root: tables are only ever installed into empty slots,
 * and a table leaves the tree only through a detach (an unmap that covers its whole span, or an empty table
 * replaced by a large leaf), which counts in {@link #detaches} before the table is handed to the freelist. A
 * detach that the caller's range could depend on is ordered before the caller by the range rule above (it
 * covered the caller's range, so it did not run concurrently with it). An unmap through the remembered table
 * never covers the whole table (that needs the parent entry, so such an unmap walks), so it detaches nothing.
 * This caches the driver's own walk, as software; the hardware model still walks every translation from memory.
 */
final class IoPageTable {
    /** Per thread: the scan buffer and the last leaf table (see the class comment). */
    private static final ThreadLocal<ThreadScratch> SCRATCH = ThreadLocal.withInitial(ThreadScratch::new);
    /** Identities of page tables (never reused: a thread's remembered walk names its table without holding it). */
    private static final AtomicLong IDS = new AtomicLong();

    /** A thread's scratch state: owned by that thread only. */
    private static final class ThreadScratch extends RecentThreadScratch.Owned {
        /** Scan buffer for {@code read64s}: one table's worth of words. */
        final long[] scan = new long[SecondStagePte.ENTRIES];
        /** The {@link #id} of the page table {@link #leafTable} belongs to (0: nothing remembered). */
        long tableId;
        /** The 2 MiB region ({@code iova >>> 21}) whose 4 KiB-leaf table is {@link #leafTable}. */
        long region;
        /** The physical address of that leaf table. */
        long leafTable;
        /** The table's {@link #detaches} count read before the walk that found the leaf table. */
        long detaches;

        /** The remembered leaf table for {@code iova} in {@code t}, or -1. */
        long leafTableFor(IoPageTable t, long iova) {
            return tableId == t.id && region == (iova >>> REGION_SHIFT) && detaches == t.detaches ? leafTable : -1;
        }

        void remember(IoPageTable t, long iova, long table, long detachesBefore) {
            tableId = t.id;
            region = iova >>> REGION_SHIFT;
            leafTable = table;
            detaches = detachesBefore;
        }
    }

    private static final VarHandle DETACHES;

    static {
        try {
            DETACHES = MethodHandles.lookup().findVarHandle(IoPageTable.class, "detaches", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** log2 of the span of one 4 KiB-leaf table (2 MiB). */
    private static final int REGION_SHIFT = 21;

    /** The scratch of the last two threads that mapped or unmapped here, before {@link #SCRATCH}. */
    private final RecentThreadScratch<ThreadScratch> recentScratch = new RecentThreadScratch<>(SCRATCH);

    /** The thread whose scratch {@link #scratch()} gives the calling thread: always itself (for tests). */
    Thread scratchOwner() {
        return scratch().owner;
    }

    /** The calling thread's scratch. */
    private ThreadScratch scratch() {
        return recentScratch.get();
    }
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
    /** This table's identity for {@link ThreadScratch}. */
    private final long id = IDS.incrementAndGet();
    /**
     * Tables detached from this page table so far (volatile: incremented by the detaching caller before the table
     * goes to the freelist or is freed; read before a walk and by {@link ThreadScratch#leafTableFor}).
     */
    private volatile long detaches;

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

    /** Counts a table detached from the tree, before it can be freed (see the class comment). */
    private void countDetach() {
        long before = (long) DETACHES.getAndAdd(this, 1L); // atomic: unmaps of disjoint ranges may detach at once
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
        long end = iova + pgsize * pgcount;
        ThreadScratch scratch = null;
        long detachesBefore = 0;
        if (level == 1 && ((iova ^ (end - 1)) >>> REGION_SHIFT) == 0 && end > iova) {
            scratch = scratch();
            long lt = scratch.leafTableFor(this, iova);
            if (lt >= 0) {
                // the remembered leaf table of this region: the walk from the root would end there
                long ea = lt + SecondStagePte.index(iova, 1) * 8L;
                if (pgcount == 1) {
                    if (mem.compareAndSet64(ea, 0, leaf)) {
                        return pgsize;
                    }
                } else {
                    try {
                        writeLeaves(ea, (int) pgcount, iova, leaf - iova, 1);
                        return pgsize * pgcount;
                    } catch (MapStop stop) {
                        throw mapFailed(iova, stop, level);
                    }
                }
                // a slot in use: the full path below reports it exactly as without the remembered table
            }
            detachesBefore = detaches;
        }
        if (pgcount == 1 && mapSingle(iova, level, leaf, scratch, detachesBefore)) {
            return pgsize;
        }
        try {
            // the leaf for an IOVA va is leaf + (va - iova): the output address advances with the input address
            mapRange(root, levels, iova, end, leaf - iova, level, scratch, detachesBefore);
        } catch (MapStop stop) {
            throw mapFailed(iova, stop, level);
        }
        return pgsize * pgcount;
    }

    /** The error of a map that stopped at {@code stop}: what it mapped is undone unless the cause is ENOMEM. */
    private ErrnoException mapFailed(long iova, MapStop stop, int level) {
        long done = stop.va - iova;
        if (stop.cause != null) {
            return stop.cause.withProgress(done);
        }
        if (done > 0) {
            unmapQuietly(iova, done, level);
        }
        return ErrnoException.of(Errno.EEXIST, "vtd: iova %#x is already mapped", stop.va);
    }

    /** The kernel's {@code __map_single_page}: every table exists and the slot is empty; false sends the caller to the full path. */
    private boolean mapSingle(long iova, int level, long leaf, ThreadScratch scratch, long detachesBefore) {
        long table = root;
        for (int l = levels; l > level; l--) {
            long e = mem.read64(table + SecondStagePte.index(iova, l) * 8L);
            if (!present(e) || isLeaf(e, l)) {
                return false;
            }
            table = address(e);
        }
        if (scratch != null) {
            scratch.remember(this, iova, table, detachesBefore);
        }
        return mem.compareAndSet64(table + SecondStagePte.index(iova, level) * 8L, 0, leaf);
    }

    /**
     * Maps {@code [va, end)} (inside this table's span) with leaves at {@code leafLevel}; the leaf of an IOVA x is
     * {@code x + delta}. Tables on the way are allocated and installed with compare-and-set.
     */
    private void mapRange(long table, int level, long va, long end, long delta, int leafLevel, ThreadScratch scratch,
            long detachesBefore) {
        int shift = shift(level);
        int i = SecondStagePte.index(va, level);
        if (level == leafLevel) {
            int count = (int) Math.min(SecondStagePte.ENTRIES - i, (end - va) >>> shift);
            if (scratch != null) {
                scratch.remember(this, va, table, detachesBefore);
            }
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
            mapRange(address(e), level - 1, va, Math.min(end, next), delta, leafLevel, scratch, detachesBefore);
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
            int k = mem.writeRunIfEmpty64(ea, count, va + delta, size); // the leaves up to the first slot in use
            if (k == count) {
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
            countDetach();
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
        unmapRange(root, levels, iova, iova + length, level, null, null, 0);
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
        if (level == 1 && ((iova ^ (end - 1)) >>> REGION_SHIFT) == 0 && count < SecondStagePte.ENTRIES) {
            // inside one leaf table and not all of it (no table is freed): the remembered leaf table may serve
            ThreadScratch scratch = scratch();
            long lt = scratch.leafTableFor(this, iova);
            if (lt >= 0) {
                // the present 4 KiB leaves from ea, cleared as they are read (leafRun + clearLeaves in one pass)
                int k = mem.clearLeading64s(lt + SecondStagePte.index(iova, 1) * 8L, (int) count, presentMask);
                return (long) k << 12;
            }
            long detachesBefore = detaches;
            long reached = unmapRange(root, levels, iova, end, level, gather, scratch, detachesBefore);
            return reached - iova;
        }
        return unmapRange(root, levels, iova, end, level, gather, null, 0) - iova;
    }

    /** Clears the {@code k} leaves from {@code ea}. */
    private void clearLeaves(long ea, int k) {
        if (k == 1) {
            mem.write64(ea, 0);
        } else if (k > 1) {
            mem.writeRun64(ea, k, 0, 0);
        }
    }

    /**
     * Unmaps the leaves of {@code [va, end)} (inside this table's span) at {@code leafLevel}; returns the IOVA where
     * it stopped ({@code end} when all of it was unmapped). With a {@code null} gather no table is freed and every
     * leaf is cleared.
     */
    private long unmapRange(long table, int level, long va, long end, int leafLevel, IotlbGather gather,
            ThreadScratch scratch, long detachesBefore) {
        int shift = shift(level);
        int i = SecondStagePte.index(va, level);
        if (level == leafLevel) {
            int count = (int) Math.min(SecondStagePte.ENTRIES - i, (end - va) >>> shift);
            long ea = table + i * 8L;
            if (scratch != null) {
                scratch.remember(this, va, table, detachesBefore);
            }
            int k = leafRun(ea, count, level, scratch != null ? scratch.scan : null);
            // a whole table of leaves below the root is freed by the caller with its words: no need to clear them
            boolean freedByParent = k == SecondStagePte.ENTRIES && gather != null && level < levels;
            if (!freedByParent) {
                clearLeaves(ea, k);
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
            long reached = unmapRange(address(e), level - 1, va, childEnd, leafLevel, gather, scratch, detachesBefore);
            if (reached != childEnd) {
                return reached;
            }
            if (gather != null && (va & (size - 1)) == 0 && childEnd == next) {
                // every leaf below was unmapped, and lower tables are already on the freelist
                mem.write64(ea, 0);
                countDetach();
                gather.addFreedTable(address(e), 0);
            }
            va = next;
            i++;
        }
        return Math.min(va, end);
    }

    /** How many of the {@code count} slots from {@code ea} are, from the first on, present leaves at {@code level}. */
    private int leafRun(long ea, int count, int level, long[] scan) {
        if (count == 1) {
            long e = mem.read64(ea);
            return present(e) && isLeaf(e, level) ? 1 : 0;
        }
        long[] w = scan != null ? scan : scratch().scan;
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
