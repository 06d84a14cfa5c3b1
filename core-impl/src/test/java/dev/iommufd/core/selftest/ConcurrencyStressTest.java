package dev.iommufd.core.selftest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.AccessOps;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IommufdAccess;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.core.IommufdContext;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.mock.MockIommu;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Several threads on one context: IOAS map/unmap, IOAS copy, access pin/unpin (with unmap notifications), device
 * attach/replace/detach between two IOASes, and fault queue traffic. Each thread runs a fixed number of iterations
 * (with a wall-clock cap as a safety net only). Every failure must be one of the errnos the races can legitimately
 * produce; afterwards, closing the context must leave no pin, locked_vm/pinned_vm and allocated frames at their
 * baselines, and no leaked object.
 */
class ConcurrencyStressTest {
    private static final long PS = SelftestSession.PS;
    private static final int PAGES = 64;
    /** Pages [0, RACY) are mapped and unmapped concurrently; [RACY, PAGES) stay mapped as one area. */
    private static final int RACY = 40;
    private static final long BUF = 0x80_0000_0000L;
    private static final long BASE = SelftestSession.MOCK_APERTURE_START;
    private static final int ITERATIONS = 400;
    private static final long CAP_NANOS = TimeUnit.SECONDS.toNanos(12);
    private static final int RW = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE;
    private static final Set<Errno> EXPECTED = EnumSet.of(Errno.ENOENT, Errno.EEXIST, Errno.EBUSY, Errno.EINVAL, Errno.EADDRINUSE);

    private final ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
    private final java.util.Map<String, java.util.concurrent.atomic.AtomicInteger> succeeded = new java.util.concurrent.ConcurrentHashMap<>();

    /** An access that pins pages and gives them back when the IOAS unmaps them (exactly once per pin). */
    private static final class PinningAccess implements AccessOps {
        private final List<long[]> pins = new ArrayList<>();

        @Override
        public boolean needsPinPages() {
            return true;
        }

        @Override
        public void unmap(IommufdAccess a, long iova, long length) {
            long last = iova + length - 1;
            synchronized (this) {
                for (int i = pins.size() - 1; i >= 0; i--) {
                    long[] p = pins.get(i);
                    if (Long.compareUnsigned(p[0], last) <= 0 && Long.compareUnsigned(iova, p[0] + p[1] - 1) <= 0) {
                        a.unpinPages(p[0], p[1]);
                        pins.remove(i);
                    }
                }
            }
        }

        void pinned(long iova, long length) {
            synchronized (this) {
                pins.add(new long[] {iova, length});
            }
        }

        /** Unpins {@code [iova, +length)} unless the unmap callback already did. */
        void release(IommufdAccess a, long iova, long length) {
            synchronized (this) {
                for (int i = 0; i < pins.size(); i++) {
                    long[] p = pins.get(i);
                    if (p[0] == iova && p[1] == length) {
                        a.unpinPages(iova, length);
                        pins.remove(i);
                        return;
                    }
                }
            }
        }
    }

    private interface Step {
        void run(Random r);
    }

    private Thread worker(String name, long seed, CyclicBarrier start, long deadline, Step step) {
        java.util.concurrent.atomic.AtomicInteger ok = new java.util.concurrent.atomic.AtomicInteger();
        succeeded.put(name, ok);
        Thread t = new Thread(() -> {
            Random r = new Random(seed);
            try {
                start.await();
                for (int i = 0; i < ITERATIONS && System.nanoTime() < deadline; i++) {
                    try {
                        step.run(r);
                        ok.incrementAndGet();
                    } catch (ErrnoException e) {
                        if (!EXPECTED.contains(e.errno())) {
                            unexpected.add(e);
                        }
                    }
                }
            } catch (Throwable e) {
                unexpected.add(e);
            }
        }, name);
        t.start();
        return t;
    }

