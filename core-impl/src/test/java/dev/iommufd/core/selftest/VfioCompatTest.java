package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.BUFFER_SIZE;
import static dev.iommufd.core.selftest.SelftestSession.HUGEPAGE_SIZE;
import static dev.iommufd.core.selftest.SelftestSession.MOCK_APERTURE_LAST;
import static dev.iommufd.core.selftest.SelftestSession.MOCK_APERTURE_START;
import static dev.iommufd.core.selftest.SelftestSession.PS;
import static dev.iommufd.core.selftest.SelftestSession.err;
import static dev.iommufd.core.selftest.SelftestSession.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.VfioIommuInfo;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.api.uapi.IommuVfioIoas;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Ports of the VFIO compatibility selftests (tools/testing/selftests/iommu/iommufd.c): the VFIO-COMPAT tests of
 * FIXTURE(iommufd) and FIXTURE(vfio_compat_mock_domain) with variants Ver1v2 (VFIO_TYPE1v2_IOMMU = 3) and Ver1v0
 * (VFIO_TYPE1_IOMMU = 1). VFIO ioctls are {@code _IO(';', 100 + n)} issued on the iommufd.
 */
class VfioCompatTest {
    static final long VFIO_GET_API_VERSION = (';' << 8) | 100;
    static final long VFIO_CHECK_EXTENSION = (';' << 8) | 101;
    static final long VFIO_SET_IOMMU = (';' << 8) | 102;
    static final long VFIO_IOMMU_GET_INFO = (';' << 8) | 112;
    static final long VFIO_IOMMU_MAP_DMA = (';' << 8) | 113;
    static final long VFIO_IOMMU_UNMAP_DMA = (';' << 8) | 114;
    static final int VFIO_TYPE1_IOMMU = 1;
    static final int VFIO_TYPE1v2_IOMMU = 3;
    static final int READ_WRITE = 3;
    static final int UNMAP_FLAG_ALL = 2;
    static final long ARG = ViommuCalls.IO_VA;

    private SelftestSession s;
    private ViommuCalls v;
    private int ioasId;

    private void setUpIommufd() {
        s = new SelftestSession();
        v = new ViommuCalls(s);
    }

    /** FIXTURE_SETUP(vfio_compat_mock_domain). */
    private void setUpMockDomain(int version) {
        setUpIommufd();
        ioasId = s.ioasAlloc();
        s.mockDomain(ioasId);
        ok(v.vfioIoasRc(IommuVfioIoas.OP_SET, ioasId, null));
        ok(s.fd.ioctl(VFIO_SET_IOMMU, version));
    }

    @AfterEach
    void teardown() {
        if (s != null) {
            s.teardown();
            s.machine.close();
        }
    }

    private int mapDma(int argsz, int flags, long vaddr, long iova, long size) {
        UserStruct m = new UserStruct(32).put32(0, argsz).put32(4, flags).put64(8, vaddr).put64(16, iova).put64(24, size);
        s.proc.write(ARG, m.bytes(), 0, 32);
        return s.fd.ioctl(VFIO_IOMMU_MAP_DMA, ARG);
    }

    /** @return rc; {@code size[0]} receives the written-back size */
    private int unmapDma(int argsz, int flags, long iova, long size, long[] out) {
        UserStruct u = new UserStruct(24).put32(0, argsz).put32(4, flags).put64(8, iova).put64(16, size);
        s.proc.write(ARG, u.bytes(), 0, 24);
        int rc = s.fd.ioctl(VFIO_IOMMU_UNMAP_DMA, ARG);
        s.proc.read(ARG, u.bytes(), 0, 24);
        if (out != null) {
            out[0] = u.u64(16);
        }
        return rc;
    }

    // ---------------------------------------------------------------- FIXTURE(iommufd)

