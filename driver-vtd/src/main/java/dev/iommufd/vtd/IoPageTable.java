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
 * x86-64 format ({@link FirstStagePte}), 3 to 5 levels of 512-entry 4 KiB tables (Linux {@code dma_pte}
 * handling in {@code iommu.c}).
 *
 * <p>Tables are raw words in frames from the machine's allocator. Map and unmap on disjoint ranges may run
 * concurrently: new tables are installed with compare-and-set (the loser frees its page), leaves are written
 * from zero with compare-and-set. Nothing is allocated on the map/unmap/lookup paths except table frames.
 */
final class IoPageTable {
    private final PhysicalMemory mem;
    private final FrameAllocator frames;
    final boolean firstStage;
    final int levels;
    final long root;
    /** The largest leaf level: 1 (4 KiB only), 2 (2 MiB) or 3 (1 GiB). */
    final int maxLeafLevel;
    private volatile boolean forceSnoop;
    private final PagingDomain owner;

    IoPageTable(PagingDomain owner, PhysicalMemory mem, boolean firstStage, int levels, int maxLeafLevel) {
        this.owner = owner;
        this.mem = mem;
        this.frames = mem.frames();
        this.firstStage = firstStage;
        this.levels = levels;
        this.maxLeafLevel = maxLeafLevel;
        this.root = frames.allocateFrame();
    }

    void setForceSnoop(boolean on) {
        forceSnoop = on;
    }

    private boolean present(long e) {
        return firstStage ? FirstStagePte.present(e) : SecondStagePte.present(e);
    }

    private static boolean isLeaf(long e, int level) {
        return level == 1 || (e & SecondStagePte.PS) != 0; // PS is bit 7 in both formats
    }

    private long address(long e) {
        return e & SecondStagePte.ADDR_MASK;
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

    /**
     * Maps {@code pgcount} pages of {@code pgsize}. On failure nothing this call mapped remains.
     *
     * @throws ErrnoException EINVAL for a page size the table cannot hold; EEXIST when an entry is in use;
     *         ENOMEM with the bytes mapped before the allocation failed as progress (they stay mapped)
     */
    long map(long iova, long paddr, long pgsize, long pgcount, int prot) {
        int level = levelOf(pgsize);
        if (level == 0 || level > maxLeafLevel) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: page size %#x is not supported by this domain", pgsize);
        }
        long done = 0;
        for (long i = 0; i < pgcount; i++) {
            long va = iova + i * pgsize;
            long ea;
            try {
                ea = walkAlloc(va, level);
            } catch (ErrnoException e) {
                throw e.withProgress(done);
            }
            long leaf = leafEntry(paddr + i * pgsize, level, prot);
            if (ea < 0 || !installLeaf(ea, va, level, leaf)) {
                unmapQuietly(iova, pgsize, i);
                throw ErrnoException.of(Errno.EEXIST, "vtd: iova %#x is already mapped", va);
            }
            done += pgsize;
        }
        return done;
    }

    private boolean installLeaf(long ea, long va, int level, long leaf) {
        if (mem.compareAndSet64(ea, 0, leaf)) {
            return true;
        }
        long e = mem.read64(ea);
        // Linux switch_to_super_page: an empty lower table where a large leaf goes is replaced and freed
        if (level > 1 && present(e) && !isLeaf(e, level) && tableEmpty(address(e), level - 1)
                && mem.compareAndSet64(ea, e, leaf)) {
            owner.flushRange(va, va + SecondStagePte.levelSize(level) - 1, false);
            freeTree(address(e), level - 1);
            return true;
        }
        return false;
    }

    private boolean tableEmpty(long table, int level) {
        for (int i = 0; i < 512; i++) {
            long e = mem.read64(table + i * 8L);
            if (e == 0) {
                continue;
            }
            if (!present(e) || isLeaf(e, level) || !tableEmpty(address(e), level - 1)) {
                return false;
            }
        }
        return true;
    }

    private void unmapQuietly(long iova, long pgsize, long count) {
        int level = levelOf(pgsize);
        for (long i = 0; i < count; i++) {
            long ea = find(iova + i * pgsize, level);
            if (ea >= 0) {
                mem.write64(ea, 0);
            }
        }
        if (count > 0) {
            owner.flushRange(iova, iova + count * pgsize - 1, true);
        }
    }

