package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import dev.iommufd.platform.UserProcess;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One-page IOAS_MAPs whose {@code struct iopt_pages} lives in the area's slot ({@link IoAreaTable}): the pin,
 * accounting ({@code user->locked_vm}, {@code mm->pinned_vm}), domain filling, access spans, IOAS_COPY sharing, the
 * VFIO type1 cut and fault injection must behave exactly as for an {@link IoPages} object (kernel
 * drivers/iommu/iommufd/pages.c and io_pagetable.c; the process has no CAP_IPC_LOCK, so pins are charged to the
 * user). Expected pin counts and charges are computed from the kernel rules (one pin per page while any span covers
 * it), not read back from the code under test.
 */
class AreaSlotPagesTest extends IoasPinningTest {
    private static final int RW = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE;
    private static final int RW_FIXED = RW | IommuIoasMap.FLAG_FIXED_IOVA;

    private final long buf;

    AreaSlotPagesTest() {
        proc.setRlimitMemlock(64 * PAGE);
        buf = proc.mmap(0, 16 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        byte[] b = new byte[(int) (16 * PAGE)];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i * 7 + 3);
        }
        proc.write(buf, b, 0, b.length);
    }


    private void assertCharged(long pages) {
        assertEquals(pages, proc.user().lockedVm(), "user locked_vm (pages)");
        assertEquals(pages, proc.mm().pinnedVm(), "pinned_vm (pages)");
    }

    private IommufdAccess access(int ioas) {
        return access(ioas, true);
    }

    private IommufdAccess access(int ioas, boolean pins) {
        IommufdAccess a = ctx.accessCreate(proc, new AccessOps() {
            @Override
            public boolean needsPinPages() {
                return pins;
            }

            @Override
            public void unmap(IommufdAccess acc, long iova, long length) {
            }
        });
        a.attach(ioas);
        return a;
    }

    @Test
    void onePageMapIsPinnedAndChargedOnlyWhileADomainCoversIt() { // pages.c: pin on domain fill, unpin on unfill
        int ioas = ctx.ioasAlloc();
        long sub = ctx.ioasMap(proc, ioas, RW_FIXED, buf + 7 * PAGE + 0x100, 0x800, 0x20_0100L);
        assertTrue(iopt(ioas).pagesHeldInSlot(sub), "a map inside one page keeps its pages in the slot");
        assertEquals(List.of(), iopt(ioas).pinnedRuns(), "nothing pinned, nothing to report");
        ctx.ioasUnmap(ioas, sub, 0x800);
        long iova = ctx.ioasMap(proc, ioas, RW_FIXED, buf, PAGE, 0x10_0000L);
        assertTrue(iopt(ioas).pagesHeldInSlot(iova));
        assertEquals(0, pins(buf), "no domain, no access: nothing pinned");
        assertCharged(0);
        RecordingDomain d = addDomain(ioas);
        assertEquals(1, pins(buf));
        assertCharged(1);
        assertEquals(proc.translate(buf), d.iovaToPhys(iova));
        assertEquals(List.of(new PinnedRun(0x10_0000L, proc.translate(buf), PAGE, IoProtBits.RW_CACHE)), iopt(ioas).pinnedRuns());
        // A second, two-page map is held in the slot too (up to IoAreaTable.SMALL_PAGES; SmallAreaPagesTest);
        // the charges add up page by page.
        long iova2 = ctx.ioasMap(proc, ioas, RW, buf + PAGE, 2 * PAGE, 0);
        assertTrue(iopt(ioas).pagesHeldInSlot(iova2));
        assertCharged(3);
        ctx.ioasUnmap(ioas, iova, PAGE);
        assertEquals(0, pins(buf));
        assertEquals(1, pins(buf + PAGE));
        assertCharged(2);
        iopt(ioas).removeDomain(d);
        assertCharged(0);
        assertTrue(d.leaves.isEmpty());
        ctx.ioasUnmap(ioas, iova2, 2 * PAGE);
    }

    @Test
    void overTheMemlockLimitTheMapFailsAndLeavesNothing() { // iopt_pages_update_pinned: ENOMEM, unpinned, no area
        int ioas = ctx.ioasAlloc();
        addDomain(ioas);
        proc.setRlimitMemlock(0);
        ErrnoException e = assertThrows(ErrnoException.class, () -> ctx.ioasMap(proc, ioas, RW, buf, PAGE, 0));
        assertEquals(Errno.ENOMEM, e.errno());
        assertEquals(0, iopt(ioas).areaCount());
        assertEquals(0, pins(buf));
        assertCharged(0);
    }

    @Test
    void accessPinsShareOneSpanAndOnePin() { // iopt_area_add_access: identical spans share a user count
        int ioas = ctx.ioasAlloc();
        long iova = ctx.ioasMap(proc, ioas, RW, buf, PAGE, 0);
        IommufdAccess a = access(ioas);
        long[] pa1 = a.pinPages(iova, PAGE, IommufdAccess.RW_WRITE);
        long[] pa2 = a.pinPages(iova, PAGE, 0);
        assertArrayEquals(new long[] {proc.translate(buf)}, pa1);
        assertArrayEquals(pa1, pa2);
        assertEquals(1, pins(buf));
        assertCharged(1);
        RecordingDomain d = addDomain(ioas); // the domain span joins the access span: still one pin
        assertEquals(1, pins(buf));
        a.unpinPages(iova, PAGE);
        assertEquals(1, pins(buf));
        ErrnoException mismatch = assertThrows(ErrnoException.class, () -> a.unpinPages(iova, 2 * PAGE));
        assertEquals(Errno.EINVAL, mismatch.errno());
        iopt(ioas).removeDomain(d);
        assertEquals(1, pins(buf), "the access still holds the page");
        a.unpinPages(iova, PAGE);
        assertEquals(0, pins(buf));
        assertCharged(0);
        ErrnoException none = assertThrows(ErrnoException.class, () -> a.unpinPages(iova, PAGE));
        assertEquals(Errno.EINVAL, none.errno());
        a.close();
    }

    @Test
    void writePinOfAReadOnlyMapIsRefused() { // pages.c: EPERM for a write pin of pages mapped without WRITEABLE
        int ioas = ctx.ioasAlloc();
        long iova = ctx.ioasMap(proc, ioas, IommuIoasMap.FLAG_READABLE, buf, PAGE, 0);
        IommufdAccess a = access(ioas);
        ErrnoException e = assertThrows(ErrnoException.class, () -> a.pinPages(iova, PAGE, IommufdAccess.RW_WRITE));
        assertEquals(Errno.EPERM, e.errno());
        assertEquals(0, pins(buf));
        a.close();
    }

    @Test
    void copySharesThePagesAndTheirSinglePin() { // IOAS_COPY: iopt_get_pages + iopt_map_pages, never re-pins
        int src = ctx.ioasAlloc();
        int dst = ctx.ioasAlloc();
        addDomain(src);
        RecordingDomain dd = addDomain(dst);
        long iova = ctx.ioasMap(proc, src, RW, buf + 2 * PAGE, PAGE, 0);
        assertTrue(iopt(src).pagesHeldInSlot(iova));
        long copied = ctx.ioasCopy(dst, src, RW, PAGE, 0, iova);
        assertFalse(iopt(src).pagesHeldInSlot(iova), "shared pages are an object");
        assertEquals(1, pins(buf + 2 * PAGE));
        assertCharged(1);
        assertEquals(proc.translate(buf + 2 * PAGE), dd.iovaToPhys(copied));
        ctx.ioasUnmap(src, iova, PAGE);
        assertEquals(1, pins(buf + 2 * PAGE), "the copy's domain still maps the page");
        assertCharged(1);
        ctx.ioasUnmap(dst, copied, PAGE);
        assertEquals(0, pins(buf + 2 * PAGE));
        assertCharged(0);
    }

    @Test
    void copyFromAnAccessPinnedSlotKeepsTheAccessSpan() { // the span's users move with the pages
        int src = ctx.ioasAlloc();
        int dst = ctx.ioasAlloc();
        long iova = ctx.ioasMap(proc, src, RW, buf, PAGE, 0);
        IommufdAccess a = access(src);
        a.pinPages(iova, PAGE, 0);
        a.pinPages(iova, PAGE, 0);
        long copied = ctx.ioasCopy(dst, src, RW, PAGE, 0, iova);
        assertEquals(1, pins(buf));
        a.unpinPages(iova, PAGE);
        assertEquals(1, pins(buf));
        a.unpinPages(iova, PAGE);
        assertEquals(0, pins(buf), "no domain: the last access span released the pin");
        assertCharged(0);
        ctx.ioasUnmap(dst, copied, PAGE);
        ctx.ioasUnmap(src, iova, PAGE);
        a.close();
    }

    @Test
    void cutSplitsAOnePageAreaIntoTwoSharingItsPages() { // iopt_cut_iova (VFIO type1 v1 unmap of a part)
        int ioas = ctx.ioasAlloc();
        long iova = ctx.ioasMap(proc, ioas, RW_FIXED, buf, PAGE, 0x40_0000L);
        IommufdAccess a = access(ioas);
        a.pinPages(iova, PAGE, 0);
        ErrnoException busy = assertThrows(ErrnoException.class, () -> iopt(ioas).cutIova(new long[] {iova + 0x7ff}));
        assertEquals(Errno.EINVAL, busy.errno(), "access pins in the area");
        assertTrue(iopt(ioas).pagesHeldInSlot(iova), "a refused cut changes nothing");
        a.unpinPages(iova, PAGE);
        a.close();
        iopt(ioas).cutIova(new long[] {iova + 0x7ff});
        assertEquals(List.of(new IovaRange(iova, iova + 0x7ff), new IovaRange(iova + 0x800, iova + PAGE - 1)), iopt(ioas).areaRanges());
        assertFalse(iopt(ioas).pagesHeldInSlot(iova));
        assertEquals(PAGE / 2, ctx.ioasUnmap(ioas, iova + 0x800, PAGE / 2));
        assertEquals(PAGE / 2, ctx.ioasUnmap(ioas, iova, PAGE / 2));
        assertEquals(0, pins(buf));
    }

    @Test
    void readAndWriteFromAnotherProcessPinTemporarily() { // iopt_pages_rw_slow: not current's memory
        int ioas = ctx.ioasAlloc();
        long iova = ctx.ioasMap(proc, ioas, RW, buf + 3 * PAGE + 0x10, 0x100, 0);
        IommufdAccess a = access(ioas, false);
        UserProcess other = machine.spawn("other", 1001);
        byte[] got = new byte[0x40];
        ((Access) a).rw(other, iova + 0x20, got, 0, got.length, 0);
        byte[] expected = new byte[0x40];
        proc.read(buf + 3 * PAGE + 0x30, expected, 0, expected.length);
        assertArrayEquals(expected, got);
        byte[] data = {9, 8, 7, 6};
        ((Access) a).rw(other, iova, data, 0, data.length, IommufdAccess.RW_WRITE);
        byte[] back = new byte[4];
        proc.read(buf + 3 * PAGE + 0x10, back, 0, 4);
        assertArrayEquals(data, back);
        assertEquals(0, pins(buf + 3 * PAGE), "the temporary pin is released");
        assertCharged(0);
        a.close();
    }

    @Test
    void everyInjectedFailureOfAOnePageMapLeavesNothing() { // iommufd_fail_nth: map with a domain, then an access
        int ioas = ctx.ioasAlloc();
        addDomain(ioas);
        int fired = 0;
        for (int nth = 1; ; nth++) {
            FaultInjection.arm(nth);
            long iova = -1;
            try {
                iova = ctx.ioasMap(proc, ioas, RW, buf + 5 * PAGE, PAGE, 0);
            } catch (ErrnoException e) {
                assertEquals(Errno.ENOMEM, e.errno());
            } finally {
                String point = FaultInjection.disarm();
                if (point != null) {
                    fired++;
                    assertEquals(-1, iova, "the call failed at " + point);
                    assertEquals(0, iopt(ioas).areaCount(), "area left after " + point);
                    assertEquals(0, pins(buf + 5 * PAGE), "pin left after " + point);
                    assertCharged(0);
                }
            }
            if (iova != -1) {
                assertEquals(1, pins(buf + 5 * PAGE));
                ctx.ioasUnmap(ioas, iova, PAGE);
                break;
            }
        }
        assertTrue(fired >= 3, "alloc_area, pin_user_pages, update_pinned and iommu_map points fired: " + fired);
        // Access pins of a slot with no domain: pin_user_pages and update_pinned inside iopt_area_add_access.
        int bare = ctx.ioasAlloc();
        long iova = ctx.ioasMap(proc, bare, RW, buf + 6 * PAGE, PAGE, 0);
        IommufdAccess a = access(bare);
        for (int nth = 1; ; nth++) {
            FaultInjection.arm(nth);
            boolean ok = false;
            try {
                a.pinPages(iova, PAGE, 0);
                ok = true;
            } catch (ErrnoException e) {
                assertEquals(Errno.ENOMEM, e.errno());
            } finally {
                String point = FaultInjection.disarm();
                if (point != null) {
                    assertFalse(ok);
                    assertEquals(0, pins(buf + 6 * PAGE), "pin left after " + point);
                    assertCharged(0);
                }
            }
            if (ok) {
                a.unpinPages(iova, PAGE);
                break;
            }
        }
        assertEquals(0, pins(buf + 6 * PAGE));
        a.close();
    }

    @Test
    void changeOfProcessRefusesUserMapsAndKeepsTheSlotState() { // IOAS_CHANGE_PROCESS: EINVAL for user memory
        int ioas = ctx.ioasAlloc();
        addDomain(ioas);
        long iova = ctx.ioasMap(proc, ioas, RW, buf, PAGE, 0);
        ErrnoException e = assertThrows(ErrnoException.class, () -> ctx.ioasChangeProcess(proc));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals(1, pins(buf));
        assertCharged(1);
        assertNotEquals(0, ctx.ioasUnmap(ioas, iova, PAGE));
        assertEquals(0, pins(buf));
    }

    /** IoProt READ | WRITE | CACHE, as IOAS_MAP with READABLE | WRITEABLE sets it (conv_iommu_prot). */
    private static final class IoProtBits {
        static final int RW_CACHE = dev.iommufd.spi.IoProt.READ | dev.iommufd.spi.IoProt.WRITE | dev.iommufd.spi.IoProt.CACHE;
    }
}
