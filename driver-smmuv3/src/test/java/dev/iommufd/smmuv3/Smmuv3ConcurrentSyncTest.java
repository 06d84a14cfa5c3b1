package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Two threads issue TLBI + CMD_SYNC through one SMMU's command queue at once ({@code arm_smmu_cmdq_issue_cmdlist}
 * from two CPUs): each remaps a page of its own window of one shared domain, with a translation cached in the TLB
 * in between, and checks after its sync that its device reaches the new page. A CMD_SYNC that returned before the
 * SMMU consumed it (its commands published by the other thread's CMDQ_PROD write) leaves the old translation in
 * the TLB, and the check fails.
 */
class Smmuv3ConcurrentSyncTest {
    static final int ROUNDS = 20_000;
    static final int RW = IoProt.READ | IoProt.WRITE;

    @ParameterizedTest
    @ValueSource(strings = {"qemu", "server"})
    void noThreadReturnsFromSyncBeforeItsOwnInvalidationExecuted(String preset) throws Exception {
        try (DriverBench b = new DriverBench(preset, Map.of(), DriverBench.device("00:02.0"), DriverBench.device("00:03.0"))) {
            PciFunction[] fns = {b.function("00:02.0"), b.function("00:03.0")};
            DeviceHandle[] devs = {b.driver.probeDevice(fns[0]), b.driver.probeDevice(fns[1])};
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(devs[0], 0, null);
            d.attachDevice(devs[0]);
            d.attachDevice(devs[1]);
            IommuUnitModel model = b.machine.iommuUnit(DriverBench.UNIT);
            long pa = b.machine.memory().frames().allocate(4);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CyclicBarrier start = new CyclicBarrier(2);
            Thread[] threads = new Thread[2];
            for (int ti = 0; ti < 2; ti++) {
                int me = ti;
                threads[ti] = new Thread(() -> {
                    long iova = (me + 1L) << 30; // own 1 GiB window
                    int rid = fns[me].rid();
                    IotlbGather g = new IotlbGather();
                    Translation t = new Translation();
                    try {
                        start.await();
                        for (int r = 0; r < ROUNDS; r++) {
                            long target = pa + ((r + me) % 16) * 4096L;
                            d.mapPages(iova, target, 4096, 1, RW);
                            model.translate(rid, -1, iova, Translation.ACCESS_READ, t);
                            assertEquals(target, t.physicalAddress(), "round " + r + " before the remap");
                            assertEquals(4096, d.unmapPages(iova, 4096, 1, g));
                            d.iotlbSync(g); // must not return before this thread's TLBI was consumed
                            g.reset();
                            long next = pa + ((r + me + 1) % 16) * 4096L;
                            d.mapPages(iova, next, 4096, 1, RW);
                            model.translate(rid, -1, iova, Translation.ACCESS_READ, t);
                            assertEquals(next, t.physicalAddress(), "round " + r + ": a stale TLB entry after the sync");
                            assertEquals(4096, d.unmapPages(iova, 4096, 1, g));
                            d.iotlbSync(g);
                            g.reset();
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
                threads[ti].start();
            }
            for (Thread t : threads) {
                t.join();
            }
            assertNull(failure.get(), () -> "thread failed: " + failure.get());
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }

    /**
     * {@code arm_smmu_cmdq_skip_err} with two issuers: one thread's batches hold an illegal command (the SMMU stops
     * before the following CMD_SYNC with CMDQ_CONS.ERR = CERROR_ILL), the other's are valid. Whichever waiter sees
     * GERROR.CMDQ_ERR replaces the command with a CMD_SYNC and acknowledges it, so both threads' CMD_SYNCs complete
     * and every illegal command is counted once.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qemu", "server"})
    void illegalCommandsOfOneThreadDoNotStallTheOther(String preset) throws Exception {
        try (DriverBench b = new DriverBench(preset, Map.of(), DriverBench.device("00:02.0"))) {
            CommandQueue q = b.smmu().cmdq;
            long errorsBefore = q.errors();
            int illegal = 2_000;
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CyclicBarrier start = new CyclicBarrier(2);
            Thread bad = new Thread(() -> {
                try {
                    start.await();
                    long[] c = new long[2];
                    for (int r = 0; r < illegal; r++) {
                        c[0] = 0xff; // no such opcode: CERROR_ILL
                        c[1] = 0;
                        q.issueWithSync(c);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            Thread good = new Thread(() -> {
                try {
                    start.await();
                    long[] c = new long[2];
                    for (int r = 0; r < 20_000; r++) {
                        dev.iommufd.smmuv3.layout.Command.tlbiNhAsid(c, 0, 7);
                        q.issueWithSync(c);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            bad.start();
            good.start();
            bad.join();
            good.join();
            assertNull(failure.get(), () -> "thread failed: " + failure.get());
            assertEquals(illegal, q.errors() - errorsBefore);
            assertEquals(dev.iommufd.smmuv3.layout.SmmuRegisters.CERROR_ILL, q.lastError());
        }
    }
}
