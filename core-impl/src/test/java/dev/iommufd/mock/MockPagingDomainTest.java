package dev.iommufd.mock;

import static dev.iommufd.mock.MockSelftestUapi.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.mock.hw.MockTableWalker;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Mock paging domains: written by the driver, decoded by the hardware walker ({@link MockTableWalker}) and checked
 * against hand-computed IOPTE words; the selftest's map/unmap contract (selftest.c mock_domain_map_pages /
 * mock_domain_unmap_pages WARN_ONs); the geometry iommufd's selftests rely on (§12 of the catalog).
 */
class MockPagingDomainTest {
    private static final int RW = IoProt.READ | IoProt.WRITE;
    private final MockBench bench = new MockBench();

    @AfterEach
    void tearDown() {
        bench.close();
    }

    private MockDomain domain(MockDevice dev, int flags) {
        return (MockDomain) bench.driver.allocPagingDomain(dev, flags, null);
    }

    private long leafWord(MockDomain d, long iova) {
        long r = MockTableWalker.walk(bench.memory, d.rootTable(), iova);
        assertTrue(r >= 0, "no leaf for " + Long.toHexString(iova));
        return bench.memory.read64(r & ~MockTableWalker.RESULT_BLOCK);
    }

    @Test
    void geometryIsTheSelftestAperture() {
        MockDomain d = domain(bench.device(0), 0);
        assertEquals(DomainType.PAGING, d.type());
        assertEquals(0x0100_0000L, d.geometry().apertures().get(0).start());
        assertEquals(0x7fff_ffffL, d.geometry().apertures().get(0).last());
        assertEquals(0x800L, d.geometry().pgsizeBitmap(), "MOCK_IO_PAGE_SIZE only");
        MockDomain h = domain(bench.device(MOCK_FLAGS_DEVICE_HUGE_IOVA), 0);
        assertEquals(0x10_0800L, h.geometry().pgsizeBitmap(), "2 KiB | 1 MiB for a HUGE_IOVA device");
        d.free();
        h.free();
    }

