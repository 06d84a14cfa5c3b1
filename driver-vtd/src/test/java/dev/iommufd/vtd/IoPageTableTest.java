package dev.iommufd.vtd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import dev.iommufd.vtd.layout.SecondStagePte;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The second-stage table's range walks (Linux generic page table {@code __map_range}, {@code __map_range_leaf},
 * {@code __unmap_range}, {@code __read_and_clear_dirty}): runs of PTEs across table and level boundaries, table
 * freeing after unmap, concurrent maps on disjoint ranges, and the dirty harvest. Every expectation is checked
 * against this test's own word-by-word walk of the table memory and hand-computed entries (VT-d spec 9.8:
 * R = bit 0, W = bit 1, PS = bit 7, D = bit 9), and where a device is attached, against the hardware model's
 * translation.
 */
class IoPageTableTest {
    static final int RW = IoProt.READ | IoProt.WRITE;
    static final long K4 = 1L << 12;
    static final long M2 = 1L << 21;
    static final long G1 = 1L << 30;
    /** A 4 KiB read/write leaf: R | W. */
    static final long LEAF_4K_RW = 0x3;
    /** A 2 MiB or 1 GiB read/write leaf: PS | R | W. */
    static final long LEAF_LARGE_RW = 0x83;

    DriverBench b;

    @AfterEach
    void close() {
        if (b != null) {
            b.close();
        }
    }

    private VtdDevice bench(String preset) {
        b = new DriverBench(preset, PciFunctionSpec.endpoint("00:04.0", "dmar0"));
        return b.probe("00:04.0");
    }

    // ---------------------------------------------------------------- the test's own walker

    /** What a word-by-word walk from the root finds: leaves by IOVA, and the number of tables (root included). */
    static final class Walk {
        final TreeMap<Long, Long> leaves = new TreeMap<>();
        /** Bytes each leaf maps, from the level it was found at. */
        final TreeMap<Long, Long> sizes = new TreeMap<>();
        int tables;
    }

    private Walk walk(PagingDomain d) {
        Walk w = new Walk();
        walk(d.table.root, d.table.levels, 0, w);
        return w;
    }

    private void walk(long table, int level, long base, Walk w) {
        w.tables++;
        int shift = 12 + 9 * (level - 1);
        for (int i = 0; i < 512; i++) {
            long e = b.mem.read64(table + 8L * i);
            if ((e & 3) == 0) {
                assertEquals(0, e, "a non-present entry is all zero at level " + level + " index " + i);
                continue;
            }
            long va = base + ((long) i << shift);
            if (level == 1 || (e & 0x80) != 0) {
                w.leaves.put(va, e);
                w.sizes.put(va, 1L << shift);
            } else {
                assertEquals(0x3, e & 0xfff & ~SecondStagePte.A, "a table entry is phys | R | W (and A once walked with SSADE)");
                walk(e & 0x000f_ffff_ffff_f000L, level - 1, va, w);
            }
        }
    }

    // ---------------------------------------------------------------- map runs across boundaries

