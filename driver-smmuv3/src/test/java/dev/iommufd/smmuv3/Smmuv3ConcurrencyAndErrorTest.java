package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Concurrent map/unmap/DMA on disjoint ranges, and the command-queue error path (arm_smmu_cmdq_skip_err). */
class Smmuv3ConcurrencyAndErrorTest {
    static final String BDF = "00:0a.0";

    @Test
    void disjointRangesFromSeveralThreads() throws Exception {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                final long base = 0x4000_0000L + t * (2L << 20);
                final long pa = b.machine.memory().frames().allocate(0);
                threads.add(new Thread(() -> {
                    try {
                        IotlbGather g = new IotlbGather();
                        byte[] buf = new byte[8];
                        for (int i = 0; i < 200; i++) {
                            long iova = base + (i % 64) * 4096L;
                            d.mapPages(iova, pa, 4096, 1, IoProt.READ | IoProt.WRITE);
                            if (fn.dmaWrite(iova + 8, buf) != DmaStatus.OK) {
                                throw new AssertionError("DMA to a mapped page failed at " + Long.toHexString(iova));
                            }
                            d.unmapPages(iova, 4096, 1, g);
                            d.iotlbSync(g);
                            g.reset();
                            if (fn.dmaRead(iova, buf) != DmaStatus.FAULT) {
                                throw new AssertionError("DMA to an unmapped page succeeded at " + Long.toHexString(iova));
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }

    @Test
    void illegalCommandIsSkippedAndTheQueueGoesOn() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            CommandQueue q = b.smmu().cmdq;
            q.issueWithSync(new long[] {0x7f, 0}); // no such opcode: CERROR_ILL
            assertEquals(1, q.errors());
            assertEquals(SmmuRegisters.CERROR_ILL, q.lastError());
            int gerror = b.machine.mmio().read32(b.smmu().regs + SmmuRegisters.GERROR);
            int gerrorn = b.machine.mmio().read32(b.smmu().regs + SmmuRegisters.GERRORN);
            assertEquals(0, (gerror ^ gerrorn) & SmmuRegisters.GERROR_CMDQ_ERR, "acknowledged");
            assertTrue(b.smmu().gerrorInterrupts() >= 1, "GERROR MSI delivered");
            // the queue still works: a full attach with its CFGI/SYNC sequence
            DeviceHandle dev = b.driver.probeDevice(b.function(BDF));
            b.driver.identityDomain().attachDevice(dev);
            assertEquals(DmaStatus.OK, b.function(BDF).dmaRead(0x4000_0000L, new byte[4]));
            assertEquals(1, q.errors());
        }
    }
}
