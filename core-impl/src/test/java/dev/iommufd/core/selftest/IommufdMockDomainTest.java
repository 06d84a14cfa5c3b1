package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuIoasCopy;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuIoasMapFile;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.Prot;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Ports of FIXTURE(iommufd_mock_domain) of tools/testing/selftests/iommu/iommufd.c for its six variants, through
 * the ioctl layer: basic, ro_unshare, all_aligns, all_aligns_copy, user_copy, replace, alloc_hwpt.
 */
class IommufdMockDomainTest {

    /** FIXTURE_VARIANT(iommufd_mock_domain). */
    enum Variant {
        ONE_DOMAIN(1, false, false), TWO_DOMAINS(2, false, false), ONE_DOMAIN_HUGEPAGE(1, true, false),
        TWO_DOMAINS_HUGEPAGE(2, true, false), ONE_DOMAIN_FILE(1, false, true), ONE_DOMAIN_FILE_HUGEPAGE(1, true, true);

        final int mockDomains;
        final boolean hugepages;
        final boolean file;

        Variant(int mockDomains, boolean hugepages, boolean file) {
            this.mockDomains = mockDomains;
            this.hugepages = hugepages;
            this.file = file;
        }
    }

    /** FIXTURE_SETUP(iommufd_mock_domain). */
    static final class Fixture implements AutoCloseable {
        final SelftestSession s = new SelftestSession();
        final Variant v;
        final int ioasId;
        final int[] hwptIds = new int[2];
        final int[] stdevIds = new int[2];
        final int[] idevIds = new int[2];
        int hwptId;
        final MapKind mmapKind;
        final long mmapBufSize;

        Fixture(Variant v) {
            this.v = v;
            ioasId = s.ioasAlloc();
            for (int i = 0; i < v.mockDomains; i++) {
                int[] out = s.mockDomain(ioasId);
                stdevIds[i] = out[0];
                hwptIds[i] = out[1];
                idevIds[i] = out[2];
            }
            s.checkDevCacheAll(idevIds[0], MockSelftestUapi.IOMMU_TEST_DEV_CACHE_DEFAULT);
            hwptId = hwptIds[0];
            mmapKind = v.hugepages ? MapKind.HUGETLB_2M : MapKind.ANONYMOUS;
            mmapBufSize = v.hugepages ? 2 * HUGEPAGE_SIZE : 8 * PS;
        }

        /** check_mock_iova: MD_CHECK_MAP on hwpt_id and, with two domains, hwpt_ids[1]. */
        void checkMockIova(long va, long iova, long length) {
            ok(s.checkMapRc(hwptId, va, iova, length));
            if (hwptIds[1] != 0) {
                ok(s.checkMapRc(hwptIds[1], va, iova, length));
            }
        }

        int mapFileRc(int ioas, MemFd mfd, long start, long length, long[] out) {
            UserStruct c = struct(IommuIoasMapFile.SIZE).put32(IommuIoasMapFile.OFFSET_FLAGS, RW)
                    .put32(IommuIoasMapFile.OFFSET_IOAS_ID, ioas).put32(IommuIoasMapFile.OFFSET_FD, mfd.fd())
                    .put64(IommuIoasMapFile.OFFSET_START, start).put64(IommuIoasMapFile.OFFSET_LENGTH, length);
            int rc = s.ioctl(IommuIoasMapFile.REQUEST, c);
            if (out != null) {
                out[0] = c.u64(IommuIoasMapFile.OFFSET_IOVA);
            }
            return rc;
        }

