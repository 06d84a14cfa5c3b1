package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import org.junit.jupiter.api.Test;

/**
 * The bulk pin path ({@code pin_user_pages(FOLL_LONGTERM)} over many pages in one call): one call crosses mappings
 * of different kinds (4 KiB anonymous, 2 MiB hugetlb, shared and private memfd mappings) and huge page boundaries,
 * and must give exactly what pinning page by page gives: the same physical address per 4 KiB frame (checked against
 * {@link UserProcess#translate}), one pin per frame, a short count at the first page that cannot be pinned (GUP's
 * partial result), all-or-nothing unpins, and pinned pages that outlive their mapping freed by their last unpin.
 */
class BulkPinTest {

    private static final long PAGE = 4096;
    private static final long M2 = 2L << 20;
    private static final long VA = 0x10_0000_0000L;

    private static SimulatedMachine machine() {
        return SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(256L << 20).build());
    }

    private static void assertPinned(UserProcess p, long va, long[] pas, int off, int n, int pins) {
        for (int i = 0; i < n; i++) {
            long expected = p.translate(va + i * PAGE);
            assertEquals(expected, pas[off + i], "PA of page " + i);
            assertEquals(pins, p.pinCount(expected), "pins of page " + i);
        }
    }

    @Test
    void oneCallAcrossAnonymousAndHugetlbMappingsPinsEachFrameOnce() {
        try (SimulatedMachine m = machine()) {
            UserProcess p = m.spawn("app", 1000);
            // [16 pages anon][2 MiB hugetlb][16 pages anon], adjacent; the hugetlb one must be 2 MiB aligned
            long huge = p.mmap(VA + M2, M2, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            long before = p.mmap(huge - 16 * PAGE, 16 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long after = p.mmap(huge + M2, 16 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            int n = 16 + 512 + 16;
            long[] pas = new long[n + 3];
            assertEquals(n, p.pinPages(before, n, true, pas, 3));
            assertPinned(p, before, pas, 3, n, 1);
            assertEquals(n, m.pinnedFrames());
            // The hugetlb frames are consecutive inside their 2 MiB page (the page is one block)
            assertEquals(0, pas[3 + 16] & (M2 - 1), "the huge page's first frame is its 2 MiB aligned head");
            for (int i = 1; i < 512; i++) {
                assertEquals(pas[3 + 16] + i * PAGE, pas[3 + 16 + i]);
            }
            // A second pin of an overlapping range adds one pin per frame; it stops short at the hole after `after`
            long[] again = new long[64];
            assertEquals(48, p.pinPages(after - 32 * PAGE, 64, false, again, 0));
            assertPinned(p, after - 32 * PAGE, again, 0, 48, 2);
            assertEquals(n, m.pinnedFrames());
            p.unpinPages(again, 0, 48, false);
            p.unpinPages(pas, 3, n, true);
            assertEquals(0, m.pinnedFrames());
            for (int i = 0; i < n; i++) {
                assertEquals(0, p.pinCount(pas[3 + i]));
            }
            assertEquals(after, huge + M2);
        }
    }

    @Test
    void aPinStopsShortAtTheFirstPageThatCannotBePinned() { // GUP returns the pages pinned before the failure
        try (SimulatedMachine m = machine()) {
            UserProcess p = m.spawn("app", 1000);
            long rw = p.mmap(VA, 8 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long ro = p.mmap(VA + 8 * PAGE, 8 * PAGE, Prot.READ, MapKind.ANONYMOUS);
            long[] pas = new long[32];
            // FOLL_WRITE into a read-only mapping: the first 8 are pinned and counted, the 9th fails
            assertEquals(8, p.pinPages(rw, 16, true, pas, 0));
            assertPinned(p, rw, pas, 0, 8, 1);
            assertEquals(8, m.pinnedFrames());
            ErrnoException e = assertThrows(ErrnoException.class, () -> p.pinPages(ro, 8, true, pas, 8));
            assertEquals(Errno.EFAULT, e.errno());
            assertEquals(8, m.pinnedFrames(), "a failed pin pins nothing");
            // A hole after the mapping ends a read pin short in the same way
            assertEquals(8, p.pinPages(ro, 9, false, pas, 8));
            assertEquals(16, m.pinnedFrames());
            assertEquals(Errno.EFAULT, assertThrows(ErrnoException.class, () -> p.pinPages(ro + 8 * PAGE, 1, false, pas, 0)).errno());
            p.unpinPages(pas, 0, 16, false);
            assertEquals(0, m.pinnedFrames());
        }
    }

    @Test
    void anUnpinOfAFrameWithoutAPinChangesNothing() { // all or nothing, counting repeats
        try (SimulatedMachine m = machine()) {
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(VA, 4 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long[] pas = new long[4];
            assertEquals(4, p.pinPages(va, 4, true, pas, 0));
            long[] twice = {pas[0], pas[1], pas[2], pas[1]}; // page 1 has one pin, asked twice
            ErrnoException e = assertThrows(ErrnoException.class, () -> p.unpinPages(twice, 0, 4, false));
            assertEquals(Errno.EINVAL, e.errno());
            assertPinned(p, va, pas, 0, 4, 1);
            assertEquals(4, m.pinnedFrames());
            // A run of consecutive frames whose tail is not pinned: refused mid-run, nothing changes
            long[] partly = new long[4];
            long va2 = p.mmap(VA + 64 * PAGE, 4 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            assertEquals(2, p.pinPages(va2, 2, true, partly, 0));
            partly[2] = p.translate(va2 + 2 * PAGE);
            partly[3] = p.translate(va2 + 3 * PAGE);
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> p.unpinPages(partly, 0, 4, false)).errno());
            assertPinned(p, va2, partly, 0, 2, 1);
            assertEquals(0, p.pinCount(partly[2]));
            assertEquals(6, m.pinnedFrames());
            p.unpinPages(partly, 0, 2, false);
            long[] notRam = {pas[0], 1L << 45};
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> p.unpinPages(notRam, 0, 2, false)).errno());
            assertPinned(p, va, pas, 0, 4, 1);
            p.unpinPages(pas, 0, 4, false);
            assertEquals(0, m.pinnedFrames());
        }
    }

    @Test
    void pinnedHugePagesOutliveTheirMappingUntilTheLastFrameIsUnpinned() {
        try (SimulatedMachine m = machine()) {
            FrameAllocator fa = m.memory().frames();
            UserProcess p = m.spawn("app", 1000);
            long huge = p.mmap(VA, 2 * M2, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            long[] pas = new long[4];
            // Two frames at the end of the first huge page, two at the start of the second
            assertEquals(4, p.pinPages(huge + M2 - 2 * PAGE, 4, true, pas, 0));
            assertPinned(p, huge + M2 - 2 * PAGE, pas, 0, 4, 1);
            long allocated = fa.allocatedFrames();
            p.munmap(huge, 2 * M2);
            assertEquals(2, m.orphanedPinnedPages(), "both huge pages live on, pinned");
            assertEquals(allocated, fa.allocatedFrames());
            p.unpinPages(pas, 0, 1, false);
            p.unpinPages(pas, 3, 1, false);
            assertEquals(2, m.orphanedPinnedPages(), "each huge page still has a pinned frame");
            p.unpinPages(pas, 1, 2, false);
            assertEquals(0, m.orphanedPinnedPages());
            assertEquals(allocated - 2 * 512, fa.allocatedFrames(), "the last unpin freed both 2 MiB pages");
            assertEquals(0, m.pinnedFrames());
        }
    }

    @Test
    void sharedAndPrivateFileMappings() {
        try (SimulatedMachine m = machine()) {
            UserProcess p = m.spawn("app", 1000);
            MemFd fd = p.memfdCreate("f", 16 * PAGE, 0);
            long shared = p.mmapFile(VA, 16 * PAGE, Prot.READ_WRITE, fd, 0);
            long priv = p.mmapFile(VA + 16 * PAGE, 16 * PAGE, Prot.READ, fd, 0, MapKind.PRIVATE_FILE);
            long[] file = new long[16];
            assertEquals(16, fd.pinPages(0, 16, file, 0));
            long[] pas = new long[32];
            assertEquals(32, p.pinPages(shared, 32, false, pas, 0));
            for (int i = 0; i < 16; i++) {
                assertEquals(file[i], pas[i], "a shared mapping pins the file's page");
                assertEquals(2, p.pinCount(file[i]));
                // A long-term pin of a private mapping unshares (GUP since 6.2): the pin is on a private copy
                assertNotEquals(file[i], pas[16 + i]);
                assertEquals(p.translate(priv + i * PAGE), pas[16 + i]);
                assertEquals(1, p.pinCount(pas[16 + i]));
            }
            // Truncate: the pinned file pages live on; a pin through the mapping past the end is short, then EFAULT
            fd.truncate(8 * PAGE);
            long[] more = new long[16];
            assertEquals(8, p.pinPages(shared, 16, false, more, 0));
            assertEquals(Errno.EFAULT, assertThrows(ErrnoException.class, () -> p.pinPages(shared + 8 * PAGE, 1, false, more, 8)).errno());
            assertEquals(0, fd.pinPages(8 * PAGE, 4, more, 8), "a memfd pin at the end of file pins nothing");
            assertEquals(0, fd.pinPages(64 * PAGE, 4, more, 8), "nor beyond it");
            p.unpinPages(more, 0, 8, false);
            p.unpinPages(pas, 0, 32, false);
            p.unpinPages(file, 0, 16, false);
            assertEquals(0, m.pinnedFrames());
            assertEquals(0, m.orphanedPinnedPages(), "the truncated pages were freed by their last unpin");
        }
    }
}