    /** iommufd.simple_ioctls. */
    @Test
    void simpleIoctls() {
        setUpIommufd();
        assertEquals(0, s.fd.ioctl(VFIO_GET_API_VERSION, 0));
        assertEquals(1, s.fd.ioctl(VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
        assertEquals(1, s.fd.vfioCheckExtension(VFIO_TYPE1v2_IOMMU));
        assertEquals(0, s.fd.ioctl(VFIO_CHECK_EXTENSION, 10)); // VFIO_UPDATE_VADDR
        err(Errno.ENOTTY, s.fd.ioctl((';' << 8) | 117, ARG)); // VFIO_IOMMU_DIRTY_PAGES
    }

    /** iommufd.unmap_cmd. */
    @Test
    void unmapCmd() {
        setUpIommufd();
        err(Errno.EINVAL, unmapDma(1, 0, MOCK_APERTURE_START, PS, null));
        err(Errno.EINVAL, unmapDma(24, 1 << 31, MOCK_APERTURE_START, PS, null));
        err(Errno.ENODEV, unmapDma(24, 0, MOCK_APERTURE_START, PS, null));
    }

    /** iommufd.map_cmd. */
    @Test
    void mapCmd() {
        setUpIommufd();
        err(Errno.EINVAL, mapDma(1, 0, s.buffer, MOCK_APERTURE_START, PS));
        err(Errno.EINVAL, mapDma(32, 1 << 31, s.buffer, MOCK_APERTURE_START, PS));
        err(Errno.ENODEV, mapDma(32, READ_WRITE, s.buffer, MOCK_APERTURE_START, PS));
    }

    /** iommufd.info_cmd. */
    @Test
    void infoCmd() {
        setUpIommufd();
        s.proc.write(ARG, new UserStruct(24).put32(0, 1).bytes(), 0, 24);
        err(Errno.EINVAL, s.fd.ioctl(VFIO_IOMMU_GET_INFO, ARG));
        s.proc.write(ARG, new UserStruct(24).put32(0, 24).bytes(), 0, 24);
        err(Errno.ENODEV, s.fd.ioctl(VFIO_IOMMU_GET_INFO, ARG));
    }

    /** iommufd.set_iommu_cmd. */
    @Test
    void setIommuCmd() {
        setUpIommufd();
        err(Errno.ENODEV, s.fd.ioctl(VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
        err(Errno.ENODEV, s.fd.ioctl(VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
        err(Errno.EINVAL, s.fd.ioctl(VFIO_SET_IOMMU, 8)); // NOIOMMU without no-iommu mode
    }

    /** iommufd.vfio_ioas, plus the weak pointer: destroying the compat IOAS clears it. */
    @Test
    void vfioIoas() {
        setUpIommufd();
        int[] out = new int[1];
        err(Errno.ENODEV, v.vfioIoasRc(IommuVfioIoas.OP_GET, 0, out));
        err(Errno.ENOENT, v.vfioIoasRc(IommuVfioIoas.OP_SET, 0, out));
        int ioas = s.ioasAlloc();
        ok(v.vfioIoasRc(IommuVfioIoas.OP_SET, ioas, out));
        ok(v.vfioIoasRc(IommuVfioIoas.OP_GET, 0, out));
        assertEquals(ioas, out[0]);
        ok(v.vfioIoasRc(IommuVfioIoas.OP_CLEAR, 0, out));
        err(Errno.ENODEV, v.vfioIoasRc(IommuVfioIoas.OP_GET, 0, out));
        err(Errno.EOPNOTSUPP, v.vfioIoasRc(3, 0, out));

        assertEquals(0, s.fd.vfioIoas(IommuVfioIoas.OP_SET, ioas));
        assertEquals(ioas, s.fd.vfioIoas(IommuVfioIoas.OP_GET, 0));
        s.destroy(ioas); // no reference held by the compat pointer
        assertEquals(Errno.ENODEV, assertThrows(ErrnoException.class, () -> s.fd.vfioIoas(IommuVfioIoas.OP_GET, 0)).errno());
    }

    // ---------------------------------------------------------------- FIXTURE(vfio_compat_mock_domain)

    /** vfio_compat_mock_domain.simple_close. */
    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU})
    void simpleClose(int version) {
        setUpMockDomain(version);
    }

    /** vfio_compat_mock_domain.option_huge_pages: TYPE1 disabled large pages. */
    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU})
    void optionHugePages(int version) {
        setUpMockDomain(version);
        assertEquals(version == VFIO_TYPE1_IOMMU ? 0 : 1, s.fd.optionGet(IommuOption.OPTION_HUGE_PAGES, ioasId));
    }

    private int getInfoRc(int argsz) {
        s.proc.write(ARG, new UserStruct(24).put32(0, argsz).bytes(), 0, 24);
        return s.fd.ioctl(VFIO_IOMMU_GET_INFO, ARG);
    }

    private UserStruct readBack(int n) {
        UserStruct u = new UserStruct(n);
        s.proc.read(ARG, u.bytes(), 0, n);
        return u;
    }

    /** check_vfio_info_cap_chain. */
    private void checkCapChain(UserStruct buf, int argsz) {
        int capOffset = buf.u32(16);
        assertTrue(capOffset + 8 <= argsz);
        int off = capOffset;
        int seen = 0;
        while (true) {
            int id = buf.u16(off);
            int version = buf.u16(off + 2);
            int next = buf.u32(off + 4);
            assertEquals(1, version);
            if (id == 1) { // VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE
                assertEquals(1, buf.u32(off + 8), "nr_iovas");
                assertEquals(MOCK_APERTURE_START, buf.u64(off + 16));
                assertEquals(MOCK_APERTURE_LAST, buf.u64(off + 24));
            } else if (id == 3) { // VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL
                assertEquals(-1, buf.u32(off + 8), "avail");
                if (next != 0) {
                    assertEquals(16, next - off, "12-byte cap aligned to 8");
                }
            } else {
                throw new AssertionError("unknown capability " + id);
            }
            seen++;
            if (next == 0) {
                break;
            }
            assertTrue(next > off && next < argsz, "next " + next);
            off = next;
        }
        assertEquals(2, seen);
    }

    /** vfio_compat_mock_domain.get_info (with ioctl_check_buf: nothing is written beyond argsz). */
    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU})
    void getInfo(int version) {
        setUpMockDomain(version);
        ok(getInfoRc(16));
        UserStruct r = readBack(16);
        assertNotEquals(0, r.u64(8));
        assertEquals(3, r.u32(4), "PGSIZES | CAPS");

        ok(getInfoRc(24));
        r = readBack(24);
        assertNotEquals(0, r.u64(8));
        assertEquals(3, r.u32(4));
        assertEquals(0, r.u32(16), "cap_offset: caps did not fit");
        int caplen = r.u32(0);
        assertTrue(caplen > 24);

        int total = 4096;
        for (int argsz = 24; argsz < caplen + 8; argsz++) {
            byte[] fill = new byte[total];
            java.util.Arrays.fill(fill, (byte) 0xAA);
            s.proc.write(ARG, fill, 0, total);
            s.proc.write(ARG, new UserStruct(4).put32(0, argsz).bytes(), 0, 4);
            ok(s.fd.ioctl(VFIO_IOMMU_GET_INFO, ARG));
            UserStruct buf = readBack(total);
            for (int i = argsz; i < total; i++) {
                assertEquals((byte) 0xAA, buf.bytes()[i], "argsz " + argsz + ": byte " + i + " written");
            }
            assertEquals(3, buf.u32(4));
            if (buf.u32(16) != 0) {
                assertTrue(argsz >= caplen);
                checkCapChain(buf, argsz);
            }
        }
        VfioIommuInfo typed = s.fd.vfioIommuGetInfo();
        assertEquals(List.of(new IovaRange(MOCK_APERTURE_START, MOCK_APERTURE_LAST)), typed.iovaRanges());
        assertEquals(r.u64(8), typed.iovaPgsizes());
    }

