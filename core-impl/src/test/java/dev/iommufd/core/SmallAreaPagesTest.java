package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.AccessOps;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IommufdAccess;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * IOAS_MAPs of 2..{@value IoAreaTable#SMALL_PAGES} user pages whose {@code struct iopt_pages} lives in the area's slot
 * (a PFN block of {@link IoAreaTable}, no {@link IoPages} object): pins ({@code pin_user_pages} once per page while a
 * domain span covers it), accounting ({@code user->locked_vm}, {@code mm->pinned_vm}; the process has no
 * CAP_IPC_LOCK), domain fill, IOAS_COPY sharing, access pins of a part, the VFIO type1 cut, IOAS_CHANGE_PROCESS and
 * fault injection must behave exactly as for an {@link IoPages} object (kernel drivers/iommu/iommufd/pages.c and
 * io_pagetable.c). Expected pins, charges and physical addresses are computed from the kernel rules and from the
 * process's page tables, not read back from the code under test.
 */
class SmallAreaPagesTest extends IoasPinningTest {
    private static final int N = IoAreaTable.SMALL_PAGES;
    private static final int RW = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE;
    private static final int RW_FIXED = RW | IommuIoasMap.FLAG_FIXED_IOVA;

    /** 2 * N + 2 pages of anonymous memory, every page touched. */
    private final long buf;

    SmallAreaPagesTest() {
        proc.setRlimitMemlock(256 * PAGE);
        buf = proc.mmap(0, (2L * N + 2) * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        for (int i = 0; i < 2 * N + 2; i++) {
            proc.write64(buf + i * PAGE, 0x1000 + i);
        }
    }

    /** Pins of the pages {@code [va, va + n * PAGE)}, one entry per page. */
    private int[] pins(long va, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = pins(va + i * PAGE);
        }
        return out;
    }

    private static int[] repeat(int v, int n) {
        int[] out = new int[n];
        java.util.Arrays.fill(out, v);
        return out;
    }

    private void assertCharged(long pages) {
        assertEquals(pages, proc.user().lockedVm(), "user locked_vm (pages)");
        assertEquals(pages, proc.mm().pinnedVm(), "pinned_vm (pages)");
    }

    private int blocksInUse(int ioas) {
        IoPageTable t = iopt(ioas);
        t.lock.lock();
        try {
            return blocksInUse(t);
        } finally {
            t.lock.unlock();
        }
    }

    private static int blocksInUse(IoPageTable t) {
        try {
            java.lang.reflect.Field f = IoPageTable.class.getDeclaredField("areas");
            f.setAccessible(true);
            return ((IoAreaTable) f.get(t)).pfnBlocksInUse();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    private IommufdAccess access(int ioas) {
        IommufdAccess a = ctx.accessCreate(proc, new AccessOps() {
            @Override
            public boolean needsPinPages() {
                return true;
            }

            @Override
            public void unmap(IommufdAccess acc, long iova, long length) {
            }
        });
        a.attach(ioas);
        return a;
    }

    @Test
    void sixteenPagesArePinnedOnceAndChargedOnlyWhileADomainCoversThem() { // pages.c: pin on fill, unpin on unfill
        int ioas = ctx.ioasAlloc();
        long iova = ctx.ioasMap(proc, ioas, RW_FIXED, buf, N * PAGE, 0x10_0000L);
        assertTrue(iopt(ioas).pagesHeldInSlot(iova), "a map of " + N + " pages keeps its pages in the slot");
        assertArrayEquals(repeat(0, N), pins(buf, N), "no domain: nothing pinned");
        assertCharged(0);
        assertEquals(0, blocksInUse(ioas));
        RecordingDomain d = addDomain(ioas);
        assertArrayEquals(repeat(1, N), pins(buf, N));
        assertCharged(N);
        assertEquals(1, blocksInUse(ioas));
        for (int i = 0; i < N; i++) {
            assertEquals(proc.translate(buf + i * PAGE), d.iovaToPhys(iova + i * PAGE), "page " + i);
        }
        // pinnedRuns: one run per physically contiguous stretch, built here from the process's page tables.
        List<PinnedRun> expected = new ArrayList<>();
        long runIova = iova;
        long runPa = proc.translate(buf);
        long runLen = PAGE;
        for (int i = 1; i < N; i++) {
            long pa = proc.translate(buf + i * PAGE);
            if (pa == runPa + runLen) {
                runLen += PAGE;
            } else {
                expected.add(new PinnedRun(runIova, runPa, runLen, IoProtBits.RW_CACHE));
                runIova = iova + i * PAGE;
                runPa = pa;
                runLen = PAGE;
            }
        }
        expected.add(new PinnedRun(runIova, runPa, runLen, IoProtBits.RW_CACHE));
        assertEquals(expected, iopt(ioas).pinnedRuns());
        // A second, overlapping small map pins the shared pages a second time (separate iopt_pages).
        long iova2 = ctx.ioasMap(proc, ioas, RW, buf + (N - 2) * PAGE, 4 * PAGE, 0);
        assertTrue(iopt(ioas).pagesHeldInSlot(iova2));
        assertEquals(2, pins(buf + (N - 1) * PAGE));
        assertEquals(1, pins(buf + (N + 1) * PAGE));
        assertCharged(N + 4);
        assertEquals(2, blocksInUse(ioas));
        assertEquals(N * PAGE, ctx.ioasUnmap(ioas, iova, N * PAGE));
        assertArrayEquals(repeat(0, N - 2), pins(buf, N - 2));
        assertArrayEquals(repeat(1, 4), pins(buf + (N - 2) * PAGE, 4));
        assertCharged(4);
        assertEquals(1, blocksInUse(ioas));
        iopt(ioas).removeDomain(d);
        assertCharged(0);
        assertArrayEquals(repeat(0, 4), pins(buf + (N - 2) * PAGE, 4));
        assertTrue(d.leaves.isEmpty());
        assertEquals(0, blocksInUse(ioas));
        ctx.ioasUnmap(ioas, iova2, 4 * PAGE);
    }

    @Test
    void theSizeLimitIsPagesTouchedNotBytes() { // SMALL_PAGES pages, counting the partial first and last page
        int bare = ctx.ioasAlloc(); // no domain: byte-granular IOVA alignment, nothing pinned
        long a = ctx.ioasMap(proc, bare, RW_FIXED, buf + 0x800, (N - 1) * PAGE, 0x10_0800L);
        assertTrue(iopt(bare).pagesHeldInSlot(a), "N - 1 pages of bytes from mid-page touch N pages");
        long b = ctx.ioasMap(proc, bare, RW_FIXED, buf + 0x800, N * PAGE, 0x80_0800L);
        assertFalse(iopt(bare).pagesHeldInSlot(b), "N pages of bytes from mid-page touch N + 1 pages");
        assertEquals(N * PAGE, ctx.ioasUnmap(bare, b, N * PAGE));
        assertEquals((N - 1) * PAGE, ctx.ioasUnmap(bare, a, (N - 1) * PAGE));
        int ioas = ctx.ioasAlloc();
        RecordingDomain d = addDomain(ioas);
        long c = ctx.ioasMap(proc, ioas, RW, buf, N * PAGE, 0);
        long e = ctx.ioasMap(proc, ioas, RW, buf, (N + 1) * PAGE, 0);
        assertTrue(iopt(ioas).pagesHeldInSlot(c));
        assertFalse(iopt(ioas).pagesHeldInSlot(e));
        assertArrayEquals(repeat(2, N), pins(buf, N));
        assertEquals(1, pins(buf + N * PAGE));
        assertCharged(2L * N + 1);
        assertEquals(proc.translate(buf + N * PAGE), d.iovaToPhys(e + N * PAGE));
        ctx.ioasUnmap(ioas, c, N * PAGE);
        ctx.ioasUnmap(ioas, e, (N + 1) * PAGE);
        assertCharged(0);
        assertEquals(0, blocksInUse(ioas));
    }

    @Test
    void overTheMemlockLimitTheMapFailsAndLeavesNothing() { // iopt_pages_update_pinned: ENOMEM after the pin
        int ioas = ctx.ioasAlloc();
        addDomain(ioas);
        proc.setRlimitMemlock((N - 1) * PAGE);
        ErrnoException e = assertThrows(ErrnoException.class, () -> ctx.ioasMap(proc, ioas, RW, buf, N * PAGE, 0));
        assertEquals(Errno.ENOMEM, e.errno());
        assertEquals(0, iopt(ioas).areaCount());
        assertArrayEquals(repeat(0, N), pins(buf, N));
        assertCharged(0);
        assertEquals(0, blocksInUse(ioas));
        long ok = ctx.ioasMap(proc, ioas, RW, buf, (N - 1) * PAGE, 0);
        assertCharged(N - 1);
        ctx.ioasUnmap(ioas, ok, (N - 1) * PAGE);
    }

    @Test
    void aShortPinAtAnUnwritableMappingFailsAndUnpinsThePrefix() { // GUP stops at the VMA; EFAULT, nothing kept
        long base = 0x7100_0000_0000L;
        proc.mmap(base, 4 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        proc.mmap(base + 4 * PAGE, 4 * PAGE, Prot.READ, MapKind.ANONYMOUS);
        for (int i = 0; i < 4; i++) {
            proc.write64(base + i * PAGE, i);
        }
        int ioas = ctx.ioasAlloc();
        addDomain(ioas);
        ErrnoException e = assertThrows(ErrnoException.class, () -> ctx.ioasMap(proc, ioas, RW, base, 8 * PAGE, 0));
        assertEquals(Errno.EFAULT, e.errno());
        assertArrayEquals(repeat(0, 4), pins(base, 4), "the pinned prefix was unpinned");
        assertCharged(0);
        assertEquals(0, iopt(ioas).areaCount());
        assertEquals(0, blocksInUse(ioas));
        // Read-only maps pin the read-only pages fine.
        long ro = ctx.ioasMap(proc, ioas, IommuIoasMap.FLAG_READABLE, base, 8 * PAGE, 0);
        assertTrue(iopt(ioas).pagesHeldInSlot(ro));
        assertArrayEquals(repeat(1, 8), pins(base, 8), "two mappings, one pin per page");
        assertCharged(8);
        ctx.ioasUnmap(ioas, ro, 8 * PAGE);
    }

    @Test
    void copySharesThePagesAndTheirSinglePin() { // IOAS_COPY: iopt_get_pages + iopt_map_pages, never re-pins
        int src = ctx.ioasAlloc();
        int dst = ctx.ioasAlloc();
        addDomain(src);
        RecordingDomain dd = addDomain(dst);
        long iova = ctx.ioasMap(proc, src, RW, buf + PAGE, N * PAGE, 0);
        assertTrue(iopt(src).pagesHeldInSlot(iova));
        long copied = ctx.ioasCopy(dst, src, RW, N * PAGE, 0, iova);
        assertFalse(iopt(src).pagesHeldInSlot(iova), "shared pages are an object");
        assertEquals(0, blocksInUse(src), "the block went back when the pages became an object");
        assertArrayEquals(repeat(1, N), pins(buf + PAGE, N));
        assertCharged(N);
        for (int i = 0; i < N; i++) {
            assertEquals(proc.translate(buf + (i + 1) * PAGE), dd.iovaToPhys(copied + i * PAGE));
        }
        ctx.ioasUnmap(src, iova, N * PAGE);
        assertArrayEquals(repeat(1, N), pins(buf + PAGE, N), "the copy's domain still maps the pages");
        assertCharged(N);
        ctx.ioasUnmap(dst, copied, N * PAGE);
        assertArrayEquals(repeat(0, N), pins(buf + PAGE, N));
        assertCharged(0);
    }

    @Test
    void copyOfAnUnpinnedSlotPinsInTheDestination() { // no domain in the source: the copy's fill pins
        int src = ctx.ioasAlloc();
        int dst = ctx.ioasAlloc();
        long iova = ctx.ioasMap(proc, src, RW, buf, 3 * PAGE, 0);
        assertArrayEquals(repeat(0, 3), pins(buf, 3));
        RecordingDomain dd = addDomain(dst);
        long copied = ctx.ioasCopy(dst, src, RW, 3 * PAGE, 0, iova);
        assertArrayEquals(repeat(1, 3), pins(buf, 3));
        assertCharged(3);
        assertEquals(proc.translate(buf + 2 * PAGE), dd.iovaToPhys(copied + 2 * PAGE));
        ctx.ioasUnmap(dst, copied, 3 * PAGE);
        assertCharged(0);
        ctx.ioasUnmap(src, iova, 3 * PAGE);
    }

    @Test
    void anAccessPinOfAPartSharesThePinsWithTheDomain() { // iopt_area_add_access on a sub-range: one pin per page
        int ioas = ctx.ioasAlloc();
        addDomain(ioas);
        long iova = ctx.ioasMap(proc, ioas, RW, buf, N * PAGE, 0);
        IommufdAccess a = access(ioas);
        long[] pa = a.pinPages(iova + 3 * PAGE, 2 * PAGE, IommufdAccess.RW_WRITE);
        assertArrayEquals(new long[] {proc.translate(buf + 3 * PAGE), proc.translate(buf + 4 * PAGE)}, pa);
        assertFalse(iopt(ioas).pagesHeldInSlot(iova), "a partial access span needs an IoPages object");
        assertArrayEquals(repeat(1, N), pins(buf, N), "the access joins the domain's pins");
        assertCharged(N);
        ErrnoException busy = assertThrows(ErrnoException.class, () -> a.unpinPages(iova + 3 * PAGE, PAGE));
        assertEquals(Errno.EINVAL, busy.errno(), "unpin must match the pinned range");
        a.unpinPages(iova + 3 * PAGE, 2 * PAGE);
        assertArrayEquals(repeat(1, N), pins(buf, N));
        ctx.ioasUnmap(ioas, iova, N * PAGE);
        assertCharged(0);
        a.close();
    }

    @Test
    void anAccessPinWithoutADomainPinsOnlyItsPages() { // no domain: the access span alone pins
        int ioas = ctx.ioasAlloc();
        long iova = ctx.ioasMap(proc, ioas, RW, buf, 8 * PAGE, 0);
        IommufdAccess a = access(ioas);
        a.pinPages(iova + 2 * PAGE, 3 * PAGE, 0);
        assertArrayEquals(new int[] {0, 0, 1, 1, 1, 0, 0, 0}, pins(buf, 8));
        assertCharged(3);
        a.unpinPages(iova + 2 * PAGE, 3 * PAGE);
        assertArrayEquals(repeat(0, 8), pins(buf, 8));
        assertCharged(0);
        ctx.ioasUnmap(ioas, iova, 8 * PAGE);
        a.close();
    }

    @Test
    void cutSplitsASmallAreaIntoTwoSharingItsPins() { // iopt_cut_iova (VFIO type1 v1 unmap of a part)
        int ioas = ctx.ioasAlloc();
        iopt(ioas).disableLargePages(); // a cut of a filled area needs huge pages off
        RecordingDomain d = addDomain(ioas);
        long iova = ctx.ioasMap(proc, ioas, RW_FIXED, buf, N * PAGE, 0x40_0000L);
        iopt(ioas).cutIova(new long[] {iova + 5 * PAGE - 1});
        assertEquals(List.of(new IovaRange(iova, iova + 5 * PAGE - 1), new IovaRange(iova + 5 * PAGE, iova + N * PAGE - 1)),
                iopt(ioas).areaRanges());
        assertFalse(iopt(ioas).pagesHeldInSlot(iova));
        assertEquals(0, blocksInUse(ioas));
        assertArrayEquals(repeat(1, N), pins(buf, N), "a cut changes no pin");
        assertCharged(N);
        assertEquals(5 * PAGE, ctx.ioasUnmap(ioas, iova, 5 * PAGE));
        assertArrayEquals(repeat(0, 5), pins(buf, 5), "the left half's pages lost their only span");
        assertArrayEquals(repeat(1, N - 5), pins(buf + 5 * PAGE, N - 5));
        assertCharged(N - 5);
        assertEquals(proc.translate(buf + 7 * PAGE), d.iovaToPhys(iova + 7 * PAGE));
        ctx.ioasUnmap(ioas, iova + 5 * PAGE, (N - 5) * PAGE);
        assertCharged(0);
    }

    @Test
    void changeOfProcessRefusesUserMapsAndKeepsThePins() { // IOAS_CHANGE_PROCESS: EINVAL for user memory
        int ioas = ctx.ioasAlloc();
        addDomain(ioas);
        long iova = ctx.ioasMap(proc, ioas, RW, buf, N * PAGE, 0);
        ErrnoException e = assertThrows(ErrnoException.class, () -> ctx.ioasChangeProcess(proc));
        assertEquals(Errno.EINVAL, e.errno());
        assertArrayEquals(repeat(1, N), pins(buf, N));
        assertCharged(N);
        assertEquals(N * PAGE, ctx.ioasUnmap(ioas, iova, N * PAGE));
        assertArrayEquals(repeat(0, N), pins(buf, N));
        assertCharged(0);
    }

    @Test
    void aFailedDomainMapUnwindsThePins() { // iopt_area_fill_domains: unmap what was mapped, unpin, no area
        int ioas = ctx.ioasAlloc();
        RecordingDomain d = addDomain(ioas);
        // Force one map_pages call per page (huge pages off) and fail the third.
        iopt(ioas).removeDomain(d);
        iopt(ioas).disableLargePages();
        iopt(ioas).addDomain(d);
        d.failMapAt = (int) d.calls.stream().filter(RecordingDomain.Call::map).count() + 2;
        ErrnoException e = assertThrows(ErrnoException.class, () -> ctx.ioasMap(proc, ioas, RW, buf, N * PAGE, 0));
        assertEquals(Errno.ENOMEM, e.errno());
        assertTrue(d.leaves.isEmpty(), "the pages mapped before the failure are unmapped");
        assertArrayEquals(repeat(0, N), pins(buf, N));
        assertCharged(0);
        assertEquals(0, iopt(ioas).areaCount());
        assertEquals(0, blocksInUse(ioas));
    }

    @Test
    void everyInjectedFailureOfASmallMapLeavesNothing() { // iommufd_fail_nth over IOAS_MAP of N pages with a domain
        int ioas = ctx.ioasAlloc();
        addDomain(ioas);
        int fired = 0;
        List<String> points = new ArrayList<>();
        for (int nth = 1; ; nth++) {
            FaultInjection.arm(nth);
            long iova = -1;
            try {
                iova = ctx.ioasMap(proc, ioas, RW, buf + PAGE, N * PAGE, 0);
            } catch (ErrnoException e) {
                assertEquals(Errno.ENOMEM, e.errno());
            } finally {
                String point = FaultInjection.disarm();
                if (point != null) {
                    fired++;
                    points.add(point);
                    assertEquals(-1, iova, "the call failed at " + point);
                    assertEquals(0, iopt(ioas).areaCount(), "area left after " + point);
                    assertArrayEquals(repeat(0, N), pins(buf + PAGE, N), "pins left after " + point);
                    assertCharged(0);
                    assertEquals(0, blocksInUse(ioas), "PFN block left after " + point);
                }
            }
            if (iova != -1) {
                assertArrayEquals(repeat(1, N), pins(buf + PAGE, N));
                ctx.ioasUnmap(ioas, iova, N * PAGE);
                break;
            }
        }
        assertTrue(points.containsAll(List.of("iopt_alloc_area", "pin_user_pages", "iopt_pages_update_pinned", "iommu_map")),
                "fault points fired: " + points);
        assertTrue(fired >= 4);
    }

    @Test
    void aChurnReusesOneBlockAndKeepsCountsExact() { // map/unmap at an allocated IOVA, as a NIC driver does
        int ioas = ctx.ioasAlloc();
        RecordingDomain d = addDomain(ioas);
        for (int i = 0; i < 200; i++) {
            int n = 2 + i % (N - 1);
            long va = buf + (i % N) * PAGE;
            long iova = ctx.ioasMap(proc, ioas, RW, va, n * PAGE, 0);
            assertEquals(1, blocksInUse(ioas));
            assertEquals(1, pins(va + (n - 1) * PAGE));
            assertCharged(n);
            assertEquals(proc.translate(va + (n - 1) * PAGE), d.iovaToPhys(iova + (n - 1) * PAGE));
            assertEquals(n * PAGE, ctx.ioasUnmap(ioas, iova, n * PAGE));
            assertEquals(0, blocksInUse(ioas));
        }
        assertCharged(0);
        assertTrue(d.leaves.isEmpty());
    }

    @Test
    void theDomainIsFilledOneCallPerPhysicallyContiguousRun() { // batch_to_domain: runs of consecutive PFNs
        int ioas = ctx.ioasAlloc();
        RecordingDomain d = addDomain(ioas);
        // Pages faulted in from the last to the first: frames in descending order, so no two pages are consecutive
        // in IOVA and physical memory at once (unless the allocator says otherwise: the runs are computed below).
        long scattered = proc.mmap(0, N * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        for (int i = N - 1; i >= 0; i--) {
            proc.write64(scattered + i * PAGE, i);
        }
        for (long va : new long[] {buf, scattered}) {
            List<long[]> runs = new ArrayList<>(); // {page index, pages}
            for (int i = 0; i < N; i++) {
                long[] last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
                if (last != null && proc.translate(va + i * PAGE) == proc.translate(va + last[0] * PAGE) + last[1] * PAGE) {
                    last[1]++;
                } else {
                    runs.add(new long[] {i, 1});
                }
            }
            int before = d.calls.size();
            long iova = ctx.ioasMap(proc, ioas, RW, va, N * PAGE, 0);
            List<RecordingDomain.Call> expected = new ArrayList<>();
            for (long[] r : runs) {
                expected.add(new RecordingDomain.Call(true, iova + r[0] * PAGE, proc.translate(va + r[0] * PAGE), PAGE, r[1]));
            }
            assertEquals(expected, d.calls.subList(before, d.calls.size()), "map_pages calls for the pages at " + Long.toHexString(va));
            assertArrayEquals(repeat(1, N), pins(va, N));
            int syncs = d.syncs;
            ctx.ioasUnmap(ioas, iova, N * PAGE);
            assertEquals(runs.size(), d.calls.size() - before - expected.size(), "one unmap_pages per run");
            assertEquals(syncs + 1, d.syncs, "one IOTLB sync per IOAS_UNMAP");
            assertArrayEquals(repeat(0, N), pins(va, N), "the unpin released every page, one run or several");
        }
        assertTrue(d.leaves.isEmpty());
        assertCharged(0);
    }

    @Test
    void pagesThePinFaultsInAreMappedAndUnpinnedLikeTouchedOnes() { // pin_user_pages faults absent pages in
        int ioas = ctx.ioasAlloc();
        RecordingDomain d = addDomain(ioas);
        long fresh = proc.mmap(0, N * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS); // nothing touched
        proc.write64(fresh + 3 * PAGE, 3); // one page present: the walk pins 0..2 locked, 3 lockless, 4.. locked
        long iova = ctx.ioasMap(proc, ioas, RW, fresh, N * PAGE, 0);
        assertArrayEquals(repeat(1, N), pins(fresh, N));
        assertCharged(N);
        for (int i = 0; i < N; i++) {
            assertEquals(proc.translate(fresh + i * PAGE), d.iovaToPhys(iova + i * PAGE), "page " + i);
        }
        assertEquals(N * PAGE, ctx.ioasUnmap(ioas, iova, N * PAGE));
        assertArrayEquals(repeat(0, N), pins(fresh, N));
        assertCharged(0);
        assertEquals(0, blocksInUse(ioas));
        assertTrue(d.leaves.isEmpty());
    }

    /** IoProt READ | WRITE | CACHE, as IOAS_MAP with READABLE | WRITEABLE sets it (conv_iommu_prot). */
    private static final class IoProtBits {
        static final int RW_CACHE = dev.iommufd.spi.IoProt.READ | dev.iommufd.spi.IoProt.WRITE | dev.iommufd.spi.IoProt.CACHE;
    }
}