    /** The address of the level-{@code level} entry for {@code va}, allocating tables; -1 when a leaf is in the way. */
    private long walkAlloc(long va, int level) {
        long table = root;
        for (int l = levels; l > level; l--) {
            long ea = table + SecondStagePte.index(va, l) * 8L;
            long e = mem.read64(ea);
            if (!present(e)) {
                long t = frames.allocateFrame();
                long ne = tableEntry(t);
                if (mem.compareAndSet64(ea, 0, ne)) {
                    e = ne;
                } else {
                    frames.free(t, 0);
                    e = mem.read64(ea);
                }
            }
            if (isLeaf(e, l)) {
                return -1;
            }
            table = address(e);
        }
        return table + SecondStagePte.index(va, level) * 8L;
    }

    /** The address of the level-{@code level} entry for {@code va} without allocating; -1 when a table is missing or a larger leaf maps it. */
    private long find(long va, int level) {
        long table = root;
        for (int l = levels; l > level; l--) {
            long e = mem.read64(table + SecondStagePte.index(va, l) * 8L);
            if (!present(e) || isLeaf(e, l)) {
                return -1;
            }
            table = address(e);
        }
        return table + SecondStagePte.index(va, level) * 8L;
    }

    /**
     * Unmaps up to {@code pgcount} pages of {@code pgsize}, stopping at the first hole; tables whose whole range
     * was unmapped go to the gather's freelist (Linux dma_pte_clear_level).
     */
    long unmap(long iova, long pgsize, long pgcount, IotlbGather gather) {
        int level = levelOf(pgsize);
        if (level == 0) {
            return 0;
        }
        long done = 0;
        for (long i = 0; i < pgcount; i++) {
            long va = iova + i * pgsize;
            long ea = find(va, level);
            if (ea < 0) {
                break;
            }
            long e = mem.read64(ea);
            if (!present(e) || !isLeaf(e, level)) {
                break;
            }
            mem.write64(ea, 0);
            done += pgsize;
        }
        if (done == 0) {
            return 0;
        }
        long end = iova + done; // exclusive
        for (int l = 1; l < levels; l++) {
            long span = SecondStagePte.levelSize(l + 1);
            long first = (iova + span - 1) & -span;
            for (long s = first; Long.compareUnsigned(s + span, end) <= 0 && Long.compareUnsigned(s, iova) >= 0
                    && s + span != 0; s += span) {
                long pea = find(s, l + 1);
                if (pea < 0) {
                    continue;
                }
                long pe = mem.read64(pea);
                if (present(pe) && !isLeaf(pe, l + 1)) {
                    mem.write64(pea, 0);
                    gather.addFreedTable(address(pe), 0);
                }
            }
        }
        return done;
    }

    /** iova_to_phys: the physical address, or {@link IommuDomain#NO_TRANSLATION}. */
    long iovaToPhys(long iova) {
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

    /** Second stage only: reports and (unless {@code noClear}) clears D on leaves intersecting {@code [iova, last]}. */
    void readAndClearDirty(long iova, long last, boolean noClear, DirtyRecorder dirty) {
        dirtyWalk(root, levels, 0, iova, last, noClear, dirty);
    }

    private void dirtyWalk(long table, int level, long base, long iova, long last, boolean noClear, DirtyRecorder dirty) {
        long size = SecondStagePte.levelSize(level);
        for (int i = 0; i < 512; i++) {
            long start = base + i * size;
            long end = start + size - 1;
            if (Long.compareUnsigned(end, iova) < 0) {
                continue;
            }
            if (Long.compareUnsigned(start, last) > 0) {
                return;
            }
            long ea = table + i * 8L;
            long e = mem.read64(ea);
            if (!present(e)) {
                continue;
            }
            if (isLeaf(e, level)) {
                if ((e & SecondStagePte.D) != 0) {
                    dirty.record(start, size);
                    if (!noClear) {
                        mem.getAndClear64(ea, SecondStagePte.D);
                        dirty.gather().addRange(start, size);
                    }
                }
            } else {
                dirtyWalk(address(e), level - 1, start, iova, last, noClear, dirty);
            }
        }
    }

    /** Frees every table, the root included. */
    void free() {
        freeTree(root, levels);
    }

    private void freeTree(long table, int level) {
        if (level > 1) {
            for (int i = 0; i < 512; i++) {
                long e = mem.read64(table + i * 8L);
                if (present(e) && !isLeaf(e, level)) {
                    freeTree(address(e), level - 1);
                }
            }
        }
        frames.free(table, 0);
    }
}
