package dev.iommufd.mock;

import static dev.iommufd.mock.MockSelftestUapi.MOCK_APERTURE_START;
import static org.junit.jupiter.api.Assertions.*;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A device keeps DMAing to an IOVA while software maps and unmaps it: once unmap + IOTLB sync have returned, no
 * translation may survive. (A stress test: it fails for a driver or unit that does not invalidate; the narrow race
 * of a walk overlapping the invalidation is pinned deterministically by {@code MockIotlbTest}.)
 */
class MockConcurrentInvalidationTest {

    @Test
    void noTranslationSurvivesAnUnmapAndSyncWhileAnotherDeviceThreadWalks() throws Exception {
        try (MockBench bench = new MockBench()) {
            MockDevice dev = bench.device(0);
            MockDomain d = (MockDomain) bench.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = bench.dataFrame();
            long iova = MOCK_APERTURE_START;
            d.mapPages(iova + 0x800, pa, 2048, 1, IoProt.READ); // keeps the tables alive
            AtomicBoolean stop = new AtomicBoolean();
            Thread hammer = new Thread(() -> {
                byte[] b = new byte[8];
                while (!stop.get()) {
                    dev.function().dmaRead(DmaAttributes.NONE, iova, b, 0, b.length);
                }
            });
            hammer.start();
            IotlbGather g = new IotlbGather();
            byte[] probe = new byte[8];
            int stale = 0;
            try {
                for (int i = 0; i < 3000; i++) {
                    d.mapPages(iova, pa, 2048, 1, IoProt.READ);
                    assertEquals(2048, d.unmapPages(iova, 2048, 1, g));
                    d.iotlbSync(g);
                    g.reset();
                    if (dev.function().dmaRead(DmaAttributes.NONE, iova, probe, 0, probe.length) != DmaStatus.FAULT) {
                        stale++;
                    }
                }
            } finally {
                stop.set(true);
                hammer.join();
            }
            assertEquals(0, stale, "translations that outlived unmap + sync");
            d.unmapPages(iova + 0x800, 2048, 1, g);
            d.iotlbSync(g);
            bench.driver.blocked().attachDevice(dev);
            d.free();
        }
    }
}
