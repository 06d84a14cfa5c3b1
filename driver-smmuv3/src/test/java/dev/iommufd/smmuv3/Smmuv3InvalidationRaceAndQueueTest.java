package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Translations racing with invalidations (IHI0070 4.7.3 / 3.21: once a CMD_SYNC that follows a TLBI has completed,
 * no translation starting afterwards may use what the TLBI invalidated), several StreamIDs translating at once,
 * and the driver's command batches across the ring's wrap (arm_smmu_cmdq_issue_cmdlist).
 */
class Smmuv3InvalidationRaceAndQueueTest {
    static final String BDF0 = "00:0a.0";
    static final String BDF1 = "00:0b.0";
    static final long IOVA = 0x40_0000L;
    /** Distinct targets the one IOVA is remapped to in turn: mapping k points at target k % TARGETS. */
    static final int TARGETS = 64;

    @Test
    void noStaleTranslationSurvivesACompletedSync() throws Exception {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF0), DriverBench.device(BDF1))) {
            PciFunction fn0 = b.function(BDF0);
            PciFunction fn1 = b.function(BDF1);
            DeviceHandle dev0 = b.driver.probeDevice(fn0);
            DeviceHandle dev1 = b.driver.probeDevice(fn1);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev0, 0, null);
            d.attachDevice(dev0);
            d.attachDevice(dev1);
            long targets = b.machine.memory().frames().allocate(6); // 64 pages
            IommuUnitModel unit = b.machine.iommuUnit(DriverBench.UNIT);
            // neighbours keep the leaf table alive and fill the TLB set with other entries
            d.mapPages(IOVA + 4096, targets, 4096, 32, IoProt.READ | IoProt.WRITE);
            // mapped: the newest mapping k that may exist; unmappedUpTo: every mapping <= it has been unmapped and synced
            AtomicLong mapped = new AtomicLong(-1);
            AtomicLong unmappedUpTo = new AtomicLong(-1);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<String> failure = new AtomicReference<>();
            AtomicLong checked = new AtomicLong();
            Thread[] translators = new Thread[2];
            for (int ti = 0; ti < 2; ti++) {
                int rid = (ti == 0 ? fn0 : fn1).rid();
                translators[ti] = new Thread(() -> {
                    Translation t = new Translation();
                    long n = 0;
                    while (!stop.get() && failure.get() == null) {
                        long u = unmappedUpTo.get();
                        unit.translate(rid, DmaAttributes.NO_PASID, IOVA + 8, Translation.ACCESS_READ, t);
                        long m = mapped.get();
                        if (t.isOk()) {
                            int target = (int) ((t.physicalAddress() - 8 - targets) >>> 12);
                            // the result must be a mapping k with u < k <= m (unique modulo TARGETS while m - u < TARGETS)
                            boolean fresh = false;
                            for (long k = u + 1; k <= m; k++) {
                                fresh |= k % TARGETS == target;
                            }
                            if (m - u < TARGETS && !fresh) {
                                failure.set("rid " + rid + " got target " + target + " after mapping " + u
                                        + " was unmapped and synced (newest " + m + ")");
                            }
                        }
                        n++;
                        // neighbours: hits and misses of other pages in the same sets
                        unit.translate(rid, DmaAttributes.NO_PASID, IOVA + 4096 * (1 + (n & 31)), Translation.ACCESS_READ, t);
                    }
                    checked.addAndGet(n);
                });
                translators[ti].start();
            }
            IotlbGather g = new IotlbGather();
            for (long k = 0; k < 8000 && failure.get() == null; k++) {
                long pa = targets + (k % TARGETS) * 4096;
                mapped.set(k); // before the PTE is written: a translation can see mapping k only once m >= k
                assertEquals(4096, d.mapPages(IOVA, pa, 4096, 1, IoProt.READ | IoProt.WRITE));
                if ((k & 3) == 0) {
                    Thread.yield(); // let the translators fill the TLB from this mapping
                }
                assertEquals(4096, d.unmapPages(IOVA, 4096, 1, g));
                d.iotlbSync(g);
                g.reset();
                unmappedUpTo.set(k);
            }
            stop.set(true);
            for (Thread t : translators) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            assertTrue(checked.get() > 0);
            // after the last sync: nothing translates
            Translation t = new Translation();
            assertTrue(!unit.translate(fn0.rid(), DmaAttributes.NO_PASID, IOVA, Translation.ACCESS_READ, t).isOk());
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }

    @Test
    void twoStreamsTranslateInParallelConsistently() throws Exception {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF0), DriverBench.device(BDF1))) {
            PciFunction fn0 = b.function(BDF0);
            PciFunction fn1 = b.function(BDF1);
            DeviceHandle dev0 = b.driver.probeDevice(fn0);
            DeviceHandle dev1 = b.driver.probeDevice(fn1);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev0, 0, null);
            d.attachDevice(dev0);
            d.attachDevice(dev1);
            long pa = b.machine.memory().frames().allocate(10); // 1024 pages
            assertEquals(1024 * 4096L, d.mapPages(IOVA, pa, 4096, 1024, IoProt.READ | IoProt.WRITE));
            IommuUnitModel unit = b.machine.iommuUnit(DriverBench.UNIT);
            AtomicReference<String> failure = new AtomicReference<>();
            Thread[] threads = new Thread[2];
            for (int ti = 0; ti < 2; ti++) {
                int rid = (ti == 0 ? fn0 : fn1).rid();
                int seed = ti;
                threads[ti] = new Thread(() -> {
                    Translation t = new Translation();
                    java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
                    for (int i = 0; i < 200_000 && failure.get() == null; i++) {
                        long page = r.nextInt(10) == 0 ? r.nextInt(1024) : r.nextInt(16);
                        long off = r.nextInt(4096) & ~7;
                        unit.translate(rid, DmaAttributes.NO_PASID, IOVA + page * 4096 + off, Translation.ACCESS_WRITE, t);
                        if (!t.isOk() || t.physicalAddress() != pa + page * 4096 + off) {
                            failure.set("rid " + rid + " page " + page + ": " + (t.isOk()
                                    ? Long.toHexString(t.physicalAddress()) : "fault " + t.faultReason()));
                        }
                    }
                });
                threads[ti].start();
            }
            for (Thread t : threads) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
        }
    }

    @Test
    void batchesLargerThanTheRingWrapInOrder() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF0))) {
            PciFunction fn = b.function(BDF0);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(0);
            IommuUnitModel unit = b.machine.iommuUnit(DriverBench.UNIT);
            d.mapPages(IOVA + 4096, pa, 4096, 1, IoProt.READ); // keeps the leaf table
            CommandQueue q = b.smmu().cmdq;
            int ring = 1 << b.smmu().features.cmdqShift;
            IotlbGather g = new IotlbGather();
            Translation t = new Translation();
            long[] c = new long[2];
            for (int round = 0; round < 5; round++) {
                assertEquals(4096, d.mapPages(IOVA, pa, 4096, 1, IoProt.READ | IoProt.WRITE));
                assertTrue(unit.translate(fn.rid(), DmaAttributes.NO_PASID, IOVA, Translation.ACCESS_READ, t).isOk());
                // the PTE is cleared without an invalidation: the TLB entry stays usable
                assertEquals(4096, d.unmapPages(IOVA, 4096, 1, g));
                g.reset();
                assertTrue(unit.translate(fn.rid(), DmaAttributes.NO_PASID, IOVA, Translation.ACCESS_READ, t).isOk(),
                        "stale TLB entry before the TLBI");
                long before = q.commandsIssued();
                int filler = ring + ring / 2 + round * 7; // more than the ring holds, and a moving start
                synchronized (q) {
                    for (int i = 0; i < filler; i++) {
                        Command.cfgiSte(c, fn.rid() + 1, false); // a StreamID with no configuration: harmless
                        q.add(c);
                    }
                    Command.tlbiNhAsid(c, 0, d.asid);
                    q.add(c);
                    if (round == 3) {
                        q.add(0x7fL, 0); // an illegal command inside a wrapped batch: skipped, the rest goes on
                    }
                    q.sync();
                }
                assertEquals(filler + 2 + (round == 3 ? 1 : 0), q.commandsIssued() - before);
                assertEquals(round >= 3 ? 1 : 0, q.errors());
                assertTrue(!unit.translate(fn.rid(), DmaAttributes.NO_PASID, IOVA, Translation.ACCESS_READ, t).isOk(),
                        "the TLBI at the end of the batch ran");
                int prod = b.machine.mmio().read32(b.smmu().regs + SmmuRegisters.CMDQ_PROD);
                int cons = b.machine.mmio().read32(b.smmu().regs + SmmuRegisters.CMDQ_CONS);
                assertEquals(prod, cons & ~(SmmuRegisters.CMDQ_CONS_ERR_MASK << SmmuRegisters.CMDQ_CONS_ERR_SHIFT),
                        "everything consumed");
            }
        }
    }
}
