package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.CONCURRENCY;

import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.RuleViolation;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** CONC: map/unmap on disjoint ranges from several threads, as io-pgtable allows. */
final class ConcurrencyRules {
    private ConcurrencyRules() {
    }

    static final int THREADS = 4;
    static final int ROUNDS = 150;
    static final int PAGES = 8;

    static List<Rule> rules() {
        return List.of(
                Rule.required("CONC-1", CONCURRENCY,
                        THREADS + " threads each map, check and unmap their own disjoint ranges " + ROUNDS + " times; every translation "
                                + "is right and every frame comes back after free.",
                        "IommuDomain javadoc ('Map and unmap on disjoint IOVA ranges may run concurrently'); "
                                + "drivers/iommu/io-pgtable-arm.c (lock-free table install with cmpxchg)",
                        ConcurrencyRules::disjoint),
                Rule.required("CONC-2", CONCURRENCY,
                        "A device's DMA to a stable mapping keeps succeeding while other threads map and unmap elsewhere in the domain.",
                        "IommuDomain javadoc (concurrent map/unmap); include/linux/iommu.h iotlb_sync (range invalidation only)",
                        ConcurrencyRules::dmaDuringChurn),
                Rule.required("CONC-3", CONCURRENCY,
                        "Two threads switching two devices between their own domains (attach/replace) at once never leave a device "
                                + "reaching the other thread's domain, and every attach succeeds.",
                        "IommuDriver javadoc ('all methods may be called concurrently'); drivers/iommu/intel/iommu.c "
                                + "device_domain_lock / context table allocation under iommu->lock",
                        ConcurrencyRules::concurrentAttach));
    }

    private static void disjoint(TckFixture f) throws Exception {
        DeviceHandle h = f.device(0);
        f.free(f.paging(h, 0));
        long pa = f.buffer(PAGES * 4096L);
        long base = f.allocatedFrames();
        IommuDomain d = f.paging(h, 0);
        long pg = TckFixture.minPage(d);
        long[] iovas = f.iovas(d, PAGES * pg, THREADS * 2);
        ExecutorService ex = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                long a = iovas[2 * t];
                long b = iovas[2 * t + 1];
                results.add(ex.submit(() -> churn(d, a, b, pa, pg)));
            }
            for (Future<String> r : results) {
                String problem = r.get(120, TimeUnit.SECONDS);
                if (problem != null) {
                    throw new RuleViolation(problem);
                }
            }
        } catch (TimeoutException e) {
            throw new RuleViolation("concurrent map/unmap did not finish in 120 s: a deadlock between threads on disjoint ranges?");
        } finally {
            ex.shutdownNow();
        }
        f.free(d);
        Expect.that(f.allocatedFrames() == base, "after concurrent map/unmap and free, %d frames are still allocated: a race "
                + "installing a table (two threads each allocating the same table, one lost) leaks it; install with "
                + "compareAndSet64 and free the loser", f.allocatedFrames() - base);
    }

    private static String churn(IommuDomain d, long a, long b, long pa, long pg) {
        try {
            for (int i = 0; i < ROUNDS; i++) {
                long iova = (i & 1) == 0 ? a : b;
                long mapped = TckFixture.map(d, iova, pa, pg, PAGES, IoProt.READ | IoProt.WRITE);
                if (mapped != PAGES * pg) {
                    return String.format("concurrent mapPages at %#x returned %#x, expected %#x", iova, mapped, PAGES * pg);
                }
                for (int p = 0; p < PAGES; p++) {
                    long got = d.iovaToPhys(iova + p * pg + 8);
                    if (got != pa + p * pg + 8) {
                        return String.format("under concurrency iovaToPhys(%#x) is %#x, expected %#x: another thread's map or "
                                + "unmap disturbed a disjoint range (check table installation and freeing races)",
                                iova + p * pg + 8, got, pa + p * pg + 8);
                    }
                }
                long un = TckFixture.unmap(d, iova, pg, PAGES);
                if (un != PAGES * pg) {
                    return String.format("concurrent unmapPages at %#x returned %#x, expected %#x", iova, un, PAGES * pg);
                }
            }
            return null;
        } catch (RuntimeException | AssertionError e) {
            return "a thread mapping/unmapping its own range failed: " + e;
        }
    }

    private static void concurrentAttach(TckFixture f) throws Exception {
        PciFunction[] fns = {f.function(0), f.function(1)};
        ExecutorService ex = Executors.newFixedThreadPool(2);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                PciFunction fn = fns[t];
                DeviceHandle h = f.probe(fn);
                IommuDomain a = f.paging(h, 0);
                IommuDomain b = f.paging(h, 0);
                long pg = TckFixture.minPage(a);
                long pa = f.buffer(pg);
                long[] iovas = f.iovas(a, pg, 4);
                long mine = iovas[2 * t];
                long theirs = iovas[2 * (1 - t)];
                TckFixture.map(a, mine, pa, pg, 1, IoProt.READ);
                TckFixture.map(b, mine, pa, pg, 1, IoProt.READ);
                results.add(ex.submit(() -> {
                    try {
                        for (int i = 0; i < ROUNDS; i++) {
                            ((i & 1) == 0 ? a : b).attachDevice(h);
                            if (TckFixture.dmaRead(fn, TckFixture.UNTAGGED, mine, new byte[8]) != DmaStatus.OK) {
                                return "after attach in round " + i + ", " + fn.address() + " cannot reach its own domain's mapping";
                            }
                            if (TckFixture.dmaRead(fn, TckFixture.UNTAGGED, theirs, new byte[8]) != DmaStatus.FAULT) {
                                return "in round " + i + ", " + fn.address() + " reaches the other device's IOVA: a concurrent "
                                        + "attach of another device corrupted this device's context";
                            }
                        }
                        return null;
                    } catch (RuntimeException | AssertionError e) {
                        return "concurrent attach on " + fn.address() + " failed: " + e;
                    }
                }));
            }
            for (Future<String> r : results) {
                String problem = r.get(120, TimeUnit.SECONDS);
                if (problem != null) {
                    throw new RuleViolation(problem);
                }
            }
        } catch (TimeoutException e) {
            throw new RuleViolation("concurrent attaches did not finish in 120 s: a deadlock?");
        } finally {
            ex.shutdownNow();
        }
    }

    private static void dmaDuringChurn(TckFixture f) throws Exception {
        PciFunction fn = f.function(0);
        DeviceHandle h = f.probe(fn);
        IommuDomain d = f.paging(h, 0);
        long pg = TckFixture.minPage(d);
        long pa = f.buffer(PAGES * 4096L);
        long[] iovas = f.iovas(d, PAGES * pg, 3);
        TckFixture.map(d, iovas[0], pa, pg, 1, IoProt.READ | IoProt.WRITE);
        d.attachDevice(h);
        ExecutorService ex = Executors.newFixedThreadPool(2);
        try {
            Future<String> w1 = ex.submit(() -> churn(d, iovas[1], iovas[2], pa, pg));
            byte[] buf = new byte[8];
            int i = 0;
            while (!w1.isDone() || i < 100) {
                DmaStatus st = TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iovas[0], buf);
                if (st != DmaStatus.OK) {
                    throw new RuleViolation("DMA to a stable mapping saw " + st + " while another thread mapped/unmapped a disjoint "
                            + "range: invalidation or table freeing must be limited to the range unmapped");
                }
                i++;
                if (i > 1_000_000) {
                    break;
                }
            }
            String problem = w1.get(120, TimeUnit.SECONDS);
            if (problem != null) {
                throw new RuleViolation(problem);
            }
        } finally {
            ex.shutdownNow();
        }
    }
}
