package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import org.junit.jupiter.api.Test;

/** User processes: mappings, first touch, huge pages, memfds, long-term pins (pin_user_pages(FOLL_LONGTERM)). */
class SimulatedUserProcessTest {

    private static final long PAGE = 4096;
    private static final long M2 = 2L << 20;
    private static final long G1 = 1L << 30;

    private static SimulatedMachine machine(long ram) {
        return SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(ram).build());
    }

    private static ErrnoException fails(Errno expected, org.junit.jupiter.api.function.Executable call) {
        return fails(expected, call, "");
    }

    private static ErrnoException fails(Errno expected, org.junit.jupiter.api.function.Executable call, String why) {
        ErrnoException e = assertThrows(ErrnoException.class, call, why);
        assertEquals(expected, e.errno(), why + ": " + e.getMessage());
        return e;
    }

    @Test
    void pagesAreAllocatedOnFirstTouch() {
        try (SimulatedMachine m = machine(64L << 20)) {
            FrameAllocator fa = m.memory().frames();
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(0, 16 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            assertEquals(0, va % PAGE);
            assertEquals(0, fa.allocatedFrames(), "mmap alone costs no frame");
            assertEquals(0, p.read64(va + 8), "a fresh page reads zero");
            assertEquals(1, fa.allocatedFrames(), "a read touches");
            p.write64(va + 5 * PAGE, 0x1122_3344_5566_7788L);
            assertEquals(2, fa.allocatedFrames());
            long pa = p.translate(va + 5 * PAGE + 16);
            assertEquals(0x1122_3344_5566_7788L, m.memory().read64(pa - 16), "the VA is backed by that frame");
            assertEquals(pa, p.translate(va + 5 * PAGE + 16), "stable");
            // Unaligned and page-crossing accesses.
            p.write64(va + PAGE - 3, 0x0102_0304_0506_0708L);
            assertEquals(0x0102_0304_0506_0708L, p.read64(va + PAGE - 3));
            byte[] buf = new byte[3 * (int) PAGE];
            for (int i = 0; i < buf.length; i++) {
                buf[i] = (byte) i;
            }
            p.write(va + 7 * PAGE + 100, buf, 0, buf.length);
            byte[] back = new byte[buf.length];
            p.read(va + 7 * PAGE + 100, back, 0, back.length);
            assertArrayEquals(buf, back);
            p.munmap(va, 16 * PAGE);
            assertEquals(0, fa.allocatedFrames(), "munmap frees unpinned pages");
        }
    }

    @Test
    void accessFaultsAreEfault() {
        try (SimulatedMachine m = machine(64L << 20)) {
            UserProcess p = m.spawn("app", 1000);
            long ro = p.mmap(0, 2 * PAGE, Prot.READ, MapKind.ANONYMOUS);
            long none = p.mmap(0, PAGE, Prot.NONE, MapKind.ANONYMOUS);
            fails(Errno.EFAULT, () -> p.write64(ro, 1));
            fails(Errno.EFAULT, () -> p.read64(none));
            fails(Errno.EFAULT, () -> p.read64(0x5000_0000L));
            fails(Errno.EFAULT, () -> p.read(ro + PAGE, new byte[2 * (int) PAGE], 0, 2 * (int) PAGE), "runs off the end");
            fails(Errno.EFAULT, () -> p.translate(0x5000_0000L));
            p.read64(ro); // readable
            long[] out = new long[2];
            assertTrue(fails(Errno.EFAULT, () -> p.pinPages(ro, 1, true, out, 0)).getMessage().contains("read-only"));
            fails(Errno.EFAULT, () -> p.pinPages(none, 1, false, out, 0));
            fails(Errno.EINVAL, () -> p.pinPages(ro + 8, 1, false, out, 0));
            assertEquals(1, p.pinPages(ro, 1, false, out, 0), "read pin of a read-only mapping is fine");
            p.unpinPages(out, 0, 1, false);
        }
    }

    @Test
    void mmapValidatesArguments() {
        try (SimulatedMachine m = machine(64L << 20)) {
            UserProcess p = m.spawn("app", 1000);
            fails(Errno.EINVAL, () -> p.mmap(0, 0, Prot.READ, MapKind.ANONYMOUS));
            fails(Errno.EINVAL, () -> p.mmap(0, 100, Prot.READ, MapKind.ANONYMOUS));
            fails(Errno.EINVAL, () -> p.mmap(0x10_0800L, PAGE, Prot.READ, MapKind.ANONYMOUS));
            fails(Errno.EINVAL, () -> p.mmap(0, PAGE, Prot.READ, MapKind.HUGETLB_2M), "length not a huge page multiple");
            fails(Errno.EINVAL, () -> p.mmap(0, PAGE, 0x10, MapKind.ANONYMOUS));
            fails(Errno.EINVAL, () -> p.mmap(0, PAGE, Prot.READ, MapKind.SHARED));
            long fixed = p.mmap(0x4000_0000L, 4 * PAGE, Prot.READ, MapKind.ANONYMOUS);
            assertEquals(0x4000_0000L, fixed);
            fails(Errno.EEXIST, () -> p.mmap(0x4000_3000L, 4 * PAGE, Prot.READ, MapKind.ANONYMOUS));
            fails(Errno.EPERM, () -> p.mmap(0x1000, PAGE, Prot.READ, MapKind.ANONYMOUS));
            fails(Errno.ENOMEM, () -> p.mmap(0x7fff_ffff_e000L, 2 * PAGE, Prot.READ, MapKind.ANONYMOUS));
            long a = p.mmap(0, 4 * PAGE, Prot.READ, MapKind.ANONYMOUS);
            long b = p.mmap(0, 4 * PAGE, Prot.READ, MapKind.ANONYMOUS);
            assertTrue(b + 4 * PAGE <= a || a + 4 * PAGE <= b, "placements do not overlap");
        }
    }

    @Test
    void munmapSplitsMappings() {
        try (SimulatedMachine m = machine(64L << 20)) {
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(0, 8 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            for (int i = 0; i < 8; i++) {
                p.write64(va + i * PAGE, i + 1);
            }
            p.munmap(va + 2 * PAGE, 3 * PAGE);
            assertEquals(5, m.memory().frames().allocatedFrames());
            assertEquals(2, p.read64(va + PAGE));
            assertEquals(6, p.read64(va + 5 * PAGE), "the right part keeps its pages");
            fails(Errno.EFAULT, () -> p.read64(va + 3 * PAGE));
            p.munmap(va + 3 * PAGE, PAGE); // unmapping a hole is fine
            fails(Errno.EINVAL, () -> p.munmap(va + 1, PAGE));
            fails(Errno.EINVAL, () -> p.munmap(va, 0));
            long again = p.mmap(va + 2 * PAGE, 3 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            assertEquals(0, p.read64(again), "a new mapping of the hole reads zero");
        }
    }

    @Test
    void hugetlbPagesAreContiguousAndNaturallyAligned() {
        try (SimulatedMachine m = machine(3 * G1)) {
            UserProcess p = m.spawn("qemu", 1000);
            long va = p.mmap(0, 2 * M2, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            assertEquals(0, va % M2, "hugetlb placement is aligned to the huge page size");
            long head = p.translate(va);
            assertEquals(0, head % M2, "2 MiB page naturally aligned in physical memory");
            for (long off = 0; off < M2; off += 64 * PAGE + 8) {
                assertEquals(head + off, p.translate(va + off), "contiguous within the huge page");
            }
            assertEquals(512, m.memory().frames().allocatedFrames(), "one order-9 block");
            long second = p.translate(va + M2);
            assertEquals(0, second % M2);
            fails(Errno.EINVAL, () -> p.munmap(va + PAGE, M2), "cannot cut a huge page");
            fails(Errno.EINVAL, () -> p.munmap(va, M2 + PAGE));
            assertEquals(1024, m.memory().frames().allocatedFrames(), "refused munmap changed nothing");

            long g = p.mmap(0, G1, Prot.READ_WRITE, MapKind.HUGETLB_1G);
            assertEquals(0, g % G1);
            long gpa = p.translate(g + 12345 * PAGE + 9);
            assertEquals(0, (gpa - 12345 * PAGE - 9) % G1, "1 GiB page naturally aligned");
            assertEquals(gpa - 12345 * PAGE - 9 + G1 - 8, p.translate(g + G1 - 8));
            // Pinning a huge page pins its 4 KiB base pages, each with the physical address inside the huge page.
            long[] out = new long[3];
            assertEquals(3, p.pinPages(va + PAGE, 3, true, out, 0));
            assertArrayEquals(new long[] {head + PAGE, head + 2 * PAGE, head + 3 * PAGE}, out);
            p.munmap(va, 2 * M2);
            assertEquals(512 + (1 << 18), m.memory().frames().allocatedFrames(), "the pinned huge page stays");
            p.unpinPages(out, 0, 2, false);
            assertEquals(512 + (1 << 18), m.memory().frames().allocatedFrames(), "one base page is still pinned");
            p.unpinPages(out, 2, 1, false);
            assertEquals(1 << 18, m.memory().frames().allocatedFrames(), "freed at the last unpin");
        }
    }

    @Test
    void pinCountsAndMunmapOfAPinnedPage() {
        try (SimulatedMachine m = machine(64L << 20)) {
            FrameAllocator fa = m.memory().frames();
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(0, 4 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long[] out = new long[4];
            assertEquals(4, p.pinPages(va, 4, true, out, 0));
            assertEquals(4, fa.allocatedFrames(), "a pin touches");
            long[] again = new long[1];
            p.pinPages(va + PAGE, 1, false, again, 0);
            assertEquals(out[1], again[0]);
            assertEquals(2, p.pinCount(out[1]));
            assertEquals(1, p.pinCount(out[0]));
            assertEquals(2, p.pinCount(out[1] + 100), "any address in the frame");
            p.write64(va, 0xfeed);
            p.munmap(va, 4 * PAGE);
            assertEquals(4, fa.allocatedFrames(), "pinned pages survive munmap");
            assertEquals(0xfeed, m.memory().read64(out[0]), "and keep their contents (DMA may still use them)");
            assertEquals(4, m.orphanedPinnedPages());
            p.unpinPages(out, 0, 4, true);
            assertEquals(1, fa.allocatedFrames(), "freed at the last unpin, except the doubly pinned one");
            assertEquals(1, p.pinCount(out[1]));
            p.unpinPages(again, 0, 1, false);
            assertEquals(0, fa.allocatedFrames());
            assertEquals(0, m.orphanedPinnedPages());
        }
    }

    @Test
    void unpinOfAnUnpinnedPageIsEinvalAndUnpinsNothing() {
        try (SimulatedMachine m = machine(64L << 20)) {
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(0, 2 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long[] out = new long[2];
            p.pinPages(va, 2, true, out, 0);
            long unpinned = p.translate(va) == out[0] ? out[0] + 64 * PAGE : 0;
            ErrnoException e = fails(Errno.EINVAL, () -> p.unpinPages(new long[] {out[0], out[1], unpinned}, 0, 3, false));
            assertTrue(e.getMessage().contains(Long.toHexString(unpinned)), e.getMessage());
            assertEquals(1, p.pinCount(out[0]), "nothing was unpinned");
            assertEquals(1, p.pinCount(out[1]));
            // The same page twice with one pin: the second is the unpinned one.
            fails(Errno.EINVAL, () -> p.unpinPages(new long[] {out[0], out[0]}, 0, 2, false));
            assertEquals(1, p.pinCount(out[0]));
            p.unpinPages(out, 0, 2, false);
            fails(Errno.EINVAL, () -> p.unpinPages(out, 0, 1, false), "double unpin");
            assertEquals(0, p.pinCount(out[0]));
        }
    }

    @Test
    void aPinThatRunsOffTheMappingReturnsThePagesBefore() {
        try (SimulatedMachine m = machine(64L << 20)) {
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(0, 2 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long[] out = new long[5];
            assertEquals(2, p.pinPages(va, 5, false, out, 0));
            assertEquals(1, p.pinCount(out[1]));
            p.unpinPages(out, 0, 2, false);
        }
    }

    @Test
    void memfdPagesAreSharedBetweenProcesses() {
        try (SimulatedMachine m = machine(64L << 20)) {
            FrameAllocator fa = m.memory().frames();
            UserProcess a = m.spawn("a", 1000);
            UserProcess b = m.spawn("b", 1001);
            MemFd fd = a.memfdCreate("guest-ram", 8 * PAGE, 0);
            assertEquals(PAGE, fd.pageSize());
            long va = a.mmapFile(0, 8 * PAGE, Prot.READ_WRITE, fd, 0);
            long vb = b.mmapFile(0, 4 * PAGE, Prot.READ, fd, 4 * PAGE);
            a.write64(va + 5 * PAGE + 8, 0xabcdL);
            assertEquals(0xabcdL, b.read64(vb + PAGE + 8), "b sees a's write at the same file offset");
            assertEquals(a.translate(va + 5 * PAGE), b.translate(vb + PAGE));
            long[] out = new long[2];
            assertEquals(2, fd.pinPages(5 * PAGE, 2, out, 0));
            assertEquals(a.translate(va + 5 * PAGE), out[0]);
            assertEquals(1, fd.pinPages(7 * PAGE, 4, new long[4], 0) , "fewer only at the end of the file");
            assertEquals(1, a.pinCount(a.translate(va + 7 * PAGE)));
            a.unpinPages(new long[] {a.translate(va + 7 * PAGE)}, 0, 1, false);
            long before = fa.allocatedFrames();
            a.exit();
            assertEquals(before, fa.allocatedFrames(), "b still maps the file: pages live on");
            assertEquals(0xabcdL, b.read64(vb + PAGE + 8));
            b.munmap(vb, 4 * PAGE);
            assertEquals(2, fa.allocatedFrames(), "file gone: only the two pinned pages are left");
            b.unpinPages(out, 0, 2, false);
            assertEquals(0, fa.allocatedFrames());
        }
    }

    @Test
    void privateFileMappingIsCopyOnWrite() { // mmap(MAP_PRIVATE) of a file: reads share, the first write copies
        try (SimulatedMachine m = machine(64L << 20)) {
            FrameAllocator fa = m.memory().frames();
            UserProcess p = m.spawn("app", 1000);
            MemFd f = p.memfdCreate("f", 4 * PAGE, 0);
            long shared = p.mmapFile(0, 4 * PAGE, Prot.READ_WRITE, f, 0);
            long priv = p.mmapFile(0, 4 * PAGE, Prot.READ_WRITE, f, 0, MapKind.PRIVATE_FILE);
            p.write64(shared + PAGE, 0x1111L);
            p.write64(shared + 2 * PAGE, 0x2222L);
            long fileFrames = fa.allocatedFrames();
            assertEquals(0x1111L, p.read64(priv + PAGE), "an unwritten private page reads the file");
            assertEquals(p.translate(shared + PAGE), p.translate(priv + PAGE), "same physical page before COW");
            assertEquals(fileFrames, fa.allocatedFrames(), "reading costs no private frame");
            p.write64(priv + PAGE + 8, 0x3333L); // COW break
            assertEquals(fileFrames + 1, fa.allocatedFrames(), "the first write copies the page");
            assertTrue(p.translate(priv + PAGE) != p.translate(shared + PAGE), "the private copy is another page");
            assertEquals(0x1111L, p.read64(priv + PAGE), "the copy starts with the file's bytes");
            assertEquals(0x3333L, p.read64(priv + PAGE + 8));
            assertEquals(0L, p.read64(shared + PAGE + 8), "the file does not see a private write");
            p.write64(shared + PAGE, 0x4444L);
            assertEquals(0x1111L, p.read64(priv + PAGE), "a copied page no longer follows the file");
            p.write64(shared + 2 * PAGE, 0x5555L);
            assertEquals(0x5555L, p.read64(priv + 2 * PAGE), "an uncopied page still follows the file");
            // munmap of part of the private mapping frees its copy only.
            p.munmap(priv, 2 * PAGE);
            assertEquals(fileFrames, fa.allocatedFrames());
            assertEquals(0x5555L, p.read64(priv + 2 * PAGE), "the remainder keeps its offset in the file");
            p.munmap(priv + 2 * PAGE, 2 * PAGE);
            fails(Errno.EINVAL, () -> p.mmap(0, PAGE, Prot.READ_WRITE, MapKind.PRIVATE_FILE), "needs a file");
            fails(Errno.EINVAL, () -> p.mmapFile(0, PAGE, Prot.READ_WRITE, f, 0, MapKind.ANONYMOUS), "not a file kind");
            p.munmap(shared, 4 * PAGE);
            f.close();
            assertEquals(0, fa.allocatedFrames(), "nothing leaked");
        }
    }

    @Test
    void longTermPinOfAPrivateFileMappingUnsharesEvenForReading() { // gup_must_unshare: R/O FOLL_LONGTERM in a COW mapping
        try (SimulatedMachine m = machine(64L << 20)) {
            FrameAllocator fa = m.memory().frames();
            UserProcess p = m.spawn("app", 1000);
            MemFd f = p.memfdCreate("f", 2 * PAGE, 0);
            long shared = p.mmapFile(0, 2 * PAGE, Prot.READ_WRITE, f, 0);
            p.write64(shared, 0xabcdL);
            long filePage = p.translate(shared);
            long rw = p.mmapFile(0, 2 * PAGE, Prot.READ_WRITE, f, 0, MapKind.PRIVATE_FILE);
            long ro = p.mmapFile(0, 2 * PAGE, Prot.READ, f, 0, MapKind.PRIVATE_FILE);
            long[] out = new long[2];
            assertEquals(1, p.pinPages(rw, 1, false, out, 0));
            assertTrue(out[0] != filePage, "the R/O long-term pin is on a private copy");
            assertEquals(out[0], p.translate(rw), "which now backs the address");
            assertEquals(0, p.pinCount(filePage));
            assertEquals(1, p.pinCount(out[0]));
            assertEquals(0xabcdL, m.memory().read64(out[0]), "a copy of the file's bytes");
            p.write64(rw, 7);
            assertEquals(out[0], p.translate(rw), "a later write does not move the pinned page");
            assertEquals(7, m.memory().read64(out[0]));
            // A PROT_READ private mapping is still a COW mapping (VM_MAYWRITE): a R/O pin unshares too;
            // a FOLL_WRITE pin faults.
            assertEquals(1, p.pinPages(ro, 1, false, out, 1));
            assertTrue(out[1] != filePage);
            assertEquals(0xabcdL, p.read64(ro));
            fails(Errno.EFAULT, () -> p.pinPages(ro + PAGE, 1, true, new long[1], 0));
            // munmap keeps pinned copies until unpinned, then everything goes.
            p.munmap(rw, 2 * PAGE);
            p.munmap(ro, 2 * PAGE);
            assertEquals(1, p.pinCount(out[0]));
            p.unpinPages(out, 0, 2, true);
            p.munmap(shared, 2 * PAGE);
            f.close();
            assertEquals(0, fa.allocatedFrames(), "nothing leaked");
        }
    }

    @Test
    void ftruncateOfAMemfd() { // shmem ftruncate: cut pages leave the file, pinned ones live on; beyond EOF is SIGBUS
        try (SimulatedMachine m = machine(64L << 20)) {
            FrameAllocator fa = m.memory().frames();
            UserProcess p = m.spawn("app", 1000);
            MemFd f = p.memfdCreate("f", 4 * PAGE, 0);
            long va = p.mmapFile(0, 4 * PAGE, Prot.READ_WRITE, f, 0);
            long priv = p.mmapFile(0, 4 * PAGE, Prot.READ_WRITE, f, 0, MapKind.PRIVATE_FILE);
            for (int i = 0; i < 4; i++) {
                p.write64(va + i * PAGE + PAGE - 8, 0x100L + i);
            }
            p.write64(va + PAGE + 8, 0xbeefL);
            p.write64(priv + 3 * PAGE, 1); // a private copy of the last page
            long[] pin = new long[1];
            assertEquals(1, f.pinPages(3 * PAGE, 1, pin, 0));
            assertEquals(5, fa.allocatedFrames());

            f.truncate(PAGE + 16); // keeps page 0, the first 16 bytes of page 1
            assertEquals(PAGE + 16, f.size());
            assertEquals(0xbeefL, p.read64(va + PAGE + 8), "the part of the cut page within EOF stays");
            assertEquals(0, p.read64(va + 2 * PAGE - 8), "the tail of the cut page is zeroed");
            assertEquals(0x100L, p.read64(va + PAGE - 8));
            fails(Errno.EFAULT, () -> p.read64(va + 2 * PAGE), "a page wholly beyond EOF is SIGBUS");
            fails(Errno.EFAULT, () -> p.write64(va + 3 * PAGE, 1));
            fails(Errno.EFAULT, () -> p.read64(priv + 3 * PAGE), "even where a private copy was made");
            fails(Errno.EFAULT, () -> p.pinPages(va + 2 * PAGE, 1, false, new long[1], 0));
            assertEquals(1, f.pinPages(PAGE, 4, new long[4], 0), "a file pin stops at the page holding EOF");
            assertEquals(1, p.pinCount(pin[0]), "the pinned page lives on");
            assertEquals(0x103L, m.memory().read64(pin[0] + PAGE - 8), "with its contents");
            // page 2 freed; page 3 kept by its pin; page 1's pin above taken and released below.
            p.unpinPages(new long[] {p.translate(va + PAGE)}, 0, 1, false);
            p.unpinPages(pin, 0, 1, false);

            f.truncate(4 * PAGE); // grow: holes read zero
            assertEquals(0, p.read64(va + 3 * PAGE + PAGE - 8));
            assertEquals(0, p.read64(va + PAGE + PAGE - 8), "the zeroed tail stays zero");

            fails(Errno.EINVAL, () -> f.truncate(-1));
            fails(Errno.EOPNOTSUPP, () -> f.truncate(8 * PAGE), "growing beyond the creation size");
            MemFd huge = p.memfdCreate("h", M2, 21);
            fails(Errno.EINVAL, () -> huge.truncate(PAGE), "hugetlb truncate is huge page aligned");
            huge.truncate(0);
            huge.close();
            fails(Errno.EBADF, () -> huge.truncate(0));
            p.munmap(va, 4 * PAGE);
            p.munmap(priv, 4 * PAGE);
            f.close();
            assertEquals(0, fa.allocatedFrames(), "nothing leaked");
        }
    }

    @Test
    void pfnMapOfPhysicalPages() { // io_remap_pfn_range: VM_IO | VM_PFNMAP; vm_ops->close once the last piece goes
        try (SimulatedMachine m = machine(64L << 20)) {
            FrameAllocator fa = m.memory().frames();
            long pa = fa.allocate(1);
            m.memory().write64(pa + PAGE, 0x77L);
            UserProcess p = m.spawn("app", 1000);
            int[] closes = {0};
            long va = p.mmapPhysical(0, 2 * PAGE, Prot.READ_WRITE, pa, () -> closes[0]++);
            assertEquals(pa + PAGE + 8, p.translate(va + PAGE + 8));
            assertEquals(0x77L, p.read64(va + PAGE));
            p.write64(va, 0x55L);
            assertEquals(0x55L, m.memory().read64(pa), "writes reach the physical page");
            fails(Errno.EFAULT, () -> p.pinPages(va, 1, false, new long[1], 0), "GUP refuses VM_PFNMAP");
            long[] two = new long[2];
            long anon = p.mmap(va - PAGE, PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            assertEquals(1, p.pinPages(anon, 2, false, two, 0), "a pin running into a PFN map stops before it");
            p.unpinPages(two, 0, 1, false);
            fails(Errno.EINVAL, () -> p.mmapPhysical(0, PAGE, Prot.READ, pa + 1, () -> { }));
            fails(Errno.EINVAL, () -> p.mmap(0, PAGE, Prot.READ, MapKind.PFN_MAP));
            p.munmap(va, PAGE);
            assertEquals(0, closes[0], "a piece is still mapped");
            assertEquals(0x77L, p.read64(va + PAGE), "the remainder keeps its physical offset");
            p.munmap(va + PAGE, PAGE);
            assertEquals(1, closes[0]);
            long again = p.mmapPhysical(0, PAGE, Prot.READ, pa, () -> closes[0]++);
            assertEquals(0x55L, p.read64(again));
            p.exit();
            assertEquals(2, closes[0], "exit closes it too");
            assertEquals(2, fa.allocatedFrames(), "the mapping neither allocated nor freed frames");
            fa.free(pa, 1);
        }
    }

    @Test
    void memfdValidation() {
        try (SimulatedMachine m = machine(64L << 20)) {
            UserProcess a = m.spawn("a", 1000);
            fails(Errno.EINVAL, () -> a.memfdCreate("x", 100, 0));
            fails(Errno.EINVAL, () -> a.memfdCreate("x", M2, 22));
            fails(Errno.EINVAL, () -> a.memfdCreate("x", PAGE, 21), "smaller than a huge page");
            MemFd huge = a.memfdCreate("h", 2 * M2, 21);
            assertEquals(M2, huge.pageSize());
            fails(Errno.EINVAL, () -> a.mmapFile(0, M2, Prot.READ, huge, PAGE));
            long[] out = new long[2];
            huge.pinPages(M2 - PAGE, 2, out, 0);
            assertEquals(0, out[0] % PAGE);
            assertTrue(out[1] % M2 == 0, "the second base page starts the second huge page");
            a.unpinPages(out, 0, 2, false);
            MemFd small = a.memfdCreate("s", PAGE, 0);
            assertTrue(small.fd() != huge.fd());
            small.close();
            fails(Errno.EBADF, () -> a.mmapFile(0, PAGE, Prot.READ, small, 0));
            fails(Errno.EBADF, small::close);
        }
    }

    @Test
    void exitUnmapsEverythingButPinnedPages() {
        try (SimulatedMachine m = machine(64L << 20)) {
            FrameAllocator fa = m.memory().frames();
            UserProcess p = m.spawn("app", 1000);
            long va = p.mmap(0, 8 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            for (int i = 0; i < 8; i++) {
                p.write64(va + i * PAGE, i);
            }
            long[] out = new long[1];
            p.pinPages(va + 3 * PAGE, 1, true, out, 0);
            p.exit();
            assertFalse(p.alive());
            assertEquals(1, fa.allocatedFrames());
            fails(Errno.EFAULT, () -> p.read64(va));
            fails(Errno.EFAULT, () -> p.pinPages(va, 1, false, new long[1], 0));
            fails(Errno.ESRCH, () -> p.mmap(0, PAGE, Prot.READ, MapKind.ANONYMOUS));
            p.unpinPages(out, 0, 1, false); // the pin outlives the process
            assertEquals(0, fa.allocatedFrames());
        }
    }

    @Test
    void credentials() {
        try (SimulatedMachine m = machine(64L << 20)) {
            UserProcess p = m.spawn("app", 1000);
            assertFalse(p.capable(ProcessCapability.CAP_IPC_LOCK));
            p.grant(ProcessCapability.CAP_IPC_LOCK);
            assertTrue(p.capable(ProcessCapability.CAP_IPC_LOCK));
            assertFalse(p.capable(ProcessCapability.CAP_SYS_ADMIN));
            p.revoke(ProcessCapability.CAP_IPC_LOCK);
            assertFalse(p.capable(ProcessCapability.CAP_IPC_LOCK));
            p.setRlimitMemlock(Long.MAX_VALUE);
            assertEquals(Long.MAX_VALUE, p.rlimitMemlock());
            fails(Errno.EINVAL, () -> p.setRlimitMemlock(-1));
        }
    }

    @Test
    void racingFirstTouchesAllocateEachPageOnce() throws Exception {
        try (SimulatedMachine m = machine(64L << 20)) {
            UserProcess p = m.spawn("app", 1000);
            int pages = 2048;
            long va = p.mmap(0, pages * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long[][] seen = new long[2][pages];
            Thread[] ts = new Thread[2];
            for (int t = 0; t < 2; t++) {
                int me = t;
                ts[t] = new Thread(() -> {
                    for (int i = 0; i < pages; i++) {
                        seen[me][i] = p.translate(va + i * PAGE);
                    }
                });
                ts[t].start();
            }
            for (Thread t : ts) {
                t.join();
            }
            assertArrayEquals(seen[0], seen[1], "both threads see the same frame for every page");
            assertEquals(pages, m.memory().frames().allocatedFrames(), "losers of a race gave their frame back");
        }
    }
}
