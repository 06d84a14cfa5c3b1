package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The lockless first half of {@link SimulatedUserProcess#pinPages}, as {@code pin_user_pages_fast()}
 * (mm/gup.c: {@code gup_fast()} walks the page tables without {@code mmap_lock}, grabs each page with
 * {@code try_grab_folio()}, re-reads the PTE and backs out when it changed; {@code gup_fast_fallback()} pins the
 * rest with {@code __gup_longterm_locked()} and returns the pages pinned before a failure).
 *
 * <p>The race tests put a munmap into the window between the lockless look-up and the grab through the
 * {@link SimulatedUserProcess#gupFastWindow} seam, on the pinning thread itself: that the munmap (which takes the
 * mmap lock for writing) can run there at all shows the walk holds no mmap lock. Without the re-check of the
 * process's {@link UnmapSequence} the pin would land on pages the munmap already freed and return them; without
 * the walk giving up while the sequence is odd, {@link #aWalkThatStartsDuringAMunmapLeavesEverythingToTheLockedPath}
 * would.
 */
class LocklessPinTest {

    private static final long PAGE = 4096;
    private static final long M2 = 2L << 20;
    private static final long VA = 0x10_0000_0000L;

    private static SimulatedMachine machine() {
        return SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(256L << 20).build());
    }

    private static SimulatedUserProcess spawn(SimulatedMachine m) {
        return (SimulatedUserProcess) m.spawn("app", 1000);
    }

    private static long touched(SimulatedUserProcess p, long va, long length, MapKind kind) {
        long at = p.mmap(va, length, Prot.READ_WRITE, kind);
        for (long o = 0; o < length; o += PAGE) {
            p.write64(at + o, o + 1);
        }
        return at;
    }

    @Test
    void presentPagesArePinnedWithoutTheMmapLockWhileAnotherThreadHoldsItForWriting() throws Exception {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long va = touched(p, VA, 16 * PAGE, MapKind.ANONYMOUS);
            long[] expected = new long[16];
            for (int i = 0; i < 16; i++) {
                expected[i] = p.translate(va + i * PAGE);
            }
            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(1);
            Thread writer = new Thread(() -> {
                p.mmapLockForTests().writeLock().lock();
                try {
                    held.countDown();
                    done.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    p.mmapLockForTests().writeLock().unlock();
                }
            });
            writer.start();
            try {
                assertTrue(held.await(10, TimeUnit.SECONDS));
                long[] pas = new long[16];
                // Would block until `done` (and then fail the latch assertion below) if the pin took the lock.
                assertEquals(16, p.pinPages(va, 16, true, pas, 0));
                assertTrue(p.mmapLockForTests().isWriteLocked(), "the writer still holds the lock");
                for (int i = 0; i < 16; i++) {
                    assertEquals(expected[i], pas[i], "page " + i);
                    assertEquals(1, p.pinCount(pas[i]));
                }
                p.unpinPages(pas, 0, 16, true);
            } finally {
                done.countDown();
                writer.join();
            }
            assertEquals(0, m.pinnedFrames());
        }
    }

    @Test
    void aMunmapBetweenTheLookupAndTheGrabIsCaughtByTheRecheck() {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long baseline = m.memory().frames().allocatedFrames();
            long va = touched(p, VA, 16 * PAGE, MapKind.ANONYMOUS);
            assertEquals(baseline + 16, m.memory().frames().allocatedFrames());
            AtomicInteger windows = new AtomicInteger();
            p.gupFastWindow = () -> {
                if (windows.getAndIncrement() == 0) {
                    p.munmap(va, 16 * PAGE); // takes the mmap lock for writing: the walk holds none
                }
            };
            long[] pas = new long[16];
            // The lockless walk found 16 present pages; the munmap freed them before the grab. The re-check backs
            // out, and the locked path finds no mapping: EFAULT, nothing pinned, the pages stay freed.
            ErrnoException e = assertThrows(ErrnoException.class, () -> p.pinPages(va, 16, true, pas, 0));
            assertEquals(Errno.EFAULT, e.errno());
            assertEquals(1, windows.get(), "the lockless walk ran once, then the locked path");
            assertEquals(0, m.pinnedFrames());
            assertEquals(0, m.orphanedPinnedPages());
            assertEquals(baseline, m.memory().frames().allocatedFrames(), "the munmap freed the 16 pages");
        }
    }

    @Test
    void aMunmapOfTheSecondHalfInTheWindowLeavesAShortPinOfTheFirstHalf() {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long baseline = m.memory().frames().allocatedFrames();
            long va = touched(p, VA, 16 * PAGE, MapKind.ANONYMOUS);
            long[] firstHalf = new long[8];
            for (int i = 0; i < 8; i++) {
                firstHalf[i] = p.translate(va + i * PAGE);
            }
            p.gupFastWindow = () -> {
                p.gupFastWindow = null;
                p.munmap(va + 8 * PAGE, 8 * PAGE);
            };
            long[] pas = new long[16];
            // The munmap moved the sequence: the walk pins nothing; the locked path pins the 8 pages still mapped
            // and meets the hole: a short pin (what gup_fast's PTE re-check plus the fallback give as well).
            assertEquals(8, p.pinPages(va, 16, true, pas, 0));
            for (int i = 0; i < 8; i++) {
                assertEquals(firstHalf[i], pas[i], "page " + i);
                assertEquals(1, p.pinCount(pas[i]));
            }
            assertEquals(8, m.pinnedFrames());
            assertEquals(baseline + 8, m.memory().frames().allocatedFrames(), "the unmapped half was freed");
            p.munmap(va, 8 * PAGE);
            assertEquals(8, m.orphanedPinnedPages(), "pinned pages outlive their mapping");
            p.unpinPages(pas, 0, 8, true);
            assertEquals(0, m.orphanedPinnedPages());
            assertEquals(baseline, m.memory().frames().allocatedFrames());
        }
    }

    /**
     * A walk that starts while a munmap is letting pages go (the sequence is odd) must not go lockless: it could read
     * the mapping array and page entries before the munmap replaced and cleared them, and pin after the pages were
     * freed but before the munmap made the sequence even again. The two windows force exactly that interleaving
     * when the walk does not give up; giving up, it waits for the munmap in the locked path and finds nothing.
     */
    @Test
    void aWalkThatStartsDuringAMunmapLeavesEverythingToTheLockedPath() throws Exception {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long baseline = m.memory().frames().allocatedFrames();
            long va = touched(p, VA, 16 * PAGE, MapKind.ANONYMOUS);
            CountDownLatch readerInWindow = new CountDownLatch(1);
            CountDownLatch pagesFreed = new CountDownLatch(1);
            CountDownLatch readerDone = new CountDownLatch(1);
            AtomicReference<Object> result = new AtomicReference<>();
            Thread reader = new Thread(() -> {
                try {
                    result.set(p.pinPages(va, 16, true, new long[16], 0));
                } catch (Throwable t) {
                    result.set(t);
                } finally {
                    readerDone.countDown();
                }
            });
            p.gupFastWindow = () -> {
                readerInWindow.countDown();
                try {
                    pagesFreed.await(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            p.unmapWindow = phase -> {
                try {
                    if (phase == 0) { // sequence odd, nothing let go yet: the walk starts now
                        reader.start();
                        readerInWindow.await(300, TimeUnit.MILLISECONDS); // never, when the walk gives up
                    } else { // every page freed, sequence still odd
                        pagesFreed.countDown();
                        readerDone.await(300, TimeUnit.MILLISECONDS); // a walk that went on pins now
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            p.munmap(va, 16 * PAGE);
            p.unmapWindow = null;
            assertTrue(readerDone.await(10, TimeUnit.SECONDS));
            reader.join();
            assertTrue(result.get() instanceof ErrnoException, "pinPages gave " + result.get());
            assertEquals(Errno.EFAULT, ((ErrnoException) result.get()).errno());
            assertEquals(0, m.pinnedFrames());
            assertEquals(baseline, m.memory().frames().allocatedFrames());
        }
    }

    @Test
    void anExitInTheWindowIsCaughtByTheRecheck() {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long baseline = m.memory().frames().allocatedFrames();
            long va = touched(p, VA, 4 * PAGE, MapKind.ANONYMOUS);
            p.gupFastWindow = p::exit;
            ErrnoException e = assertThrows(ErrnoException.class, () -> p.pinPages(va, 4, false, new long[4], 0));
            assertEquals(Errno.EFAULT, e.errno());
            assertEquals(0, m.pinnedFrames());
            assertEquals(baseline, m.memory().frames().allocatedFrames());
        }
    }

    @Test
    void absentPagesAndTheRestOfTheRangeAreLeftToTheLockedPath() {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long va = p.mmap(VA, 16 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            for (int i = 0; i < 5; i++) {
                p.write64(va + i * PAGE, i); // pages 0-4 present, 5-15 never touched
            }
            AtomicInteger windows = new AtomicInteger();
            p.gupFastWindow = windows::incrementAndGet;
            long[] pas = new long[16];
            assertEquals(16, p.pinPages(va, 16, true, pas, 0));
            assertEquals(1, windows.get(), "the lockless walk grabbed the present prefix");
            for (int i = 0; i < 16; i++) {
                assertEquals(p.translate(va + i * PAGE), pas[i], "page " + i + " (faulted in by the locked path from 5)");
                assertEquals(1, p.pinCount(pas[i]));
            }
            p.unpinPages(pas, 0, 16, false);

            // Nothing present: the walk grabs nothing (no window) and the locked path faults the page in.
            long fresh = p.mmap(VA + M2, PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            windows.set(0);
            assertEquals(1, p.pinPages(fresh, 1, true, pas, 0));
            assertEquals(0, windows.get());
            assertEquals(p.translate(fresh), pas[0]);
            p.unpinPages(pas, 0, 1, false);
            assertEquals(0, m.pinnedFrames());
        }
    }

    @Test
    void protectionIsCheckedAsTheLockedPathChecksIt() {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long ro = p.mmap(VA, 4 * PAGE, Prot.READ, MapKind.ANONYMOUS);
            p.read64(ro); // present (read fault)
            AtomicInteger windows = new AtomicInteger();
            p.gupFastWindow = windows::incrementAndGet;
            long[] pas = new long[4];
            // FOLL_WRITE on a read-only mapping: not taken locklessly, refused by the locked path.
            ErrnoException e = assertThrows(ErrnoException.class, () -> p.pinPages(ro, 1, true, pas, 0));
            assertEquals(Errno.EFAULT, e.errno());
            assertEquals(0, windows.get());
            assertEquals(0, m.pinnedFrames());
            // A read pin of the same present page is lockless.
            assertEquals(1, p.pinPages(ro, 1, false, pas, 0));
            assertEquals(1, windows.get());
            assertEquals(p.translate(ro), pas[0]);
            p.unpinPages(pas, 0, 1, false);
            long none = p.mmap(VA + M2, PAGE, 0, MapKind.ANONYMOUS);
            assertEquals(Errno.EFAULT, assertThrows(ErrnoException.class, () -> p.pinPages(none, 1, false, pas, 0)).errno());
            assertEquals(1, windows.get());
        }
    }

    @Test
    void aPresentHugetlbPageIsPinnedLocklesslyFrameByFrame() {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long huge = p.mmap(VA, M2, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            p.write64(huge, 1);
            AtomicInteger windows = new AtomicInteger();
            p.gupFastWindow = windows::incrementAndGet;
            long[] pas = new long[20];
            assertEquals(20, p.pinPages(huge + 100 * PAGE, 20, true, pas, 0));
            assertEquals(1, windows.get());
            for (int i = 0; i < 20; i++) {
                assertEquals(p.translate(huge + (100 + i) * PAGE), pas[i]);
                assertEquals(1, p.pinCount(pas[i]));
            }
            p.munmap(huge, M2);
            assertEquals(1, m.orphanedPinnedPages());
            p.unpinPages(pas, 0, 20, true);
            assertEquals(0, m.orphanedPinnedPages());
            assertEquals(0, m.pinnedFrames());
        }
    }

    @Test
    void aMunmapOfAHugetlbMappingInTheWindowIsCaughtByTheRecheck() {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long baseline = m.memory().frames().allocatedFrames();
            long huge = p.mmap(VA, M2, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            p.write64(huge, 1);
            p.gupFastWindow = () -> {
                p.gupFastWindow = null;
                p.munmap(huge, M2);
            };
            ErrnoException e = assertThrows(ErrnoException.class, () -> p.pinPages(huge, 8, true, new long[8], 0));
            assertEquals(Errno.EFAULT, e.errno());
            assertEquals(0, m.pinnedFrames());
            assertEquals(0, m.orphanedPinnedPages());
            assertEquals(baseline, m.memory().frames().allocatedFrames(), "the huge page was freed");
        }
    }

    /**
     * Pins racing munmap/mmap of the same range on another thread: a pinned frame is never freed and handed to the
     * next generation of the mapping while pinned (the generation the mapper wrote into it stays), and in the end
     * nothing is pinned, orphaned or leaked. (Timing-dependent as a detector; the window tests above are the
     * deterministic ones.)
     */
    @Test
    void pinsRacingMunmapAndMmapKeepEveryPinOnALivePageAndLeakNothing() throws Exception {
        try (SimulatedMachine m = machine()) {
            SimulatedUserProcess p = spawn(m);
            long baseline = m.memory().frames().allocatedFrames();
            int pages = 16;
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CountDownLatch stop = new CountDownLatch(1);
            Thread mapper = new Thread(() -> {
                try {
                    long gen = 1;
                    while (stop.getCount() > 0) {
                        long at = p.mmap(VA, pages * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
                        for (int i = 0; i < pages; i++) {
                            p.write64(at + i * PAGE, gen);
                        }
                        p.munmap(at, pages * PAGE);
                        gen++;
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            });
            mapper.start();
            long[] pas = new long[pages];
            long[] first = new long[pages];
            int pinned = 0;
            try {
                long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(400);
                while (System.nanoTime() < deadline && failure.get() == null) {
                    int got;
                    try {
                        got = p.pinPages(VA, pages, true, pas, 0);
                    } catch (ErrnoException e) {
                        assertEquals(Errno.EFAULT, e.errno());
                        continue;
                    }
                    pinned++;
                    for (int i = 0; i < got; i++) {
                        first[i] = m.memory().read64(pas[i]);
                    }
                    Thread.yield(); // let the mapper run a generation or two while the pins are held
                    for (int i = 0; i < got; i++) {
                        assertTrue(p.pinCount(pas[i]) >= 1);
                        // A pinned page is never freed and reused: once its mapping wrote a generation into it, it
                        // keeps it until the unpin (the mapper only writes pages of the mapping it just created).
                        long now = m.memory().read64(pas[i]);
                        assertTrue(first[i] == 0 || now == first[i], "page " + i + ": generation " + first[i] + " became " + now);
                    }
                    p.unpinPages(pas, 0, got, false);
                }
            } finally {
                stop.countDown();
                mapper.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            assertTrue(pinned > 0, "some pins succeeded");
            assertEquals(0, m.pinnedFrames());
            assertEquals(0, m.orphanedPinnedPages());
            assertEquals(baseline, m.memory().frames().allocatedFrames(), "every page freed once");
        }
    }
}