        @Override
        public void close() {
            s.teardown();
            s.close();
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void basic(Variant v) { // iommufd_mock_domain.basic
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long[] out = new long[1];
            if (v.file) {
                MemFd mfd = s.proc.memfdCreate("buffer", BUFFER_SIZE, 0);
                long mfdBuffer = s.proc.mmapFile(0, BUFFER_SIZE, Prot.READ_WRITE, mfd, 0);
                ok(f.mapFileRc(f.ioasId, mfd, 0, PS, out));
                f.checkMockIova(mfdBuffer, out[0], PS);
                MemFd tmp = s.proc.memfdCreate("buffer", f.mmapBufSize, 0);
                long buf = s.proc.mmapFile(0, f.mmapBufSize, Prot.READ_WRITE, tmp, 0);
                err(Errno.EINVAL, f.mapFileRc(f.ioasId, tmp, 0, f.mmapBufSize + 1, out));
                ok(f.mapFileRc(f.ioasId, tmp, 0, f.mmapBufSize, out)); // (not in the selftest: the full size maps)
                s.unmap(f.ioasId, out[0], f.mmapBufSize);
                tmp.truncate(0); // ftruncate(mfd_tmp, 0)
                err(Errno.EINVAL, f.mapFileRc(f.ioasId, tmp, 0, f.mmapBufSize, out));
                // (not in the selftest: the mapping now lies beyond EOF, a touch is SIGBUS)
                assertThrows(ErrnoException.class, () -> s.proc.read64(buf));
                s.proc.munmap(buf, f.mmapBufSize);
                tmp.close();
                return;
            }
            long iova = s.map(f.ioasId, s.buffer, PS);
            f.checkMockIova(s.buffer, iova, PS);

            long buf = s.proc.mmap(0, f.mmapBufSize, Prot.READ_WRITE, f.mmapKind);
            s.proc.munmap(buf + f.mmapBufSize / 2, f.mmapBufSize / 2);
            err(Errno.EFAULT, s.mapRc(f.ioasId, buf, f.mmapBufSize, 0, RW, out));
            s.proc.munmap(buf, f.mmapBufSize / 2);
            err(Errno.EFAULT, s.mapRc(f.ioasId, buf, f.mmapBufSize, 0, RW, out));
        }
    }

    /**
     * iommufd_mock_domain.ro_unshare: a MAP_PRIVATE, PROT_READ|PROT_WRITE mapping of a read-only file
     * ({@code /proc/self/exe}; here a memfd holding a recognisable pattern, closed after mmap as the test closes its
     * fd), mapped IOMMU_IOAS_MAP_READABLE only, so iommufd pins it without FOLL_WRITE. GUP's R/O FOLL_LONGTERM pin of a
     * page-cache page in a COW mapping unshares (breaks COW) first, so the later memset(buf, 1) writes the very page
     * the domain maps: check_mock_iova holds before and after the write.
     */
    @ParameterizedTest
    @EnumSource(Variant.class)
    void roUnshare(Variant v) { // iommufd_mock_domain.ro_unshare
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            MemFd exe = s.proc.memfdCreate("exe", PS, 0);
            long writer = s.proc.mmapFile(0, PS, Prot.READ_WRITE, exe, 0);
            byte[] image = new byte[(int) PS];
            for (int i = 0; i < image.length; i++) {
                image[i] = (byte) (0x7f ^ i);
            }
            s.proc.write(writer, image, 0, image.length);
            s.proc.munmap(writer, PS);
            long buf = s.proc.mmapFile(0, PS, Prot.READ_WRITE, exe, 0, MapKind.PRIVATE_FILE);
            exe.close();
            long filePage = s.proc.translate(buf); // an untouched private page reads the file's page
            byte[] seen = new byte[(int) PS];
            s.proc.read(buf, seen, 0, seen.length);
            assertArrayEquals(image, seen);

            long[] out = new long[1];
            ok(s.mapRc(f.ioasId, buf, PS, 0, IommuIoasMap.FLAG_READABLE, out));
            long iova = out[0];
            f.checkMockIova(buf, iova, PS);
            long pinned = s.proc.translate(buf);
            assertNotEquals(filePage, pinned, "a R/O long-term pin of a COW mapping must unshare the file page");
            assertEquals(1, s.proc.pinCount(pinned));
            assertEquals(0, s.proc.pinCount(filePage), "the file page itself is not pinned");

            byte[] ones = new byte[(int) PS];
            java.util.Arrays.fill(ones, (byte) 1);
            s.proc.write(buf, ones, 0, ones.length); // memset(buf, 1, PAGE_SIZE)
            f.checkMockIova(buf, iova, PS);
            assertEquals(pinned, s.proc.translate(buf), "the write must not move the pinned page");
            s.proc.read(buf, seen, 0, seen.length);
            assertArrayEquals(ones, seen);
            s.proc.munmap(buf, PS);
            // The private copy lives on, pinned by the area, until iommufd unpins it.
            assertEquals(1, s.proc.pinCount(pinned));
            s.unmap(f.ioasId, iova, PS);
            assertEquals(0, s.proc.pinCount(pinned));
        }
    }

