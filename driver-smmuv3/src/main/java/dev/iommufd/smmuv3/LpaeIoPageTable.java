package dev.iommufd.smmuv3;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.TranslationDescriptor;
import dev.iommufd.smmuv3.layout.TranslationGranule;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A VMSAv8-64 I/O page table as Linux's {@code io-pgtable-arm} builds it ({@code ARM_64_LPAE_S1} /
 * {@code ARM_64_LPAE_S2}): tables are granule-sized blocks of frames holding raw 64-bit descriptors in physical
 * memory; nothing is kept per entry on the Java side.
 *
 * <ul>
 *   <li>Levels: {@code levels = ceil((ias - g) / (g - 3))}, {@code start = 4 - levels}; the PGD may be smaller
 *       than a granule (stage 1) or several concatenated tables (stage 2: when the start level would be 0 and the
 *       PGD has at most 16 entries, start one level lower with up to 16 concatenated tables).</li>
 *   <li>Leaves ({@code arm_lpae_prot_to_pte}): AF=1; SH=IS with IOMMU_CACHE, else OS; XN (bits 53|54) with
 *       NOEXEC. Stage 1: nG=1, AP[1]=1 unless PRIV, AP[2]=1 for read-only, DBM=1 for writable leaves with the HD
 *       quirk, AttrIndx 2 for MMIO, 1 for CACHE, else 0. Stage 2: S2AP read/write, MemAttr 0x1 MMIO, 0xF (0x6 with
 *       FWB) CACHE, 0x5 otherwise.</li>
 *   <li>Tables are installed with compare-and-set, so concurrent maps of disjoint ranges may share new tables.</li>
 * </ul>
 *
 * <h2>Cost</h2>
 * Like {@code __arm_lpae_map}/{@code __arm_lpae_unmap}, a call descends from the PGD once per leaf table it
 * touches and then handles the run of entries it covers in that table with bulk {@link PhysicalMemory} verbs (one
 * frame lookup per 4 KiB instead of one per word): {@code indexOfAny64} to check a run is free,
 * {@code writeRun64} to write it, {@code clearLeading64s} to clear the valid page descriptors of an unmap in one
 * pass ({@code read64s} to read what a block-level unmap clears, which may free tables). The dirty harvest walks the tree
 * once, reading each table once ({@code updateMatching64s} lists and cleans a leaf table's dirty entries in one
 * pass).
 *
 * <h2>Concurrency rule (no domain lock)</h2>
 * The descriptor words are the only shared state. Calls on disjoint IOVA ranges may run concurrently from any
 * threads (the io-pgtable guarantee the core relies on): the only words two such calls can both write are empty
 * upper-level slots, and those are filled only with {@link PhysicalMemory#compareAndSet64} (one table wins, the
 * loser frees its own). A table is removed only by an unmap (or a block map) whose range covers the table's whole
 * span, which no disjoint call can be using. Calls on overlapping ranges must be serialised by the caller (iommufd's
 * IOVA ranges never overlap). Leaf updates made by the SMMU (HTTU: AF, dirty) are atomic on single words and may
 * race with everything; the harvest sets AP[2] back with an atomic OR. Each thread keeps one 4 KiB scratch array
 * per purpose (unmap, dirty) for bulk reads; hot paths allocate nothing else.
 *
 * <h2>Leaf-table lookaside (driver side only)</h2>
 * A page-sized map or unmap needs the last-level table of its IOVA; descending to it reads one descriptor per level
 * of simulated memory (a frame lookup each), where the kernel follows three cached pointers. {@link #leafCache}
 * remembers, for a few last-level spans (2 MiB with 4 KiB pages), which table the descent found: 64 direct-mapped
 * words, each packing (span index + 1, table frame number) so that a reader sees a whole entry or none. It is
 * the driver's own memory of where its tables are, never read by the SMMU model (which walks the descriptors).
 * <pre>
 *  entry: 63                         pfnBits pfnBits-1                          0
 *        +-------------------------------+----------------------------------------+
 *        | span index + 1 (0: empty)     | table address >> granule shift         |
 *        +-------------------------------+----------------------------------------+
 *  span index = iova >> levelShift(2); pfnBits = 63 - (ias - levelShift(2))
 * </pre>
 * Safety rests on the concurrency rule above: a last-level table leaves the tree only when a call covering its
 * whole span removes it (an unmap of a larger page size or a block map over it), and that call first empties the
 * whole lookaside ({@link #forgetLeafTables}), before the table can be freed and reused. No concurrent call uses
 * the removed span (ranges are disjoint), and an earlier call that cached it is ordered before the removal by the
 * caller's serialisation of overlapping calls, so no entry naming a removed table survives the removal. An entry
 * is written only when a descent finds something else (a read-mostly line: threads working on their own spans do
 * not write shared words).
 */
final class LpaeIoPageTable {
    private final PhysicalMemory memory;
    private final FrameAllocator frames;
    final boolean stage2;
    final TranslationGranule granule;
    final int ias;
    final int oas;
    final int startLevel;
    /** Bits resolved at the start level (more than the stride for concatenated stage-2 tables). */
    final int startBits;
    final long pgd;
    final int pgdOrder;
    private final int tableOrder;
    final boolean dirtyQuirk;
    final boolean fwb;
    final long pgsizeBitmap;
    /** Entries in a (non-PGD) table: one granule of 8-byte descriptors. */
    private final int entriesPerTable;
    /** {@code levelShift[level]}: the lowest input address bit a descriptor at that level resolves. */
    private final int[] levelShift = new int[4];
    /** {@code leafLevelOfShift[s]}: the level whose leaves are {@code 2^s} bytes (4 for none: never a level). */
    private final byte[] leafLevelOfShift = new byte[64];

    /** Entries of the leaf-table lookaside (a power of two: indexed by the top bits of a multiplicative hash). */
    static final int LEAF_CACHE_ENTRIES = 64;
    private static final VarHandle CACHE_WORD = MethodHandles.arrayElementVarHandle(long[].class);
    /** The leaf-table lookaside (see the class comment); null when the start level is the last level. */
    private final long[] leafCache;
    /** {@code levelShift[2]}: an IOVA's span index is {@code iova >>> spanShift}. */
    private final int spanShift;
    /** Bits of an entry holding the table's frame number (by granule): {@code 63 - (ias - spanShift)}. */
    private final int pfnBits;

    /**
     * Words read by one bulk read of unmap / scanned by one step of the dirty walk (per thread: disjoint calls run
     * concurrently).
     */
    private static final int SCRATCH_WORDS = 512;
    private static final ThreadLocal<long[]> UNMAP_SCRATCH = ThreadLocal.withInitial(() -> new long[SCRATCH_WORDS]);
    /** Indices of the dirty leaves {@code updateMatching64s} found in one leaf-table run (per thread). */
    private static final ThreadLocal<int[]> DIRTY_FOUND = ThreadLocal.withInitial(() -> new int[SCRATCH_WORDS]);

    LpaeIoPageTable(PhysicalMemory memory, boolean stage2, TranslationGranule granule, int ias, int oas,
            boolean dirtyQuirk, boolean fwb, long smmuPgsizeBitmap) {
        this.memory = memory;
        this.frames = memory.frames();
        this.stage2 = stage2;
        this.granule = granule;
        this.ias = ias;
        this.oas = oas;
        this.dirtyQuirk = dirtyQuirk;
        this.fwb = fwb;
        this.entriesPerTable = granule.entriesPerTable();
        for (int level = 0; level <= 3; level++) {
            levelShift[level] = granule.levelShift(level);
        }
        java.util.Arrays.fill(leafLevelOfShift, (byte) 4);
        int start = granule.startLevel(ias);
        int bits = ias - granule.levelShift(start);
        if (stage2 && start == 0 && (1 << bits) <= 16) {
            start = 1;
            bits = ias - granule.levelShift(1);
        }
        this.startLevel = start;
        this.startBits = bits;
        for (int level = Math.max(start, 1); level <= 3; level++) {
            leafLevelOfShift[levelShift[level]] = (byte) level;
        }
        this.spanShift = levelShift[2];
        this.pfnBits = 63 - (ias - spanShift);
        this.leafCache = start < 3 ? new long[LEAF_CACHE_ENTRIES] : null;
        this.tableOrder = granule.shift() - PhysicalMemory.FRAME_SHIFT;
        long pgdBytes = 8L << bits;
        int order = 0;
        while ((PhysicalMemory.FRAME_SIZE << order) < pgdBytes) {
            order++;
        }
        this.pgdOrder = Math.max(order, tableOrder);
        this.pgd = frames.allocate(pgdOrder);
        long bitmap = 0;
        for (int level = 1; level <= 3; level++) {
            if (level == 3 || granule.blockAllowed(level, oas)) {
                bitmap |= granule.levelSize(level);
            }
        }
        this.pgsizeBitmap = bitmap & smmuPgsizeBitmap | granule.size();
    }

    /** The stage-1 TCR fields / stage-2 VTCR fields the CD/STE need. */
    int tsz() {
        return 64 - ias;
    }

    /** {@code VTCR.SL0} (io-pgtable-arm: 4K granule {@code ~(start+1) & 3}, else {@code ~start & 3}). */
    int sl0() {
        int sl = startLevel;
        if (granule == TranslationGranule.G4K) {
            sl++;
        }
        return ~sl & 3;
    }

    private long pte(long paddr, int level, int prot) {
        long pte = TranslationDescriptor.addressField(paddr, granule)
                | (level == 3 ? TranslationDescriptor.TYPE_PAGE : TranslationDescriptor.TYPE_BLOCK)
                | TranslationDescriptor.AF;
        if (!stage2) {
            pte |= TranslationDescriptor.NG;
            if ((prot & IoProt.WRITE) == 0 && (prot & IoProt.READ) != 0) {
                pte |= TranslationDescriptor.AP_RDONLY;
            } else if (dirtyQuirk) {
                pte |= TranslationDescriptor.DBM;
            }
            if ((prot & IoProt.PRIV) == 0) {
                pte |= TranslationDescriptor.AP_UNPRIV;
            }
            if ((prot & IoProt.MMIO) != 0) {
                pte |= 2L << TranslationDescriptor.ATTRINDX_SHIFT;
            } else if ((prot & IoProt.CACHE) != 0) {
                pte |= 1L << TranslationDescriptor.ATTRINDX_SHIFT;
            }
        } else {
            if ((prot & IoProt.READ) != 0) {
                pte |= TranslationDescriptor.S2AP_READ;
            }
            if ((prot & IoProt.WRITE) != 0) {
                pte |= TranslationDescriptor.S2AP_WRITE;
            }
            if ((prot & IoProt.MMIO) != 0) {
                pte |= TranslationDescriptor.S2_MEMATTR_DEV;
            } else if ((prot & IoProt.CACHE) != 0) {
                pte |= fwb ? 0x6L << TranslationDescriptor.S2_MEMATTR_SHIFT : TranslationDescriptor.S2_MEMATTR_OIWB;
            } else {
                pte |= TranslationDescriptor.S2_MEMATTR_NC;
            }
        }
        pte |= (prot & IoProt.CACHE) != 0 ? TranslationDescriptor.SH_IS : TranslationDescriptor.SH_OS;
        if ((prot & IoProt.NOEXEC) != 0) {
            pte |= TranslationDescriptor.XN;
        }
        return pte;
    }

    /** The level whose leaves are {@code pgsize} bytes, or -1. */
    private int levelForSize(long pgsize) {
        if (pgsize <= 0 || (pgsize & (pgsize - 1)) != 0) {
            return -1;
        }
        int level = leafLevelOfShift[Long.numberOfTrailingZeros(pgsize)];
        return level > 3 ? -1 : level;
    }

    // ---- leaf-table lookaside (see the class comment)

    private static int cacheIndex(long span) {
        return (int) ((span * 0x9E3779B97F4A7C15L) >>> (64 - Integer.numberOfTrailingZeros(LEAF_CACHE_ENTRIES)));
    }

    /** The last-level table the lookaside holds for {@code va}'s span, or -1. */
    private long cachedLeafTable(long va) {
        long span = va >>> spanShift;
        long e = (long) CACHE_WORD.getAcquire(leafCache, cacheIndex(span));
        return e >>> pfnBits == span + 1 ? (e & ((1L << pfnBits) - 1)) << granule.shift() : -1;
    }

    /** Remembers that {@code table} is the last-level table of {@code va}'s span (written only when it changes). */
    private void cacheLeafTable(long va, long table) {
        long span = va >>> spanShift;
        long pfn = table >>> granule.shift();
        if ((pfn >>> pfnBits) != 0) {
            return; // not representable (a table above 2^(pfnBits + granule shift)): not cached
        }
        long e = (span + 1) << pfnBits | pfn;
        int i = cacheIndex(span);
        if ((long) CACHE_WORD.getAcquire(leafCache, i) != e) {
            CACHE_WORD.setRelease(leafCache, i, e);
        }
    }

    /**
     * Empties the lookaside: called by a call that removes a table from the tree, before the table can be freed
     * (see the class comment). Writes only the entries that are not empty.
     */
    private void forgetLeafTables() {
        long[] c = leafCache;
        if (c == null) {
            return;
        }
        for (int i = 0; i < c.length; i++) {
            if ((long) CACHE_WORD.getAcquire(c, i) != 0) {
                CACHE_WORD.setVolatile(c, i, 0L);
            }
        }
    }

    /** Live entries of the lookaside (for tests). */
    int cachedLeafTables() {
        int n = 0;
        if (leafCache != null) {
            for (long e : leafCache) {
                n += e != 0 ? 1 : 0;
            }
        }
        return n;
    }

    private long indexBits(int level) {
        return level == startLevel ? startBits : granule.stride();
    }

    /** Entries of a table at {@code level}: the PGD's (with concatenation) at the start level, else a granule's. */
    private int entries(int level) {
        return level == startLevel ? 1 << startBits : entriesPerTable;
    }

    private int index(long iova, int level) {
        return (int) ((iova >>> levelShift[level]) & (entries(level) - 1));
    }

    private long entryAddress(long table, int level, long iova) {
        return table + (long) index(iova, level) * 8;
    }

    /**
     * {@code map_pages}. Returns bytes mapped; on ENOMEM or EEXIST the exception's progress is the bytes mapped
     * before (whole runs of leaf-table entries, as {@code arm_lpae_init_pte} maps a run or nothing of it).
     *
     * <p>Descends once per leaf table ({@code __arm_lpae_map}), installing missing tables with compare-and-set,
     * then checks the run of entries the call covers in that table with one scan ({@link PhysicalMemory#indexOfAny64})
     * and writes it with one {@link PhysicalMemory#writeRun64} (output address advancing by {@code pgsize}).
     */
    long map(long iova, long paddr, long pgsize, long pgcount, int prot) {
        if ((prot & (IoProt.READ | IoProt.WRITE)) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "prot %#x has neither READ nor WRITE", prot);
        }
        int leafLevel = levelForSize(pgsize);
        if (leafLevel < 0 || (pgsizeBitmap & pgsize) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "pgsize %#x is not a page size of this table", pgsize);
        }
        long size = pgsize * pgcount;
        if (((iova | paddr) & (pgsize - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "iova %#x / paddr %#x not aligned to pgsize %#x", iova, paddr, pgsize);
        }
        if (pgcount <= 0 || ((iova + size - 1) >>> ias) != 0 || Long.compareUnsigned(iova + size - 1, iova) < 0) {
            throw ErrnoException.of(Errno.ERANGE, "iova range %#x+%#x is beyond the %d-bit input size", iova, size, ias);
        }
        if (((paddr + size - 1) >>> oas) != 0 || !TranslationDescriptor.addressEncodable(paddr + size - 1, granule)) {
            throw ErrnoException.of(Errno.ERANGE, "paddr range %#x+%#x is beyond the %d-bit output size", paddr, size, oas);
        }
        long leafTemplate = pte(0, leafLevel, prot);
        int tableEntries = entries(leafLevel);
        long done = 0;
        long va = iova;
        long pa = paddr;
        long remaining = pgcount;
        while (remaining > 0) {
            long table;
            try {
                table = leafTable(va, leafLevel);
            } catch (ErrnoException e) {
                throw e.withProgress(done);
            }
            if (table < 0) {
                throw ErrnoException.of(Errno.EEXIST, "iova %#x is already mapped (by a larger leaf)", va).withProgress(done);
            }
            // a leaf table this call installed is all zeros where the run goes (other threads own other entries)
            boolean fresh = (table & FRESH) != 0;
            table &= ~FRESH;
            int idx = index(va, leafLevel);
            int n = (int) Math.min(remaining, tableEntries - idx);
            if (granule == TranslationGranule.G64K) {
                // PA[51:48] live in bits [15:12]: the address field advances linearly only inside one 2^48 region
                long toRegionEnd = ((1L << 48) - (pa & ((1L << 48) - 1))) / pgsize;
                n = (int) Math.min(n, toRegionEnd);
            }
            long ptep = table + (long) idx * 8;
            long first = leafTemplate | TranslationDescriptor.addressField(pa, granule);
            if (n == 1) {
                if (!fresh && memory.read64(ptep) != 0) {
                    checkOccupied(ptep, leafLevel, va, pgsize, 1, done);
                }
                memory.write64(ptep, first);
            } else {
                if (!fresh && memory.indexOfAny64(ptep, n, -1L) >= 0) {
                    checkOccupied(ptep, leafLevel, va, pgsize, n, done);
                }
                memory.writeRun64(ptep, n, first, pgsize);
            }
            long bytes = n * pgsize;
            done += bytes;
            va += bytes;
            pa += bytes;
            remaining -= n;
        }
        return done;
    }

    /**
     * {@code arm_lpae_init_pte} on a run of {@code n} entries that is not all zero: a leaf (or any other non-zero
     * word) fails the whole run with EEXIST before anything of it is written; a table where a block is to go is
     * unmapped, its walks flushed and its pages freed ("unmap and free the old table before overwriting it with a
     * block entry"). Returns normally when every non-zero entry was such a table.
     */
    private void checkOccupied(long ptep, int leafLevel, long va, long pgsize, int n, long done) {
        int i = 0;
        while (i < n) {
            int k = memory.indexOfAny64(ptep + (long) i * 8, n - i, -1L);
            if (k < 0) {
                return;
            }
            i += k;
            long slot = ptep + (long) i * 8;
            long old = memory.read64(slot);
            if (!(TranslationDescriptor.isValid(old) && TranslationDescriptor.isTable(old, leafLevel))) {
                throw ErrnoException.of(Errno.EEXIST, "iova %#x is already mapped", va + i * pgsize).withProgress(done);
            }
            memory.write64(slot, 0);
            forgetLeafTables(); // before the table is freed: no lookaside entry may name it
            walkFlusher.flushWalk(va + i * pgsize, pgsize);
            freeSubtree(TranslationDescriptor.outputAddress(old, granule, granule.shift()), leafLevel + 1, null);
            i++;
        }
    }

    /** Flag (bit 0; tables are granule aligned) on {@link #leafTable}'s result: this call installed the leaf table. */
    private static final long FRESH = 1;

    /**
     * The table at {@code leafLevel} that holds the entry of {@code va}, installing missing tables on the way
     * ({@link #FRESH} set when the leaf table itself was installed by this call); -1 when a block leaf is in the way.
     *
     * <p>Tables are installed with {@link PhysicalMemory#compareAndSet64} (the kernel's {@code cmpxchg64} in
     * {@code arm_lpae_install_table}): when two threads race to fill the same empty slot, one table wins and the
     * loser frees its fresh (still zero) table and descends into the winner's. This is what lets disjoint
     * map/unmap calls share upper-level tables with no lock.
     */
    private long leafTable(long va, int leafLevel) {
        if (leafLevel == 3 && leafCache != null) {
            long cached = cachedLeafTable(va);
            if (cached >= 0) {
                return cached;
            }
        }
        long table = pgd;
        long installed = 0;
        for (int level = startLevel; level < leafLevel; level++) {
            long ptep = entryAddress(table, level, va);
            long desc = memory.read64(ptep);
            if (desc == 0) {
                long fresh = frames.allocate(tableOrder);
                // the frame reads as zeros; writing one zero gives it storage now, so that the run written into it
                // next is a plain bulk store (creating a frame's storage inside a bulk verb is its rare slow path)
                memory.write64(fresh, 0);
                long tableDesc = TranslationDescriptor.addressField(fresh, granule) | TranslationDescriptor.TYPE_TABLE;
                if (memory.compareAndSet64(ptep, 0, tableDesc)) {
                    desc = tableDesc;
                    installed = level == leafLevel - 1 ? FRESH : 0;
                } else {
                    frames.free(fresh, tableOrder);
                    desc = memory.read64(ptep);
                }
            }
            if (!TranslationDescriptor.isTable(desc, level)) {
                return -1; // a block leaf is in the way
            }
            table = TranslationDescriptor.outputAddress(desc, granule, granule.shift());
        }
        if (leafLevel == 3 && leafCache != null) {
            cacheLeafTable(va, table);
        }
        return table | installed;
    }

    /** {@code io_pgtable_tlb_flush_walk}: invalidates cached walks (non-leaf) of a range, synchronously. */
    interface WalkFlusher {
        void flushWalk(long iova, long size);
    }

    private volatile WalkFlusher walkFlusher = (iova, size) -> { };

    void setWalkFlusher(WalkFlusher flusher) {
        this.walkFlusher = flusher;
    }

    /** Callback used by {@link #unmap} to gather unmapped pages (the domain syncs when the gather needs it). */
    interface PageGatherer {
        /**
         * {@code count} consecutive pages of {@code size} from {@code iova}: what {@code count} calls of
         * {@code iommu_iotlb_gather_add_page} do (only the first can need a sync: the others extend the range).
         */
        void addPages(IotlbGather gather, long iova, long size, long count);
    }

    /**
     * {@code unmap_pages}: returns the bytes unmapped (stops at a hole; 0 when a larger leaf covers iova). A table
     * found where a leaf of {@code pgsize} would be is removed whole and its frames queued on the gather, to be
     * freed after the sync that invalidates its range.
     *
     * <p>Descends once per leaf table and clears the valid prefix of the run of entries it covers there as it reads
     * it, with one {@link PhysicalMemory#clearLeading64s} at level 3 (page descriptors), or, above it, one
     * {@link PhysicalMemory#read64s} and one {@link PhysicalMemory#writeRun64} (the entries read name the tables to
     * free); it gathers the run as one range.
     */
    long unmap(long iova, long pgsize, long pgcount, IotlbGather gather, PageGatherer gatherer) {
        int leafLevel = levelForSize(pgsize);
        if (leafLevel < 0 || pgcount <= 0) {
            return 0;
        }
        int tableEntries = entries(leafLevel);
        long[] buf = null;
        long done = 0;
        long va = iova;
        long remaining = pgcount;
        while (remaining > 0) {
            if ((va >>> ias) != 0) {
                return done; // arm_lpae_unmap_pages: iova beyond the input size
            }
            long table = leafLevel == 3 && leafCache != null ? cachedLeafTable(va) : -1;
            if (table < 0) {
                table = pgd;
                for (int level = startLevel; level < leafLevel; level++) {
                    long desc = memory.read64(entryAddress(table, level, va));
                    if (!TranslationDescriptor.isValid(desc)) {
                        return done;
                    }
                    if (!TranslationDescriptor.isTable(desc, level)) {
                        return done; // a larger leaf: "Unmap of a partial large IOPTE is not allowed"
                    }
                    table = TranslationDescriptor.outputAddress(desc, granule, granule.shift());
                }
                if (leafLevel == 3 && leafCache != null) {
                    cacheLeafTable(va, table);
                }
            }
            int idx = index(va, leafLevel);
            int n = (int) Math.min(remaining, tableEntries - idx);
            long ptep = table + (long) idx * 8;
            int valid;
            if (n == 1) {
                long desc = memory.read64(ptep);
                if (!TranslationDescriptor.isValid(desc)) {
                    return done;
                }
                memory.write64(ptep, 0);
                gatherer.addPages(gather, va, pgsize, 1);
                if (TranslationDescriptor.isTable(desc, leafLevel)) {
                    forgetLeafTables(); // before the table is freed (after the sync): no lookaside entry may name it
                    freeSubtree(TranslationDescriptor.outputAddress(desc, granule, granule.shift()), leafLevel + 1, gather);
                }
                valid = 1;
            } else if (leafLevel == 3) {
                // page descriptors only (no table below): cleared as they are read, up to the first invalid one
                valid = memory.clearLeading64s(ptep, n, TranslationDescriptor.VALID);
                if (valid == 0) {
                    return done;
                }
                gatherer.addPages(gather, va, pgsize, valid);
            } else {
                if (buf == null) {
                    buf = UNMAP_SCRATCH.get();
                }
                n = Math.min(n, buf.length);
                memory.read64s(ptep, buf, 0, n);
                valid = 0;
                while (valid < n && (buf[valid] & TranslationDescriptor.VALID) != 0) {
                    valid++;
                }
                if (valid == 0) {
                    return done;
                }
                memory.writeRun64(ptep, valid, 0, 0);
                gatherer.addPages(gather, va, pgsize, valid);
                for (int i = 0; i < valid; i++) { // a block-level unmap: any table below goes after the sync
                    if (TranslationDescriptor.isTable(buf[i], leafLevel)) {
                        forgetLeafTables(); // as in the one-entry case above
                        freeSubtree(TranslationDescriptor.outputAddress(buf[i], granule, granule.shift()), leafLevel + 1,
                                gather);
                    }
                }
            }
            long bytes = valid * pgsize;
            done += bytes;
            if (valid < n) {
                return done;
            }
            va += bytes;
            remaining -= n;
        }
        return done;
    }

    /** Frees a table and every table below it, now ({@code gather} null) or after the gather's sync. */
    private void freeSubtree(long table, int level, IotlbGather gather) {
        if (level < 3) {
            int n = entriesPerTable;
            int i = 0;
            while (i < n) {
                int k = memory.indexOfAny64(table + (long) i * 8, n - i, TranslationDescriptor.VALID);
                if (k < 0) {
                    break;
                }
                i += k;
                long desc = memory.read64(table + (long) i * 8);
                if (TranslationDescriptor.isTable(desc, level)) {
                    freeSubtree(TranslationDescriptor.outputAddress(desc, granule, granule.shift()), level + 1, gather);
                }
                i++;
            }
        }
        if (gather != null) {
            gather.addFreedTable(table, tableOrder);
        } else {
            frames.free(table, tableOrder);
        }
    }

    /** {@code iova_to_phys}, or -1. */
    long iovaToPhys(long iova) {
        if ((iova >>> ias) != 0) {
            return -1;
        }
        long table = pgd;
        for (int level = startLevel; level <= 3; level++) {
            long desc = memory.read64(entryAddress(table, level, iova));
            if (!TranslationDescriptor.isValid(desc)) {
                return -1;
            }
            int shift = granule.levelShift(level);
            if (TranslationDescriptor.isTable(desc, level)) {
                table = TranslationDescriptor.outputAddress(desc, granule, granule.shift());
                continue;
            }
            return TranslationDescriptor.outputAddress(desc, granule, shift) | (iova & ((1L << shift) - 1));
        }
        return -1;
    }

    /**
     * {@code read_and_clear_dirty} (stage 1 with the HD quirk): a leaf is dirty when DBM=1 and AP[2]=0
     * ("writable-dirty"); clearing sets AP[2] ("writable-clean") atomically, so the SMMU's next write clears it
     * again. Each dirty leaf is recorded once, as its whole (aligned) range, in increasing IOVA order.
     *
     * <p>One recursive walk ({@code __arm_lpae_iopte_walk} with {@code visit_dirty}): each table is read once.
     * Upper tables are read entry by entry, skipping runs of invalid entries with
     * {@link PhysicalMemory#indexOfAny64}; a leaf table's run is handled by one
     * {@link PhysicalMemory#updateMatching64s}, which lists the writable-dirty leaves and sets their AP[2] with one
     * atomic read-modify-write each (a leaf the SMMU updates concurrently is re-tested, so no AF or dirty update
     * is lost).
     */
    void readAndClearDirty(long iova, long size, boolean clear, DirtyRecorder dirty) {
        if (size == 0 || (iova >>> ias) != 0) {
            return;
        }
        long last = iova + size - 1;
        long top = (1L << ias) - 1;
        if (Long.compareUnsigned(last, top) > 0 || Long.compareUnsigned(last, iova) < 0) {
            last = top;
        }
        dirtyWalk(pgd, startLevel, iova, last, clear, dirty, DIRTY_FOUND.get());
    }

    /** Visits the entries of {@code table} (at {@code level}) covering {@code [lo, hi]}, both inside its span. */
    private void dirtyWalk(long table, int level, long lo, long hi, boolean clear, DirtyRecorder dirty, int[] found) {
        int shift = levelShift[level];
        int first = index(lo, level);
        int last = index(hi, level);
        long span = 1L << shift;
        long tableBase = lo & -(span << indexBits(level));
        if (level == 3) {
            long set = clear ? TranslationDescriptor.AP_RDONLY : 0; // iopte_set_writeable_clean: set_bit
            for (int i = first; i <= last; ) {
                int n = Math.min(last - i + 1, found.length);
                int m = memory.updateMatching64s(table + (long) i * 8, n, DIRTY_MASK, DIRTY_VALUE, 0, 0, set, found);
                for (int k = 0; k < m; k++) {
                    dirty.record(tableBase + ((long) (i + found[k]) << shift), span);
                }
                i += n;
            }
            return;
        }
        for (int i = first; i <= last; i++) {
            long ptep = table + (long) i * 8;
            long desc = memory.read64(ptep);
            if (!TranslationDescriptor.isValid(desc)) {
                // skip the run of invalid entries with one scan
                int k = memory.indexOfAny64(ptep, last - i + 1, TranslationDescriptor.VALID);
                if (k < 0) {
                    break;
                }
                i += k;
                ptep = table + (long) i * 8;
                desc = memory.read64(ptep);
            }
            long entryVa = tableBase + ((long) i << shift);
            if (TranslationDescriptor.isTable(desc, level)) {
                long sub = TranslationDescriptor.outputAddress(desc, granule, granule.shift());
                long subLo = Long.compareUnsigned(lo, entryVa) > 0 ? lo : entryVa;
                long entryLast = entryVa + span - 1;
                long subHi = Long.compareUnsigned(hi, entryLast) < 0 ? hi : entryLast;
                dirtyWalk(sub, level + 1, subLo, subHi, clear, dirty, found);
            } else if ((desc & DIRTY_MASK) == DIRTY_VALUE) {
                dirtyLeaf(ptep, entryVa, span, clear, dirty);
            }
        }
    }

    /** DBM, AP[2] and the valid bit: a leaf is writable-dirty when they read DBM=1, AP[2]=0, valid. */
    private static final long DIRTY_MASK = TranslationDescriptor.DBM | TranslationDescriptor.AP_RDONLY
            | TranslationDescriptor.VALID;
    private static final long DIRTY_VALUE = TranslationDescriptor.DBM | TranslationDescriptor.VALID;

    /** A dirty block leaf: recorded, and cleaned with one atomic OR (the kernel's {@code set_bit}). */
    private void dirtyLeaf(long ptep, long va, long size, boolean clear, DirtyRecorder dirty) {
        dirty.record(va, size);
        if (clear) {
            memory.getAndOr64(ptep, TranslationDescriptor.AP_RDONLY); // iopte_set_writeable_clean: set_bit
        }
    }

    /** Frees every table (domain free: nothing is mapped any more, or the caller no longer cares). */
    void free() {
        forgetLeafTables();
        int entries = 1 << startBits;
        if (startLevel < 3) {
            for (int i = 0; i < entries; i++) {
                int k = memory.indexOfAny64(pgd + (long) i * 8, entries - i, TranslationDescriptor.VALID);
                if (k < 0) {
                    break;
                }
                i += k;
                long desc = memory.read64(pgd + (long) i * 8);
                if (TranslationDescriptor.isTable(desc, startLevel)) {
                    freeSubtree(TranslationDescriptor.outputAddress(desc, granule, granule.shift()), startLevel + 1, null);
                }
            }
        }
        frames.free(pgd, pgdOrder);
    }
}