    @Test
    void mixedOperationsLeaveNothingBehind() throws Exception {
        SelftestSession s = new SelftestSession();
        try {
            s.fd.close();
            UserProcess p = s.machine.spawn("stress", 1000); // no CAP_IPC_LOCK: every pin is accounted
            p.setRlimitMemlock(1L << 30);
            p.mmap(BUF, PAGES * PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
            byte[] one = {1};
            for (int i = 0; i < PAGES; i++) {
                p.write(BUF + i * PS, one, 0, 1);
            }
            PciFunction f1 = MockIommu.createDevice(s.machine, 0);
            PciFunction f2 = MockIommu.createDevice(s.machine, 0);
            long userBase = p.user().lockedVm();
            long mmBase = p.mm().lockedVm();
            long pinnedBase = p.mm().pinnedVm();
            long framesBase = s.machine.memory().frames().allocatedFrames();

            IommufdFd fd = s.subsystem.open(p);
            IommufdContext ctx = fd.context();
            int ioas = fd.ioasAlloc();
            int ioas2 = fd.ioasAlloc();
            int dev1 = fd.bindDevice(f1);
            int dev2 = fd.bindDevice(f2);
            fd.deviceAttach(dev1, 0, ioas);
            PinningAccess ops = new PinningAccess();
            IommufdAccess access = fd.accessCreate(ops);
            access.attach(ioas);
            fd.ioasMap(ioas, RW | IommuIoasMap.FLAG_FIXED_IOVA, BUF + RACY * PS, (PAGES - RACY) * PS, BASE + RACY * PS);

            CyclicBarrier start = new CyclicBarrier(5);
            long deadline = System.nanoTime() + CAP_NANOS;
            List<Thread> threads = new ArrayList<>();
            // Mapper: fixed-IOVA maps of random slices, then unmaps (races with copy, pin, attach).
            threads.add(worker("map", 1, start, deadline, r -> {
                int first = r.nextInt(RACY - 4);
                int n = 1 + r.nextInt(4);
                long iova = BASE + first * PS;
                fd.ioasMap(ioas, RW | IommuIoasMap.FLAG_FIXED_IOVA, BUF + first * PS, n * PS, iova);
                if (r.nextInt(4) == 0) {
                    fd.ioasUnmap(ioas, iova, n * PS);
                }
            }));
            // Unmapper: sweeps whole windows (notifies the access, may hit areas straddling: ENOENT).
            threads.add(worker("unmap", 2, start, deadline, r -> {
                int first = r.nextInt(RACY - 8);
                if (r.nextInt(3) == 0) {
                    fd.ioasUnmap(ioas, BASE + first * PS, 8 * PS);
                }
            }));
            // Copier: IOAS -> IOAS2, then drops the copy.
            threads.add(worker("copy", 3, start, deadline, r -> {
                int first = r.nextInt(PAGES - 2);
                long dst = fd.ioasCopy(ioas2, ioas, RW, PS, 0, BASE + first * PS);
                fd.ioasUnmap(ioas2, dst, PS);
            }));
            // Access: pin, touch, unpin (or the unmap callback unpins first).
            threads.add(worker("pin", 4, start, deadline, r -> {
                int first = r.nextInt(PAGES - 2);
                long iova = BASE + first * PS;
                long len = (1 + r.nextInt(2)) * PS;
                // The pin and its record are one step for the unmap callback, as iommufd_test_access_pages holds
                // staccess->lock across iommufd_access_pin_pages and the list insertion: a callback that ran
                // between them would find nothing to unpin, and the unmap would retry until EDEADLK.
                synchronized (ops) {
                    access.pinPages(iova, len, IommufdAccess.RW_WRITE);
                    ops.pinned(iova, len);
                }
                ops.release(access, iova, len);
            }));
            // Attacher: the second device moves between the IOASes; the first replaces back and forth.
            threads.add(worker("attach", 5, start, deadline, r -> {
                switch (r.nextInt(3)) {
                    case 0 -> fd.deviceAttach(dev2, 0, r.nextBoolean() ? ioas : ioas2);
                    case 1 -> fd.deviceDetach(dev2, 0);
                    default -> fd.deviceReplace(dev1, 0, r.nextBoolean() ? ioas : ioas2);
                }
            }));
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(30));
                assertTrue(!t.isAlive(), t.getName() + " is stuck");
            }
            assertTrue(unexpected.isEmpty(), () -> "unexpected failures: " + unexpected);
            succeeded.forEach((name, n) -> assertTrue(n.get() > 0, name + " never succeeded"));
            System.err.println("stress: successful steps " + succeeded);

            // Orderly teardown of what the file does not own, then close.
            access.close();
            fd.deviceDetach(dev1, 0);
            fd.deviceDetach(dev2, 0);
            fd.unbindDevice(dev1);
            fd.unbindDevice(dev2);
            fd.close();
            assertTrue(ctx.isReleased());
            assertTrue(ctx.leakedAtRelease().isEmpty(), () -> "leaked " + ctx.leakedAtRelease());
            for (int i = 0; i < PAGES; i++) {
                assertEquals(0, p.pinCount(p.translate(BUF + i * PS)), "page " + i + " still pinned");
            }
            assertEquals(userBase, p.user().lockedVm(), "user locked_vm");
            assertEquals(mmBase, p.mm().lockedVm(), "mm locked_vm");
            assertEquals(pinnedBase, p.mm().pinnedVm(), "pinned_vm");
            assertEquals(framesBase, s.machine.memory().frames().allocatedFrames(), "frames");
        } finally {
            s.machine.close();
        }
    }
}
