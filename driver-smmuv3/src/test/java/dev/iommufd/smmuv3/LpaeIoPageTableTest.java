package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import dev.iommufd.smmuv3.layout.TranslationGranule;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * {@link LpaeIoPageTable}'s run-at-a-time map/unmap and its dirty walk, pinned against references that share no
 * code with it: a hand-written table walk and hand-computed descriptor words (io-pgtable-arm's
 * {@code arm_lpae_prot_to_pte}), the hardware model's translation table walker (a device translation), and
 * page-by-page / single-threaded runs of the same operations.
 */
class LpaeIoPageTableTest {
    static final String BDF = "00:05.0";
    static final int RW = IoProt.READ | IoProt.WRITE;

    /** One SMMU configuration: preset and ID register overrides giving a stage and a granule. */
    enum Config {
        S1_4K("server", false, 0),
        S1_16K("server", false, 0x25L),
        S1_64K("server", false, 0x45L),
        S2_4K("server", true, 0),
        S2_16K("server", true, 0x25L),
        S2_64K("server", true, 0x45L);

        final String preset;
        final boolean stage2;
        /** IDR5 override (OAS 48 with GRAN16K = 0x25, with GRAN64K = 0x45), 0 for the preset's. */
        final long idr5;

        Config(String preset, boolean stage2, long idr5) {
            this.preset = preset;
            this.stage2 = stage2;
            this.idr5 = idr5;
        }

        DriverBench bench() {
            Map<String, Long> overrides = new java.util.HashMap<>();
            if (stage2 || idr5 != 0) {
                long idr0;
                try (DriverBench probe = new DriverBench(preset, Map.of())) {
                    idr0 = probe.machine.mmio().read32(probe.smmu().regs) & 0xffff_ffffL;
                }
                if (stage2) {
                    overrides.put("IDR0", idr0 & ~SmmuRegisters.IDR0_S1P);
                }
                if (idr5 != 0) {
                    overrides.put("IDR5", idr5);
                }
            }
            return new DriverBench(preset, overrides, DriverBench.device(BDF));
        }
    }

    /** A bench with one probed device and an attached paging domain. */
    static final class Fixture implements AutoCloseable {
        final DriverBench b;
        final PciFunction fn;
        final DeviceHandle dev;
        final Smmuv3PagingDomain d;
        final IommuUnitModel unit;

        Fixture(Config c, int flags) {
            b = c.bench();
            fn = b.function(BDF);
            dev = b.driver.probeDevice(fn);
            d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, flags, null);
            d.attachDevice(dev);
            unit = b.machine.iommuUnit(DriverBench.UNIT);
        }

        PhysicalMemory memory() {
            return b.machine.memory();
        }

        long allocatedFrames() {
            return memory().frames().allocatedFrames();
        }

