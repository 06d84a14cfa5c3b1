package dev.iommufd.mock;

import static dev.iommufd.mock.MockSelftestUapi.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.iommufd.api.Errno;
import dev.iommufd.mock.hw.MockRegisters;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.PageResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * End to end: the driver programs the unit, a PCI function DMAs through it (PciFunction.dmaRead/dmaWrite), and the
 * bytes land in (or come from) the physical frames the domain maps.
 */
class MockDmaTest {
    private static final int RW = IoProt.READ | IoProt.WRITE;
    private static final long IOVA = MOCK_APERTURE_START + 0x4000;
    private final MockBench bench = new MockBench();

    @AfterEach
    void tearDown() {
        bench.close();
    }

    private MockDomain paging(MockDevice dev, int flags) {
        return (MockDomain) bench.driver.allocPagingDomain(dev, flags, null);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private long mmioRead64(long offset) {
        return bench.machine.mmio().read64(MockBench.MMIO_BASE + offset);
    }

    private void unmapAndSync(MockDomain d, long iova, long pages) {
        IotlbGather g = new IotlbGather();
        assertEquals(pages * 2048, d.unmapPages(iova, 2048, pages, g));
        d.iotlbSync(g);
    }

    @Test
    void aProbedDeviceIsBlockedUntilAttached() {
        MockDevice dev = bench.device(0);
        assertSame(bench.driver.blocked(), dev.domain());
        assertEquals(DmaStatus.FAULT, dev.function().dmaRead(IOVA, new byte[8]));
        long hi = mmioRead64(MockRegisters.frcdHi(0));
        assertEquals(3, (hi >>> 40) & 0xff, "REASON_BLOCKED recorded");
        assertEquals(dev.function().rid(), hi & 0xffff);
    }

    @Test
    void dmaThroughAPagingDomainReachesTheMappedFrame() {
        MockDevice dev = bench.device(0);
        MockDomain d = paging(dev, 0);
        d.attachDevice(dev);
        long pa = bench.dataFrame();
        d.mapPages(IOVA, pa, 2048, 2, RW);
        byte[] msg = bytes("hello through the mock IOMMU");
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(IOVA + 0x7f0, msg)); // crosses the 2 KiB page boundary
        byte[] back = new byte[msg.length];
        bench.memory.readBytes(pa + 0x7f0, back, 0, back.length);
        assertArrayEquals(msg, back);
        byte[] viaDma = new byte[msg.length];
        assertEquals(DmaStatus.OK, dev.function().dmaRead(IOVA + 0x7f0, viaDma));
        assertArrayEquals(msg, viaDma);
        assertEquals(DmaStatus.FAULT, dev.function().dmaRead(IOVA + 0x1000, new byte[4]), "past the mapping");
        bench.driver.blocked().attachDevice(dev);
        assertEquals(DmaStatus.FAULT, dev.function().dmaRead(IOVA, new byte[4]), "blocked again");
        unmapAndSync(d, IOVA, 2);
        d.free();
    }

    @Test
    void readOnlyMappingsFaultWrites() {
        MockDevice dev = bench.device(0);
        MockDomain d = paging(dev, 0);
        d.attachDevice(dev);
        long pa = bench.dataFrame();
        d.mapPages(IOVA, pa, 2048, 1, IoProt.READ);
        assertEquals(DmaStatus.OK, dev.function().dmaRead(IOVA, new byte[16]));
        assertEquals(DmaStatus.FAULT, dev.function().dmaWrite(IOVA, new byte[16]));
        long hi = mmioRead64(MockRegisters.frcdHi(0));
        assertEquals(5, (hi >>> 40) & 0xff, "REASON_PERMISSION");
        assertEquals(2, (hi >>> 37) & 7, "a write");
        assertEquals(IOVA, mmioRead64(MockRegisters.frcdLo(0)));
        unmapAndSync(d, IOVA, 1);
        d.free();
    }