    @Test
    void mapWritesHandComputedLeavesWithStartAndLastMarkers() {
        MockDomain d = domain(bench.device(0), 0);
        long pa = bench.memory.frames().allocate(1); // 8 KiB: four 2 KiB pages
        long iova = MOCK_APERTURE_START;
        assertEquals(3 * 2048, d.mapPages(iova, pa, 2048, 3, RW));
        // P|R|W|L = 0xf; START 0x20; LAST 0x40
        assertEquals(pa | 0x2f, leafWord(d, iova));
        assertEquals((pa + 0x800) | 0x0f, leafWord(d, iova + 0x800));
        assertEquals((pa + 0x1000) | 0x4f, leafWord(d, iova + 0x1000));
        assertEquals(2048, d.mapPages(iova + 0x1800, pa + 0x1800, 2048, 1, IoProt.READ));
        assertEquals((pa + 0x1800) | 0x6b, leafWord(d, iova + 0x1800), "one-page read-only map: P|R|L|START|LAST");

        // table pointers: root[0] -> L1 with SW_COUNT 1 (one L0 pointer); L1[16] -> L0 with SW_COUNT 4 leaves
        long root0 = bench.memory.read64(d.rootTable());
        assertEquals((1L << 52) | 1, root0 & ~0xf_ffff_ffff_f000L, "P and count 1");
        long l1Entry = bench.memory.read64((root0 & 0xf_ffff_ffff_f000L) + 16 * 8);
        assertEquals((4L << 52) | 1, l1Entry & ~0xf_ffff_ffff_f000L, "P and count 4");

        for (int i = 0; i < 4; i++) {
            assertEquals(pa + i * 0x800 + 0x123, d.iovaToPhys(iova + i * 0x800 + 0x123));
            assertEquals(pa + i * 0x800 + 0x123,
                    MockTableWalker.physicalAddress(bench.memory, d.rootTable(), iova + i * 0x800 + 0x123));
        }
        assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(iova + 0x2000));
        IotlbGather g = new IotlbGather();
        assertEquals(3 * 2048, d.unmapPages(iova, 2048, 3, g));
        assertEquals(2048, d.unmapPages(iova + 0x1800, 2048, 1, g));
        d.iotlbSync(g);
        d.free();
        bench.memory.frames().free(pa, 1);
        assertEquals(0, bench.driver.warningCount());
    }

    @Test
    void unmapNotMatchingTheMapsIsAWarningAndUnmapsNothing() {
        MockDomain d = domain(bench.device(0), 0);
        long pa = bench.memory.frames().allocate(1);
        long iova = MOCK_APERTURE_START;
        d.mapPages(iova, pa, 2048, 4, RW);
        IotlbGather g = new IotlbGather();
        assertEquals(0, d.unmapPages(iova + 0x800, 2048, 3, g), "does not start on a START leaf");
        assertEquals(1, d.warningCount());
        assertEquals(0, d.unmapPages(iova, 2048, 3, g), "does not end on a LAST leaf");
        assertEquals(2, d.warningCount());
        assertEquals(2, bench.driver.warningCount());
        assertTrue(g.isEmpty());
        assertEquals(pa + 0x1800, d.iovaToPhys(iova + 0x1800), "nothing was unmapped");
        assertEquals(4 * 2048, d.unmapPages(iova, 2048, 4, g));
        assertEquals(iova, g.start());
        assertEquals(iova + 4 * 2048 - 1, g.end());
        d.iotlbSync(g);
        d.free();
    }

    @Test
    void unmapStopsAtAHoleAndAnUnmapSpanningTwoMapsIsFine() {
        MockDomain d = domain(bench.device(0), 0);
        long pa = bench.memory.frames().allocate(2);
        long iova = MOCK_APERTURE_START;
        d.mapPages(iova, pa, 2048, 2, RW);
        d.mapPages(iova + 0x1000, pa + 0x1000, 2048, 2, RW);
        IotlbGather g = new IotlbGather();
        assertEquals(0, d.unmapPages(iova + 0x4000, 2048, 1, g), "hole");
        assertEquals(4 * 2048, d.unmapPages(iova, 2048, 8, g), "two maps unmapped at once, stops at the hole");
        d.iotlbSync(g);
        assertFalse(d.hasMappings());
        assertEquals(0, d.warningCount());
        d.free();
    }

    @Test
    void emptiedTablesAreFreedOnlyAfterTheIotlbSync() {
        MockDomain d = domain(bench.device(0), 0);
        long afterAlloc = bench.allocatedFrames();
        long pa = bench.dataFrame();
        long iova = MOCK_APERTURE_START + (5L << 20);
        d.mapPages(iova, pa, 2048, 2, RW);
        assertEquals(afterAlloc + 1 + 2, bench.allocatedFrames(), "data frame + L1 + L0");
        IotlbGather g = new IotlbGather();
        d.unmapPages(iova, 2048, 2, g);
        assertEquals(2, g.freelistSize(), "L0 and L1 queued");
        assertEquals(afterAlloc + 3, bench.allocatedFrames(), "not freed before the sync");
        d.iotlbSync(g);
        assertEquals(afterAlloc + 1, bench.allocatedFrames());
        assertEquals(0, bench.memory.read64(d.rootTable()), "root entry cleared");
        d.free();
        bench.memory.frames().free(pa, 0);
    }

    @Test
    void badMapArgumentsAreEinvalAndMapNothing() {
        MockDomain d = domain(bench.device(0), 0);
        long pa = bench.dataFrame();
        long before = bench.allocatedFrames();
        long s = MOCK_APERTURE_START;
        assertErrno(Errno.EINVAL, () -> d.mapPages(s, pa, 4096, 1, RW), "pgsize not in the bitmap");
        assertErrno(Errno.EINVAL, () -> d.mapPages(s, pa, 1 << 20, 1, RW), "huge page on a 2 KiB domain");
        assertErrno(Errno.EINVAL, () -> d.mapPages(s + 0x400, pa, 2048, 1, RW), "unaligned iova");
        assertErrno(Errno.EINVAL, () -> d.mapPages(s, pa + 0x400, 2048, 1, RW), "unaligned paddr");
        assertErrno(Errno.EINVAL, () -> d.mapPages(s - 2048, pa, 2048, 1, RW), "below the aperture");
        assertErrno(Errno.EINVAL, () -> d.mapPages(MOCK_APERTURE_LAST + 1 - 2048, pa, 2048, 2, RW), "past the aperture");
        assertErrno(Errno.EINVAL, () -> d.mapPages(s, pa, 2048, 0, RW), "no pages");
        assertErrno(Errno.EINVAL, () -> d.mapPages(s, pa, 2048, 1, IoProt.CACHE), "neither READ nor WRITE");
        assertEquals(before, bench.allocatedFrames());
        assertFalse(d.hasMappings());
        d.free();
    }

    @Test
    void mappingOverAMappingIsEexistAndRollsBack() {
        MockDomain d = domain(bench.device(0), 0);
        long pa = bench.memory.frames().allocate(1);
        long s = MOCK_APERTURE_START;
        d.mapPages(s + 0x1000, pa, 2048, 1, RW);
        long before = bench.allocatedFrames();
        ErrnoException e = assertErrno(Errno.EEXIST, () -> d.mapPages(s, pa, 2048, 4, RW), "overlap at the 3rd page");
        assertEquals(0, e.progress(), "the driver unwound what it wrote");
        assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(s));
        assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(s + 0x800));
        assertEquals(pa, d.iovaToPhys(s + 0x1000), "the old mapping is intact");
        assertEquals(before, bench.allocatedFrames());
        IotlbGather g = new IotlbGather();
        assertEquals(2048, d.unmapPages(s + 0x1000, 2048, 1, g));
        d.iotlbSync(g);
        d.free();
        assertEquals(0, bench.driver.warningCount());
    }

    @Test
    void runningOutOfTableFramesIsEnomemWithNothingLeftBehind() {
        MockDomain d = domain(bench.device(0), 0);
        long pa = bench.dataFrame();
        long spare1 = bench.dataFrame();
        long spare2 = bench.dataFrame();
        List<long[]> hog = new ArrayList<>();
        for (int order = 18; order >= 0; order--) {
            for (;;) {
                try {
                    hog.add(new long[] {bench.memory.frames().allocate(order), order});
                } catch (ErrnoException e) {
                    break;
                }
            }
        }
        // give back two frames: the L1 table and the first L0 table fit, the second L0 table does not
        bench.memory.frames().free(spare1, 0);
        bench.memory.frames().free(spare2, 0);
        assertEquals(2, bench.memory.frames().freeFrames());
        long before = bench.allocatedFrames();
        long iova = MOCK_APERTURE_START + (1L << 20) - 4 * 2048; // 4 pages in one L0 table, 4 in the next
        ErrnoException e = assertErrno(Errno.ENOMEM, () -> d.mapPages(iova, pa, 2048, 8, RW), "second L0 table");
        assertEquals(0, e.progress());
        assertEquals(before, bench.allocatedFrames(), "the unwind freed the tables");
        assertFalse(d.hasMappings());
        for (long[] f : hog) {
            bench.memory.frames().free(f[0], (int) f[1]);
        }
        d.free();
        assertEquals(0, d.warningCount());
    }

    @Test
    void freeWithLiveMappingsIsAWarningButLeaksNothing() {
        long before = bench.allocatedFrames();
        MockDevice dev = bench.device(0);
        MockDomain d = domain(dev, 0);
        d.mapPages(MOCK_APERTURE_START, 0x10_0000L, 2048, 3, RW);
        d.free();
        assertEquals(1, d.warningCount());
        assertEquals(1, bench.driver.warningCount());
        assertEquals(before, bench.allocatedFrames());
    }

    @Test
    void hugeDomainsMapOneMegabyteBlockLeaves() {
        MockDomain d = domain(bench.device(MOCK_FLAGS_DEVICE_HUGE_IOVA), 0);
        long pa = bench.memory.frames().allocate(9); // 2 MiB, naturally aligned
        long iova = MOCK_APERTURE_START + (3L << 20);
        assertEquals(2L << 20, d.mapPages(iova, pa, 1 << 20, 2, RW));
        long r = MockTableWalker.walk(bench.memory, d.rootTable(), iova + 0x1234);
        assertEquals(MockTableWalker.RESULT_BLOCK, r & MockTableWalker.RESULT_BLOCK, "an L1 block leaf");
        assertEquals(pa | 0x2f, leafWord(d, iova), "block: P|R|W|L|START");
        assertEquals((pa + (1 << 20)) | 0x4f, leafWord(d, iova + (1 << 20)), "block: P|R|W|L|LAST");
        assertEquals(pa + 0x12_3456, d.iovaToPhys(iova + 0x12_3456));
        IotlbGather g = new IotlbGather();
        assertEquals(0, d.unmapPages(iova, 2048, 1, g), "2 KiB out of a 1 MiB leaf: refused");
        assertEquals(2L << 20, d.unmapPages(iova, 1 << 20, 2, g));
        d.iotlbSync(g);
        d.free();
        bench.memory.frames().free(pa, 9);
        assertEquals(0, d.warningCount());
    }

    @Test
    void concurrentMapsAndUnmapsOnDisjointRangesShareTablesSafely() throws Exception {
        MockDomain d = domain(bench.device(0), 0);
        long before = bench.allocatedFrames();
        int threads = 4;
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        List<Throwable> errors = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int id = t;
            Thread w = new Thread(() -> {
                try {
                    start.await();
                    IotlbGather g = new IotlbGather();
                    for (int round = 0; round < 200; round++) {
                        // interleaved 2 KiB pages: every thread touches the same L0 tables
                        for (int p = 0; p < 16; p++) {
                            long iova = MOCK_APERTURE_START + ((long) (p * threads + id) << 11);
                            d.mapPages(iova, 0x20_0000L + ((long) id << 11), 2048, 1, RW);
                        }
                        for (int p = 0; p < 16; p++) {
                            long iova = MOCK_APERTURE_START + ((long) (p * threads + id) << 11);
                            if (d.unmapPages(iova, 2048, 1, g) != 2048) {
                                throw new AssertionError("unmap failed at " + Long.toHexString(iova));
                            }
                        }
                        d.iotlbSync(g);
                        g.reset();
                    }
                } catch (Throwable e) {
                    synchronized (errors) {
                        errors.add(e);
                    }
                }
            });
            workers.add(w);
            w.start();
        }
        start.countDown();
        for (Thread w : workers) {
            w.join();
        }
        assertEquals(List.of(), errors);
        assertFalse(d.hasMappings());
        assertEquals(before, bench.allocatedFrames(), "every emptied table was freed exactly once");
        d.free();
        assertEquals(0, bench.driver.warningCount());
    }

    @Test
    void domainsFreeTheirTablesAndTags() {
        long before = bench.allocatedFrames();
        MockDevice dev = bench.device(0);
        MockDomain a = domain(dev, DomainAllocFlags.NEST_PARENT);
        MockDomain b = domain(dev, DomainAllocFlags.DIRTY_TRACKING | DomainAllocFlags.PASID);
        assertNotEquals(a.domainTag(), b.domainTag());
        assertEquals(DomainAllocFlags.DIRTY_TRACKING | DomainAllocFlags.PASID, b.allocFlags());
        int tagA = a.domainTag();
        a.free();
        b.free();
        MockDomain c = domain(dev, 0);
        assertEquals(tagA, c.domainTag(), "tags are reused after free");
        c.free();
        assertEquals(before, bench.allocatedFrames());
    }

    static ErrnoException assertErrno(Errno errno, org.junit.jupiter.api.function.Executable call, String why) {
        ErrnoException e = assertThrows(ErrnoException.class, call, why);
        assertEquals(errno, e.errno(), why + ": " + e.getMessage());
        return e;
    }
}
