package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link UserProcess#pinPagesRun} and {@link UserProcess#unpinRun}: the pin reports the leading run of physically
 * consecutive pages it pinned (what iommufd's {@code batch_from_pages} groups into one PFN run), counted by the
 * lockless walk as it looks the pages up, and carried on through the locked path and across mappings; the unpin of
 * such a run has exactly the counts, checks and all-or-nothing failure of {@link UserProcess#unpinPages} over the
 * same addresses. Expected runs are computed from {@link UserProcess#translate}, never from the pin's output.
 */
class PinRunTest {

    private static final long PAGE = 4096;
    private static final long M2 = 2L << 20;
    private static final long VA = 0x10_0000_0000L;

    private static SimulatedMachine machine() {
        return SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(256L << 20).build());
    }

    /** The leading run of {@code [va, +n pages)}, from the process's page tables. */
    private static int expectedRun(UserProcess p, long va, int n) {
        long first = p.translate(va);
        int k = 1;
        while (k < n && p.translate(va + k * PAGE) == first + k * PAGE) {
            k++;
        }
        return k;
    }

    private static void assertPins(UserProcess p, long va, int n, int pins) {
        for (int i = 0; i < n; i++) {
            assertEquals(pins, p.pinCount(p.translate(va + i * PAGE)), "pins of page " + i);
        }
    }

    @Test
    void theLocklessWalkReportsTheRunOfPagesFaultedInOrder() {
        try (SimulatedMachine m = machine()) {
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(VA, 16 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            for (int i = 0; i < 16; i++) {
                p.write64(va + i * PAGE, i); // present: the pin takes the lockless walk
            }
            int run = expectedRun(p, va, 16);
            assertEquals(16, run, "the buddy allocator hands out the frames of pages faulted in order consecutively");
            long[] out = new long[18];
            long r = p.pinPagesRun(va, 16, true, out, 2);
            assertEquals(16, UserProcess.pinnedOf(r));
            assertEquals(run, UserProcess.runOf(r));
            for (int i = 0; i < 16; i++) {
                assertEquals(p.translate(va + i * PAGE), out[2 + i]);
            }
            assertPins(p, va, 16, 1);
            p.unpinRun(out[2], 16, true);
            assertPins(p, va, 16, 0);
            assertEquals(0, m.pinnedFrames());
        }
    }

    @Test
    void aRunEndsAtTheFirstPageOutOfOrder() {
        try (SimulatedMachine m = machine()) {
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(VA, 16 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            // Pages 5..15 faulted in first, then 0..4: the run of page 0 ends at page 5
            for (int i = 5; i < 16; i++) {
                p.write64(va + i * PAGE, i);
            }
            for (int i = 0; i < 5; i++) {
                p.write64(va + i * PAGE, i);
            }
            int run = expectedRun(p, va, 16);
            assertTrue(run < 16, "run " + run);
            long[] out = new long[16];
            long r = p.pinPagesRun(va, 16, false, out, 0);
            assertEquals(16, UserProcess.pinnedOf(r));
            assertEquals(run, UserProcess.runOf(r));
            // From page 5 on, the pages are in order again: a pin starting there reports their run
            long r5 = p.pinPagesRun(va + 5 * PAGE, 11, false, out, 0);
            assertEquals(11, UserProcess.pinnedOf(r5));
            assertEquals(expectedRun(p, va + 5 * PAGE, 11), UserProcess.runOf(r5));
            p.unpinRun(out[0], 11, false);
            assertPins(p, va, 5, 1);
            assertPins(p, va + 5 * PAGE, 11, 1);
        }
    }

    @Test
    void theRunGoesOnIntoPagesTheLockedPathFaultsIn() { // gup_fast, then __gup_longterm_locked for the rest
        try (SimulatedMachine m = machine()) {
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(VA, 16 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            for (int i = 0; i < 6; i++) {
                p.write64(va + i * PAGE, i); // pages 6..15 absent: the locked path faults them in
            }
            long[] out = new long[16];
            long r = p.pinPagesRun(va, 16, true, out, 0);
            assertEquals(16, UserProcess.pinnedOf(r));
            assertEquals(expectedRun(p, va, 16), UserProcess.runOf(r));
            assertPins(p, va, 16, 1);
            // Nothing present: the locked path alone
            long fresh = p.mmap(VA + 64 * PAGE, 8 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long rf = p.pinPagesRun(fresh, 8, true, out, 0);
            assertEquals(8, UserProcess.pinnedOf(rf));
            assertEquals(expectedRun(p, fresh, 8), UserProcess.runOf(rf));
        }
    }

    @Test
    void theRunCrossesMappingsOnlyWhereTheFramesContinue() {
        try (SimulatedMachine m = machine()) {
            UserProcess p = m.spawn("app", 1000);
            // [16 pages anon][2 MiB hugetlb]: the huge page's frames are consecutive; the anon pages end elsewhere
            long huge = p.mmap(VA + M2, M2, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            long before = p.mmap(huge - 16 * PAGE, 16 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            for (int i = 0; i < 16; i++) {
                p.write64(before + i * PAGE, i);
            }
            p.write64(huge, 1);
            long[] out = new long[16 + 512];
            long r = p.pinPagesRun(before, 16 + 512, true, out, 0);
            assertEquals(16 + 512, UserProcess.pinnedOf(r));
            assertEquals(expectedRun(p, before, 16 + 512), UserProcess.runOf(r));
            long rh = p.pinPagesRun(huge + 8 * PAGE, 100, true, out, 0);
            assertEquals(100, UserProcess.pinnedOf(rh));
            assertEquals(100, UserProcess.runOf(rh), "frames of one huge page are consecutive");
            assertEquals(expectedRun(p, huge + 8 * PAGE, 100), 100);
            // A short pin (a hole after the huge page) reports the run of what it pinned
            long rs = p.pinPagesRun(huge + M2 - 4 * PAGE, 8, true, out, 0);
            assertEquals(4, UserProcess.pinnedOf(rs));
            assertEquals(4, UserProcess.runOf(rs));
            p.unpinRun(out[0], 4, true);
            assertPins(p, huge + M2 - 4 * PAGE, 4, 1);
        }
    }

    @Test
    void anUnpinRunWithAnUnpinnedPageChangesNothing() { // all or nothing, as unpinPages
        try (SimulatedMachine m = machine()) {
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(VA, 8 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            for (int i = 0; i < 8; i++) {
                p.write64(va + i * PAGE, i);
            }
            assertEquals(8, expectedRun(p, va, 8));
            long[] out = new long[8];
            assertEquals(4, UserProcess.pinnedOf(p.pinPagesRun(va, 4, true, out, 0)));
            assertEquals(1, UserProcess.pinnedOf(p.pinPagesRun(va + 5 * PAGE, 1, true, out, 5)));
            long first = p.translate(va);
            // Page 4 has no pin: the run [0, 8) is refused and no page loses its pin
            ErrnoException e = assertThrows(ErrnoException.class, () -> p.unpinRun(first, 8, false));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().contains(Long.toHexString(first + 4 * PAGE)), e.getMessage());
            assertPins(p, va, 4, 1);
            assertEquals(0, p.pinCount(first + 4 * PAGE));
            assertEquals(1, p.pinCount(first + 5 * PAGE));
            assertEquals(5, m.pinnedFrames());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> p.unpinRun(first, -1, false)).errno());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> p.unpinRun(1L << 45, 1, false)).errno());
            p.unpinRun(first, 4, false);
            p.unpinRun(first + 5 * PAGE, 1, false);
            p.unpinRun(first, 0, false);
            assertEquals(0, m.pinnedFrames());
        }
    }

    @Test
    void anUnpinRunFreesPinnedHugePagesWhoseMappingWentAway() {
        try (SimulatedMachine m = machine()) {
            FrameAllocator fa = m.memory().frames();
            UserProcess p = m.spawn("app", 1000);
            long huge = p.mmap(VA, 2 * M2, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            long[] pas = new long[4];
            assertEquals(4, p.pinPages(huge + M2 - 2 * PAGE, 4, true, pas, 0));
            long allocated = fa.allocatedFrames();
            p.munmap(huge, 2 * M2);
            assertEquals(2, m.orphanedPinnedPages());
            // The two huge pages are separate blocks: unpin each one's frames as a run
            p.unpinRun(pas[0], 2, false);
            assertEquals(1, m.orphanedPinnedPages(), "the first huge page's last pin went");
            assertEquals(allocated - 512, fa.allocatedFrames());
            p.unpinRun(pas[2], 2, false);
            assertEquals(0, m.orphanedPinnedPages());
            assertEquals(allocated - 2 * 512, fa.allocatedFrames());
            assertEquals(0, m.pinnedFrames());
        }
    }

    @Test
    void runsThatCrossACountChunkAreCountedPerFrame() { // frameCount chunks of 64K frames: the run is split there
        SparsePhysicalMemory mem = new SparsePhysicalMemory(List.of(new MemoryRange(0, 512L << 20)));
        LongTermPins pins = new LongTermPins(mem);
        long boundary = 65536L * PAGE; // dense index 65536: the first frame of the second chunk
        long first = boundary - 3 * PAGE;
        long[] pas = new long[6];
        for (int i = 0; i < 6; i++) {
            pas[i] = first + i * PAGE;
        }
        UnmapSequence seq = new UnmapSequence();
        assertTrue(pins.pinFramesIfUnchanged(seq, seq.readBegin(), pas, 0, 6, 0, 6), "a known run of 6 over the boundary");
        for (int i = 0; i < 6; i++) {
            assertEquals(1, pins.count(pas[i]), "frame " + i);
        }
        assertEquals(0, pins.count(first - PAGE));
        assertEquals(0, pins.count(first + 6 * PAGE));
        assertEquals(6, pins.pinnedFrames());
        // A known run shorter than the frames given: the rest is compared (frame 5 is not after frame 4 here)
        long[] mixed = {first, first + PAGE, first + 5 * PAGE};
        assertTrue(pins.pinFramesIfUnchanged(seq, seq.readBegin(), mixed, 0, 3, 0, 2));
        assertEquals(2, pins.count(first));
        assertEquals(2, pins.count(first + PAGE));
        assertEquals(1, pins.count(first + 2 * PAGE));
        assertEquals(2, pins.count(first + 5 * PAGE));
        // Unpin across the boundary, refused at frame 6 (no pin): nothing changes
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> pins.unpinRun(first + 2 * PAGE, 5)).errno());
        assertEquals(1, pins.count(first + 2 * PAGE));
        assertEquals(1, pins.count(first + 4 * PAGE));
        assertEquals(6, pins.pinnedFrames());
        pins.unpinRun(first, 6);
        pins.unpin(mixed, 0, 3);
        assertEquals(0, pins.pinnedFrames());
        for (int i = 0; i < 6; i++) {
            assertEquals(0, pins.count(pas[i]));
        }
    }

    @Test
    void theDefaultsPinThroughPinPagesAndUnpinThroughUnpinPages() { // for UserProcess implementations without runs
        long[] given = {0x5000, 0x6000, 0x7000, 0x9000, 0xa000};
        List<long[]> unpinned = new ArrayList<>();
        // A process with only pinPages and unpinPages (a proxy: no mocking framework rewrites UserProcess's defaults)
        UserProcess p = (UserProcess) Proxy.newProxyInstance(UserProcess.class.getClassLoader(), new Class<?>[] {UserProcess.class},
                (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "pinPages" -> {
                            long[] out = (long[]) args[3];
                            int n = Math.min((int) args[1], given.length);
                            System.arraycopy(given, 0, out, (int) args[4], n);
                            return n;
                        }
                        case "unpinPages" -> {
                            long[] pas = (long[]) args[0];
                            int off = (int) args[1];
                            unpinned.add(Arrays.copyOfRange(pas, off, off + (int) args[2]));
                            return null;
                        }
                        case "pid" -> {
                            return 7;
                        }
                        default -> {
                            if (method.isDefault()) {
                                return InvocationHandler.invokeDefault(proxy, method, args);
                            }
                            throw new UnsupportedOperationException(method.getName());
                        }
                    }
                });
        long[] out = new long[8];
        long r = p.pinPagesRun(0x1000, 8, true, out, 1);
        assertEquals(5, UserProcess.pinnedOf(r));
        assertEquals(3, UserProcess.runOf(r), "0x5000, 0x6000, 0x7000, then a gap");
        assertEquals(0x5000, out[1]);
        p.unpinRun(0x9000, 3, true);
        assertEquals(1, unpinned.size());
        assertArrayEquals(new long[] {0x9000, 0xa000, 0xb000}, unpinned.get(0));
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> p.unpinRun(0x9000, -1, true)).errno());
        assertEquals(1, unpinned.size(), "nothing unpinned for a negative count");
    }
}