    @Test
    void unmappedIovaKeepsTranslatingUntilTheIotlbSync() {
        MockDevice dev = bench.device(0);
        MockDomain d = paging(dev, 0);
        d.attachDevice(dev);
        long pa = bench.dataFrame();
        d.mapPages(IOVA, pa, 2048, 1, RW);
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(IOVA, bytes("warm")));
        IotlbGather g = new IotlbGather();
        assertEquals(2048, d.unmapPages(IOVA, 2048, 1, g));
        assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(IOVA), "gone from the table");
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(IOVA, bytes("stale")),
                "the unit's IOTLB still holds the translation: a driver that forgot to invalidate would leak DMA");
        d.iotlbSync(g);
        assertEquals(DmaStatus.FAULT, dev.function().dmaWrite(IOVA, bytes("gone")), "invalidated");
        d.free();
    }

    @Test
    void aDriverThatForgetsToInvalidateLeavesDmaReachingUnmappedMemory() {
        MockDevice dev = bench.device(0);
        MockDomain d = paging(dev, 0);
        d.attachDevice(dev);
        long pa = bench.dataFrame();
        d.mapPages(IOVA, pa, 2048, 1, RW);
        assertEquals(DmaStatus.OK, dev.function().dmaRead(IOVA, new byte[4]));
        bench.driver.setInvalidationSuppressed(true);
        unmapAndSync(d, IOVA, 1);
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(IOVA, bytes("leak")), "the TCK's negative case");
        assertEquals('l', bench.memory.read8(pa));
        d.flushIotlbAll();
        assertEquals(DmaStatus.OK, dev.function().dmaRead(IOVA, new byte[4]), "flush suppressed too");
        bench.driver.setInvalidationSuppressed(false);
        d.flushIotlbAll();
        assertEquals(DmaStatus.FAULT, dev.function().dmaRead(IOVA, new byte[4]));
        bench.driver.blocked().attachDevice(dev);
        d.free();
    }

    @Test
    void anInjectedMapFailureIsEnoentAndMapsNothing() {
        MockDevice dev = bench.device(0);
        MockDomain d = paging(dev, 0);
        long pa = bench.dataFrame();
        int[] calls = {0};
        bench.driver.setMapFailureInjector(() -> ++calls[0] == 2);
        d.mapPages(IOVA, pa, 2048, 1, RW);
        MockPagingDomainTest.assertErrno(Errno.ENOENT, () -> d.mapPages(IOVA + 0x800, pa, 2048, 1, RW),
                "the second call fails");
        assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(IOVA + 0x800));
        d.mapPages(IOVA + 0x800, pa, 2048, 1, RW);
        bench.driver.setMapFailureInjector(null);
        unmapAndSync(d, IOVA, 2);
        d.free();
        assertEquals(3, calls[0]);
    }

    @Test
    void flushIotlbAllDropsEveryTranslationOfTheDomain() {
        MockDevice dev = bench.device(0);
        MockDomain d = paging(dev, 0);
        d.attachDevice(dev);
        long pa = bench.dataFrame();
        d.mapPages(IOVA, pa, 2048, 1, RW);
        assertEquals(DmaStatus.OK, dev.function().dmaRead(IOVA, new byte[4]));
        IotlbGather g = new IotlbGather();
        d.unmapPages(IOVA, 2048, 1, g);
        assertEquals(DmaStatus.OK, dev.function().dmaRead(IOVA, new byte[4]), "stale");
        d.flushIotlbAll();
        assertEquals(DmaStatus.FAULT, dev.function().dmaRead(IOVA, new byte[4]));
        d.iotlbSync(g);
        d.free();
    }

    @Test
    void dmaThroughAOneMegabyteIopte() {
        MockDevice dev = bench.device(MOCK_FLAGS_DEVICE_HUGE_IOVA);
        MockDomain d = paging(dev, 0);
        d.attachDevice(dev);
        long pa = bench.memory.frames().allocate(8); // 1 MiB, naturally aligned
        long iova = MOCK_APERTURE_START + (7L << 20);
        d.mapPages(iova, pa, 1 << 20, 1, RW);
        byte[] big = new byte[6000];
        java.util.Arrays.fill(big, (byte) 0x5a);
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(DmaAttributes.NONE, iova + 0xf_f000, big, 0, 4096));
        assertEquals(DmaStatus.FAULT, dev.function().dmaWrite(DmaAttributes.NONE, iova + 0xf_f000, big, 0, 6000),
                "runs past the block into unmapped IOVA");
        assertEquals(0x5a, bench.memory.read8(pa + 0xf_ffff), "bytes before the failing page were transferred");
        long misses = bench.machine.mmio().read64(MockBench.MMIO_BASE + MockRegisters.IOTLB_MISSES);
        byte[] small = new byte[16];
        assertEquals(DmaStatus.OK, dev.function().dmaRead(iova + 0x1000, small));
        assertEquals(DmaStatus.OK, dev.function().dmaRead(iova + 0x1000, small));
        assertEquals(misses + 1, bench.machine.mmio().read64(MockBench.MMIO_BASE + MockRegisters.IOTLB_MISSES),
                "the second read hit the IOTLB");
        IotlbGather g = new IotlbGather();
        assertEquals(1 << 20, d.unmapPages(iova, 1 << 20, 1, g));
        d.iotlbSync(g);
        assertEquals(DmaStatus.FAULT, dev.function().dmaRead(iova + 0x1000, small));
        bench.driver.blocked().attachDevice(dev);
        d.free();
        bench.memory.frames().free(pa, 8);
    }

    @Test
    void identityDomainPassesPhysicalAddresses() {
        MockDevice dev = bench.device(0);
        long pa = bench.dataFrame();
        bench.driver.identity().attachDevice(dev);
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(pa + 8, bytes("identity")));
        byte[] back = new byte[8];
        bench.memory.readBytes(pa + 8, back, 0, 8);
        assertArrayEquals(bytes("identity"), back);
    }

    @Test
    void replacingTheDomainSwitchesTranslationAtOnce() {
        MockDevice dev = bench.device(0);
        MockDomain a = paging(dev, 0);
        MockDomain b = paging(dev, 0);
        long paA = bench.dataFrame();
        long paB = bench.dataFrame();
        a.mapPages(IOVA, paA, 2048, 1, RW);
        b.mapPages(IOVA, paB, 2048, 1, RW);
        a.attachDevice(dev);
        dev.function().dmaWrite(IOVA, bytes("A"));
        b.attachDevice(dev);
        dev.function().dmaWrite(IOVA, bytes("B"));
        assertEquals('A', bench.memory.read8(paA));
        assertEquals('B', bench.memory.read8(paB), "no stale translation of domain A (IOTLB tagged by domain)");
        bench.driver.blocked().attachDevice(dev);
        unmapAndSync(a, IOVA, 1);
        unmapAndSync(b, IOVA, 1);
        a.free();
        b.free();
    }

    @Test
    void nestedDomainTranslatesLikeItsParent() {
        MockDevice dev = bench.device(0);
        MockDomain parent = paging(dev, DomainAllocFlags.NEST_PARENT);
        IommuDomain nested = bench.driver.allocNestedDomain(dev, parent, 0, MockDriverSemanticsTest.selftestData(7));
        long pa = bench.dataFrame();
        parent.mapPages(IOVA, pa, 2048, 1, RW);
        nested.attachDevice(dev);
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(IOVA + 3, bytes("N")));
        assertEquals('N', bench.memory.read8(pa + 3));
        bench.driver.blocked().attachDevice(dev);
        nested.free();
        unmapAndSync(parent, IOVA, 1);
        parent.free();
    }

    @Test
    void pasidTaggedDmaUsesThePasidDomain() {
        MockDevice dev = bench.device(MOCK_FLAGS_DEVICE_PASID);
        assertEquals(20, dev.maxPasidLog2());
        MockDomain rid = paging(dev, DomainAllocFlags.PASID);
        MockDomain p = paging(dev, DomainAllocFlags.PASID);
        long paRid = bench.dataFrame();
        long paPasid = bench.dataFrame();
        rid.mapPages(IOVA, paRid, 2048, 1, RW);
        p.mapPages(IOVA, paPasid, 2048, 1, RW);
        rid.attachDevice(dev);
        long before = bench.allocatedFrames();
        p.setDevicePasid(dev, 0x1234, bench.driver.blocked());
        assertEquals(before + 4 + 1, bench.allocatedFrames(), "PASID directory (16 KiB) + one PASID table");
        assertSame(p, dev.pasidDomain(0x1234));
        byte[] one = {1};
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(DmaAttributes.pasid(0x1234), IOVA, one, 0, 1));
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(DmaAttributes.NONE, IOVA + 1, one, 0, 1));
        assertEquals(1, bench.memory.read8(paPasid));
        assertEquals(1, bench.memory.read8(paRid + 1));
        assertEquals(0, bench.memory.read8(paRid), "RID DMA did not go to the PASID domain's frame");
        assertEquals(DmaStatus.FAULT, dev.function().dmaWrite(DmaAttributes.pasid(0x1235), IOVA, one, 0, 1));
        bench.driver.blocked().setDevicePasid(dev, 0x1234, p);
        assertNull(dev.pasidDomain(0x1234));
        assertEquals(DmaStatus.FAULT, dev.function().dmaWrite(DmaAttributes.pasid(0x1234), IOVA, one, 0, 1));
        bench.driver.releaseDevice(dev);
        assertEquals(before, bench.allocatedFrames(), "release frees the PASID tables");
        unmapAndSync(rid, IOVA, 1);
        unmapAndSync(p, IOVA, 1);
        rid.free();
        p.free();
    }

    @Test
    void aFaultOfAPriDeviceReachesTheFaultSinkAndTheResponseTheUnit() {
        MockDevice dev = bench.device(MOCK_FLAGS_DEVICE_PASID, true);
        MockDomain d = paging(dev, DomainAllocFlags.PASID);
        d.attachDevice(dev);
        d.setDevicePasid(dev, 9, bench.driver.blocked());
        assertEquals(DmaStatus.PAGE_REQUEST, dev.function().dmaWrite(DmaAttributes.pasid(9), IOVA + 0x1abc, new byte[4], 0, 4));
        assertEquals(1, bench.faults.size());
        IoPageFault f = bench.faults.get(0);
        assertSame(dev, bench.faultDevices.get(0));
        assertEquals(IoPageFault.FLAG_LAST_PAGE | IoPageFault.FLAG_PASID_VALID, f.flags());
        assertEquals(9, f.pasid());
        assertEquals(IoPageFault.PERM_WRITE, f.perm());
        assertEquals(IOVA + 0x1000, f.addr(), "4 KiB page address");
        assertEquals(0, bench.machine.mmio().read32(MockBench.MMIO_BASE + MockRegisters.FSTS) & 0xf,
                "no fault record: a page request instead");

        bench.driver.pageResponse(dev, new PageResponse(9, true, f.grpid(), PageResponse.SUCCESS));
        assertEquals(1, dev.pageResponseCount());
        long prs = bench.machine.mmio().read64(MockBench.MMIO_BASE + MockRegisters.PRS_LAST);
        assertEquals(MockRegisters.pageResponse(dev.function().rid(), 9, true, f.grpid(), PageResponse.SUCCESS), prs);
        assertEquals(1, bench.machine.mmio().read32(MockBench.MMIO_BASE + MockRegisters.PRS_COUNT));

        assertEquals(DmaStatus.PAGE_REQUEST, dev.function().dmaRead(IOVA, new byte[4]));
        assertEquals(IoPageFault.FLAG_LAST_PAGE, bench.faults.get(1).flags(), "untagged request: no PASID_VALID");
        assertEquals(IoPageFault.PERM_READ, bench.faults.get(1).perm());
        assertNotEquals(f.grpid(), bench.faults.get(1).grpid(), "a new page request group");
        bench.driver.blocked().attachDevice(dev);
        bench.driver.blocked().setDevicePasid(dev, 9, d);
        d.free();
    }

    @Test
    void dmaWritesMarkIoptesDirtyOnlyWhileTrackingIsEnabled() {
        MockDevice dev = bench.device(0);
        MockDomain d = paging(dev, DomainAllocFlags.DIRTY_TRACKING);
        d.attachDevice(dev);
        long pa = bench.memory.frames().allocate(1);
        d.mapPages(IOVA, pa, 2048, 4, RW);
        Recorder r = new Recorder();
        dev.function().dmaWrite(IOVA, new byte[4]);
        d.setDirtyTracking(true);
        d.readAndClearDirty(IOVA, 4 * 2048, 0, r);
        assertEquals(List.of(), r.ranges, "the write before enabling left no dirty bit");
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(IOVA + 0x1000, new byte[4]), "writes page 2 (cached? no)");
        assertEquals(DmaStatus.OK, dev.function().dmaWrite(IOVA, new byte[4]), "page 0 was cached before tracking");
        assertEquals(DmaStatus.OK, dev.function().dmaRead(IOVA + 0x800, new byte[4]), "a read dirties nothing");
        d.readAndClearDirty(IOVA, 4 * 2048, IommuDomain.DIRTY_NO_CLEAR, r);
        assertEquals(List.of(IOVA, 2048L, IOVA + 0x1000, 2048L), r.ranges);
        r.ranges.clear();
        d.readAndClearDirty(IOVA, 4 * 2048, 0, r);
        assertEquals(List.of(IOVA, 2048L, IOVA + 0x1000, 2048L), r.ranges, "NO_CLEAR kept them");
        r.ranges.clear();
        d.readAndClearDirty(IOVA, 4 * 2048, 0, r);
        assertEquals(List.of(), r.ranges, "cleared");
        d.iotlbSync(r.gather); // the core flushes after clearing, so the next write sets D again
        r.gather.reset();
        dev.function().dmaWrite(IOVA + 0x1800, new byte[1]);
        d.readAndClearDirty(IOVA, 4 * 2048, 0, r);
        assertEquals(List.of(IOVA + 0x1800, 2048L), r.ranges);
        d.setDirtyTracking(false);
        d.iotlbSync(r.gather);
        r.gather.reset();
        dev.function().dmaWrite(IOVA, new byte[1]);
        d.setDirtyTracking(true);
        r.ranges.clear();
        d.readAndClearDirty(IOVA, 4 * 2048, 0, r);
        assertEquals(List.of(), r.ranges, "no dirty bit while tracking was off");
        bench.driver.blocked().attachDevice(dev);
        unmapAndSync(d, IOVA, 4);
        d.free();
        bench.memory.frames().free(pa, 1);
    }

    /** Records dirty ranges as (iova, length) pairs. */
    static final class Recorder implements DirtyRecorder {
        final List<Long> ranges = new ArrayList<>();
        final IotlbGather gather = new IotlbGather();

        @Override
        public void record(long iova, long length) {
            ranges.add(iova);
            ranges.add(length);
            gather.addRange(iova, length);
        }

        @Override
        public IotlbGather gather() {
            return gather;
        }
    }
}
