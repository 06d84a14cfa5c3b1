package dev.iommufd.vtd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Map, unmap, IOTLB invalidation (iotlbSync through the invalidation queue or the IOTLB registers) and a
 * translation that hits the IOTLB allocate no Java objects in steady state. Counts bytes with the JVM's
 * per-thread allocation counter; no timing.
 */
class HotPathAllocationTest {

    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
                .getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    @ParameterizedTest
    @ValueSource(strings = {"qemu", "server"})
    void mapUnmapSyncAndTranslateHitAllocateNothing(String preset) {
        Assumptions.assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
        try (DriverBench b = new DriverBench(preset, PciFunctionSpec.endpoint("00:04.0", "dmar0"))) {
            VtdDevice dev = b.probe("00:04.0");
            PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = b.mem.frames().allocate(4);
            IotlbGather g = new IotlbGather();
            IommuUnitModel unit = b.machine.iommuUnit("dmar0");
            Translation t = new Translation();
            int rid = dev.rid;
            // table pages for the range exist after the first round; later rounds reuse them (4 pages never empty a table)
            d.mapPages(0x10_0000, pa, 4096, 16, IoProt.READ | IoProt.WRITE);
            long round = 0;
            for (int warm = 0; warm < 2000; warm++) {
                round += cycle(d, unit, t, rid, pa, g);
            }
            long b0 = allocated();
            long probe = allocated() - b0; // what reading the counter itself costs
            long before = allocated();
            for (int i = 0; i < 10_000; i++) {
                round += cycle(d, unit, t, rid, pa, g);
            }
            long bytes = allocated() - before - probe;
            assertTrue(round > 0);
            // one allocation per round would be at least 160 000 bytes; JIT noise stays far below one object
            assertTrue(bytes < 1024, "bytes allocated by 10 000 map/translate/unmap/sync rounds: " + bytes);
        }
    }

    private static long cycle(PagingDomain d, IommuUnitModel unit, Translation t, int rid, long pa, IotlbGather g) {
        long m = d.mapPages(0x20_0000, pa, 4096, 4, IoProt.READ | IoProt.WRITE);
        long sum = 0;
        for (int i = 0; i < 8; i++) {
            unit.translate(rid, DmaAttributes.NO_PASID, 0x10_0000 + (i & 3) * 4096L, Translation.ACCESS_READ, t);
            sum += t.physicalAddress();
            sum += d.iovaToPhys(0x20_1000);
        }
        long u = d.unmapPages(0x20_0000, 4096, 4, g);
        d.iotlbSync(g);
        g.reset();
        return m + u + (sum & 1);
    }
}
