package dev.iommufd.core;

import static dev.iommufd.core.selftest.Selftest.PAGE_SIZE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.core.selftest.Selftest;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.Prot;
import dev.iommufd.spi.DomainGeometry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * IOAS_MAP / IOAS_UNMAP of user ranges that cross mappings of different kinds and huge page boundaries, through the
 * bulk pin path (runs pinned VMA by VMA, one charge per call) and the bulk domain fill (one map_pages per physically
 * contiguous run, the page size chosen as {@code iommu_pgsize} does). Everything is checked against a page-by-page
 * reference: the domain's translation of each IOVA against the process's translation of the matching VA, the pin
 * count of each frame against the number of maps covering it, the accounting against the sum of the maps' page
 * counts. Failures (EFAULT part-way, RLIMIT_MEMLOCK, every fault-injection point) must leave no pin, no charge, no
 * area and no leaf behind (iommufd's all-or-nothing IOAS_MAP).
 */
class BulkMapTest {
    private static final long SZ_2M = 2L << 20;
    private static final long BITMAP = PAGE_SIZE | SZ_2M | (1L << 30);
    /** 2 MiB aligned user VA for the layouts below. */
    private static final long VA = 0x20_0000_0000L;
    private static final long IOVA = 1L << 32;
    private final Selftest t = new Selftest();
    private final int ioasId = t.ioasAlloc();
    private final RecordingDomain domain = new RecordingDomain(DomainGeometry.of(0, -1L, BITMAP));

    BulkMapTest() {
        Ioas ioas = t.ctx().getIoas(ioasId);
        t.ctx().objects().put(ioas);
        ioas.iopt().addDomain(domain);
    }

    @AfterEach
    void teardown() {
        t.fd.ioasUnmap(ioasId, 0, -1L);
        Ioas ioas = t.ctx().getIoas(ioasId);
        t.ctx().objects().put(ioas);
        ioas.iopt().removeDomain(domain);
        t.proc.munmap(VA, 8 * SZ_2M);
        t.close();
    }

    private int areas() {
        Ioas ioas = t.ctx().getIoas(ioasId);
        t.ctx().objects().put(ioas);
        return ioas.iopt().areaCount();
    }

    /** [16 pages anon][2 x 2 MiB hugetlb][16 pages anon][16 pages of a shared memfd], adjacent, from VA + 2M - 64K. */
    private long layout(MemFd[] fdOut) {
        long huge = t.proc.mmap(VA + SZ_2M, 2 * SZ_2M, Prot.READ_WRITE, MapKind.HUGETLB_2M);
        t.proc.mmap(huge - 16 * PAGE_SIZE, 16 * PAGE_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        t.proc.mmap(huge + 2 * SZ_2M, 16 * PAGE_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        MemFd fd = t.proc.memfdCreate("bulk", 16 * PAGE_SIZE, 0);
        t.proc.mmapFile(huge + 2 * SZ_2M + 16 * PAGE_SIZE, 16 * PAGE_SIZE, Prot.READ_WRITE, fd, 0);
        fdOut[0] = fd;
        return huge - 16 * PAGE_SIZE;
    }

    private static final long LAYOUT_LENGTH = 2 * SZ_2M + 48 * PAGE_SIZE;

    private void assertMirrors(long iova, long va, long length, int pins) {
        for (long off = 0; off < length; off += PAGE_SIZE) {
            long pa = t.proc.translate(va + off);
            assertEquals(pa, domain.iovaToPhys(iova + off), "iova +" + Long.toHexString(off));
            assertEquals(pins, t.proc.pinCount(pa), "pins of the page at va +" + Long.toHexString(off));
        }
    }

    @Test
    void aMapAcrossMappingsFillsTheDomainAsPageByPageAndChargesEachPageOnce() { // §6.2 batch_to_domain, §6.3
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        t.proc.setRlimitMemlock(Long.MAX_VALUE);
        MemFd[] fd = new MemFd[1];
        long start = layout(fd);
        long npages = LAYOUT_LENGTH / PAGE_SIZE;
        // IOVA congruent to the VA modulo 2 MiB, so the hugetlb pages can be mapped with 2 MiB leaves
        long iova = IOVA + (start & (SZ_2M - 1));
        t.fd.ioasMap(ioasId, Selftest.MAP_FIXED_RW, start, LAYOUT_LENGTH, iova);
        assertMirrors(iova, start, LAYOUT_LENGTH, 1);
        assertEquals(npages, t.proc.user().lockedVm());
        assertEquals(npages, t.proc.mm().pinnedVm());
        // Each hugetlb page is one 2 MiB leaf (iommu_pgsize picks the largest size the alignment allows)
        for (long h = 0; h < 2; h++) {
            long at = iova + 16 * PAGE_SIZE + h * SZ_2M;
            assertEquals(SZ_2M, domain.leaves.get(at)[1], "leaf size at the huge page " + h);
        }
        assertEquals(npages - 1024 + 2, domain.leaves.size());
        // A second map of an overlapping part pins and charges its pages again (a separate iopt_pages)
        long part = 48 * PAGE_SIZE;
        long partVa = start + LAYOUT_LENGTH - part;
        t.fd.ioasMap(ioasId, Selftest.MAP_FIXED_RW, partVa, part, 1L << 40);
        assertEquals(npages + part / PAGE_SIZE, t.proc.user().lockedVm(), "locked_vm is the sum over the maps");
        assertMirrors(1L << 40, partVa, part, 2);
        assertEquals(part, t.fd.ioasUnmap(ioasId, 1L << 40, part));
        assertMirrors(iova, start, LAYOUT_LENGTH, 1);
        // The area is unmapped run by run (several physically contiguous runs) into one gather: one IOTLB sync
        int syncs = domain.syncs;
        int calls = domain.calls.size();
        assertEquals(LAYOUT_LENGTH, t.fd.ioasUnmap(ioasId, iova, LAYOUT_LENGTH));
        assertTrue(domain.calls.size() - calls >= 3, "unmap_pages calls: " + (domain.calls.size() - calls));
        assertEquals(syncs + 1, domain.syncs, "IOTLB syncs for one IOAS_UNMAP of one area");
        assertEquals(0, t.proc.user().lockedVm());
        assertEquals(0, t.proc.mm().pinnedVm());
        assertEquals(0, t.machine.pinnedFrames());
        assertTrue(domain.leaves.isEmpty());
        t.proc.munmap(start + LAYOUT_LENGTH - 16 * PAGE_SIZE, 16 * PAGE_SIZE);
        fd[0].close();
    }

    @Test
    void aFileMapOfHugetlbPagesAcrossFolioBoundaries() { // IOMMU_IOAS_MAP_FILE of a hugetlb memfd; §6.3 accounting
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        t.proc.setRlimitMemlock(Long.MAX_VALUE);
        MemFd fd = t.proc.memfdCreate("huge", 3 * SZ_2M, 21);
        long view = t.proc.mmapFile(VA, 3 * SZ_2M, Prot.READ_WRITE, fd, 0); // to read each page's PA back
        // From the middle of the first 2 MiB folio to the middle of the third: a part, a whole folio, a part
        long start = SZ_2M / 2;
        long length = 2 * SZ_2M;
        long iova = IOVA + start;
        t.fd.ioasMapFile(ioasId, Selftest.MAP_FIXED_RW, fd, start, length, iova);
        assertMirrors(iova, view + start, length, 1);
        assertEquals(length / PAGE_SIZE, t.proc.user().lockedVm());
        assertEquals(SZ_2M, domain.leaves.get(IOVA + SZ_2M)[1], "the whole folio is one 2 MiB leaf");
        assertEquals(length, t.fd.ioasUnmap(ioasId, iova, length));
        assertNothingLeft();
        t.proc.munmap(view, 3 * SZ_2M);
        fd.close();
    }

    @Test
    void aMapFailingPartWayUnwindsEveryPin() { // iopt_map_pages is all or nothing; §6.3 unwind of pfn_reader
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        t.proc.setRlimitMemlock(Long.MAX_VALUE);
        long huge = t.proc.mmap(VA + SZ_2M, SZ_2M, Prot.READ_WRITE, MapKind.HUGETLB_2M);
        long anon = t.proc.mmap(huge - 300 * PAGE_SIZE, 300 * PAGE_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        long ro = t.proc.mmap(huge + SZ_2M, 16 * PAGE_SIZE, Prot.READ, MapKind.ANONYMOUS);
        // A WRITEABLE map reaching into the read-only mapping: everything before it was pinned, then EFAULT
        ErrnoException e = assertThrows(ErrnoException.class,
                () -> t.fd.ioasMap(ioasId, Selftest.MAP_FIXED_RW, anon, 300 * PAGE_SIZE + SZ_2M + PAGE_SIZE, IOVA));
        assertEquals(Errno.EFAULT, e.errno());
        assertNothingLeft();
        // A hole after the read-only mapping, for a read-only map
        e = assertThrows(ErrnoException.class, () -> t.fd.ioasMap(ioasId, Selftest.MAP_FIXED_RW & ~dev.iommufd.api.uapi.IommuIoasMap.FLAG_WRITEABLE,
                anon, 300 * PAGE_SIZE + SZ_2M + 17 * PAGE_SIZE, IOVA));
        assertEquals(Errno.EFAULT, e.errno());
        assertNothingLeft();
        // RLIMIT_MEMLOCK one page short: pinned first, then the charge fails (ENOMEM) and every pin goes
        long n = 300 + 512;
        t.proc.setRlimitMemlock((n - 1) * PAGE_SIZE);
        e = assertThrows(ErrnoException.class, () -> t.fd.ioasMap(ioasId, Selftest.MAP_FIXED_RW, anon, n * PAGE_SIZE, IOVA));
        assertEquals(Errno.ENOMEM, e.errno());
        assertNothingLeft();
        t.proc.setRlimitMemlock(n * PAGE_SIZE);
        t.fd.ioasMap(ioasId, Selftest.MAP_FIXED_RW, anon, n * PAGE_SIZE, IOVA);
        assertEquals(n, t.proc.user().lockedVm());
        assertMirrors(IOVA, anon, n * PAGE_SIZE, 1);
        t.fd.ioasUnmap(ioasId, IOVA, n * PAGE_SIZE);
        assertNothingLeft();
        t.proc.munmap(anon, 300 * PAGE_SIZE);
        t.proc.munmap(ro, 16 * PAGE_SIZE);
    }

    private void assertNothingLeft() {
        assertEquals(0, t.machine.pinnedFrames(), "pinned frames");
        assertEquals(0, t.proc.user().lockedVm(), "user locked_vm");
        assertEquals(0, t.proc.mm().pinnedVm(), "pinned_vm");
        assertEquals(0, areas(), "areas");
        assertTrue(domain.leaves.isEmpty(), "domain leaves");
    }

    @Test
    void everyInjectedFailureOfABulkMapLeavesNothing() { // iommufd_fail_nth style sweep over the bulk path
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        t.proc.setRlimitMemlock(Long.MAX_VALUE);
        MemFd[] fd = new MemFd[1];
        long start = layout(fd); // pages untouched: the sweep also fails page allocations part-way through a run
        long iova = IOVA + (start & (SZ_2M - 1));
        long frames = t.machine.memory().frames().allocatedFrames();
        int swept = 0;
        for (int nth = 1; nth < 10_000; nth++) {
            FaultInjection.arm(nth);
            ErrnoException failure = null;
            try {
                t.fd.ioasMap(ioasId, Selftest.MAP_FIXED_RW, start, LAYOUT_LENGTH, iova);
            } catch (ErrnoException e) {
                failure = e;
            }
            String fired = FaultInjection.disarm();
            if (fired == null) {
                assertEquals(null, failure, "no injection fired, the map must succeed");
                break;
            }
            swept++;
            if (failure == null) {
                // A page allocation failing after the first page of a run only shortens that pin (GUP returns the
                // pages pinned so far); the next pin call faults the page in again and the map goes through.
                assertEquals("alloc_pages", fired, "only a short pin is retried");
                assertMirrors(iova, start, LAYOUT_LENGTH, 1);
                t.fd.ioasUnmap(ioasId, iova, LAYOUT_LENGTH);
            }
            assertNothingLeft();
        }
        assertTrue(swept > 3, "the sweep passed several injection points: " + swept);
        assertMirrors(iova, start, LAYOUT_LENGTH, 1);
        assertEquals(LAYOUT_LENGTH / PAGE_SIZE, t.proc.user().lockedVm());
        t.fd.ioasUnmap(ioasId, iova, LAYOUT_LENGTH);
        assertNothingLeft();
        assertTrue(t.machine.memory().frames().allocatedFrames() >= frames);
        t.proc.munmap(start + LAYOUT_LENGTH - 16 * PAGE_SIZE, 16 * PAGE_SIZE);
        fd[0].close();
    }
}