        @Override
        public void close() {
            b.close();
        }
    }

    // ------------------------------------------------------------------ independent references

    /** The descriptor at {@code leafLevel} for {@code iova}, by hand-written index math; 0 when a table is missing. */
    static long walk(PhysicalMemory m, LpaeIoPageTable pt, long iova, int leafLevel) {
        long table = pt.pgd;
        int g = pt.granule.shift();
        for (int level = pt.startLevel; level <= leafLevel; level++) {
            int shift = g + (g - 3) * (3 - level);
            int bits = level == pt.startLevel ? pt.ias - shift : g - 3;
            long desc = m.read64(table + ((iova >>> shift) & ((1L << bits) - 1)) * 8);
            if (level == leafLevel) {
                return desc;
            }
            if ((desc & 3) != 3) {
                return 0;
            }
            table = desc & 0x0000_ffff_ffff_f000L & -(1L << g);
        }
        throw new AssertionError();
    }

    /**
     * Hand-computed read/write leaf (no CACHE/MMIO/NOEXEC/PRIV) for a PA below 2^48: stage 1 nG AF SH=OS AP[1]
     * AttrIndx 0 (0xE40), with DBM (bit 51) under the HD quirk; stage 2 AF SH=OS S2AP=RW MemAttr=0b0101 (0x6D4);
     * type 0b11 for pages, 0b01 for blocks.
     */
    static long expectedLeaf(boolean stage2, boolean dbm, long pa, boolean page) {
        long attrs = stage2 ? 0x6D4L : 0xE40L | (dbm ? 1L << 51 : 0);
        return pa | attrs | (page ? 3 : 1);
    }

    static long levelSize(TranslationGranule g, int level) {
        int s = g.shift();
        return 1L << (s + (s - 3) * (3 - level));
    }

    /** Tables a mapping of {@code [lo, hi]} with leaves at {@code leafLevel} needs below the PGD (from scratch). */
    static long tablesNeeded(LpaeIoPageTable pt, long lo, long hi, int leafLevel) {
        long n = 0;
        for (int level = pt.startLevel + 1; level <= leafLevel; level++) {
            long parentSpan = levelSize(pt.granule, level - 1);
            n += hi / parentSpan - lo / parentSpan + 1;
        }
        return n;
    }

    // ------------------------------------------------------------------ tests

    /**
     * A run of pages starting 3 pages before a start-level entry boundary (so that it crosses every level's
     * boundary at once) and running one whole leaf table further ({@code __arm_lpae_map}: one run per leaf
     * table): every page decodes with the hardware walker and with the hand-written walk to the hand-computed
     * descriptor; exactly the tables the range needs are allocated; one unmap call clears all of it, faults after
     * the sync, and keeps the tables (io-pgtable frees no table on a page-sized unmap).
     */
    @Test
    void runsAcrossLeafTableAndLevelBoundariesDecodeWithTheHardwareWalker() {
        for (Config c : Config.values()) {
            try (Fixture f = new Fixture(c, 0)) {
                LpaeIoPageTable pt = f.d.pageTable;
                TranslationGranule g = pt.granule;
                long page = g.size();
                int perTable = g.entriesPerTable();
                // the span of one start-level entry: 512 GiB (4K, level 0), 128 TiB (16K stage 1, level 0),
                // 64 GiB (16K stage 2, level 1), 4 TiB (64K, level 1)
                long boundary = levelSize(g, pt.startLevel);
                long iova = boundary - 3 * page;
                long count = 3 + perTable + 4;
                long pa = 0x8_0000_0000L;
                long framesBefore = f.allocatedFrames();
                assertEquals(count * page, f.d.mapPages(iova, pa, page, count, RW), c.name());
                long tableFrames = 1L << Math.max(0, g.shift() - 12);
                assertEquals(tablesNeeded(pt, iova, iova + count * page - 1, 3) * tableFrames,
                        f.allocatedFrames() - framesBefore, c + ": tables allocated");
                Translation t = new Translation();
                int rid = f.fn.rid();
                for (long i = 0; i < count; i++) {
                    long va = iova + i * page;
                    assertEquals(expectedLeaf(c.stage2, false, pa + i * page, true), walk(f.memory(), pt, va, 3),
                            c + " leaf " + i);
                    long off = (i * 8) & (page - 1);
                    f.unit.translate(rid, -1, va + off, Translation.ACCESS_READ, t);
                    assertTrue(t.isOk(), c + " hardware walk of page " + i);
                    assertEquals(pa + i * page + off, t.physicalAddress(), c + " page " + i);
                    assertEquals(pa + i * page + off, f.d.iovaToPhys(va + off));
                }
                IotlbGather gather = new IotlbGather();
                long framesMapped = f.allocatedFrames();
                assertEquals(count * page, f.d.unmapPages(iova, page, count, gather));
                assertEquals(iova, gather.start());
                assertEquals(iova + count * page - 1, gather.end(), "one gathered range");
                assertEquals(page, gather.pgsize());
                f.d.iotlbSync(gather);
                gather.reset();
                for (long i = 0; i < count; i += 1 + count / 64) {
                    long va = iova + i * page;
                    assertEquals(0, walk(f.memory(), pt, va, 3));
                    assertFalse(f.unit.translate(rid, -1, va, Translation.ACCESS_READ, t).isOk(), c + " unmapped " + i);
                    assertEquals(IommuDomain.NO_TRANSLATION, f.d.iovaToPhys(va));
                }
                assertEquals(framesMapped, f.allocatedFrames(), "page unmaps free no table");
                assertEquals(0, f.b.smmu().cmdq.errors());
            }
        }
    }

    /**
     * 64 KiB granule with a 52-bit output size: PA[51:48] live in descriptor bits [15:12] (Arm ARM D8.3,
     * io-pgtable-arm {@code paddr_to_iopte}), so a run whose output crosses 2^48 is not one arithmetic progression
     * of descriptor words; it must still decode page by page.
     */
    @Test
    void sixtyFourKilobyteRunAcrossTheFortyEightBitOutputBoundary() {
        for (boolean stage2 : new boolean[] {false, true}) {
            Map<String, Long> overrides = new java.util.HashMap<>();
            overrides.put("IDR5", 0x46L); // OAS 52, GRAN64K
            if (stage2) {
                try (DriverBench probe = new DriverBench("server", Map.of())) {
                    overrides.put("IDR0", probe.machine.mmio().read32(probe.smmu().regs) & 0xffff_ffffL & ~SmmuRegisters.IDR0_S1P);
                }
            }
            try (DriverBench b = new DriverBench("server", overrides, DriverBench.device(BDF))) {
                PciFunction fn = b.function(BDF);
                DeviceHandle dev = b.driver.probeDevice(fn);
                Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
                d.attachDevice(dev);
                assertEquals(52, d.pageTable.oas);
                long page = 65536;
                long pa = (1L << 48) - 3 * page;
                long iova = 0x10_0000_0000L - 2 * page;
                assertEquals(6 * page, d.mapPages(iova, pa, page, 6, RW));
                Translation t = new Translation();
                IommuUnitModel unit = b.machine.iommuUnit(DriverBench.UNIT);
                for (int i = 0; i < 6; i++) {
                    long out = pa + i * page;
                    long field = (out & 0x0000_ffff_ffff_0000L) | ((out >>> 48) << 12);
                    long desc = walk(b.machine.memory(), d.pageTable, iova + i * page, 3);
                    assertEquals(field | (stage2 ? 0x6D7L : 0xE43L), desc, (stage2 ? "S2" : "S1") + " page " + i);
                    unit.translate(fn.rid(), -1, iova + i * page + 0x18, Translation.ACCESS_READ, t);
                    assertTrue(t.isOk(), "hardware walk of page " + i);
                    assertEquals(out + 0x18, t.physicalAddress());
                    assertEquals(out + 0x18, d.iovaToPhys(iova + i * page + 0x18));
                }
            }
        }
    }

    /**
     * The leaf-table lookaside never names a table that left the tree: a page-sized map after (a) an unmap of a
     * larger page size that removes the last-level table ({@code __arm_lpae_unmap}: "size == block size and not a
     * leaf": the table is freed after the sync) and (b) a block map over an emptied table ({@code arm_lpae_init_pte}:
     * "unmap and free the old table before overwriting it with a block") installs a new table, which the hardware
     * walker and a hand-written walk decode. With a stale entry the page would be written into the freed table and
     * the device would fault.
     */
    @Test
    void leafTableLookasideForgetsTablesRemovedByLargerUnmapsAndBlockMaps() {
        for (Config c : Config.values()) {
            try (Fixture f = new Fixture(c, 0)) {
                LpaeIoPageTable pt = f.d.pageTable;
                TranslationGranule g = pt.granule;
                long page = g.size();
                long block = levelSize(g, 2);
                if ((pt.pgsizeBitmap & block) == 0) {
                    continue;
                }
                long base = 4 * block;
                long pa = 0x8_0000_0000L;
                int rid = f.fn.rid();
                Translation t = new Translation();
                IotlbGather gather = new IotlbGather();
                // (a) pages (the lookaside learns their table), then one block-sized unmap removes the table
                assertEquals(4 * page, f.d.mapPages(base, pa, page, 4, RW), c.name());
                long tableFrames = 1L << Math.max(0, g.shift() - 12);
                long framesMapped = f.allocatedFrames();
                assertTrue(pt.cachedLeafTables() > 0, c + ": the map's table is in the lookaside");
                assertEquals(block, f.d.unmapPages(base, block, 1, gather), c + ": block unmap over a table");
                f.d.iotlbSync(gather);
                gather.reset();
                assertEquals(0, pt.cachedLeafTables(), c + ": the removal emptied the lookaside");
                assertEquals(framesMapped - tableFrames, f.allocatedFrames(), c + ": the table was freed after the sync");
                assertPage(f, c, base + 5 * page, pa + page, rid, t, "(a)");
                // (b) the new table emptied by page unmaps (it stays), then a block map replaces it
                assertEquals(page, f.d.unmapPages(base + 5 * page, page, 1, gather));
                f.d.iotlbSync(gather);
                gather.reset();
                assertTrue(pt.cachedLeafTables() > 0, c + ": the emptied table is still in the lookaside");
                assertEquals(block, f.d.mapPages(base, pa, block, 1, RW), c + ": block map over an empty table");
                assertEquals(0, pt.cachedLeafTables(), c + ": the block map emptied the lookaside");
                assertEquals(block, f.d.unmapPages(base, block, 1, gather));
                f.d.iotlbSync(gather);
                gather.reset();
                assertPage(f, c, base + 7 * page, pa + 3 * page, rid, t, "(b)");
                assertEquals(0, f.b.smmu().cmdq.errors());
            }
        }
    }

    /** Maps one page and checks it with the hand-written walk, the hardware walker and iova_to_phys. */
    private static void assertPage(Fixture f, Config c, long iova, long pa, int rid, Translation t, String step) {
        assertEquals(f.d.pageTable.granule.size(), f.d.mapPages(iova, pa, f.d.pageTable.granule.size(), 1, RW),
                c + " " + step);
        assertEquals(expectedLeaf(c.stage2, false, pa, true), walk(f.memory(), f.d.pageTable, iova, 3), c + " " + step);
        f.unit.translate(rid, -1, iova + 8, Translation.ACCESS_READ, t);
        assertTrue(t.isOk(), c + " " + step + ": hardware walk of the page mapped after the removal");
        assertEquals(pa + 8, t.physicalAddress(), c + " " + step);
        assertEquals(pa + 8, f.d.iovaToPhys(iova + 8), c + " " + step);
    }

    /** One call of N pages writes exactly the words N one-page calls write (same tables, same descriptors). */
    @Test
    void oneCallEqualsPageByPage() {
        for (Config c : new Config[] {Config.S1_4K, Config.S2_16K}) {
            try (Fixture bulk = new Fixture(c, 0); Fixture single = new Fixture(c, 0)) {
                TranslationGranule g = bulk.d.pageTable.granule;
                long page = g.size();
                long iova = 3 * levelSize(g, 2) - 5 * page;
                int count = g.entriesPerTable() + 11;
                long pa = 0x9_0000_0000L;
                long f0 = bulk.allocatedFrames();
                long s0 = single.allocatedFrames();
                bulk.d.mapPages(iova, pa, page, count, RW | IoProt.CACHE);
                for (int i = 0; i < count; i++) {
                    single.d.mapPages(iova + i * page, pa + i * page, page, 1, RW | IoProt.CACHE);
                }
                assertEquals(single.allocatedFrames() - s0, bulk.allocatedFrames() - f0);
                for (int i = -2; i < count + 2; i++) {
                    long va = iova + i * page;
                    assertEquals(walk(single.memory(), single.d.pageTable, va, 3), walk(bulk.memory(), bulk.d.pageTable, va, 3),
                            c + " page " + i);
                }
            }
        }
    }

    /**
     * arm_lpae_init_pte: a run that meets a live leaf fails with EEXIST before any of its entries is written; runs
     * in earlier leaf tables stay mapped and are the progress the core unmaps.
     */
    @Test
    void existingLeafFailsItsWholeRunWithEexist() {
        try (Fixture f = new Fixture(Config.S1_4K, 0)) {
            long pa = 0x4_0000_0000L;
            long base = 0x4000_0000L; // a leaf-table boundary
            f.d.mapPages(base + 5 * 4096L, pa, 4096, 1, RW);
            long before = walk(f.memory(), f.d.pageTable, base + 5 * 4096L, 3);
            ErrnoException e = assertThrows(ErrnoException.class, () -> f.d.mapPages(base, pa, 4096, 8, RW));
            assertEquals(Errno.EEXIST, e.errno());
            assertEquals(0, e.progress());
            for (int i = 0; i < 8; i++) {
                assertEquals(i == 5 ? before : 0, walk(f.memory(), f.d.pageTable, base + i * 4096L, 3), "page " + i);
            }
            // 4 pages in the previous leaf table, then the conflict in this one: the first run stays, as progress
            ErrnoException e2 = assertThrows(ErrnoException.class, () -> f.d.mapPages(base - 4 * 4096L, pa, 4096, 12, RW));
            assertEquals(Errno.EEXIST, e2.errno());
            assertEquals(4 * 4096L, e2.progress());
            assertEquals(expectedLeaf(false, false, pa + 3 * 4096L, true), walk(f.memory(), f.d.pageTable, base - 4096L, 3));
            assertEquals(0, walk(f.memory(), f.d.pageTable, base, 3));
            // a 2 MiB block where a table is: arm_lpae_init_pte unmaps and frees the table (live leaves and all)
            long frames = f.allocatedFrames();
            assertEquals(2L << 20, f.d.mapPages(base, 0x4000_0000L, 2L << 20, 1, RW));
            assertEquals(frames - 1, f.allocatedFrames());
            assertEquals(expectedLeaf(false, false, 0x4000_0000L, false), walk(f.memory(), f.d.pageTable, base, 2));
            // a 4K page under a 2M block: a block leaf is in the way
            f.d.mapPages(base + (4L << 20), 0x4000_0000L, 2L << 20, 1, RW);
            assertEquals(Errno.EEXIST, assertThrows(ErrnoException.class,
                    () -> f.d.mapPages(base + (4L << 20) + 4096, pa, 4096, 1, RW)).errno());
        }
    }

    /**
     * Block entries follow the kernel's io-pgtable rules: a partial unmap of a block unmaps nothing ("Unmap of a
     * partial large IOPTE is not allowed"); an unmap of block size over a table removes the table whole and frees
     * its pages only in the sync, after the invalidation; a block mapped over an emptied table frees that table
     * at once, after a walk flush (arm_lpae_init_pte).
     */
    @Test
    void blockEntriesUnmapAndReplaceTablesAsIoPgtableDoes() {
        try (Fixture f = new Fixture(Config.S1_4K, 0)) {
            long block = 2L << 20;
            long iova = 0x1_0000_0000L;
            long pa = 0x8000_0000L;
            Translation t = new Translation();
            int rid = f.fn.rid();
            f.d.mapPages(iova, pa, block, 3, RW);
            IotlbGather g = new IotlbGather();
            assertEquals(0, f.d.unmapPages(iova + block + 4096, 4096, 1, g), "partial large IOPTE");
            assertEquals(0, f.d.unmapPages(iova + block, 4096, 512, g), "partial large IOPTE, even for the whole span");
            assertTrue(g.isEmpty());
            assertEquals(expectedLeaf(false, false, pa + block, false), walk(f.memory(), f.d.pageTable, iova + block, 2));
            assertEquals(pa + block + 0x1234, f.unit.translate(rid, -1, iova + block + 0x1234, 1, t).physicalAddress());
            assertEquals(block, t.pageSize());
            assertEquals(3 * block, f.d.unmapPages(iova, block, 3, g));
            f.d.iotlbSync(g);
            g.reset();

            // 4K pages in the second 2M span (one leaf table), then a 2M unmap over them: the table goes whole
            long span = iova + block;
            long framesEmpty = f.allocatedFrames();
            f.d.mapPages(span + 4096 * 7, pa, 4096, 20, RW);
            long leafTableFrames = f.allocatedFrames() - framesEmpty;
            assertEquals(1, leafTableFrames);
            long cmdsBefore = f.b.smmu().cmdq.commandsIssued();
            assertEquals(block, f.d.unmapPages(span, block, 1, g));
            assertEquals(0, walk(f.memory(), f.d.pageTable, span, 2), "the table descriptor is cleared");
            assertEquals(1, g.freelistSize(), "the table waits for the sync");
            assertEquals(framesEmpty + 1, f.allocatedFrames(), "not freed before the invalidation");
            assertEquals(cmdsBefore, f.b.smmu().cmdq.commandsIssued());
            f.d.iotlbSync(g);
            assertTrue(f.b.smmu().cmdq.commandsIssued() > cmdsBefore, "TLBI + CMD_SYNC issued");
            assertEquals(0, g.freelistSize());
            assertEquals(framesEmpty, f.allocatedFrames(), "freed by the sync");
            g.reset();
            assertFalse(f.unit.translate(rid, -1, span + 4096 * 8, 1, t).isOk());

            // an emptied leaf table (pages unmapped: the table stays) replaced by a block: freed at once
            f.d.mapPages(span, pa, 4096, 4, RW);
            assertEquals(4 * 4096L, f.d.unmapPages(span, 4096, 4, g));
            f.d.iotlbSync(g);
            g.reset();
            assertEquals(framesEmpty + 1, f.allocatedFrames());
            f.d.mapPages(span, pa, block, 1, RW);
            assertEquals(framesEmpty, f.allocatedFrames(), "the replaced table is freed by the map");
            assertEquals(expectedLeaf(false, false, pa, false), walk(f.memory(), f.d.pageTable, span, 2));
            assertEquals(pa + 0x5008, f.unit.translate(rid, -1, span + 0x5008, 1, t).physicalAddress());

            // a gather that must sync before a disjoint page (iommu_iotlb_gather_add_page) syncs before it queues
            // the tables it frees, so they are freed only by the sync that invalidates their own range
            f.d.mapPages(span + 2 * block, pa, 4096, 1, RW);
            assertEquals(block, f.d.unmapPages(span, block, 1, g));
            assertEquals(block, f.d.unmapPages(span + 2 * block, block, 1, g), "the table under the 4K page");
            assertEquals(1, g.freelistSize(), "the disjoint range synced the first range; the table is still queued");
            assertEquals(span + 2 * block, g.start());
            f.d.iotlbSync(g);
            g.reset();
            assertEquals(framesEmpty, f.allocatedFrames());
        }
    }

    /** Unmap stops at a hole and returns the bytes before it (whole runs and a partial one). */
    @Test
    void unmapStopsAtTheFirstHole() {
        try (Fixture f = new Fixture(Config.S1_4K, 0)) {
            long base = 0x2000_0000L - 6 * 4096L;
            f.d.mapPages(base, 0x4000_0000L, 4096, 6 + 9, RW);
            IotlbGather g = new IotlbGather();
            assertEquals(15 * 4096L, f.d.unmapPages(base, 4096, 40, g), "6 in one table, 9 in the next, then a hole");
            assertEquals(0, f.d.unmapPages(base, 4096, 40, g));
            f.d.iotlbSync(g);
            g.reset();
            assertEquals(0, f.d.unmapPages(1L << 48, 4096, 1, g), "beyond the input size");
        }
    }

    /**
     * Two threads mapping and unmapping disjoint windows that share every upper-level table (each installs the
     * missing tables with compare-and-set) leave exactly the tables and leaves one thread doing both would.
     */
    @Test
    void concurrentDisjointMapsEqualSequentialOnes() throws Exception {
        long window = 64 * 4096L;
        long base = 0x7_0000_0000L - window; // the two windows straddle a leaf-table boundary
        int pages = 64;
        long pa = 0x4000_0000L;
        for (int round = 0; round < 20; round++) {
            try (Fixture conc = new Fixture(Config.S1_4K, 0); Fixture seq = new Fixture(Config.S1_4K, 0)) {
                long c0 = conc.allocatedFrames();
                long s0 = seq.allocatedFrames();
                CyclicBarrier start = new CyclicBarrier(2);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread[] threads = new Thread[2];
                for (int k = 0; k < 2; k++) {
                    final long w = base + k * window;
                    threads[k] = new Thread(() -> {
                        try {
                            start.await();
                            IotlbGather g = new IotlbGather();
                            conc.d.mapPages(w, pa, 4096, pages, RW);
                            conc.d.unmapPages(w + 8 * 4096L, 4096, 8, g);
                            conc.d.iotlbSync(g);
                            g.reset();
                        } catch (Throwable e) {
                            failure.compareAndSet(null, e);
                        }
                    });
                    threads[k].start();
                }
                for (Thread t : threads) {
                    t.join();
                }
                if (failure.get() != null) {
                    throw new AssertionError(failure.get());
                }
                IotlbGather g = new IotlbGather();
                for (int k = 0; k < 2; k++) {
                    long w = base + k * window;
                    seq.d.mapPages(w, pa, 4096, pages, RW);
                    seq.d.unmapPages(w + 8 * 4096L, 4096, 8, g);
                    seq.d.iotlbSync(g);
                    g.reset();
                }
                assertEquals(seq.allocatedFrames() - s0, conc.allocatedFrames() - c0, "no table lost or leaked");
                for (long va = base; va < base + 2 * window; va += 4096) {
                    assertEquals(walk(seq.memory(), seq.d.pageTable, va, 3), walk(conc.memory(), conc.d.pageTable, va, 3),
                            "round " + round + " iova " + Long.toHexString(va));
                }
            }
        }
    }

    static final class Recorder implements DirtyRecorder {
        final List<long[]> ranges = new ArrayList<>();
        final IotlbGather gather = new IotlbGather();

        @Override
        public void record(long iova, long length) {
            ranges.add(new long[] {iova, length});
            gather.addRange(iova, length);
        }

        @Override
        public IotlbGather gather() {
            return gather;
        }
    }

    /**
     * The dirty walk reports exactly what a word-by-word reference reports (every leaf intersecting the range
     * whose DBM=1 and AP[2]=0, whole and in IOVA order) and writes only those words, setting AP[2]; NO_CLEAR
     * writes nothing.
     */
    @Test
    void dirtyHarvestEqualsAWordByWordReference() {
        try (Fixture f = new Fixture(Config.S1_4K, DomainAllocFlags.DIRTY_TRACKING)) {
            f.d.setDirtyTracking(true);
            LpaeIoPageTable pt = f.d.pageTable;
            long pa = f.memory().frames().allocate(10); // 4 MiB of RAM (2 MiB aligned) the device writes into
            long base = 0x3_0000_0000L;
            // leaves: 4K pages across two leaf tables, read-only pages, a hole, 2M blocks
            List<long[]> leaves = new ArrayList<>(); // {iova, size, level}
            f.d.mapPages(base, pa, 4096, 700, RW);
            for (long i = 0; i < 700; i++) {
                leaves.add(new long[] {base + i * 4096, 4096, 3});
            }
            f.d.mapPages(base + 800 * 4096L, pa, 4096, 30, IoProt.READ);
            for (long i = 0; i < 30; i++) {
                leaves.add(new long[] {base + (800 + i) * 4096, 4096, 3});
            }
            long blocks = base + (4L << 20);
            f.d.mapPages(blocks, pa, 2L << 20, 3, RW);
            for (long i = 0; i < 3; i++) {
                leaves.add(new long[] {blocks + i * (2L << 20), 2L << 20, 2});
            }
            // start clean, then dirty a pattern by device writes
            Recorder clean = new Recorder();
            f.d.readAndClearDirty(base, 16L << 20, 0, clean);
            f.d.iotlbSync(clean.gather);
            clean.gather.reset();
            for (long i = 0; i < 700; i += 7) {
                assertEquals(DmaStatus.OK, f.fn.dmaWrite(base + i * 4096 + 16, new byte[] {1}));
            }
            assertEquals(DmaStatus.OK, f.fn.dmaWrite(blocks + (2L << 20) + 0x3000, new byte[] {1}));
            assertEquals(DmaStatus.FAULT, f.fn.dmaWrite(base + 805 * 4096L, new byte[] {1}), "read-only");
            long lo = base + 3 * 4096L + 100; // unaligned, inside a page
            long hi = blocks + (2L << 20) + 5; // inside the second block
            for (int flags : new int[] {IommuDomain.DIRTY_NO_CLEAR, 0, 0}) {
                List<long[]> expected = new ArrayList<>();
                long[] wordsBefore = new long[leaves.size()];
                for (int k = 0; k < leaves.size(); k++) {
                    long[] l = leaves.get(k);
                    long desc = walk(f.memory(), pt, l[0], (int) l[2]);
                    wordsBefore[k] = desc;
                    boolean intersects = l[0] + l[1] - 1 >= lo && l[0] <= hi;
                    if (intersects && (desc & 1) != 0 && (desc & (1L << 51)) != 0 && (desc & (1L << 7)) == 0) {
                        expected.add(new long[] {l[0], l[1]});
                    }
                }
                Recorder r = new Recorder();
                f.d.readAndClearDirty(lo, hi - lo + 1, flags, r);
                assertEquals(expected.size(), r.ranges.size(), "flags " + flags);
                for (int k = 0; k < expected.size(); k++) {
                    assertArrayEquals(expected.get(k), r.ranges.get(k), "record " + k);
                }
                for (int k = 0; k < leaves.size(); k++) {
                    long[] l = leaves.get(k);
                    long now = walk(f.memory(), pt, l[0], (int) l[2]);
                    boolean reported = false;
                    for (long[] e : expected) {
                        reported |= e[0] == l[0];
                    }
                    long want = reported && flags == 0 ? wordsBefore[k] | 1L << 7 : wordsBefore[k];
                    assertEquals(want, now, "leaf " + Long.toHexString(l[0]) + " flags " + flags);
                }
                f.d.iotlbSync(r.gather);
                r.gather.reset();
                if (flags == 0 && !expected.isEmpty()) {
                    assertEquals(99 + 1, expected.size(), "pages 7, 14, ..., 693 and the second block");
                }
            }
        }
    }

    /** Counts what it is given: allocation-free. */
    static final class CountingRecorder implements DirtyRecorder {
        final IotlbGather gather = new IotlbGather();
        long bytes;

        @Override
        public void record(long iova, long length) {
            bytes += length;
            gather.addRange(iova, length);
        }

        @Override
        public IotlbGather gather() {
            return gather;
        }
    }

    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /** Runs of 256 pages across two leaf tables, their unmap, block map/unmap, and the dirty walk allocate nothing once warm. */
    @Test
    void bulkPathsAllocateNothing() {
        try (Fixture f = new Fixture(Config.S1_4K, DomainAllocFlags.DIRTY_TRACKING)) {
            f.d.setDirtyTracking(true);
            IotlbGather g = new IotlbGather();
            CountingRecorder r = new CountingRecorder();
            long base = 0x5_0000_0000L - 100 * 4096L;
            long span = 0x6_0000_0000L;
            f.d.mapPages(span, 0x4000_0000L, 4096, 3, RW);
            f.d.unmapPages(span, 4096, 3, g);
            f.d.iotlbSync(g);
            g.reset();
            long sink = 0;
            for (int round = 0; round < 3; round++) {
                long before = allocatedBytes();
                for (int i = 0; i < 2000; i++) {
                    sink += f.d.mapPages(base, 0x4000_0000L, 4096, 256, RW);
                    f.d.readAndClearDirty(base, 256 * 4096L, i % 2 == 0 ? IommuDomain.DIRTY_NO_CLEAR : 0, r);
                    f.d.iotlbSync(r.gather);
                    r.gather.reset();
                    sink += f.d.unmapPages(base, 4096, 256, g);
                    f.d.iotlbSync(g);
                    g.reset();
                    // a block map over an emptied leaf table, and its unmap (the table is freed: the simulated
                    // memory drops a freed frame's storage, so re-creating the table each round would allocate)
                    sink += f.d.mapPages(span, 0x4000_0000L, 2L << 20, 1, RW);
                    sink += f.d.unmapPages(span, 2L << 20, 1, g);
                    f.d.iotlbSync(g);
                    g.reset();
                }
                long used = allocatedBytes() - before;
                if (round == 2) {
                    // reading the counter costs a few hundred bytes; one allocation per operation would cost at
                    // least 16 bytes x 2000 iterations
                    assertTrue(used < 4096, used + " bytes allocated by 2000 rounds");
                }
            }
            assertTrue(sink > 0);
            assertTrue(r.bytes >= 3000 * 256 * 4096L, "freshly mapped writable pages are dirty: " + r.bytes);
        }
    }
}