    /** vfio_compat_mock_domain.map. */
    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU})
    void map(int version) {
        setUpMockDomain(version);
        long[] size = new long[1];
        ok(mapDma(32, READ_WRITE, s.buffer, MOCK_APERTURE_START, BUFFER_SIZE));
        ok(unmapDma(24, 0, MOCK_APERTURE_START, BUFFER_SIZE, size));
        assertEquals(BUFFER_SIZE, size[0]);
        ok(unmapDma(24, 0, MOCK_APERTURE_START, BUFFER_SIZE, size)); // nothing there: 0 bytes, no error
        assertEquals(0, size[0]);

        ok(mapDma(32, READ_WRITE, s.buffer, MOCK_APERTURE_START, BUFFER_SIZE));
        err(Errno.EINVAL, unmapDma(24, UNMAP_FLAG_ALL, MOCK_APERTURE_START, BUFFER_SIZE, null));
        ok(unmapDma(24, UNMAP_FLAG_ALL, 0, 0, size));
        assertEquals(BUFFER_SIZE, size[0]);

        List<Long> iovas = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            ok(mapDma(32, READ_WRITE, s.buffer + i * PS, MOCK_APERTURE_START + i * PS, PS));
            iovas.add(MOCK_APERTURE_START + i * PS);
        }
        Collections.shuffle(iovas, new Random(version));
        for (long iova : iovas) {
            ok(unmapDma(24, 0, iova, PS, size));
            assertEquals(PS, size[0]);
        }
        // Typed face: the same map and unmap.
        s.fd.vfioMapDma(READ_WRITE, s.buffer, MOCK_APERTURE_START, PS);
        assertEquals(PS, s.fd.vfioUnmapDma(0, MOCK_APERTURE_START, PS));
    }

    /**
     * vfio_compat_mock_domain.huge_map: a 4 MiB hugetlb map unmapped in shuffled sixteenths: Ver1v2 never splits
     * (ENOENT); Ver1v0 (large pages disabled) cuts the area and succeeds.
     */
    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU})
    void hugeMap(int version) {
        setUpMockDomain(version);
        long bufSize = 2 * HUGEPAGE_SIZE;
        long buf = s.proc.mmap(0x40_0000_0000L, bufSize, Prot.READ_WRITE, MapKind.HUGETLB_2M);
        ok(mapDma(32, READ_WRITE, buf, MOCK_APERTURE_START, bufSize));
        long size = bufSize / 16;
        List<Long> iovas = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            iovas.add(MOCK_APERTURE_START + i * size);
        }
        Collections.shuffle(iovas, new Random(7));
        for (long iova : iovas) {
            long[] out = new long[1];
            if (version == VFIO_TYPE1v2_IOMMU) {
                err(Errno.ENOENT, unmapDma(24, 0, iova, size, out));
            } else {
                ok(unmapDma(24, 0, iova, size, out));
                assertEquals(size, out[0], "v1 cuts the area and unmaps exactly the range");
            }
        }
        if (version == VFIO_TYPE1_IOMMU) {
            long[] rest = new long[1];
            ok(unmapDma(24, UNMAP_FLAG_ALL, 0, 0, rest));
            assertEquals(0, rest[0], "everything was unmapped piecewise");
        }
    }

    /** The /dev/vfio/vfio open path accounts per mm (RLIMIT_MODE reads 1) and maps charge the mm. */
    @Test
    void vfioContainerOpenAccountsPerMm() {
        setUpIommufd();
        dev.iommufd.platform.UserProcess p = s.machine.spawn("qemu", 1000); // no CAP_IPC_LOCK: accounting applies
        p.setRlimitMemlock(1L << 30);
        p.mmap(ARG, 4 * PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
        long buf = p.mmap(0x50_0000_0000L, 4 * PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
        IommufdFd c = s.subsystem.openVfioContainer(p);
        try {
            assertEquals(1, c.optionGet(IommuOption.OPTION_RLIMIT_MODE, 0));
            assertEquals(0, s.fd.optionGet(IommuOption.OPTION_RLIMIT_MODE, 0));
            int ioas = c.ioasAlloc();
            UserStruct md = SelftestSession.testCmd(IommuTestCmd.OP_MOCK_DOMAIN, ioas);
            p.write(ARG, md.bytes(), 0, md.size());
            ok(c.ioctl(IommuTestCmd.REQUEST, ARG)); // a domain, so that maps pin (and charge) at once
            c.vfioIoas(IommuVfioIoas.OP_SET, ioas);
            long mmBefore = p.mm().lockedVm();
            long userBefore = p.user().lockedVm();
            c.vfioMapDma(READ_WRITE, buf, MOCK_APERTURE_START, 4 * PS);
            assertEquals(4, p.mm().lockedVm() - mmBefore, "charged to the mm");
            assertEquals(0, p.user().lockedVm() - userBefore, "not to the user");
        } finally {
            c.close();
        }
    }
}