    /**
     * Not a selftest: what ftruncate does to a memfd range iommufd has pinned, as the kernel does it (shmem
     * truncate removes the pages from the file, the pins keep them alive; the domain keeps translating to them until
     * IOAS_UNMAP unpins, and a new MAP_FILE of the cut range fails with EINVAL).
     */
    @org.junit.jupiter.api.Test
    void truncateOfAPinnedMemfdRangeKeepsThePinnedPagesUntilUnmap() {
        try (Fixture f = new Fixture(Variant.ONE_DOMAIN_FILE)) {
            SelftestSession s = f.s;
            MemFd mfd = s.proc.memfdCreate("cut", 4 * PS, 0);
            long buf = s.proc.mmapFile(0, 4 * PS, Prot.READ_WRITE, mfd, 0);
            s.proc.write64(buf + 3 * PS, 0x5eedL);
            s.proc.write64(buf + PS, 0x77L);
            long[] out = new long[1];
            ok(f.mapFileRc(f.ioasId, mfd, 0, 4 * PS, out));
            long iova = out[0];
            f.checkMockIova(buf, iova, 4 * PS);
            long lastPage = s.proc.translate(buf + 3 * PS);
            assertEquals(1, s.proc.pinCount(lastPage));
            mfd.truncate(2 * PS);
            assertEquals(2 * PS, mfd.size());
            assertThrows(ErrnoException.class, () -> s.proc.read64(buf + 3 * PS), "beyond EOF: SIGBUS");
            assertEquals(0x77L, s.proc.read64(buf + PS), "within EOF still mapped");
            assertEquals(1, s.proc.pinCount(lastPage), "the pin keeps the truncated page");
            assertEquals(0x5eedL, s.machine.memory().read64(lastPage), "with its contents");
            err(Errno.EINVAL, f.mapFileRc(f.ioasId, mfd, 2 * PS, PS, out));
            ok(f.mapFileRc(f.ioasId, mfd, 0, 2 * PS, out));
            s.unmap(f.ioasId, out[0], 2 * PS);
            s.unmap(f.ioasId, iova, 4 * PS);
            assertEquals(0, s.proc.pinCount(lastPage));
            s.proc.munmap(buf, 4 * PS);
            mfd.close();
        }
    }

