package dev.iommufd.mock;

import static dev.iommufd.mock.MockSelftestUapi.MOCK_APERTURE_START;
import static org.junit.jupiter.api.Assertions.*;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Map, unmap, IOTLB sync, iova_to_phys and DMA translation (IOTLB hit and walk) allocate no Java objects in steady
 * state. Counts bytes with the JVM's per-thread allocation counter; no timing.
 */
class MockHotPathAllocationTest {
    private static final int CYCLES = 20_000;
    private final MockBench bench = new MockBench();

    @AfterEach
    void tearDown() {
        bench.close();
    }

    @Test
    void steadyStateMapUnmapSyncAndDmaAllocateNothing() {
        java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(mx instanceof com.sun.management.ThreadMXBean, "needs HotSpot's allocation counter");
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) mx;
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled());

        MockDevice dev = bench.device(0);
        MockDomain d = (MockDomain) bench.driver.allocPagingDomain(dev, 0, null);
        d.attachDevice(dev);
        long pa = bench.memory.frames().allocate(2);
        long iova = MOCK_APERTURE_START;
        int rw = IoProt.READ | IoProt.WRITE;
        d.mapPages(iova + 0x4000, pa, 2048, 1, rw); // keeps the tables alive between cycles
        byte[] buf = new byte[64];
        IotlbGather gather = new IotlbGather();
        long sink = 0;
        long id = Thread.currentThread().getId();
        long allocated = 0;
        for (int round = 0; round < 3; round++) {
            long before = threads.getThreadAllocatedBytes(id);
            for (int i = 0; i < CYCLES; i++) {
                d.mapPages(iova, pa, 2048, 8, rw);
                sink += d.iovaToPhys(iova + 0x1234);
                if (dev.function().dmaWrite(DmaAttributes.NONE, iova + 0x7e0, buf, 0, buf.length) != DmaStatus.OK) {
                    fail("DMA failed");
                }
                dev.function().dmaRead(DmaAttributes.NONE, iova + 0x100, buf, 0, buf.length);
                d.unmapPages(iova, 2048, 8, gather);
                d.iotlbSync(gather);
                gather.reset();
            }
            allocated = threads.getThreadAllocatedBytes(id) - before;
            if (allocated < CYCLES) {
                break;
            }
        }
        assertNotEquals(0, sink);
        // One object per operation would be at least 16 bytes per cycle; the counter itself and JIT transitions can
        // account for a few dozen bytes per round, so the bound is below one byte per cycle.
        assertTrue(allocated < CYCLES, allocated + " bytes allocated by " + CYCLES + " map/DMA/unmap/sync cycles");
        d.unmapPages(iova + 0x4000, 2048, 1, gather);
        d.iotlbSync(gather);
        bench.driver.blocked().attachDevice(dev);
        d.free();
        bench.memory.frames().free(pa, 2);
    }
}