    @Test
    void aMapAcrossLeafTableAndLevelBoundariesWritesEveryPteAndOnlyTheTablesItNeeds() {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        d.attachDevice(dev);
        long pa = b.mem.frames().allocate(11); // 8 MiB, physically contiguous
        long iova = G1 - 3 * K4; // 3 pages below the first 1 GiB boundary (an L3 index change)
        int pages = 1030; // then 1027 pages: two whole L1 tables and 3 pages of a third
        long frames = b.mem.frames().allocatedFrames();
        assertEquals(pages * K4, d.mapPages(iova, pa, K4, pages, RW));
        // one L3 table, an L2 table per GiB, one L1 table below the boundary and three above it
        assertEquals(frames + 7, b.mem.frames().allocatedFrames());
        Walk w = walk(d);
        assertEquals(1 + 7, w.tables);
        assertEquals(pages, w.leaves.size());
        IommuUnitModel unit = b.machine.iommuUnit("dmar0");
        Translation t = new Translation();
        for (int i = 0; i < pages; i++) {
            long va = iova + i * K4;
            assertEquals((pa + i * K4) | LEAF_4K_RW, w.leaves.get(va), "PTE of page " + i);
            unit.translate(dev.rid, DmaAttributes.NO_PASID, va + 0x18, Translation.ACCESS_WRITE, t);
            assertTrue(t.isOk(), "the model translates page " + i);
            assertEquals(pa + i * K4 + 0x18, t.physicalAddress());
        }
        assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(iova - 1));
        assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(iova + pages * K4));

        // unmap: only the two L1 tables whose whole 2 MiB the range covers are freed, and only after the sync
        long mapped = b.mem.frames().allocatedFrames();
        assertEquals(pages * K4, d.unmapPages(iova, K4, pages, b.gather));
        assertEquals(2, b.gather.freelistSize());
        assertEquals(mapped, b.mem.frames().allocatedFrames(), "freed tables wait for the sync");
        d.iotlbSync(b.gather);
        b.gather.reset();
        assertEquals(mapped - 2, b.mem.frames().allocatedFrames());
        Walk after = walk(d);
        assertTrue(after.leaves.isEmpty());
        assertEquals(1 + 5, after.tables, "root, L3, two L2, the partly covered L1 tables on either side");
        unit.translate(dev.rid, DmaAttributes.NO_PASID, G1 + 4 * K4, Translation.ACCESS_READ, t);
        assertFalse(t.isOk(), "nothing translates after unmap + sync");
    }

    @Test
    void largeLeafRunsCrossTableBoundaries() {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        long pa2m = b.mem.frames().allocate(11); // 8 MiB aligned: 4 x 2 MiB
        // 2 MiB leaves at L2 indices 510, 511 of GiB 0 and 0, 1 of GiB 1
        d.mapPages(G1 - 2 * M2, pa2m, M2, 4, RW);
        // 1 GiB leaves at L3 index 511 of the first 512 GiB and index 0 of the next (an L4 index change)
        long big = (512L << 30) - G1;
        d.mapPages(big, 0, G1, 2, RW);
        Walk w = walk(d);
        assertEquals(6, w.leaves.size());
        for (int i = 0; i < 4; i++) {
            assertEquals((pa2m + i * M2) | LEAF_LARGE_RW, w.leaves.get(G1 - 2 * M2 + i * M2));
        }
        assertEquals(LEAF_LARGE_RW, w.leaves.get(big));
        assertEquals(G1 | LEAF_LARGE_RW, w.leaves.get(big + G1));
        // root, L3 of GiB 0..511 (holding two L2 tables), L3 of the next 512 GiB
        assertEquals(1 + 1 + 2 + 1, w.tables);
        assertEquals(G1 + 0x1234_5678L, d.iovaToPhys(big + G1 + 0x1234_5678L));

        assertEquals(4 * M2, d.unmapPages(G1 - 2 * M2, M2, 4, b.gather));
        assertEquals(2 * G1, d.unmapPages(big, G1, 2, b.gather));
        assertEquals(0, b.gather.freelistSize(), "no table lies below a large leaf, and none is fully covered");
        d.iotlbSync(b.gather);
        b.gather.reset();
        assertTrue(walk(d).leaves.isEmpty());
    }

    @Test
    void aConflictInTheMiddleOfARunUndoesWhatTheCallMapped() {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        long pa = b.mem.frames().allocate(10);
        long other = b.frame();
        long taken = 2 * M2 + 5 * K4; // index 5 of the second L1 table
        d.mapPages(taken, other, K4, 1, RW);
        long iova = 2 * M2 - 10 * K4;
        ErrnoException e = assertThrows(ErrnoException.class, () -> d.mapPages(iova, pa, K4, 64, RW));
        assertEquals(Errno.EEXIST, e.errno());
        assertTrue(e.getMessage().contains(Long.toHexString(taken)), "names the IOVA in use: " + e.getMessage());
        Walk w = walk(d);
        assertEquals(Map.of(taken, other | LEAF_4K_RW), w.leaves, "the 15 pages mapped before the conflict are gone");
    }

    // ---------------------------------------------------------------- unmap rules

    @Test
    void unmapNeverSplitsALargeLeafAndNeverMixesSizes() {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        long pa2m = b.mem.frames().allocate(9);
        d.mapPages(4 * M2, pa2m, M2, 1, RW);
        d.mapPages(2 * G1, 0, G1, 1, RW);
        long pa = b.mem.frames().allocate(1);
        d.mapPages(8 * M2, pa, K4, 2, RW);
        IotlbGather g = new IotlbGather();
        // IommuDomain.unmapPages: part of a larger page is refused with 0 (the core pairs every unmap with its map)
        assertEquals(0, d.unmapPages(4 * M2, K4, 1, g), "4K at the start of a 2M leaf");
        assertEquals(0, d.unmapPages(4 * M2 + 7 * K4, K4, 1, g), "4K inside a 2M leaf");
        assertEquals(0, d.unmapPages(2 * G1, K4, 512, g), "4K at the start of a 1G leaf");
        assertEquals(0, d.unmapPages(2 * G1, M2, 1, g), "2M at the start of a 1G leaf");
        assertEquals(0, d.unmapPages(2 * G1 + 3 * M2, M2, 2, g), "2M inside a 1G leaf");
        // a page size larger than the leaves there: 0, and the core steps down to the smaller size
        assertEquals(0, d.unmapPages(8 * M2, M2, 1, g), "2M over a table of 4K leaves");
        // an IOVA not aligned to the page size, or beyond the 48-bit input width
        assertEquals(0, d.unmapPages(8 * M2 + 0x800, K4, 1, g));
        assertEquals(0, d.unmapPages(1L << 48, K4, 1, g));
        assertTrue(g.isEmpty());
        Walk w = walk(d);
        assertEquals(pa2m | LEAF_LARGE_RW, w.leaves.get(4 * M2));
        assertEquals(0x1234_5678L, d.iovaToPhys(2 * G1 + 0x1234_5678L));
        assertEquals(4, w.leaves.size());
        assertEquals(M2, d.unmapPages(4 * M2, M2, 1, g));
        assertEquals(G1, d.unmapPages(2 * G1, G1, 1, g));
        assertEquals(2 * K4, d.unmapPages(8 * M2, K4, 2, g));
        d.iotlbSync(g);
    }

    @Test
    void unmapStopsAtAHoleAndFreesOnlyTheTablesItCoveredWhole() {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        long pa = b.mem.frames().allocate(10);
        long base = 16 * M2;
        d.mapPages(base, pa, K4, 514, RW); // one whole L1 table and 2 pages of the next
        d.mapPages(base + 516 * K4, pa, K4, 4, RW); // after a 2-page hole
        long frames = b.mem.frames().allocatedFrames();
        IotlbGather g = new IotlbGather();
        assertEquals(514 * K4, d.unmapPages(base, K4, 1024, g), "stops at the hole");
        assertEquals(1, g.freelistSize(), "the first L1 table only: the second still holds 4 leaves");
        assertEquals(frames, b.mem.frames().allocatedFrames());
        d.iotlbSync(g);
        g.reset();
        assertEquals(frames - 1, b.mem.frames().allocatedFrames());
        Walk w = walk(d);
        assertEquals(4, w.leaves.size());
        assertEquals((pa | LEAF_4K_RW), w.leaves.get(base + 516 * K4));
        assertEquals(0, d.unmapPages(base, K4, 1, g), "the first page is a hole now");
    }

    @Test
    void unmappingAGibibyteOfSmallPagesFreesItsL1TablesAndTheL2TableAboveThem() {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        long frames = b.mem.frames().allocatedFrames();
        d.mapPages(G1, 0, K4, 512 * 512, RW);
        assertEquals(frames + 1 + 1 + 512, b.mem.frames().allocatedFrames(), "L3, L2 and 512 L1 tables");
        IotlbGather g = new IotlbGather();
        assertEquals(G1, d.unmapPages(G1, K4, 512 * 512, g));
        assertEquals(513, g.freelistSize());
        d.iotlbSync(g);
        g.reset();
        assertEquals(frames + 1, b.mem.frames().allocatedFrames(), "only the L3 table stays");
        Walk w = walk(d);
        assertTrue(w.leaves.isEmpty());
        assertEquals(2, w.tables);
        // and the freed range maps again from scratch
        d.mapPages(G1 + M2, 0, K4, 3, RW);
        assertEquals(3, walk(d).leaves.size());
    }

    // ---------------------------------------------------------------- the remembered leaf table

    /**
     * A thread remembers the leaf table its last map or unmap reached and starts there next time in the same
     * 2 MiB region; once that table was detached (an unmap covering its whole span) and freed, a map of the region
     * must walk from the root and install a new table (a write into the freed frame would leave the pages
     * unmapped, as the independent walker sees them).
     */
    @Test
    void aRememberedLeafTableIsNotUsedOnceAnUnmapFreedIt() {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        long pa = b.mem.frames().allocate(10);
        long region = 40 * M2;
        IotlbGather g = new IotlbGather();
        d.mapPages(region + 3 * M2, pa, K4, 1, RW); // keeps the L2 table alive
        d.mapPages(region, pa, K4, 512, RW); // the whole leaf table, remembered
        assertEquals(512 * K4, d.unmapPages(region, K4, 512, g), "covers the leaf table: it is detached");
        assertEquals(1, g.freelistSize());
        d.iotlbSync(g);
        g.reset();
        long reused = b.mem.frames().allocateFrame(); // most likely the freed table's frame
        d.mapPages(region + 8 * K4, pa + 8 * K4, K4, 4, RW);
        Walk w = walk(d);
        for (int i = 0; i < 4; i++) {
            assertEquals((pa + (8 + i) * K4) | LEAF_4K_RW, w.leaves.get(region + (8 + i) * K4), "page " + i);
        }
        assertEquals(0, b.mem.read64(reused + 8 * 8L), "nothing written into the freed table's frame");
        d.mapPages(region + 20 * K4, pa, K4, 1, RW); // one page through the newly remembered table
        assertEquals(pa | LEAF_4K_RW, walk(d).leaves.get(region + 20 * K4));
        assertEquals(2 * K4, d.unmapPages(region + 8 * K4, K4, 2, g));
        assertEquals(4, walk(d).leaves.size(), "two of the four pages, the page at +20 and the keeper");
    }

    /**
     * An empty leaf table replaced by a 2 MiB leaf (Linux switch_to_super_page) is a detach too: a later 4 KiB map
     * in that region meets the large leaf (EEXIST) instead of writing into the freed table.
     */
    @Test
    void aRememberedLeafTableIsNotUsedOnceALargeLeafReplacedIt() {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        long pa = b.mem.frames().allocate(10);
        long region = 44 * M2;
        IotlbGather g = new IotlbGather();
        d.mapPages(region + 4 * K4, pa, K4, 16, RW);
        assertEquals(16 * K4, d.unmapPages(region + 4 * K4, K4, 16, g), "the leaf table stays, empty");
        d.iotlbSync(g);
        g.reset();
        d.mapPages(region, pa & -M2, M2, 1, RW); // replaces the empty leaf table
        ErrnoException e = assertThrows(ErrnoException.class, () -> d.mapPages(region + 4 * K4, pa, K4, 16, RW));
        assertEquals(Errno.EEXIST, e.errno());
        ErrnoException one = assertThrows(ErrnoException.class, () -> d.mapPages(region + 4 * K4, pa, K4, 1, RW));
        assertEquals(Errno.EEXIST, one.errno());
        assertEquals(0, d.unmapPages(region + 4 * K4, K4, 16, g), "4 KiB pages inside a 2 MiB leaf are not unmapped");
        Walk w = walk(d);
        assertEquals(1, w.leaves.size());
        assertEquals((pa & -M2) | LEAF_LARGE_RW, w.leaves.get(region));
    }

    // ---------------------------------------------------------------- concurrency

    /**
     * Each thread's remembered leaf table is its own, even when threads share the table's racy last-two-threads slots
     * ({@code RecentThreadScratch}): three threads (one more than the slots, so they keep replacing each other) map
     * and unmap 16 pages at the same offset of their own 2 MiB regions as fast as they can. A thread that used
     * another's scratch could read one thread's region with the other's leaf table (the walk cache is four words,
     * written without a lock) and write its leaves into the other thread's table: its own pages would then be missing
     * (checked after every map, through {@code iova_to_phys}) and the other's map would meet EEXIST.
     */
    @Test
    void everyThreadGetsItsOwnScratchFromTheSharedSlots() throws Exception {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        // Threads taking turns (one at a time, so the order is fixed): each new thread takes a slot from
        // the one before it; each must get its own scratch every time
        Thread[] got = new Thread[12];
        for (int round = 0; round < got.length; round++) {
            int r = round;
            Thread t = new Thread(() -> got[r] = d.table.scratchOwner());
            t.start();
            t.join();
            assertEquals(t, got[r], "round " + r);
            assertEquals(Thread.currentThread(), d.table.scratchOwner(), "the test thread, after round " + r);
        }
    }

    @Test
    void threadsNeverShareARememberedLeafTable() throws Exception {
        VtdDevice dev = bench("qemu");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        long pa = b.mem.frames().allocate(4);
        int threadsN = 3;
        CyclicBarrier start = new CyclicBarrier(threadsN);
        Throwable[] failure = new Throwable[threadsN];
        Thread[] threads = new Thread[threadsN];
        for (int t = 0; t < threadsN; t++) {
            int me = t;
            long base = 64 * M2 + me * M2; // own leaf table, shared upper tables
            threads[t] = new Thread(() -> {
                try {
                    IotlbGather g = new IotlbGather();
                    start.await();
                    for (int i = 0; i < 10_000; i++) {
                        d.mapPages(base, pa, K4, 16, RW);
                        for (int k = 0; k < 16; k += 5) {
                            if (d.iovaToPhys(base + k * K4) != pa + k * K4) {
                                throw new AssertionError("thread " + me + " round " + i + ": page " + k + " not mapped");
                            }
                        }
                        if (d.unmapPages(base, K4, 16, g) != 16 * K4) {
                            throw new AssertionError("thread " + me + " round " + i + ": unmap did not find its 16 pages");
                        }
                        d.iotlbSync(g);
                        g.reset();
                    }
                } catch (Throwable e) {
                    failure[me] = e;
                }
            });
            threads[t].start();
        }
        for (Thread th : threads) {
            th.join();
        }
        for (Throwable e : failure) {
            if (e != null) {
                throw new AssertionError("worker failed", e);
            }
        }
        assertEquals(0, walk(d).leaves.size());
    }

    /**
     * Two threads map and unmap disjoint chunks that share L1, L2 and L3 tables (both race to install each new
     * table); the result, word for word below the table addresses, is what the same calls made one after the
     * other produce, and no table page leaks.
     */
    @Test
    void concurrentMapsOnDisjointRangesBuildTheTablesSequentialMapsBuild() throws Exception {
        VtdDevice dev = bench("qemu");
        PagingDomain conc = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        PagingDomain seq = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        long pa = b.mem.frames().allocate(10);
        int rounds = 24;
        long framesBefore = b.mem.frames().allocatedFrames();
        CyclicBarrier start = new CyclicBarrier(2);
        Throwable[] failure = new Throwable[2];
        Thread[] threads = new Thread[2];
        for (int t = 0; t < 2; t++) {
            int me = t;
            threads[t] = new Thread(() -> {
                try {
                    IotlbGather g = new IotlbGather();
                    for (int r = 0; r < rounds; r++) {
                        start.await();
                        work(conc, me, r, pa, g);
                    }
                } catch (Throwable e) {
                    failure[me] = e;
                }
            });
            threads[t].start();
        }
        for (Thread th : threads) {
            th.join();
        }
        for (Throwable e : failure) {
            if (e != null) {
                throw new AssertionError("worker failed", e);
            }
        }
        long framesConc = b.mem.frames().allocatedFrames();
        IotlbGather g = new IotlbGather();
        for (int r = 0; r < rounds; r++) {
            work(seq, 0, r, pa, g);
            work(seq, 1, r, pa, g);
        }
        long framesSeq = b.mem.frames().allocatedFrames();
        Walk wc = walk(conc);
        Walk ws = walk(seq);
        assertEquals(ws.leaves, wc.leaves);
        assertEquals(ws.tables, wc.tables);
        assertEquals(framesConc - framesBefore, wc.tables - 1, "every table page the threads allocated is in the table");
        assertEquals(framesSeq - framesConc, ws.tables - 1);
        // the hardware model reads the concurrently built table as the driver meant it
        conc.attachDevice(dev);
        IommuUnitModel unit = b.machine.iommuUnit("dmar0");
        Translation t = new Translation();
        for (Map.Entry<Long, Long> e : wc.leaves.entrySet()) {
            unit.translate(dev.rid, DmaAttributes.NO_PASID, e.getKey(), Translation.ACCESS_READ, t);
            assertTrue(t.isOk());
            assertEquals(e.getValue() & SecondStagePte.ADDR_MASK, t.physicalAddress());
        }
    }

    /**
     * Round {@code r} of thread {@code me}: in a region with fresh L3 and L2 tables, map the thread's 64 KiB chunks
     * (chunk k belongs to thread k % 2; four chunks share one L1 table), then unmap every other one of them.
     */
    private static void work(PagingDomain d, int me, int r, long pa, IotlbGather g) {
        long region = r * (512L << 30) + (r % 7) * G1;
        for (int k = me; k < 64; k += 2) {
            d.mapPages(region + k * (M2 / 4), pa + k * 16 * K4, K4, 16, RW);
        }
        for (int k = me; k < 64; k += 4) {
            assertEquals(16 * K4, d.unmapPages(region + k * (M2 / 4), K4, 16, g));
        }
        d.iotlbSync(g);
        g.reset();
    }

    // ---------------------------------------------------------------- dirty harvest

    /** Dirty ranges as reported, in order, and the gather they widened. */
    static class Recorder implements DirtyRecorder {
        final List<long[]> ranges = new ArrayList<>();
        final IotlbGather gather = new IotlbGather();

        @Override
        public void record(long iova, long length) {
            ranges.add(new long[] {iova, length});
        }

        @Override
        public IotlbGather gather() {
            return gather;
        }
    }

    /** The dirty leaves of {@code [lo, hi]}, each whole, from this test's own walk: {iova, size} in IOVA order. */
    private static List<long[]> dirtyReference(Walk w, long lo, long hi) {
        List<long[]> l = new ArrayList<>();
        for (Map.Entry<Long, Long> e : w.leaves.entrySet()) {
            long size = w.sizes.get(e.getKey());
            long first = e.getKey();
            long last = first + size - 1;
            if ((e.getValue() & SecondStagePte.D) != 0 && last >= lo && first <= hi) {
                l.add(new long[] {first, size});
            }
        }
        return l;
    }

    @Test
    void dirtyHarvestReportsAndClearsExactlyTheDirtyLeavesAWordByWordWalkFinds() {
        VtdDevice dev = bench("server");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.DIRTY_TRACKING, null);
        d.attachDevice(dev);
        d.setDirtyTracking(true);
        long pa = b.mem.frames().allocate(11);
        long base = 64 * M2;
        int pages = 2048; // four L1 tables
        d.mapPages(base, pa, K4, pages, RW);
        long big = 4 * G1;
        d.mapPages(big, pa, M2, 4, RW);
        IommuUnitModel unit = b.machine.iommuUnit("dmar0");
        Translation t = new Translation();
        SplittableRandom rnd = new SplittableRandom(8);
        for (int i = 0; i < pages; i++) {
            // table 0 sparse (1 in 64), table 1 dense (every other page: the bulk path), table 2 clean, table 3 random
            int table = i / 512;
            boolean dirty = table == 0 ? i % 64 == 7 : table == 1 ? i % 2 == 0 : table == 3 && rnd.nextInt(5) == 0;
            int access = dirty ? Translation.ACCESS_WRITE : Translation.ACCESS_READ;
            unit.translate(dev.rid, DmaAttributes.NO_PASID, base + i * K4, access, t);
            assertTrue(t.isOk());
        }
        unit.translate(dev.rid, DmaAttributes.NO_PASID, big + M2 + 0x40, Translation.ACCESS_WRITE, t);
        unit.translate(dev.rid, DmaAttributes.NO_PASID, big + 3 * M2, Translation.ACCESS_WRITE, t);
        Walk before = walk(d);
        // a range that starts and ends inside leaves and tables: 5 pages + 0x123 into the 4K run, into the third 2M leaf
        long lo = base + 5 * K4 + 0x123;
        long hi = big + 2 * M2 + 0x10;
        List<long[]> expected = dirtyReference(before, lo, hi);
        assertTrue(expected.size() > 300, "the workload dirtied sparse, dense and random pages: " + expected.size());
        assertTrue(expected.stream().anyMatch(r -> r[1] == M2), "a 2M leaf in range is dirty");

        Recorder noClear = new Recorder();
        d.readAndClearDirty(lo, hi - lo + 1, IommuDomain.DIRTY_NO_CLEAR, noClear);
        assertRanges(expected, noClear.ranges);
        assertTrue(noClear.gather.isEmpty(), "DIRTY_NO_CLEAR needs no flush");
        assertEquals(before.leaves, walk(d).leaves, "DIRTY_NO_CLEAR writes no PTE");

        Recorder rec = new Recorder();
        d.readAndClearDirty(lo, hi - lo + 1, 0, rec);
        assertRanges(expected, rec.ranges);
        assertEquals(expected.get(0)[0], rec.gather.start());
        long[] lastRange = expected.get(expected.size() - 1);
        assertEquals(lastRange[0] + lastRange[1] - 1, rec.gather.end());
        Walk after = walk(d);
        for (Map.Entry<Long, Long> e : before.leaves.entrySet()) {
            long iova = e.getKey();
            long old = e.getValue();
            boolean inRange = expected.stream().anyMatch(r -> r[0] == iova);
            long want = inRange ? old & ~SecondStagePte.D : old;
            assertEquals(want, (long) after.leaves.get(iova), "leaf at " + Long.toHexString(iova));
        }
        assertTrue((after.leaves.get(big + 3 * M2) & SecondStagePte.D) != 0, "a dirty leaf beyond the range keeps D");
        d.iotlbSync(rec.gather);
        Recorder again = new Recorder();
        d.readAndClearDirty(lo, hi - lo + 1, 0, again);
        assertTrue(again.ranges.isEmpty(), "cleared");
    }

    private static void assertRanges(List<long[]> expected, List<long[]> actual) {
        assertEquals(expected.size(), actual.size(), "dirty ranges reported");
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i)[0], actual.get(i)[0], "range " + i + " iova");
            assertEquals(expected.get(i)[1], actual.get(i)[1], "range " + i + " length");
        }
    }

    // ---------------------------------------------------------------- allocation

    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
                .getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    /** Multi-table runs (map, unmap, dirty harvest) allocate no Java object once warm. */
    @Test
    void runsAcrossTablesAndTheDirtyHarvestAllocateNothing() {
        Assumptions.assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
        VtdDevice dev = bench("server");
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.DIRTY_TRACKING, null);
        d.attachDevice(dev);
        d.setDirtyTracking(true);
        long pa = b.mem.frames().allocate(10);
        long base = 32 * M2;
        d.mapPages(base, pa, K4, 1, RW); // sentinels keep both L1 tables alive
        d.mapPages(base + M2 + 200 * K4, pa, K4, 1, RW);
        IotlbGather g = new IotlbGather();
        Recorder rec = new Recorder() {
            @Override
            public void record(long iova, long length) {
                // nothing: the test counts the driver's bytes
            }
        };
        long sum = 0;
        for (int i = 0; i < 3000; i++) {
            sum += round(d, pa, base, g, rec);
        }
        long probe0 = allocated();
        long probe = allocated() - probe0;
        long before = allocated();
        for (int i = 0; i < 3000; i++) {
            sum += round(d, pa, base, g, rec);
        }
        long bytes = allocated() - before - probe;
        assertTrue(sum > 0);
        assertTrue(bytes < 1024, "bytes allocated by 3000 map/harvest/unmap rounds: " + bytes);
    }

    private static long round(PagingDomain d, long pa, long base, IotlbGather g, Recorder rec) {
        long m = d.mapPages(base + 300 * K4, pa, K4, 300, RW); // crosses an L1 table boundary
        d.readAndClearDirty(base, 2 * M2, 0, rec);
        long u = d.unmapPages(base + 300 * K4, K4, 300, g);
        d.iotlbSync(g);
        g.reset();
        rec.gather.reset();
        return m + u;
    }
}
