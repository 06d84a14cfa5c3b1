package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.Translation;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The driver's invalidations against the model's walk cache (IHI0070 3.17): when a table is freed, the driver's
 * TLBI must have Leaf=0 (Linux: {@code io_pgtable_tlb_flush_walk}, or {@code arm_smmu_tlb_inv_range_domain} with
 * {@code leaf=false} for a gather holding freed tables), or the device keeps walking the freed table. Each test
 * caches a walk through a level-3 table, frees that table through the driver, maps a 2 MiB block in its place and
 * checks that the device reaches the block.
 */
class Smmuv3WalkCacheDriverTest {
    static final String BDF = "00:02.0";
    static final int RW = IoProt.READ | IoProt.WRITE;
    static final long IOVA = 0x4000_0000L; // 2 MiB aligned
    static final long BLOCK = 2L << 20;

    private static long translate(DriverBench b, PciFunction fn, long iova) {
        Translation t = b.machine.iommuUnit(DriverBench.UNIT).translate(fn.rid(), -1, iova, 1, new Translation());
        return t.isOk() ? t.physicalAddress() : -t.faultReason();
    }

    @Test
    void unmappingATableWholeInvalidatesTheWalkCacheBeforeTheTableIsReused() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pages = b.machine.memory().frames().allocate(9);
            long block = b.machine.memory().frames().allocate(9);
            assertEquals(BLOCK, d.mapPages(IOVA, pages, 4096, 512, RW));
            assertEquals(DmaStatus.OK, fn.dmaRead(IOVA, new byte[8])); // caches the walk to the level-3 table
            IotlbGather g = new IotlbGather();
            assertEquals(BLOCK, d.unmapPages(IOVA, BLOCK, 1, g), "the level-3 table is removed whole");
            assertEquals(1, g.freelistSize());
            d.iotlbSync(g);
            g.reset();
            assertEquals(BLOCK, d.mapPages(IOVA, block, BLOCK, 1, RW));
            assertEquals(block + 0x1234, translate(b, fn, IOVA + 0x1234), "a walk from a stale walk-cache entry");
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }

    @Test
    void aBlockReplacingAnEmptyTableFlushesTheWalk() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pages = b.machine.memory().frames().allocate(9);
            long block = b.machine.memory().frames().allocate(9);
            assertEquals(BLOCK, d.mapPages(IOVA, pages, 4096, 512, RW));
            assertEquals(DmaStatus.OK, fn.dmaRead(IOVA + 0x5000, new byte[8]));
            IotlbGather g = new IotlbGather();
            assertEquals(BLOCK, d.unmapPages(IOVA, 4096, 512, g), "leaves the emptied level-3 table in place");
            assertEquals(0, g.freelistSize());
            d.iotlbSync(g); // Leaf=1: nothing but leaves changed
            g.reset();
            // arm_lpae_init_pte: a table where the block goes is freed after io_pgtable_tlb_flush_walk (Leaf=0)
            assertEquals(BLOCK, d.mapPages(IOVA, block, BLOCK, 1, RW));
            assertEquals(block + 0x5678, translate(b, fn, IOVA + 0x5678), "a walk from a stale walk-cache entry");
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }
}
