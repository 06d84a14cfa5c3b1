package dev.iommufd.core;

import static dev.iommufd.core.selftest.Selftest.PAGE_SIZE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.core.selftest.Selftest;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.spi.DomainGeometry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Several threads mapping, copying and unmapping in one IOAS with a domain attached, plus threads racing auto-IOVA
 * allocations and copies: every call succeeds (the auto allocator never hands out a busy IOVA), and afterwards no
 * area, no leaf, no pin and no charge is left. Checks outcomes, not timing.
 */
class ConcurrentIoasTest {
    private final Selftest t = new Selftest();

    @AfterEach
    void teardown() {
        t.close();
    }

    @Test
    void racingMapsAndUnmapsLeaveNothingBehind() throws Exception {
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        int ioas = t.ioasAlloc();
        IoPageTable iopt = t.ctx().getIoas(ioas).iopt();
        t.ctx().objects().put(t.ctx().getIoas(ioas));
        RecordingDomain d = new RecordingDomain(DomainGeometry.of(0, -1L, PAGE_SIZE | (2L << 20)));
        iopt.addDomain(d);
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int n = 0; n < 4; n++) {
            final int me = n;
            threads.add(new Thread(() -> {
                try {
                    for (int i = 0; i < 200; i++) {
                        long fixed = (1L << 30) + me * (1L << 24) + (i % 8) * 4 * PAGE_SIZE;
                        t.fd.ioasMap(ioas, Selftest.MAP_FIXED_RW, t.buffer + (i % 4) * PAGE_SIZE, 2 * PAGE_SIZE, fixed);
                        long auto = t.fd.ioasMap(ioas, Selftest.MAP_RW, t.buffer, 3 * PAGE_SIZE, 0);
                        long copy = t.fd.ioasCopy(ioas, ioas, Selftest.MAP_RW, PAGE_SIZE, 0, fixed + PAGE_SIZE);
                        assertEquals(2 * PAGE_SIZE, t.fd.ioasUnmap(ioas, fixed, 2 * PAGE_SIZE));
                        assertEquals(3 * PAGE_SIZE, t.fd.ioasUnmap(ioas, auto, 3 * PAGE_SIZE));
                        assertEquals(PAGE_SIZE, t.fd.ioasUnmap(ioas, copy, PAGE_SIZE));
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        threads.forEach(Thread::start);
        for (Thread th : threads) {
            th.join();
        }
        assertTrue(failures.isEmpty(), () -> "failures: " + failures);
        assertEquals(0, iopt.areaCount());
        assertTrue(d.leaves.isEmpty());
        assertEquals(0, t.proc.user().lockedVm());
        assertEquals(0, t.proc.mm().pinnedVm());
        assertEquals(Errno.ENOENT, org.junit.jupiter.api.Assertions.assertThrows(ErrnoException.class,
                () -> t.fd.ioasUnmap(ioas, 1L << 30, 1L << 26)).errno());
        iopt.removeDomain(d);
    }
}
