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
 * <p>Thread-safety: map/unmap of disjoint ranges may run concurrently (the io-pgtable guarantee); the
 * descriptor words are the only shared state. Hot paths allocate nothing.
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
        int start = granule.startLevel(ias);
        int bits = ias - granule.levelShift(start);
        if (stage2 && start == 0 && (1 << bits) <= 16) {
            start = 1;
            bits = ias - granule.levelShift(1);
        }
        this.startLevel = start;
        this.startBits = bits;
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

    private int levelForSize(long pgsize) {
        for (int level = Math.max(startLevel, 1); level <= 3; level++) {
            if (granule.levelSize(level) == pgsize) {
                return level;
            }
        }
        return -1;
    }

    private long indexBits(int level) {
        return level == startLevel ? startBits : granule.stride();
    }

    private long entryAddress(long table, int level, long iova) {
        long index = (iova >>> granule.levelShift(level)) & ((1L << indexBits(level)) - 1);
        return table + index * 8;
    }

    /**
     * {@code map_pages}. Returns bytes mapped; on ENOMEM the exception's progress is the bytes mapped before.
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
        long done = 0;
        for (long i = 0; i < pgcount; i++) {
            long va = iova + i * pgsize;
            long ptep;
            try {
                ptep = leafSlot(va, leafLevel);
            } catch (ErrnoException e) {
                throw e.withProgress(done);
            }
            long old = ptep == 0 ? TranslationDescriptor.TYPE_BLOCK : memory.read64(ptep);
            if (old != 0 && TranslationDescriptor.isValid(old) && TranslationDescriptor.isTable(old, leafLevel)) {
                // arm_lpae_init_pte: "unmap and free the old table before overwriting it with a block entry"
                memory.write64(ptep, 0);
                walkFlusher.flushWalk(va, pgsize);
                freeSubtree(TranslationDescriptor.outputAddress(old, granule, granule.shift()), leafLevel + 1, null);
                old = 0;
            }
            if (old != 0) {
                throw ErrnoException.of(Errno.EEXIST, "iova %#x is already mapped", va).withProgress(done);
            }
            memory.write64(ptep, leafTemplate | TranslationDescriptor.addressField(paddr + i * pgsize, granule));
            done += pgsize;
        }
        return done;
    }

    /** Walks to the slot of {@code va} at {@code leafLevel}, installing tables; 0 when a leaf blocks the way. */
    private long leafSlot(long va, int leafLevel) {
        long table = pgd;
        for (int level = startLevel; level < leafLevel; level++) {
            long ptep = entryAddress(table, level, va);
            long desc = memory.read64(ptep);
            if (desc == 0) {
                long fresh = frames.allocate(tableOrder);
                long tableDesc = TranslationDescriptor.addressField(fresh, granule) | TranslationDescriptor.TYPE_TABLE;
                if (memory.compareAndSet64(ptep, 0, tableDesc)) {
                    desc = tableDesc;
                } else {
                    frames.free(fresh, tableOrder);
                    desc = memory.read64(ptep);
                }
            }
            if (!TranslationDescriptor.isTable(desc, level)) {
                return 0; // a block leaf is in the way
            }
            table = TranslationDescriptor.outputAddress(desc, granule, granule.shift());
        }
        return entryAddress(table, leafLevel, va);
    }

    /** {@code io_pgtable_tlb_flush_walk}: invalidates cached walks (non-leaf) of a range, synchronously. */
    interface WalkFlusher {
        void flushWalk(long iova, long size);
    }

    private volatile WalkFlusher walkFlusher = (iova, size) -> { };

    void setWalkFlusher(WalkFlusher flusher) {
        this.walkFlusher = flusher;
    }

    /** Callback used by {@link #unmap} to gather a page (the domain syncs when the gather needs it). */
    interface PageGatherer {
        void addPage(IotlbGather gather, long iova, long size);
    }

    /**
     * {@code unmap_pages}: returns the bytes unmapped (stops at a hole; 0 when a larger leaf covers iova). A table
     * found where a leaf of {@code pgsize} would be is removed whole and its frames queued on the gather.
     */
    long unmap(long iova, long pgsize, long pgcount, IotlbGather gather, PageGatherer gatherer) {
        int leafLevel = levelForSize(pgsize);
        if (leafLevel < 0) {
            return 0;
        }
        long done = 0;
        for (long i = 0; i < pgcount; i++) {
            long va = iova + i * pgsize;
            long table = pgd;
            long ptep = 0;
            boolean blocked = false;
            for (int level = startLevel; level <= leafLevel; level++) {
                ptep = entryAddress(table, level, va);
                long desc = memory.read64(ptep);
                if (level == leafLevel) {
                    break;
                }
                if (!TranslationDescriptor.isValid(desc)) {
                    return done;
                }
                if (!TranslationDescriptor.isTable(desc, level)) {
                    blocked = true; // a larger leaf: partial unmap not allowed
                    break;
                }
                table = TranslationDescriptor.outputAddress(desc, granule, granule.shift());
            }
            if (blocked) {
                return done;
            }
            long desc = memory.read64(ptep);
            if (!TranslationDescriptor.isValid(desc)) {
                return done;
            }
            memory.write64(ptep, 0);
            if (TranslationDescriptor.isTable(desc, leafLevel)) {
                freeSubtree(TranslationDescriptor.outputAddress(desc, granule, granule.shift()), leafLevel + 1, gather);
            }
            gatherer.addPage(gather, va, pgsize);
            done += pgsize;
        }
        return done;
    }

    private void freeSubtree(long table, int level, IotlbGather gather) {
        if (level < 3) {
            for (long i = 0; i < granule.entriesPerTable(); i++) {
                long desc = memory.read64(table + i * 8);
                if (TranslationDescriptor.isValid(desc) && TranslationDescriptor.isTable(desc, level)) {
                    freeSubtree(TranslationDescriptor.outputAddress(desc, granule, granule.shift()), level + 1, gather);
                }
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
     * again.
     */
    void readAndClearDirty(long iova, long size, boolean clear, DirtyRecorder dirty) {
        long end = iova + size;
        long va = iova;
        while (Long.compareUnsigned(va, end) < 0 && (va >>> ias) == 0) {
            long table = pgd;
            long step = granule.size();
            for (int level = startLevel; level <= 3; level++) {
                long ptep = entryAddress(table, level, va);
                long desc = memory.read64(ptep);
                int shift = granule.levelShift(level);
                step = 1L << shift;
                if (!TranslationDescriptor.isValid(desc)) {
                    break;
                }
                if (TranslationDescriptor.isTable(desc, level)) {
                    table = TranslationDescriptor.outputAddress(desc, granule, granule.shift());
                    continue;
                }
                if ((desc & TranslationDescriptor.DBM) != 0 && (desc & TranslationDescriptor.AP_RDONLY) == 0) {
                    long start = va & -step;
                    dirty.record(start, step);
                    if (clear) {
                        memory.getAndOr64(ptep, TranslationDescriptor.AP_RDONLY);
                    }
                }
                break;
            }
            va = (va & -step) + step;
            if (va == 0) {
                break;
            }
        }
    }

    /** Frees every table (domain free: nothing is mapped any more, or the caller no longer cares). */
    void free() {
        long entries = 1L << startBits;
        if (startLevel < 3) {
            for (long i = 0; i < entries; i++) {
                long desc = memory.read64(pgd + i * 8);
                if (TranslationDescriptor.isValid(desc) && TranslationDescriptor.isTable(desc, startLevel)) {
                    freeSubtree(TranslationDescriptor.outputAddress(desc, granule, granule.shift()), startLevel + 1, null);
                }
            }
        }
        frames.free(pgd, pgdOrder);
    }
}
