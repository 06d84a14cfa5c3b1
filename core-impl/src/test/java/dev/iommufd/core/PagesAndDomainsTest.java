package dev.iommufd.core;

import static dev.iommufd.core.selftest.Selftest.BUFFER_SIZE;
import static dev.iommufd.core.selftest.Selftest.PAGE_SIZE;
import static dev.iommufd.core.selftest.Selftest.err;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.AccessOps;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IommufdAccess;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.core.selftest.Selftest;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.Prot;
import dev.iommufd.spi.DomainGeometry;
import dev.iommufd.spi.ReservedRegion;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Pinning, accounting and domain filling of io_pagetable / pages (reference §5.4, §6, B.5 #6, #7, #9) with a
 * recording domain added the way an HWPT adds its domain ({@link IoPageTable#addDomain}).
 */
class PagesAndDomainsTest {
    private static final long SZ_2M = 2L << 20;
    private static final long BITMAP = PAGE_SIZE | SZ_2M | (1L << 30);
    private final Selftest t = new Selftest();
    private final int ioasId = t.ioasAlloc();

    @AfterEach
    void teardown() {
        t.close();
    }

    private IoPageTable iopt(int id) {
        Ioas ioas = t.ctx().getIoas(id);
        t.ctx().objects().put(ioas);
        return ioas.iopt();
    }

    private static RecordingDomain domain() {
        return new RecordingDomain(DomainGeometry.of(0, -1L, BITMAP));
    }

    private int pins(long va) {
        return t.proc.pinCount(t.proc.translate(va));
    }

    private void assertPins(long va, long length, int expected) {
        for (long off = 0; off < length; off += PAGE_SIZE) {
            assertEquals(expected, pins(va + off), "pins of page at +" + Long.toHexString(off));
        }
    }

    private void assertMirrors(RecordingDomain d, long iova, long va, long length) {
        for (long off = 0; off < length; off += PAGE_SIZE) {
            assertEquals(t.proc.translate(va + off), d.iovaToPhys(iova + off), "iova +" + Long.toHexString(off));
        }
    }

    @Test
    void pinningIsLazyAndOncePerPage() { // B.5 #6; §6.1 one pin per PFN regardless of domains/accesses
        t.mapFixed(ioasId, t.buffer, BUFFER_SIZE, 0);
        assertPins(t.buffer, BUFFER_SIZE, 0);
        RecordingDomain d1 = domain();
        RecordingDomain d2 = domain();
        iopt(ioasId).addDomain(d1);
        assertPins(t.buffer, BUFFER_SIZE, 1);
        assertMirrors(d1, 0, t.buffer, BUFFER_SIZE);
        iopt(ioasId).addDomain(d2);
        assertPins(t.buffer, BUFFER_SIZE, 1);
        assertMirrors(d2, 0, t.buffer, BUFFER_SIZE);
        IommufdAccess access = t.fd.accessCreate(new AccessOps() {
            @Override
            public boolean needsPinPages() {
                return true;
            }

            @Override
            public void unmap(IommufdAccess a, long iova, long length) {
            }
        });
        access.attach(ioasId);
        long[] pas = access.pinPages(0, BUFFER_SIZE, IommufdAccess.RW_WRITE);
        assertEquals(t.proc.translate(t.buffer + 5 * PAGE_SIZE), pas[5]);
        assertPins(t.buffer, BUFFER_SIZE, 1);
        iopt(ioasId).removeDomain(d1);
        assertTrue(d1.leaves.isEmpty());
        iopt(ioasId).removeDomain(d2);
        assertTrue(d2.leaves.isEmpty());
        assertPins(t.buffer, BUFFER_SIZE, 1); // the access still holds them
        access.unpinPages(0, BUFFER_SIZE);
        assertPins(t.buffer, BUFFER_SIZE, 0);
        access.close();
    }

    @Test
    void contiguousRunsAreMappedWithHugePages() { // §6.2 batch_to_domain: one iommu_map per contiguous run
        long huge = t.proc.mmap(0, SZ_2M, Prot.READ_WRITE, MapKind.HUGETLB_2M);
        RecordingDomain d = domain();
        iopt(ioasId).addDomain(d);
        t.mapFixed(ioasId, huge, SZ_2M, 4 * SZ_2M);
        assertEquals(List.of(new RecordingDomain.Call(true, 4 * SZ_2M, t.proc.translate(huge), SZ_2M, 1)), d.calls);
        t.unmap(ioasId, 4 * SZ_2M, SZ_2M);
        assertEquals(new RecordingDomain.Call(false, 4 * SZ_2M, 0, SZ_2M, 1), d.calls.get(1));
        assertTrue(d.leaves.isEmpty());
        iopt(ioasId).removeDomain(d);
        t.proc.munmap(huge, SZ_2M);
    }

    @Test
    void hugePagesOffMapsPageByPage() { // IOMMU_OPTION_HUGE_PAGES = 0: batch_iommu_map_small
        long huge = t.proc.mmap(0, SZ_2M, Prot.READ_WRITE, MapKind.HUGETLB_2M);
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 0));
        RecordingDomain d = domain();
        iopt(ioasId).addDomain(d);
        assertEquals(PAGE_SIZE, iopt(ioasId).iovaAlignment());
        t.mapFixed(ioasId, huge, SZ_2M, 4 * SZ_2M);
        assertEquals(512, d.mapCalls());
        assertTrue(d.calls.stream().allMatch(c -> c.pgsize() == PAGE_SIZE && c.pgcount() == 1));
        // With a domain and a mapping, huge pages can no longer be turned off again (but on is fine)
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 1));
        assertEquals(err(Errno.EINVAL), t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 0));
        t.unmap(ioasId, 0, -1L);
        iopt(ioasId).removeDomain(d);
        t.proc.munmap(huge, SZ_2M);
    }

    @Test
    void aFailedMapChangesNothing() { // every failure leaves state and accounting unchanged
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        RecordingDomain d = domain();
        iopt(ioasId).addDomain(d);
        d.failMapAt = 0;
        assertEquals(err(Errno.ENOMEM), t.mapRc(ioasId, t.buffer, BUFFER_SIZE, 0, Selftest.MAP_FIXED_RW));
        assertTrue(d.leaves.isEmpty());
        assertEquals(0, iopt(ioasId).areaCount());
        assertPins(t.buffer, BUFFER_SIZE, 0);
        assertEquals(0, t.proc.user().lockedVm());
        assertEquals(0, t.proc.mm().pinnedVm());
        // An unmapped VA fails at map time once a domain exists (EFAULT from pinning)
        assertEquals(err(Errno.EFAULT), t.mapRc(ioasId, 1L << 31, PAGE_SIZE, 0, Selftest.MAP_FIXED_RW));
        assertEquals(0, iopt(ioasId).areaCount());
        iopt(ioasId).removeDomain(d);
    }

    @Test
    void userModeChargesTheUserAndEveryMapSeparately() { // §6.3 accounting; B.5 #6
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        RecordingDomain d = domain();
        iopt(ioasId).addDomain(d);
        long n = BUFFER_SIZE / PAGE_SIZE;
        t.mapFixed(ioasId, t.buffer, BUFFER_SIZE, 0);
        assertEquals(n, t.proc.user().lockedVm());
        assertEquals(n, t.proc.mm().pinnedVm());
        assertEquals(0, t.proc.mm().lockedVm());
        t.mapFixed(ioasId, t.buffer, BUFFER_SIZE, BUFFER_SIZE);
        assertEquals(2 * n, t.proc.user().lockedVm());
        assertPins(t.buffer, BUFFER_SIZE, 2);
        // COPY shares the pages: no new pin, no new charge
        assertEquals(0, t.copyRc(ioasId, ioasId, Selftest.MAP_FIXED_RW, BUFFER_SIZE, 4 * BUFFER_SIZE, 0));
        assertEquals(2 * n, t.proc.user().lockedVm());
        assertPins(t.buffer, BUFFER_SIZE, 2);
        t.unmap(ioasId, 0, BUFFER_SIZE);
        assertEquals(2 * n, t.proc.user().lockedVm()); // the copy keeps the first map's pages pinned
        t.unmap(ioasId, 0, -1L);
        assertEquals(0, t.proc.user().lockedVm());
        assertEquals(0, t.proc.mm().pinnedVm());
        assertPins(t.buffer, BUFFER_SIZE, 0);
        iopt(ioasId).removeDomain(d);
    }

    @Test
    void capIpcLockIsNeverLimited() { // §6.4 account_mode NONE
        t.proc.setRlimitMemlock(PAGE_SIZE);
        RecordingDomain d = domain();
        iopt(ioasId).addDomain(d);
        t.mapFixed(ioasId, t.buffer, BUFFER_SIZE, 0);
        assertEquals(0, t.proc.user().lockedVm());
        assertEquals(BUFFER_SIZE / PAGE_SIZE, t.proc.mm().pinnedVm());
        t.unmap(ioasId, 0, BUFFER_SIZE);
        assertEquals(0, t.proc.mm().pinnedVm());
        iopt(ioasId).removeDomain(d);
    }

    @Test
    void rlimitFailureUnpinsEverything() { // §6.3: pin, then account; over the limit → ENOMEM, nothing left
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        t.proc.setRlimitMemlock(8 * PAGE_SIZE);
        RecordingDomain d = domain();
        iopt(ioasId).addDomain(d);
        assertEquals(err(Errno.ENOMEM), t.mapRc(ioasId, t.buffer, BUFFER_SIZE, 0, Selftest.MAP_FIXED_RW));
        assertPins(t.buffer, BUFFER_SIZE, 0);
        assertEquals(0, t.proc.user().lockedVm());
        assertEquals(0, t.proc.mm().pinnedVm());
        assertTrue(d.leaves.isEmpty());
        t.mapFixed(ioasId, t.buffer, 8 * PAGE_SIZE, 0);
        assertEquals(8, t.proc.user().lockedVm());
        t.unmap(ioasId, 0, 8 * PAGE_SIZE);
        iopt(ioasId).removeDomain(d);
    }

    @Test
    void mmModeChargesTheMm() { // IOMMU_OPTION_RLIMIT_MODE = 1
        t.fd.close();
        t.fd = t.subsystem.open(t.proc);
        assertEquals(0, t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_SET, 0, 1));
        int ioas = t.ioasAlloc();
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        RecordingDomain d = domain();
        iopt(ioas).addDomain(d);
        t.mapFixed(ioas, t.buffer, BUFFER_SIZE, 0);
        assertEquals(BUFFER_SIZE / PAGE_SIZE, t.proc.mm().lockedVm());
        assertEquals(0, t.proc.user().lockedVm());
        assertEquals(BUFFER_SIZE / PAGE_SIZE, t.proc.mm().pinnedVm());
        t.unmap(ioas, 0, -1L);
        assertEquals(0, t.proc.mm().lockedVm());
        iopt(ioas).removeDomain(d);
    }

    @Test
    void addingADomainNarrowsAndAligns() { // §5.4 iopt_table_add_domain; B.5 #7
        RecordingDomain mockLike = new RecordingDomain(DomainGeometry.of(1L << 24, (1L << 31) - 1, 2048 | (1L << 20)));
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, 0);
        ErrnoException e = assertThrows(ErrnoException.class, () -> iopt(ioasId).addDomain(mockLike));
        assertEquals(Errno.EADDRINUSE, e.errno(), "an area outside the aperture");
        assertEquals(List.of(new IovaRange(0, -1L)), iopt(ioasId).iovaRanges(), "failed add leaves no reservation");
        t.unmap(ioasId, 0, PAGE_SIZE);
        RecordingDomain bigPages = new RecordingDomain(DomainGeometry.of(0, -1L, 1L << 16));
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> iopt(ioasId).addDomain(bigPages)).errno());
        iopt(ioasId).addDomain(mockLike);
        assertEquals(2048, iopt(ioasId).iovaAlignment());
        assertEquals(List.of(new IovaRange(1L << 24, (1L << 31) - 1)), iopt(ioasId).iovaRanges());
        assertEquals(err(Errno.EINVAL), t.mapRc(ioasId, t.buffer, 100, 0, Selftest.MAP_RW));
        assertEquals(err(Errno.EINVAL), t.mapRc(ioasId, t.buffer, PAGE_SIZE, 0, Selftest.MAP_FIXED_RW), "reserved → EINVAL");
        long iova = t.map(ioasId, t.buffer, PAGE_SIZE);
        assertTrue(iova >= 1L << 24);
        assertMirrors(mockLike, iova, t.buffer, PAGE_SIZE);
        assertEquals(Errno.EEXIST, assertThrows(ErrnoException.class, () -> iopt(ioasId).addDomain(mockLike)).errno());
        t.unmap(ioasId, iova, PAGE_SIZE);
        iopt(ioasId).removeDomain(mockLike);
        assertEquals(1, iopt(ioasId).iovaAlignment());
        assertEquals(List.of(new IovaRange(0, -1L)), iopt(ioasId).iovaRanges());
    }

    @Test
    void deviceReservedRegionsAndOwners() { // §5.4 iopt_table_enforce_dev_resv_regions
        Object device = new Object();
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, 0xfee0_0000L);
        assertEquals(Errno.EADDRINUSE, assertThrows(ErrnoException.class, () -> iopt(ioasId).enforceDeviceReservedRegions(device,
                List.of(ReservedRegion.X86_MSI_WINDOW))).errno());
        t.unmap(ioasId, 0xfee0_0000L, PAGE_SIZE);
        assertEquals(-1, iopt(ioasId).enforceDeviceReservedRegions(device, List.of(ReservedRegion.X86_MSI_WINDOW)));
        assertEquals(err(Errno.EINVAL), t.mapRc(ioasId, t.buffer, PAGE_SIZE, 0xfee0_0000L, Selftest.MAP_FIXED_RW));
        assertEquals(0x800_0000L, iopt(ioasId).enforceDeviceReservedRegions(new Object(),
                List.of(ReservedRegion.ARM_SW_MSI_WINDOW)));
        iopt(ioasId).unreserveOwner(device);
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, 0xfee0_0000L);
    }

    @Test
    void unmapOfAnAreaAnAccessWontReleaseIsEdeadlock() { // B.5 #9, §7.10
        AtomicInteger notified = new AtomicInteger();
        IommufdAccess access = t.fd.accessCreate(new AccessOps() {
            @Override
            public boolean needsPinPages() {
                return true;
            }

            @Override
            public void unmap(IommufdAccess a, long iova, long length) {
                notified.incrementAndGet();
            }
        });
        access.attach(ioasId);
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, 0);
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, PAGE_SIZE);
        access.pinPages(PAGE_SIZE, PAGE_SIZE, 0);
        ErrnoException e = assertThrows(ErrnoException.class, () -> t.fd.ioasUnmap(ioasId, 0, 2 * PAGE_SIZE));
        assertEquals(Errno.EDEADLOCK, e.errno());
        assertEquals(PAGE_SIZE, e.progress(), "the first area stays unmapped");
        assertEquals(IoPageTable.MAX_UNMAP_TRIES + 1, notified.get());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> access.pinPages(PAGE_SIZE, PAGE_SIZE, 0)).errno(),
                "pins on an area being unmapped");
        access.unpinPages(PAGE_SIZE, PAGE_SIZE);
        assertEquals(PAGE_SIZE, t.fd.ioasUnmap(ioasId, PAGE_SIZE, PAGE_SIZE));
        access.close();
    }

    @Test
    void accessReplaceDropsOldPins() { // §7.9 iommufd_access_replace; ports ACCESS_REPLACE_IOAS use
        int other = t.ioasAlloc();
        int accessFd = t.createAccess(ioasId, dev.iommufd.core.selftest.IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
        t.mapFixed(ioasId, t.buffer, BUFFER_SIZE, 0);
        assertEquals(0, t.accessPagesRc(accessFd, 0, BUFFER_SIZE, t.buffer, 0));
        assertPins(t.buffer, BUFFER_SIZE, 1);
        assertEquals(err(Errno.EBUSY), t.destroyRc(ioasId), "the access holds the IOAS");
        var replace = Selftest.testCmd(dev.iommufd.core.selftest.IommuTestCmd.OP_ACCESS_REPLACE_IOAS, accessFd)
                .put32(dev.iommufd.core.selftest.IommuTestCmd.OFFSET_ACCESS_REPLACE_IOAS_ID, other);
        assertEquals(0, t.ioctl(dev.iommufd.core.selftest.IommuTestCmd.REQUEST, replace));
        assertPins(t.buffer, BUFFER_SIZE, 0);
        t.destroy(ioasId);
        assertEquals(err(Errno.EBUSY), t.destroyRc(other));
        assertEquals(err(Errno.EBUSY), t.destroyRc(t.testCmd.access(t.ctx(), accessFd).access().id()), "access IDs are not user-destroyable");
        t.destroyAccess(accessFd);
        t.destroy(other);
    }

    @Test
    void accessPinChecks() { // §7.12 order: alignment, permission, holes; all or nothing
        IommufdAccess access = t.fd.accessCreate(new AccessOps() {
            @Override
            public boolean needsPinPages() {
                return true;
            }

            @Override
            public void unmap(IommufdAccess a, long iova, long length) {
            }
        });
        assertEquals(Errno.ENOENT, assertThrows(ErrnoException.class, () -> access.pinPages(0, PAGE_SIZE, 0)).errno());
        access.attach(ioasId);
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> access.attach(ioasId)).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> access.pinPages(0, 0, 0)).errno());
        assertEquals(Errno.EOVERFLOW, assertThrows(ErrnoException.class, () -> access.pinPages(-PAGE_SIZE, 2 * PAGE_SIZE, 0)).errno());
        assertEquals(err(Errno.EINVAL), t.mapRc(ioasId, t.buffer + 2048, PAGE_SIZE, 0x1800, Selftest.MAP_FIXED_RW),
                "a pin-capable access makes the IOAS page aligned");
        assertEquals(0, t.mapRc(ioasId, t.buffer, PAGE_SIZE, 0, IommuIoasMap.FLAG_FIXED_IOVA | IommuIoasMap.FLAG_READABLE));
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, 2 * PAGE_SIZE);
        assertEquals(Errno.EPERM, assertThrows(ErrnoException.class, () -> access.pinPages(0, PAGE_SIZE, IommufdAccess.RW_WRITE)).errno());
        assertEquals(Errno.ENOENT, assertThrows(ErrnoException.class, () -> access.pinPages(0, 3 * PAGE_SIZE, 0)).errno());
        assertPins(t.buffer, PAGE_SIZE, 0);
        access.pinPages(0, PAGE_SIZE, 0);
        assertPins(t.buffer, PAGE_SIZE, 1);
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> access.unpinPages(0, 2 * PAGE_SIZE)).errno());
        access.unpinPages(0, PAGE_SIZE);
        assertPins(t.buffer, PAGE_SIZE, 0);
        access.close();
        t.unmap(ioasId, 0, -1L);
    }

    @Test
    void cutIovaSplitsOnlyWhenHugePagesAreOff() { // §5.5 iopt_area_split / iopt_cut_iova (VFIO type1 v1)
        IoPageTable iopt = iopt(ioasId);
        t.mapFixed(ioasId, t.buffer, BUFFER_SIZE, 0);
        iopt.cutIova(new long[] {4 * PAGE_SIZE - 1, 0, BUFFER_SIZE - 1, 1L << 40}); // a split, two edges, a hole
        assertEquals(List.of(new IovaRange(0, 4 * PAGE_SIZE - 1), new IovaRange(4 * PAGE_SIZE, BUFFER_SIZE - 1)), iopt.areaRanges());
        RecordingDomain d = domain();
        iopt.addDomain(d);
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> iopt.cutIova(new long[] {8 * PAGE_SIZE - 1})).errno());
        iopt.removeDomain(d);
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 0));
        RecordingDomain small = domain();
        iopt.addDomain(small);
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> iopt.cutIova(new long[] {8 * PAGE_SIZE - 2})).errno(),
                "split point not page aligned");
        iopt.cutIova(new long[] {8 * PAGE_SIZE - 1});
        assertPins(t.buffer, BUFFER_SIZE, 1);
        assertEquals(4 * PAGE_SIZE, t.fd.ioasUnmap(ioasId, 4 * PAGE_SIZE, 4 * PAGE_SIZE));
        assertPins(t.buffer + 4 * PAGE_SIZE, 4 * PAGE_SIZE, 0);
        assertPins(t.buffer + 8 * PAGE_SIZE, 8 * PAGE_SIZE, 1);
        assertMirrors(small, 8 * PAGE_SIZE, t.buffer + 8 * PAGE_SIZE, 8 * PAGE_SIZE);
        assertEquals(-1L, small.iovaToPhys(5 * PAGE_SIZE));
        t.unmap(ioasId, 0, -1L);
        assertTrue(small.leaves.isEmpty());
        iopt.removeDomain(small);
    }

    @Test
    void forkGone() { // ports iommufd_ioas.fork_gone (both variants, with a recording domain for the mock one)
        long aperture = 1L << 24;
        for (boolean withDomain : new boolean[] {false, true}) {
            RecordingDomain early = domain();
            if (withDomain) {
                iopt(ioasId).addDomain(early);
            }
            dev.iommufd.platform.UserProcess child = t.machine.spawn("child", 0);
            dev.iommufd.api.Iommufd childFd = t.fd.inheritedBy(child);
            long childBuf = child.mmap(0, BUFFER_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            byte[] data = new byte[(int) BUFFER_SIZE];
            new java.util.Random(7).nextBytes(data);
            child.write(childBuf, data, 0, data.length);
            childFd.ioasMap(ioasId, Selftest.MAP_FIXED_RW, childBuf, BUFFER_SIZE, aperture);
            childFd.close();
            child.exit();
            RecordingDomain late = domain();
            if (withDomain) {
                // the pages were pinned while the child lived; the new domain reuses them
                iopt(ioasId).addDomain(late);
                IommufdAccess access = t.fd.accessCreate(new AccessOps() {
                    @Override
                    public boolean needsPinPages() {
                        return false;
                    }

                    @Override
                    public void unmap(IommufdAccess a, long iova, long length) {
                    }
                });
                access.attach(ioasId);
                byte[] back = new byte[data.length];
                access.rw(aperture, back, 0, back.length, 0);
                org.junit.jupiter.api.Assertions.assertArrayEquals(data, back);
                access.close();
                iopt(ioasId).removeDomain(late);
                iopt(ioasId).removeDomain(early);
            } else {
                assertEquals(Errno.EFAULT, assertThrows(ErrnoException.class, () -> iopt(ioasId).addDomain(late)).errno(),
                        "pinning from a dead mm");
                assertEquals(List.of(new IovaRange(0, -1L)), iopt(ioasId).iovaRanges());
            }
            t.unmap(ioasId, 0, -1L);
        }
    }
}
