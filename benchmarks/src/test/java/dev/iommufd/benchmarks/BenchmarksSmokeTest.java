package dev.iommufd.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.spi.IommuDomain;
import java.lang.reflect.Method;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.openjdk.jmh.annotations.Benchmark;

/**
 * Every benchmark method runs once, directly (no JMH, no timing), on small spans, and returns what it must: proof
 * that the suite still runs against the current drivers and core. CI runs this with the normal test command.
 */
class BenchmarksSmokeTest {
    static final long MIB = 1L << 20;

    @AfterAll
    static void dropShared() {
        SharedFixtures.clear();
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void mapUnmapBenchmarksMapAndUnmapWhatTheySay(Format format) {
        MapUnmapBenchmark b = new MapUnmapBenchmark();
        for (long size : new long[] {4096, 2 * MIB, 1L << 30}) {
            MapUnmapBenchmark.WarmEmpty w = new MapUnmapBenchmark.WarmEmpty();
            w.format = format;
            w.pageSize = size;
            w.setUp();
            try {
                w.emptyWindow();
                assertEquals(256 * size, b.mapOne(w), "mapOne maps 256 pages");
                assertEquals(w.f.blockPa + 255 * size % DomainFixture.BLOCK, w.f.domain.iovaToPhys(w.first + 255 * size),
                        "the last page is mapped");
                w.emptyWindow();
                assertEquals(IommuDomain.NO_TRANSLATION, w.f.domain.iovaToPhys(w.first), "the setup empties the window");
                assertEquals(256 * size, b.mapOne(w), "mapOne maps again into the emptied window");
            } finally {
                w.tearDown();
            }
        }
        MapUnmapBenchmark.Unmapped u = new MapUnmapBenchmark.Unmapped();
        u.format = format;
        u.setUp();
        u.unmapped();
        assertEquals(256 * 4096L, b.map256(u));
        u.unmapped();
        assertEquals(IommuDomain.NO_TRANSLATION, u.f.domain.iovaToPhys(u.first + 255 * 4096L));
        u.tearDown();
        MapUnmapBenchmark.Mapped m = new MapUnmapBenchmark.Mapped();
        m.format = format;
        m.setUp();
        m.mapped();
        assertEquals(256 * 4096L, b.unmap256(m));
        m.mapped();
        assertEquals(256 * 4096L, b.unmapOne(m), "unmapOne unmaps 256 pages one by one");
        assertEquals(IommuDomain.NO_TRANSLATION, m.f.domain.iovaToPhys(m.first + 255 * 4096L));
        assertEquals(m.f.blockPa, m.f.domain.iovaToPhys(MapUnmapBenchmark.WINDOW), "the sentinel stays");
        m.tearDown();
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void bulkMapBuildsAndFreesTheTables(Format format) {
        BulkMapBenchmark b = new BulkMapBenchmark();
        BulkMapBenchmark.Empty e = new BulkMapBenchmark.Empty();
        e.format = format;
        e.pageSize = 4096;
        e.span = 2L << 30;
        e.setUp();
        long before = e.f.allocatedFrames();
        e.empty();
        long after = b.mapAll(e);
        // 2 GiB of 4K pages: 1024 leaf tables plus at least one level-2 table
        assertTrue(after - before >= 1025, "table frames allocated: " + (after - before));
        e.f.unmapSpan(BulkMapBenchmark.BASE, e.span, e.pageSize);
        e.mapped = false;
        e.tearDown();
        BulkMapBenchmark.Full full4k = new BulkMapBenchmark.Full();
        full4k.format = format;
        full4k.pageSize = 4096;
        full4k.span = 64 * MIB;
        full4k.setUp();
        full4k.full();
        long filled4k = full4k.f.allocatedFrames();
        assertTrue(b.unmapAll(full4k) <= filled4k, "the unmap allocates no frame");
        assertEquals(IommuDomain.NO_TRANSLATION, full4k.f.domain.iovaToPhys(BulkMapBenchmark.BASE + full4k.span - 4096));
        full4k.tearDown();
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void largeLeafBulkMapStartsEveryInvocationFromTheStateItNames(Format format) {
        LargeLeafBulkMapBenchmark b = new LargeLeafBulkMapBenchmark();
        long gib = 1L << 30;
        for (long size : new long[] {2 * MIB, gib}) {
            LargeLeafBulkMapBenchmark.Empty e = new LargeLeafBulkMapBenchmark.Empty();
            e.format = format;
            e.pageSize = size;
            e.rangeBytes = 4 * gib;
            e.setUp();
            long before = e.f.allocatedFrames();
            for (int i = 0; i < 3; i++) { // map, then the invocation setup empties the range again
                e.empty();
                assertEquals(IommuDomain.NO_TRANSLATION, e.f.domain.iovaToPhys(BulkMapBenchmark.BASE + e.rangeBytes - size),
                        "the setup emptied the range");
                long after = b.mapAll(e);
                assertEquals(e.f.blockPa + (e.rangeBytes - size) % DomainFixture.BLOCK,
                        e.f.domain.iovaToPhys(BulkMapBenchmark.BASE + e.rangeBytes - size), "the last leaf is mapped");
                if (size == gib) {
                    assertTrue(after <= before + 2, "1G leaves need no more than the upper tables: " + (after - before));
                } else {
                    // 4 GiB of 2M leaves: 4 level-2 tables (and at most the upper tables)
                    assertTrue(after - before >= 4 && after - before <= 6, "2M leaf tables: " + (after - before));
                }
            }
            e.tearDown();
            LargeLeafBulkMapBenchmark.Full full = new LargeLeafBulkMapBenchmark.Full();
            full.format = format;
            full.pageSize = size;
            full.rangeBytes = 4 * gib;
            full.setUp();
            for (int i = 0; i < 3; i++) { // unmap, then the invocation setup fills the range again
                full.full();
                long filled = full.f.allocatedFrames();
                assertEquals(full.f.blockPa, full.f.domain.iovaToPhys(BulkMapBenchmark.BASE), "the setup filled the range");
                // VT-d frees the leaf tables whose span the unmap covers; io-pgtable-arm keeps them (as Linux)
                assertTrue(b.unmapAll(full) <= filled, "the unmap allocates no frame");
                assertEquals(IommuDomain.NO_TRANSLATION, full.f.domain.iovaToPhys(BulkMapBenchmark.BASE));
            }
            full.tearDown();
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void translationsReachTheBlock(Format format) {
        TranslateBenchmark b = new TranslateBenchmark();
        b.format = format;
        b.span = 64 * MIB;
        b.setUp();
        long lo = b.f.blockPa;
        long hi = lo + DomainFixture.BLOCK;
        for (long pa : new long[] {b.hit90(), b.missIndependent(), b.missDependent(), b.missSequential()}) {
            assertTrue(pa >= lo && pa < hi, "translated into the block: " + Long.toHexString(pa));
        }
        // the window rows, several windows each (physOut is indexed like the stream: every window lands elsewhere)
        for (int i = 0; i < 3; i++) {
            for (long pa : new long[] {b.hit90Window(), b.missIndependentWindow()}) {
                assertTrue(pa >= lo && pa < hi, "a window translated into the block: " + Long.toHexString(pa));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void nestedTranslationsGoThroughBothStages(Format format) {
        NestedTranslateBenchmark b = new NestedTranslateBenchmark();
        b.format = format;
        b.span = 64 * MIB;
        b.setUp();
        {
            NestedFixture f = b.f;
            // expected: the guest's leaf i maps data GPA i mod dataPages; the VMM maps that GPA at vmmVa + (gpa - base);
            // the host PA comes from the process's own page table, not from the IOMMU
            java.util.Set<Long> dataFrames = new HashSet<>();
            for (long i = 0; i < f.dataPages; i++) {
                dataFrames.add(f.process.translate(f.vmmVa + f.dataGpa(i) - NestedFixture.GPA_BASE));
            }
            for (long i : new long[] {0, 1, 511, 512, 513 * 512 % (b.span / 4096), f.dataPages - 1, b.span / 4096 - 1}) {
                long want = f.process.translate(f.vmmVa + f.dataGpa(i) - NestedFixture.GPA_BASE) + 0x123;
                assertEquals(want, b.translate(NestedFixture.gva(i) + 0x123), "guest page " + i);
            }
            for (long pa : new long[] {b.hit90(), b.missIndependent(), b.missDependent(), b.missSequential()}) {
                assertTrue(dataFrames.contains(pa & ~0xfffL), "translated into a guest data page: " + Long.toHexString(pa));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void iotlbModelInvalidationsDropWhatTheySay(Format format) {
        IotlbInvalidationBenchmark b = new IotlbInvalidationBenchmark();
        IotlbInvalidationBenchmark.WorkingSet pages = new IotlbInvalidationBenchmark.WorkingSet();
        pages.format = format;
        pages.setUp();
        IotlbProbe tlb = pages.tlb;
        pages.refill();
        int full = tlb.liveEntries();
        assertTrue(full > tlb.capacity() * 3 / 4 && full <= tlb.capacity(), "the working set fills the IOTLB: " + full);
        b.page(pages);
        int after = tlb.liveEntries();
        assertTrue(after < full && after >= full - 256, "256 page invalidations drop at most 256 entries: " + full + " -> " + after);
        for (int i = 0; i < pages.runs.length / 256; i++) {
            b.page(pages);
        }
        assertEquals(0, tlb.liveEntries(), "invalidating every page of the working set empties the IOTLB");
        pages.refill();
        tlb.invalidatePages(2, pages.runs[0], 1);
        assertEquals(full, tlb.liveEntries(), "another domain's invalidation drops nothing");

        IotlbInvalidationBenchmark.Ranges ranges = new IotlbInvalidationBenchmark.Ranges();
        ranges.format = format;
        ranges.setUp();
        ranges.refill();
        int before = ranges.tlb.liveEntries();
        b.range16(ranges);
        int dropped = before - ranges.tlb.liveEntries();
        assertTrue(dropped > 16 * 16 / 2 && dropped <= 16 * 16, "16 ranges of 16 pages: " + dropped);

        IotlbInvalidationBenchmark.Domains d = new IotlbInvalidationBenchmark.Domains();
        d.format = format;
        d.iotlb = "half";
        d.setUp();
        d.refill();
        assertTrue(d.tlb.liveEntries() > d.tlb.capacity() / 4, "half full: " + d.tlb.liveEntries());
        assertEquals(256, b.domainWide(d));
        assertEquals(0, d.tlb.liveEntries(), "every domain invalidated");
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void invalidationsRun(Format format) {
        InvalidationBenchmark b = new InvalidationBenchmark();
        InvalidationBenchmark.Filled s = new InvalidationBenchmark.Filled();
        s.format = format;
        s.iotlb = "half";
        s.setUp();
        try {
            assertTrue(b.page(s));
            assertTrue(b.range16(s));
            s.refill();
            assertEquals(s.rid, b.domainWide(s));
        } finally {
            s.tearDown();
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void ioasScenariosRunThroughTheWholeStack(Format format) {
        IoasBenchmark b = new IoasBenchmark();
        IoasBenchmark.RangeUnmapped r = new IoasBenchmark.RangeUnmapped();
        r.format = format;
        r.userSpan = 16 * MIB;
        r.setUp();
        r.unmapped();
        assertEquals(IoasBenchmark.Range.IOVA, b.ioasMapAll(r));
        r.tearDown();
        IoasBenchmark.RangeMapped rm = new IoasBenchmark.RangeMapped();
        rm.format = format;
        rm.userSpan = 16 * MIB;
        rm.setUp();
        rm.mappedState();
        assertEquals(16 * MIB, b.ioasUnmapAll(rm));
        rm.tearDown();

        IoasBenchmark.Nic nic = new IoasBenchmark.Nic();
        nic.format = format;
        nic.setUp();
        long pa = b.churn64k(nic);
        assertTrue(pa != 0, "the churned buffer translated");
        nic.tearDown();

        IoasBenchmark.LiveAreas live = new IoasBenchmark.LiveAreas();
        live.format = format;
        live.areas = 100;
        live.setUp();
        assertEquals(101 * 4096L, b.allocIova(live), "the lowest hole is above the packed areas");
        live.tearDown();

        IoasBenchmark.Fragmented frag = new IoasBenchmark.Fragmented();
        frag.format = format;
        frag.holes = 64;
        frag.setUp();
        assertEquals(IoasBenchmark.WINDOW + 128 * 4096L, b.allocIovaFragmented(frag), "8 KiB fits only above every one-page hole");
        frag.tearDown();
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void iovaAllocatorAllocatesTheFirstFitAndFreesIt(Format format) {
        IovaAllocatorBenchmark b = new IovaAllocatorBenchmark();
        IovaAllocatorBenchmark.Packed p = new IovaAllocatorBenchmark.Packed();
        p.format = format;
        p.liveAreas = 1000;
        p.setUp();
        try {
            assertEquals(1000, p.probe.areas());
            assertEquals(1001 * 4096L, b.allocFree(p), "the lowest hole is above the packed areas");
            assertEquals(1000, p.probe.areas(), "the area that claimed the range was removed again");
            assertEquals(1001 * 4096L, b.allocFree(p), "and the range is free for the next allocation");
            assertEquals(1001 * 4096L, b.allocOnly(p));
        } finally {
            p.tearDown();
        }
        IovaAllocatorBenchmark.Fragmented frag = new IovaAllocatorBenchmark.Fragmented();
        frag.format = format;
        frag.holeCount = 64;
        frag.setUp();
        try {
            assertEquals(IovaAllocatorBenchmark.WINDOW + 128 * 4096L, b.allocFreeFragmented(frag),
                    "8 KiB fits only above every one-page hole");
            assertEquals(64, frag.probe.areas());
        } finally {
            frag.tearDown();
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void dirtyHarvestFindsTheDirtiedPages(Format format) {
        DirtyHarvestBenchmark b = new DirtyHarvestBenchmark();
        b.format = format;
        b.span = 64 * MIB;
        b.setUp();
        b.dirtyPages();
        assertEquals(b.span / 64, b.harvestSparse());
        assertEquals(b.span / 64 / 4096, Long.bitCount(b.recorder.bits[0]) * (long) b.recorder.bits.length,
                "one bit in 64 set");
        DirtyHarvestBenchmark.AllDirty all = new DirtyHarvestBenchmark.AllDirty();
        all.dirtyAll(b);
        assertEquals(b.span, b.harvestAllNoClear(all));
        assertEquals(b.span, b.harvestAllNoClear(all), "NO_CLEAR leaves the bits set");
        b.harvest(0);
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void concurrencyBenchmarksRunPerThread(Format format) {
        ConcurrencyBenchmark b = new ConcurrencyBenchmark();
        ConcurrencyBenchmark.Shared s = new ConcurrencyBenchmark.Shared();
        s.format = format;
        s.setUp();
        try {
            ConcurrencyBenchmark.Worker w0 = new ConcurrencyBenchmark.Worker();
            ConcurrencyBenchmark.Worker w1 = new ConcurrencyBenchmark.Worker();
            w0.setUp(s);
            w1.setUp(s);
            assertFalse(w0.window == w1.window, "disjoint windows");
            assertFalse(w0.rid == w1.rid, "two devices");
            assertEquals(2 * 16 * 4096L, b.mapUnmap(s, w0));
            assertEquals(2 * 16 * 4096L, b.mapUnmap(s, w1));
            assertTrue(b.translate(s, w0) >= s.f.blockPa);
            assertTrue(b.translate(s, w1) >= s.f.blockPa);
            long seed = w0.lcg;
            long x = b.control(w0);
            assertEquals(x, w0.lcg, "the control keeps its generator in the thread's state");
            assertFalse(x == seed, "the control steps its generator");
            assertEquals(seed, w1.lcg, "one thread's control leaves the other's state alone");
            long shared = b.sharedLine(s);
            assertEquals(shared + 1, b.sharedLine(s), "both threads' increments land in one counter");
        } finally {
            s.tearDown();
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void memoryFootprintIsMeasured(Format format) {
        // 1 GiB in 4K pages: 512 leaf tables and one level-2 table per 262144 pages (the root pre-exists)
        double table = MemoryFootprint.tableBytesPerPage(format, 1L << 30);
        assertTrue(table >= 512 * 4096.0 / 262144 && table <= 8.1, "table bytes per page " + table);
        double entry = MemoryFootprint.iotlbBytesPerEntry(format);
        assertTrue(entry >= 8 && entry <= 256, "IOTLB bytes per entry " + entry);
        double area = MemoryFootprint.heapBytesPerArea(format, 2000);
        assertTrue(area > 0, "an area costs heap: " + area);
        double area64k = MemoryFootprint.heapBytesPerArea(format, 2000, 16);
        assertTrue(area64k > area, "a 16-page area (pages object, 16 PFNs, its PTEs) costs more than a one-page one: "
                + area64k + " vs " + area);
    }

    @Test
    void everyTargetNamesARealBenchmarkOrDerivedRow() throws Exception {
        Set<String> ids = new HashSet<>();
        for (Target t : Targets.ALL) {
            assertTrue(ids.add(t.id()), "duplicate id " + t.id());
            for (Target d : BenchSuite.dependencies(t)) {
                String b = d.benchmark();
                if (b.startsWith("B11:") || b.startsWith(BenchSuite.RATIO)) {
                    continue;
                }
                if (b.startsWith("B13:") || b.startsWith("B13op:")) {
                    b = b.substring(b.indexOf(':') + 1); // run with 1 and 2 threads: the method must exist
                }
                int dot = b.indexOf('.');
                Class<?> c = Class.forName("dev.iommufd.benchmarks." + b.substring(0, dot));
                Method m = null;
                for (Method k : c.getMethods()) {
                    if (k.getName().equals(b.substring(dot + 1)) && k.isAnnotationPresent(Benchmark.class)) {
                        m = k;
                    }
                }
                assertNotNull(m, t.id() + " names " + b + ", which is not a @Benchmark");
            }
        }
    }

    @Test
    void b13RowsAreTheThreadRatioAndOneThreadsTimePerOperation() {
        java.util.Map<String, BenchSuite.Measured> scores = new java.util.HashMap<>();
        // JMH throughput in ops/us: one thread 8 ops/us (125 ns each), two threads together 12 ops/us
        scores.put("t1:ConcurrencyBenchmark.mapUnmap/VTD_SS", new BenchSuite.Measured(8, 0.1, 0, 0));
        scores.put("t2:ConcurrencyBenchmark.mapUnmap/VTD_SS", new BenchSuite.Measured(12, 0.1, 0, 0));
        scores.put("t1:ConcurrencyBenchmark.mapUnmapOther/VTD_SS", new BenchSuite.Measured(1, 0.1, 0, 0));
        BenchSuite.Row ratio = BenchSuite.row(BenchSuite.byId("B13-map"), Format.VTD_SS, scores, false);
        assertEquals(1.5, ratio.score(), 1e-9);
        assertFalse(ratio.met(), "1.5x is below the 1.7x target");
        BenchSuite.Row op = BenchSuite.row(BenchSuite.byId("B13-map-op"), Format.VTD_SS, scores, false);
        assertEquals(125, op.score(), 1e-9, "ns per operation of one thread");
        assertEquals("ns/op", op.target().unit());
        assertTrue(Double.isNaN(BenchSuite.row(BenchSuite.byId("B13-map-op"), Format.SMMUV3_LPAE4K, scores, false)
                .score()), "no score for a format that did not run");
    }

    @Test
    void onlySelectsScenarioFamiliesNotPrefixes() {
        Target b1 = BenchSuite.byId("B1-4K");
        Target b4b = BenchSuite.byId("B4b-2M-map");
        Target b10 = BenchSuite.byId("B10-1/64");
        assertTrue(BenchSuite.selected(b1, Set.of("B1")));
        assertFalse(BenchSuite.selected(b10, Set.of("B1")), "B1 does not select B10");
        assertTrue(BenchSuite.selected(b4b, Set.of("B4")), "B4 selects B4b");
        assertFalse(BenchSuite.selected(b4b, Set.of("B6")));
        assertTrue(BenchSuite.selected(b10, Set.of()));
    }

    @Test
    void jsonCarriesScoreUnitErrorTargetAndVerdict() {
        Target t = BenchSuite.byId("B2");
        String json = BenchSuite.json(java.util.List.of(new BenchSuite.Row(t, "vtd-ss", 612.5, 3.25),
                new BenchSuite.Row(t, "smmuv3-lpae4k", Double.NaN, Double.NaN)), true, 1.0);
        assertTrue(json.contains("{\"scenario\": \"B2\", \"format\": \"vtd-ss\", \"score\": 612.5, \"unit\": \"ns/call\","
                + " \"error\": 3.25, \"target\": 600.0, \"comparison\": \"<=\", \"met\": false"), json);
        assertTrue(json.contains("\"score\": null") && json.contains("\"met\": null"), json);
        assertTrue(json.contains("\"nproc\""), json);
    }
}
