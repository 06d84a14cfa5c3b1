package dev.iommufd.vtd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.VtdRegisters;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Two threads invalidate through one unit's invalidation queue at once (Linux qi_submit_sync from two CPUs): each
 * remaps a page of its own window of one shared domain, with a translation cached in the IOTLB in between, and
 * checks after its sync that its device reaches the new page. A submission that returned before the hardware
 * executed its own invalidation (its descriptors published by the other thread's IQT write, its wait descriptor
 * not yet executed) leaves the old translation in the IOTLB, and the check fails.
 */
class ConcurrentInvalidationTest {
    static final int ROUNDS = 20_000;

    @ParameterizedTest
    @ValueSource(strings = {"qemu", "server"})
    void noThreadReturnsFromSyncBeforeItsOwnInvalidationExecuted(String preset) throws Exception {
        try (DriverBench b = new DriverBench(preset, PciFunctionSpec.endpoint("00:04.0", "dmar0"),
                PciFunctionSpec.endpoint("00:05.0", "dmar0"))) {
            VtdDevice[] devs = {b.probe("00:04.0"), b.probe("00:05.0")};
            PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(devs[0], 0, null);
            d.attachDevice(devs[0]);
            d.attachDevice(devs[1]);
            IommuUnitModel model = b.machine.iommuUnit("dmar0");
            long pa = b.mem.frames().allocate(4);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CyclicBarrier start = new CyclicBarrier(2);
            Thread[] threads = new Thread[2];
            for (int ti = 0; ti < 2; ti++) {
                int me = ti;
                threads[ti] = new Thread(() -> {
                    long iova = (me + 1L) << 30; // own 1 GiB window
                    int rid = devs[me].rid;
                    IotlbGather g = new IotlbGather();
                    Translation t = new Translation();
                    try {
                        start.await();
                        for (int r = 0; r < ROUNDS; r++) {
                            long target = pa + ((r + me) % 16) * 4096L;
                            d.mapPages(iova, target, 4096, 1, IoProt.READ | IoProt.WRITE);
                            model.translate(rid, DmaAttributes.NO_PASID, iova, Translation.ACCESS_READ, t);
                            assertEquals(target, t.physicalAddress(), "round " + r + " before the remap");
                            assertEquals(4096, d.unmapPages(iova, 4096, 1, g));
                            d.iotlbSync(g); // must not return before this thread's invalidation executed
                            g.reset();
                            long next = pa + ((r + me + 1) % 16) * 4096L;
                            d.mapPages(iova, next, 4096, 1, IoProt.READ | IoProt.WRITE);
                            model.translate(rid, DmaAttributes.NO_PASID, iova, Translation.ACCESS_READ, t);
                            assertEquals(next, t.physicalAddress(), "round " + r + ": a stale IOTLB entry after the sync");
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
        }
    }

    /**
     * Linux qi_check_fault with two submitters: one thread's descriptors have a reserved bit set (the hardware
     * stops with FSTS.IQE, IQH at the descriptor), the other's are valid. Only the submitter whose descriptor
     * stopped the queue fixes it (its wait descriptor copied over it, IQE cleared) and fails with EINVAL; the
     * other's submissions behind it complete normally once the queue resumes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qemu", "server"})
    void aRejectedDescriptorFailsOnlyItsOwnSubmitter(String preset) throws Exception {
        try (DriverBench b = new DriverBench(preset, PciFunctionSpec.endpoint("00:04.0", "dmar0"))) {
            VtdDevice dev = b.probe("00:04.0");
            DmarUnit unit = dev.unit;
            int did = unit.domainCount - 1;
            long bad = InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DOMAIN, did) | (1L << 8); // reserved
            long good = InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DOMAIN, did);
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> unit.qiSubmitSync(bad, 0)).errno());
            assertEquals(0, b.reg32(VtdRegisters.FSTS_REG) & VtdRegisters.FSTS_IQE, "IQE cleared by the submitter");
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CyclicBarrier start = new CyclicBarrier(2);
            Thread rejected = new Thread(() -> {
                try {
                    start.await();
                    for (int r = 0; r < 2_000; r++) {
                        ErrnoException e = assertThrows(ErrnoException.class, () -> unit.qiSubmitSync(bad, 0), "round " + r);
                        assertEquals(Errno.EINVAL, e.errno());
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            Thread accepted = new Thread(() -> {
                try {
                    start.await();
                    for (int r = 0; r < 20_000; r++) {
                        unit.qiSubmitSync(good, 0); // never fails for the other thread's descriptor
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            rejected.start();
            accepted.start();
            rejected.join();
            accepted.join();
            assertNull(failure.get(), () -> "thread failed: " + failure.get());
            assertEquals(0, b.reg32(VtdRegisters.FSTS_REG) & VtdRegisters.FSTS_IQE);
            unit.qiSubmitSync(good, 0);
        }
    }
}