    private static void allAligns(Variant v, boolean copy) {
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long testStep = v.hugepages ? f.mmapBufSize / 16 : MOCK_PAGE_SIZE;
            long size = f.mmapBufSize;
            MemFd mfd = null;
            long buf;
            if (v.file) {
                mfd = s.proc.memfdCreate("buffer", size, v.hugepages ? 21 : 0);
                buf = s.proc.mmapFile(0, size, Prot.READ_WRITE, mfd, 0);
            } else {
                buf = s.proc.mmap(0, size, Prot.READ_WRITE, f.mmapKind);
            }
            if (!v.hugepages) {
                s.checkRefs(buf, size, 0);
            }
            long[] out = new long[1];
            for (long start = 0; start < size; start += testStep) {
                long end = v.hugepages ? size : start + MOCK_PAGE_SIZE;
                for (; end < size; end += MOCK_PAGE_SIZE) {
                    long length = end - start;
                    if (v.file) {
                        ok(f.mapFileRc(f.ioasId, mfd, start, length, out));
                    } else {
                        ok(s.mapRc(f.ioasId, buf + start, length, 0, RW, out));
                    }
                    long iova = out[0];
                    int old = f.hwptIds[1];
                    int mockStdev = 0;
                    if (copy) {
                        int[] m = s.mockDomain(f.ioasId); // a new domain filled from the pinned pages
                        mockStdev = m[0];
                        f.hwptIds[1] = m[1];
                    }
                    f.checkMockIova(buf + start, iova, length);
                    long first = start / PS * PS;
                    long last = end / PS * PS;
                    if (last > first) {
                        s.checkRefs(buf + first, last - first, 1); // one pin per page whatever the domain count
                    }
                    if (copy) {
                        s.destroy(mockStdev);
                        f.hwptIds[1] = old;
                    }
                    s.unmap(f.ioasId, iova, length);
                }
            }
            if (!v.hugepages) {
                s.checkRefs(buf, size, 0);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void allAligns(Variant v) { // iommufd_mock_domain.all_aligns
        allAligns(v, false);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void allAlignsCopy(Variant v) { // iommufd_mock_domain.all_aligns_copy
        allAligns(v, true);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void userCopy(Variant v) { // iommufd_mock_domain.user_copy
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            MemFd mfd = null;
            long buf = s.buffer;
            if (v.file) {
                mfd = s.proc.memfdCreate("buffer", BUFFER_SIZE, 0);
                buf = s.proc.mmapFile(0, BUFFER_SIZE, Prot.READ_WRITE, mfd, 0);
            }
            int ioasId = s.ioasAlloc();
            long[] out = new long[1];
            if (v.file) {
                ok(f.mapFileRc(ioasId, mfd, 0, BUFFER_SIZE, out));
            } else {
                ok(s.mapRc(ioasId, buf, BUFFER_SIZE, 0, RW, out));
            }
            long srcIova = out[0];
            UserStruct create = testCmd(IommuTestCmd.OP_CREATE_ACCESS, ioasId)
                    .put32(IommuTestCmd.OFFSET_CREATE_ACCESS_FLAGS, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
            ok(s.test(create));
            int access = create.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD);
            UserStruct pages = testCmd(IommuTestCmd.OP_ACCESS_PAGES, access).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, srcIova)
                    .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, BUFFER_SIZE).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, buf);
            ok(s.test(pages));
            ok(s.ioctl(IommuIoasCopy.REQUEST, IommufdIoasDomainTest.copyCmd(f.ioasId, ioasId, srcIova, MOCK_APERTURE_START, BUFFER_SIZE)));
            f.checkMockIova(buf, MOCK_APERTURE_START, BUFFER_SIZE);

            int newIoas = s.ioasAlloc();
            if (v.file) {
                ok(f.mapFileRc(newIoas, mfd, 0, BUFFER_SIZE, out));
            } else {
                ok(s.mapRc(newIoas, buf, BUFFER_SIZE, 0, RW, out));
            }
            srcIova = out[0];
            ok(s.test(testCmd(IommuTestCmd.OP_ACCESS_REPLACE_IOAS, access).put32(IommuTestCmd.OFFSET_ACCESS_REPLACE_IOAS_ID, newIoas)));
            s.unmap(f.ioasId, MOCK_APERTURE_START, BUFFER_SIZE);
            s.destroy(ioasId);

            pages = testCmd(IommuTestCmd.OP_ACCESS_PAGES, access).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, srcIova)
                    .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, BUFFER_SIZE).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, buf);
            ok(s.test(pages));
            ok(s.ioctl(IommuIoasCopy.REQUEST, IommufdIoasDomainTest.copyCmd(f.ioasId, newIoas, srcIova, MOCK_APERTURE_START, BUFFER_SIZE)));
            f.checkMockIova(buf, MOCK_APERTURE_START, BUFFER_SIZE);
            ok(s.test(testCmd(IommuTestCmd.OP_DESTROY_ACCESS_PAGES, access)
                    .put32(IommuTestCmd.OFFSET_DESTROY_ACCESS_PAGES_ID, pages.u32(IommuTestCmd.OFFSET_ACCESS_PAGES_OUT_ID))));
            s.selftest.closeAccess(s.fd.context(), access);
            s.destroy(newIoas);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void replace(Variant v) { // iommufd_mock_domain.replace
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            int ioasId = s.ioasAlloc();
            s.replace(f.stdevIds[0], ioasId);
            if (v.mockDomains == 1) {
                // the automatic HWPT went when its last device left
                err(Errno.ENOENT, s.replaceRc(f.stdevIds[0], f.hwptIds[0], null));
            }
            s.replace(f.stdevIds[0], ioasId);
            if (v.mockDomains >= 2) {
                s.replace(f.stdevIds[0], f.hwptIds[1]);
                s.replace(f.stdevIds[0], f.hwptIds[1]);
                s.replace(f.stdevIds[0], f.hwptIds[0]);
            }
            s.replace(f.stdevIds[0], f.ioasId);
            s.destroy(ioasId);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void allocHwpt(Variant v) { // iommufd_mock_domain.alloc_hwpt
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            for (int i = 0; i != v.mockDomains; i++) {
                err(Errno.EOPNOTSUPP, s.hwptAllocRc(f.idevIds[i], f.ioasId, ~IommuHwptAlloc.FLAG_NEST_PARENT));
                int hwpt0 = s.hwptAlloc(f.idevIds[i], f.ioasId, 0);
                int hwpt1 = s.hwptAlloc(f.idevIds[i], f.ioasId, IommuHwptAlloc.FLAG_NEST_PARENT);
                s.replace(f.stdevIds[i], hwpt0);
                err(Errno.EBUSY, s.destroyRc(hwpt0));
                s.replace(f.stdevIds[i], hwpt1);
                err(Errno.EBUSY, s.destroyRc(hwpt1));
                s.replace(f.stdevIds[i], f.ioasId);
                s.destroy(hwpt1);

                int[] m = s.mockDomain(hwpt0);
                assertEquals(hwpt0, m[1]);
                s.destroy(m[0]);
                s.destroy(hwpt0);
            }
        }
    }
}
