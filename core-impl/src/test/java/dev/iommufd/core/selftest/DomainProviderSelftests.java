package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.BUFFER_SIZE;
import static dev.iommufd.core.selftest.SelftestSession.HUGEPAGE_SIZE;
import static dev.iommufd.core.selftest.SelftestSession.PS;
import static dev.iommufd.core.selftest.SelftestSession.RW;
import static dev.iommufd.core.selftest.SelftestSession.RW_FIXED;
import static dev.iommufd.core.selftest.SelftestSession.err;
import static dev.iommufd.core.selftest.SelftestSession.ok;
import static dev.iommufd.core.selftest.SelftestSession.struct;
import static dev.iommufd.core.selftest.SelftestSession.testCmd;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.VfioIommuInfo;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuHwptGetDirtyBitmap;
import dev.iommufd.api.uapi.IommuIoasCopy;
import dev.iommufd.api.uapi.IommuIoasIovaRanges;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.api.uapi.IommuVfioIoas;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.core.HwptPaging;
import dev.iommufd.core.ObjectKind;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.Prot;
import dev.iommufd.spi.IommuDomain;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The domain-dependent ports of tools/testing/selftests/iommu/iommufd.c, parameterised by the driver that
 * provides the paging domains ({@link #provider()}): FIXTURE(iommufd_ioas) in its mock_domain / two_mock_domain
 * variants, FIXTURE(iommufd_mock_domain) tests that use only generic ops, FIXTURE(iommufd_dirty_tracking) driven by
 * DMA, FIXTURE(vfio_compat_mock_domain) and the paging steps of iommufd_device_pasid. Each test names the kernel test it
 * ports. The device-creating test op (MOCK_DOMAIN) plugs a function behind the provider's unit; every expected value
 * that depends on the domain is derived from the provider's stated geometry (IO page size, aperture, hw_info type,
 * reserved IOVAs), never read back from the driver under test.
 *
 * <p>MD_CHECK_MAP (a mock op: it reads the mock domain's own table) is replaced by a provider-neutral check
 * ({@link #checkIova}): the domain's {@code iova_to_phys} must equal the process's translation of every user page,
 * and DMA by the device through the IOMMU must read the user's bytes.
 *
 * <p>Not here, mock-only by nature: MD_CHECK_IOTLB and IOMMU_HWPT_DATA_SELFTEST nesting (alloc_hwpt_nested: a
 * selftest data type no real driver accepts), DEV_CHECK_CACHE and viommu cache invalidation (selftest data types),
 * TRIGGER_IOPF / TRIGGER_VEVENT (inject events only the mock can fabricate), MOCK_FLAGS_DEVICE_HUGE_IOVA, and the
 * mock DIRTY op (sets dirty bits without DMA). They stay in the mock-only test classes of this package.
 */
public abstract class DomainProviderSelftests {

    /** The driver under test, its machine and geometry. */
    protected abstract SelftestDomainProvider provider();

    /** A session with RAM of 1 GiB whose MOCK_DOMAIN op plugs devices through {@link #provider()}. */
    final SelftestSession session() {
        return new SelftestSession(1L << 30, provider());
    }

    /** FIXTURE_SETUP(iommufd_ioas) of variant mock_domain (domains = 1) or two_mock_domain (2). */
    final class Fixture implements AutoCloseable {
        final SelftestSession s = session();
        final int ioasId;
        final int[] stdev;
        final int[] hwpt;
        final int[] idev;
        final long base;

        Fixture(int domains) {
            ioasId = s.ioasAlloc();
            stdev = new int[domains];
            hwpt = new int[domains];
            idev = new int[domains];
            for (int i = 0; i < domains; i++) {
                int[] out = s.mockDomain(ioasId);
                stdev[i] = out[0];
                hwpt[i] = out[1];
                idev[i] = out[2];
            }
            base = provider().apertureStart();
        }

        /** check_mock_iova on every domain of the fixture, the provider-neutral way. */
        void checkIova(long va, long iova, long length) {
            checkIova(va, iova, length, true);
        }

        void checkIova(long va, long iova, long length, boolean readable) {
            for (int i = 0; i < hwpt.length; i++) {
                DomainProviderSelftests.this.checkIova(s, hwpt[i], stdev[i], va, iova, length, readable);
            }
        }

        @Override
        public void close() {
            s.teardown();
            s.close();
        }
    }

    /**
     * MD_CHECK_MAP without the mock: every IO page of [iova, iova + length) translates, in the domain of HWPT
     * {@code hwptId}, to the physical address behind the same offset of user VA {@code va}; and the device of
     * selftest object {@code stdevId} reads the user's bytes by DMA at {@code iova}.
     */
    final void checkIova(SelftestSession s, int hwptId, int stdevId, long va, long iova, long length, boolean readable) {
        long ps = provider().ioPageSize();
        HwptPaging h = s.fd.context().objects().get(hwptId, ObjectKind.HWPT_PAGING, HwptPaging.class);
        try {
            IommuDomain d = h.domain();
            for (long off = 0; off < length; off += ps) {
                long pa = s.proc.translate(va + off);
                long at = iova + off;
                assertEquals(pa, d.iovaToPhys(at), () -> String.format("%s: iova_to_phys(%#x)", provider().name(), at));
            }
        } finally {
            s.fd.context().objects().put(h);
        }
        SelftestDevice dev = s.fd.context().objects().get(stdevId, ObjectKind.SELFTEST, SelftestDevice.class);
        try {
            PciFunction f = dev.function;
            byte[] before = new byte[(int) length];
            s.proc.read(va, before, 0, before.length);
            if (readable) {
                byte[] seen = new byte[before.length];
                assertEquals(DmaStatus.OK, f.dmaRead(iova, seen), () -> String.format("DMA read at %#x", iova));
                assertArrayEquals(before, seen, "the device reads the user's bytes through the domain");
            }
            // every mapping of these tests is writeable: a DMA write lands in the user's page, then is undone
            byte[] mark = new byte[8];
            for (int i = 0; i < 8; i++) {
                mark[i] = (byte) ~before[(int) (length - 8) + i];
            }
            assertEquals(DmaStatus.OK, f.dmaWrite(iova + length - 8, mark), () -> String.format("DMA write at %#x", iova));
            byte[] landed = new byte[8];
            s.proc.read(va + length - 8, landed, 0, 8);
            assertArrayEquals(mark, landed, "the device's write reaches the user's page");
            assertEquals(DmaStatus.OK, f.dmaWrite(iova + length - 8, java.util.Arrays.copyOfRange(before, (int) length - 8, (int) length)));
        } finally {
            s.fd.context().objects().put(dev);
        }
    }

    // ---------------------------------------------------------------- FIXTURE(iommufd_ioas), domain variants

    @Test
    public void ioasDestroy() { // iommufd_ioas.ioas_destroy (mock_domain): the device's HWPT holds the IOAS
        try (Fixture f = new Fixture(1)) {
            err(Errno.EBUSY, f.s.destroyRc(f.ioasId));
        }
    }

    @Test
    public void hwptAttach() { // iommufd_ioas.hwpt_attach: a second device attaches straight to the HWPT
        try (Fixture f = new Fixture(1)) {
            int[] out = f.s.mockDomain(f.hwpt[0]);
            assertEquals(f.hwpt[0], out[1]);
        }
    }

    @Test
    public void ioasAreaDestroy() { // iommufd_ioas.ioas_area_destroy
        try (Fixture f = new Fixture(1)) {
            f.s.mapFixed(f.ioasId, f.s.buffer, PS, f.base);
            err(Errno.EBUSY, f.s.destroyRc(f.ioasId));
        }
    }

    @Test
    public void ioasAreaAutoDestroy() { // iommufd_ioas.ioas_area_auto_destroy: the close unpins everything
        try (Fixture f = new Fixture(1)) {
            for (int i = 0; i != 10; i++) {
                f.s.mapFixed(f.ioasId, f.s.buffer, PS, f.base + i * PS);
            }
            f.s.checkRefs(f.s.buffer, PS, 10);
        }
    }

    @Test
    public void getHwInfoType() { // iommufd_ioas.get_hw_info: the vendor's type, a foreign type refused
        try (Fixture f = new Fixture(1)) {
            UserStruct s = struct(IommuHwInfo.SIZE);
            ok(f.s.getHwInfoRc(f.idev[0], 0, 0, 0, s));
            assertEquals(provider().hwInfoType(), s.u32(IommuHwInfo.OFFSET_DATA_TYPE), "out_data_type");
            int kernelLen = s.u32(IommuHwInfo.OFFSET_DATA_LEN);
            assertTrue(kernelLen > 0, "data_len reports the vendor struct's length");
            assertEquals(0, s.u8(IommuHwInfo.OFFSET_OUT_MAX_PASID_LOG2), "a plain endpoint has no PASID");
            long buf = f.s.scratch();
            ok(f.s.getHwInfoRc(f.idev[0], provider().hwInfoType(), buf, kernelLen, struct(IommuHwInfo.SIZE)));
            int foreign = provider().hwInfoType() == MockSelftestUapi.IOMMU_HW_INFO_TYPE_SELFTEST
                    ? MockSelftestUapi.IOMMU_HW_INFO_TYPE_SELFTEST + 1 : MockSelftestUapi.IOMMU_HW_INFO_TYPE_SELFTEST;
            err(Errno.EOPNOTSUPP, f.s.getHwInfoRc(f.idev[0], foreign, buf, kernelLen, struct(IommuHwInfo.SIZE)));
            // a larger buffer: the tail beyond the kernel's length is zeroed, data_len written back
            for (int i = 0; i < kernelLen + 8; i += 8) {
                f.s.proc.write64(buf + i, -1L);
            }
            s = struct(IommuHwInfo.SIZE);
            ok(f.s.getHwInfoRc(f.idev[0], 0, buf, kernelLen + 8, s));
            assertEquals(kernelLen, s.u32(IommuHwInfo.OFFSET_DATA_LEN));
            byte[] tail = new byte[8];
            f.s.proc.read(buf + kernelLen, tail, 0, 8);
            assertArrayEquals(new byte[8], tail, "trailing bytes zeroed");
        }
    }

    /**
     * The IOVA ranges an IOAS with a domain of this provider allows: the aperture minus the provider's reserved
     * IOVAs minus {@code extra} (each {start, last}), in ascending order.
     */
    final List<long[]> expectedRanges(long[]... extra) {
        List<long[]> ranges = new ArrayList<>();
        ranges.add(new long[] {provider().apertureStart(), provider().apertureLast()});
        List<long[]> holes = new ArrayList<>(provider().reservedIovas());
        holes.addAll(List.of(extra));
        for (long[] hole : holes) {
            List<long[]> next = new ArrayList<>();
            for (long[] r : ranges) {
                if (Long.compareUnsigned(hole[1], r[0]) < 0 || Long.compareUnsigned(hole[0], r[1]) > 0) {
                    next.add(r);
                    continue;
                }
                if (Long.compareUnsigned(hole[0], r[0]) > 0) {
                    next.add(new long[] {r[0], hole[0] - 1});
                }
                if (Long.compareUnsigned(hole[1], r[1]) < 0) {
                    next.add(new long[] {hole[1] + 1, r[1]});
                }
            }
            ranges = next;
        }
        ranges.sort((a, b) -> Long.compareUnsigned(a[0], b[0]));
        return ranges;
    }

    private static void assertRanges(SelftestSession s, List<long[]> want, UserStruct cmd, long ranges) {
        assertEquals(want.size(), cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS), "num_iovas");
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i)[0], s.proc.read64(ranges + 16L * i), "start of range " + i);
            assertEquals(want.get(i)[1], s.proc.read64(ranges + 16L * i + 8), "last of range " + i);
        }
    }

    @Test
    public void iovaRanges() { // iommufd_ioas.iova_ranges (mock_domain): the domain's aperture, its alignment
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            long ranges = s.buffer;
            int cap = (int) (BUFFER_SIZE / 16);
            List<long[]> want = expectedRanges();
            UserStruct cmd = rangesCmd(f.ioasId, cap, ranges);
            ok(s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
            assertRanges(s, want, cmd, ranges);
            assertEquals(provider().ioPageSize(), cmd.u64(IommuIoasIovaRanges.OFFSET_OUT_IOVA_ALIGNMENT), "out_iova_alignment");

            s.proc.write(ranges, new byte[64], 0, 64);
            cmd = rangesCmd(f.ioasId, 0, ranges);
            err(Errno.EMSGSIZE, s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
            assertEquals(want.size(), cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
            assertEquals(0, s.proc.read64(ranges));

            // a reserved [PS, 2 * PS): a hole only where the aperture covers it
            ok(s.test(testCmd(IommuTestCmd.OP_ADD_RESERVED, f.ioasId).put64(IommuTestCmd.OFFSET_ADD_RESERVED_START, PS)
                    .put64(IommuTestCmd.OFFSET_ADD_RESERVED_LENGTH, PS)));
            want = expectedRanges(new long[] {PS, 2 * PS - 1});
            cmd = rangesCmd(f.ioasId, cap, ranges);
            ok(s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
            assertRanges(s, want, cmd, ranges);

            s.proc.write(ranges, new byte[64], 0, 64);
            cmd = rangesCmd(f.ioasId, 1, ranges);
            if (want.size() == 1) {
                ok(s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
            } else {
                err(Errno.EMSGSIZE, s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
            }
            assertEquals(want.size(), cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
            assertEquals(want.get(0)[0], s.proc.read64(ranges), "the first range is filled in");
            assertEquals(want.get(0)[1], s.proc.read64(ranges + 8));
            assertEquals(0, s.proc.read64(ranges + 16), "nothing beyond num_iovas = 1 is written");
        }
    }

    private static UserStruct rangesCmd(int ioas, int num, long ranges) {
        return struct(IommuIoasIovaRanges.SIZE).put32(IommuIoasIovaRanges.OFFSET_IOAS_ID, ioas)
                .put32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS, num).put64(IommuIoasIovaRanges.OFFSET_ALLOWED_IOVAS, ranges);
    }

    @Test
    public void ioasIovaAlloc() { // iommufd_ioas.ioas_iova_alloc: lengths not a multiple of the IO page refused
        try (Fixture f = new Fixture(1)) {
            long[] out = new long[1];
            long ps = provider().ioPageSize();
            for (long length = 1; length != PS * 2; length++) {
                if (length % ps != 0) {
                    err(Errno.EINVAL, f.s.mapRc(f.ioasId, f.s.buffer, length, 0, RW, out), "length " + length);
                } else {
                    ok(f.s.mapRc(f.ioasId, f.s.buffer, length, 0, RW, out));
                    assertEquals(0, out[0] % ps, "the allocated IOVA is IO page aligned");
                    f.s.unmap(f.ioasId, out[0], length);
                }
            }
        }
    }

    @Test
    public void area() { // iommufd_ioas.area (mock_domain): fixed maps at the aperture start, unmap rules
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            long base = f.base;
            for (int i = 0; i != 10; i++) {
                s.mapFixed(f.ioasId, s.buffer, PS, base + i * PS);
            }
            for (int i = 0; i != 10; i++) {
                s.unmap(f.ioasId, base + i * PS, PS);
            }
            for (int i = 0; i != 10; i++) {
                err(Errno.ENOENT, s.unmapRc(f.ioasId, base + i * PS, PS));
            }
            s.mapFixed(f.ioasId, s.buffer, 2 * PS, base + 16 * PS);
            err(Errno.ENOENT, s.unmapRc(f.ioasId, base + 16 * PS, PS));
            err(Errno.ENOENT, s.unmapRc(f.ioasId, base + 17 * PS, PS));
            long[][] over = {{2, 16}, {1, 16}, {1, 17}, {2, 15}, {3, 15}};
            for (long[] m : over) {
                err(Errno.EEXIST, s.mapRc(f.ioasId, s.buffer, m[0] * PS, base + m[1] * PS, RW_FIXED, null));
            }
            f.checkIova(s.buffer, base + 16 * PS, 2 * PS);
            s.unmap(f.ioasId, 0, -1L);
            s.unmap(f.ioasId, 0, -1L);
        }
    }

    @Test
    public void mapOutsideAperture() { // iommufd_ioas.area_allowed analogue: outside the aperture is reserved (iopt_check_iova: EINVAL)
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            if (provider().apertureStart() != 0) {
                err(Errno.EINVAL, s.mapRc(f.ioasId, s.buffer, PS, provider().apertureStart() - PS, RW_FIXED, null),
                        "below the aperture");
            }
            if (provider().apertureLast() != -1L) {
                err(Errno.EINVAL, s.mapRc(f.ioasId, s.buffer, PS, provider().apertureLast() + 1, RW_FIXED, null),
                        "above the aperture");
                err(Errno.EINVAL, s.mapRc(f.ioasId, s.buffer, 2 * PS, provider().apertureLast() + 1 - PS, RW_FIXED, null),
                        "straddling the aperture's end");
            }
            s.mapFixed(f.ioasId, s.buffer, PS, provider().apertureLast() + 1 - PS);
            f.checkIova(s.buffer, provider().apertureLast() + 1 - PS, PS);
        }
    }

    @Test
    public void copyArea() { // iommufd_ioas.copy_area (mock_domain): the copy is mapped in the domain, pages shared
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            s.mapFixed(f.ioasId, s.buffer, PS, f.base);
            ok(s.ioctl(IommuIoasCopy.REQUEST, copyCmd(f.ioasId, f.ioasId, f.base, f.base + PS, PS)));
            int dst = s.ioasAlloc();
            ok(s.ioctl(IommuIoasCopy.REQUEST, copyCmd(dst, f.ioasId, f.base, 0, PS)));
            f.checkIova(s.buffer, f.base + PS, PS, false); // IOAS_COPY of the kernel test: FIXED_IOVA | WRITEABLE
            s.checkRefs(s.buffer, PS, 1);
        }
    }

    static UserStruct copyCmd(int dst, int src, long srcIova, long dstIova, long length) {
        return struct(IommuIoasCopy.SIZE).put32(IommuIoasCopy.OFFSET_FLAGS, IommuIoasMap.FLAG_FIXED_IOVA | IommuIoasMap.FLAG_WRITEABLE)
                .put32(IommuIoasCopy.OFFSET_DST_IOAS_ID, dst).put32(IommuIoasCopy.OFFSET_SRC_IOAS_ID, src)
                .put64(IommuIoasCopy.OFFSET_LENGTH, length).put64(IommuIoasCopy.OFFSET_DST_IOVA, dstIova)
                .put64(IommuIoasCopy.OFFSET_SRC_IOVA, srcIova);
    }

    @Test
    public void accessPinWithDomain() { // iommufd_ioas.access_pin (mock_domain): pins coexist with the domain
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            UserStruct create = testCmd(IommuTestCmd.OP_CREATE_ACCESS, f.ioasId)
                    .put32(IommuTestCmd.OFFSET_CREATE_ACCESS_FLAGS, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
            ok(s.test(create));
            int access = create.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD);
            s.mapFixed(f.ioasId, s.buffer, BUFFER_SIZE, f.base);
            UserStruct pages = testCmd(IommuTestCmd.OP_ACCESS_PAGES, access).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, f.base)
                    .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, BUFFER_SIZE).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, s.buffer);
            ok(s.test(pages));
            // a new domain filled while the access holds the pages maps them all
            int[] m = s.mockDomain(f.ioasId);
            checkIova(s, m[1], m[0], s.buffer, f.base, BUFFER_SIZE, true);
            s.destroy(m[0]);
            ok(s.test(testCmd(IommuTestCmd.OP_DESTROY_ACCESS_PAGES, access)
                    .put32(IommuTestCmd.OFFSET_DESTROY_ACCESS_PAGES_ID, pages.u32(IommuTestCmd.OFFSET_ACCESS_PAGES_OUT_ID))));
            s.unmap(f.ioasId, f.base, BUFFER_SIZE);
            s.selftest.closeAccess(s.fd.context(), access);
        }
    }

    // ---------------------------------------------------------------- FIXTURE(iommufd_mock_domain), generic ops

    @Test
    public void basic() { // iommufd_mock_domain.basic (one_domain)
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            long iova = s.map(f.ioasId, s.buffer, PS);
            f.checkIova(s.buffer, iova, PS);
            long size = 8 * PS;
            long[] out = new long[1];
            long buf = s.proc.mmap(0, size, Prot.READ_WRITE, MapKind.ANONYMOUS);
            s.proc.munmap(buf + size / 2, size / 2);
            err(Errno.EFAULT, s.mapRc(f.ioasId, buf, size, 0, RW, out));
            s.proc.munmap(buf, size / 2);
            err(Errno.EFAULT, s.mapRc(f.ioasId, buf, size, 0, RW, out));
        }
    }

    @Test
    public void basicHugepage() { // iommufd_mock_domain.basic (one_domain_hugepage): 2 MiB user pages
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            long buf = s.proc.mmap(0, 2 * HUGEPAGE_SIZE, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            s.proc.write64(buf + HUGEPAGE_SIZE + 8, 0x1122_3344_5566_7788L);
            long iova = s.map(f.ioasId, buf, 2 * HUGEPAGE_SIZE);
            assertEquals(0, iova % provider().ioPageSize());
            f.checkIova(buf, iova, 2 * HUGEPAGE_SIZE);
        }
    }

    private void allAligns(int domains, boolean copy) {
        try (Fixture f = new Fixture(domains)) {
            SelftestSession s = f.s;
            long step = provider().ioPageSize();
            long size = 8 * PS;
            long buf = s.proc.mmap(0, size, Prot.READ_WRITE, MapKind.ANONYMOUS);
            for (long i = 0; i < size; i += 8) {
                s.proc.write64(buf + i, i * 0x9e37_79b9L);
            }
            s.checkRefs(buf, size, 0);
            long[] out = new long[1];
            for (long start = 0; start < size; start += step) {
                for (long end = start + step; end < size; end += step) {
                    long length = end - start;
                    ok(s.mapRc(f.ioasId, buf + start, length, 0, RW, out));
                    long iova = out[0];
                    f.checkIova(buf + start, iova, length);
                    if (copy) {
                        int[] m = s.mockDomain(f.ioasId); // a new domain filled from the pinned pages
                        checkIova(s, m[1], m[0], buf + start, iova, length, true);
                        s.destroy(m[0]);
                    }
                    long first = start / PS * PS;
                    long last = end / PS * PS;
                    if (last > first) {
                        s.checkRefs(buf + first, last - first, 1);
                    }
                    s.unmap(f.ioasId, iova, length);
                }
            }
            s.checkRefs(buf, size, 0);
        }
    }

    @Test
    public void allAligns() { // iommufd_mock_domain.all_aligns (one_domain)
        allAligns(1, false);
    }

    @Test
    public void allAlignsTwoDomains() { // iommufd_mock_domain.all_aligns (two_domains)
        allAligns(2, false);
    }

    @Test
    public void allAlignsCopy() { // iommufd_mock_domain.all_aligns_copy (one_domain)
        allAligns(1, true);
    }

    @Test
    public void userCopy() { // iommufd_mock_domain.user_copy (one_domain)
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            long buf = s.buffer;
            int ioasId = s.ioasAlloc();
            long[] out = new long[1];
            ok(s.mapRc(ioasId, buf, BUFFER_SIZE, 0, RW, out));
            long srcIova = out[0];
            UserStruct create = testCmd(IommuTestCmd.OP_CREATE_ACCESS, ioasId)
                    .put32(IommuTestCmd.OFFSET_CREATE_ACCESS_FLAGS, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
            ok(s.test(create));
            int access = create.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD);
            UserStruct pages = testCmd(IommuTestCmd.OP_ACCESS_PAGES, access).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, srcIova)
                    .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, BUFFER_SIZE).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, buf);
            ok(s.test(pages));
            ok(s.ioctl(IommuIoasCopy.REQUEST, copyCmd(f.ioasId, ioasId, srcIova, f.base, BUFFER_SIZE)));
            f.checkIova(buf, f.base, BUFFER_SIZE, false);

            int newIoas = s.ioasAlloc();
            ok(s.mapRc(newIoas, buf, BUFFER_SIZE, 0, RW, out));
            srcIova = out[0];
            ok(s.test(testCmd(IommuTestCmd.OP_ACCESS_REPLACE_IOAS, access).put32(IommuTestCmd.OFFSET_ACCESS_REPLACE_IOAS_ID, newIoas)));
            s.unmap(f.ioasId, f.base, BUFFER_SIZE);
            s.destroy(ioasId);

            pages = testCmd(IommuTestCmd.OP_ACCESS_PAGES, access).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, srcIova)
                    .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, BUFFER_SIZE).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, buf);
            ok(s.test(pages));
            ok(s.ioctl(IommuIoasCopy.REQUEST, copyCmd(f.ioasId, newIoas, srcIova, f.base, BUFFER_SIZE)));
            f.checkIova(buf, f.base, BUFFER_SIZE, false);
            ok(s.test(testCmd(IommuTestCmd.OP_DESTROY_ACCESS_PAGES, access)
                    .put32(IommuTestCmd.OFFSET_DESTROY_ACCESS_PAGES_ID, pages.u32(IommuTestCmd.OFFSET_ACCESS_PAGES_OUT_ID))));
            s.selftest.closeAccess(s.fd.context(), access);
            s.destroy(newIoas);
        }
    }

    @Test
    public void replace() { // iommufd_mock_domain.replace (one_domain, two_domains)
        for (int domains = 1; domains <= 2; domains++) {
            try (Fixture f = new Fixture(domains)) {
                SelftestSession s = f.s;
                int ioasId = s.ioasAlloc();
                s.replace(f.stdev[0], ioasId);
                if (domains == 1) {
                    err(Errno.ENOENT, s.replaceRc(f.stdev[0], f.hwpt[0], null), "the automatic HWPT went with its last device");
                }
                s.replace(f.stdev[0], ioasId);
                if (domains == 2) {
                    s.replace(f.stdev[0], f.hwpt[1]);
                    s.replace(f.stdev[0], f.hwpt[1]);
                    s.replace(f.stdev[0], f.hwpt[0]);
                }
                s.replace(f.stdev[0], f.ioasId);
                s.destroy(ioasId);
            }
        }
    }

    @Test
    public void allocHwpt() { // iommufd_mock_domain.alloc_hwpt (one_domain)
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            err(Errno.EOPNOTSUPP, s.hwptAllocRc(f.idev[0], f.ioasId, ~IommuHwptAlloc.FLAG_NEST_PARENT));
            int hwpt0 = s.hwptAlloc(f.idev[0], f.ioasId, 0);
            int hwpt1;
            if (provider().supports(SelftestDomainProvider.Feature.NEST_PARENT)) {
                hwpt1 = s.hwptAlloc(f.idev[0], f.ioasId, IommuHwptAlloc.FLAG_NEST_PARENT);
            } else { // the driver refuses a nest parent; the rest of the test runs with a second plain HWPT
                err(Errno.EOPNOTSUPP, s.hwptAllocRc(f.idev[0], f.ioasId, IommuHwptAlloc.FLAG_NEST_PARENT), provider().name());
                hwpt1 = s.hwptAlloc(f.idev[0], f.ioasId, 0);
            }
            assertNotEquals(hwpt0, hwpt1);
            s.replace(f.stdev[0], hwpt0);
            err(Errno.EBUSY, s.destroyRc(hwpt0));
            s.replace(f.stdev[0], hwpt1);
            err(Errno.EBUSY, s.destroyRc(hwpt1));
            s.mapFixed(f.ioasId, s.buffer, PS, f.base);
            checkIova(s, hwpt1, f.stdev[0], s.buffer, f.base, PS, true);
            s.replace(f.stdev[0], f.ioasId);
            s.destroy(hwpt1);

            int[] m = s.mockDomain(hwpt0);
            assertEquals(hwpt0, m[1]);
            checkIova(s, hwpt0, m[0], s.buffer, f.base, PS, true);
            s.destroy(m[0]);
            s.destroy(hwpt0);
        }
    }

    // ---------------------------------------------------------------- FIXTURE(iommufd_dirty_tracking)

    private void assumeDirtyTracking() {
        assumeTrue(provider().supports(SelftestDomainProvider.Feature.DIRTY_TRACKING),
                provider().name() + " has no dirty tracking (VT-d legacy mode: no SSADS)");
    }

    @Test
    public void enforceDirty() { // iommufd_dirty_tracking.enforce_dirty: a dirty-tracking HWPT takes a capable device
        assumeDirtyTracking();
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            int hwpt = s.hwptAlloc(f.idev[0], f.ioasId, IommuHwptAlloc.FLAG_DIRTY_TRACKING);
            int[] std = s.mockDomain(hwpt);
            assertEquals(hwpt, std[1]);
            s.destroy(std[0]);
            s.destroy(hwpt);
        }
    }

    @Test
    public void enforceDirtyNoDirtyDevice() { // iommufd_dirty_tracking.enforce_dirty, its MOCK_FLAGS_DEVICE_NO_DIRTY half
        assumeTrue(provider().supports(SelftestDomainProvider.Feature.DEVICE_WITHOUT_DIRTY),
                "MOCK_FLAGS_DEVICE_NO_DIRTY is a mock page-table property: behind one real unit every device shares its "
                        + "dirty capability, so no incapable device can be plugged");
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            int hwpt = s.hwptAlloc(f.idev[0], f.ioasId, IommuHwptAlloc.FLAG_DIRTY_TRACKING);
            err(Errno.EINVAL, s.mockDomainRc(hwpt, MockSelftestUapi.MOCK_FLAGS_DEVICE_NO_DIRTY, null));
            s.destroy(hwpt);
            int ioas = s.ioasAlloc();
            int[] nd = s.mockDomain(ioas, MockSelftestUapi.MOCK_FLAGS_DEVICE_NO_DIRTY);
            err(Errno.EOPNOTSUPP, s.hwptAllocRc(nd[2], ioas, IommuHwptAlloc.FLAG_DIRTY_TRACKING));
            s.destroy(nd[0]);
        }
    }

    @Test
    public void setDirtyTracking() { // iommufd_dirty_tracking.set_dirty_tracking
        assumeDirtyTracking();
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            int hwpt = s.hwptAlloc(f.idev[0], f.ioasId, IommuHwptAlloc.FLAG_DIRTY_TRACKING);
            int[] std = s.mockDomain(hwpt);
            ok(s.setDirtyTrackingRc(hwpt, true));
            ok(s.setDirtyTrackingRc(hwpt, false));
            err(Errno.EOPNOTSUPP, s.setDirtyTrackingRc(f.hwpt[0], true), "an automatic domain has no dirty ops");
            s.destroy(std[0]);
            s.destroy(hwpt);
        }
    }

    @Test
    public void deviceDirtyCapability() { // iommufd_dirty_tracking.device_dirty_capability
        try (Fixture f = new Fixture(1)) {
            UserStruct info = struct(IommuHwInfo.SIZE);
            ok(f.s.getHwInfoRc(f.idev[0], 0, 0, 0, info));
            long want = provider().supports(SelftestDomainProvider.Feature.DIRTY_TRACKING) ? IommuHwInfo.CAP_DIRTY_TRACKING : 0;
            assertEquals(want, info.u64(IommuHwInfo.OFFSET_OUT_CAPABILITIES) & IommuHwInfo.CAP_DIRTY_TRACKING,
                    "IOMMU_HW_CAP_DIRTY_TRACKING");
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {8 << 10, 128 << 10, 320 << 10, 4L << 20})
    public void getDirtyBitmap(long bufferSize) { // iommufd_dirty_tracking.get_dirty_bitmap (domain_dirty8k..)
        dirtyBitmap(bufferSize, 0);
    }

    @ParameterizedTest
    @ValueSource(longs = {8 << 10, 128 << 10, 320 << 10, 4L << 20})
    public void getDirtyBitmapNoClear(long bufferSize) { // iommufd_dirty_tracking.get_dirty_bitmap_no_clear
        dirtyBitmap(bufferSize, IommuHwptGetDirtyBitmap.FLAG_NO_CLEAR);
    }

    /**
     * The kernel test dirties IOPTEs with the mock's DIRTY op; here the device writes by DMA through the domain
     * (the hardware sets the dirty bits: VT-d second-stage D with SSADS, SMMUv3 HTTU DBM), reads dirty nothing,
     * and GET_DIRTY_BITMAP must report exactly the written IO pages (_test_mock_dirty_bitmaps's pattern: the first
     * IOPTE of every two, at IOMMU_OPTION_HUGE_PAGES = 0 so that every IOPTE is one IO page), then nothing (or the
     * same with NO_CLEAR) on the second read; at three bitmap placements (aligned, + IO page, + 0xff1).
     */
    private void dirtyBitmap(long bufferSize, int flags) {
        assumeDirtyTracking();
        try (Fixture f = new Fixture(1)) {
            SelftestSession s = f.s;
            long ps = provider().ioPageSize();
            long buf = s.proc.mmap(0x40_0000_0000L, bufferSize, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long nbits = bufferSize / ps;
            long bitmapBytes = (nbits + 7) / 8;
            long bitmap = s.proc.mmap(0x50_0000_0000L, (bitmapBytes + 2 * PS + PS - 1) / PS * PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
            int ioas = s.ioasAlloc();
            ok(IommufdIoasDomainTest.hugePages(s, ioas, 0));
            long iova = provider().apertureStart() + HUGEPAGE_SIZE;
            s.mapFixed(ioas, buf, bufferSize, iova);
            int hwpt = s.hwptAlloc(f.idev[0], ioas, IommuHwptAlloc.FLAG_DIRTY_TRACKING);
            s.replace(f.stdev[0], hwpt);
            ok(s.setDirtyTrackingRc(hwpt, true));
            PciFunction dev = function(s, f.stdev[0]);
            for (long bm : new long[] {bitmap, bitmap + ps, bitmap + 0xff1}) {
                byte[] sink = new byte[8];
                for (long i = 0; i < nbits; i++) {
                    assertEquals(DmaStatus.OK, dev.dmaRead(iova + i * ps, sink), "a DMA read does not dirty");
                }
                for (long i = 0; i < nbits; i += 2) {
                    assertEquals(DmaStatus.OK, dev.dmaWrite(iova + i * ps + 16, new byte[] {(byte) i}));
                }
                expectDirty(s, hwpt, bufferSize, iova, ps, bm, nbits, flags, true);
                expectDirty(s, hwpt, bufferSize, iova, ps, bm, nbits, flags,
                        (flags & IommuHwptGetDirtyBitmap.FLAG_NO_CLEAR) != 0);
                if ((flags & IommuHwptGetDirtyBitmap.FLAG_NO_CLEAR) != 0) {
                    ok(s.getDirtyBitmapRc(hwpt, bufferSize, iova, ps, bm, 0)); // clear for the next placement
                }
            }
            ok(s.setDirtyTrackingRc(hwpt, false));
            s.replace(f.stdev[0], f.ioasId);
            s.destroy(hwpt);
            s.unmap(ioas, iova, bufferSize);
            s.destroy(ioas);
        }
    }

    /** GET_DIRTY_BITMAP into a zeroed bitmap: bit i set iff {@code dirtyPresent} and i is even. */
    private static void expectDirty(SelftestSession s, int hwpt, long length, long iova, long ps, long bitmap, long nbits,
            int flags, boolean dirtyPresent) {
        int bytes = (int) ((nbits + 7) / 8);
        s.proc.write(bitmap, new byte[bytes], 0, bytes);
        ok(s.getDirtyBitmapRc(hwpt, length, iova, ps, bitmap, flags));
        byte[] got = new byte[bytes];
        s.proc.read(bitmap, got, 0, bytes);
        for (long i = 0; i < nbits; i++) {
            boolean set = (got[(int) (i >>> 3)] & (1 << (i & 7))) != 0;
            assertEquals(dirtyPresent && i % 2 == 0, set, "bit " + i + " of " + nbits);
        }
    }

    private static byte[] read16(SelftestSession s, long va) {
        byte[] b = new byte[16];
        s.proc.read(va, b, 0, 16);
        return b;
    }

    private static PciFunction function(SelftestSession s, int stdevId) {
        SelftestDevice dev = s.fd.context().objects().get(stdevId, ObjectKind.SELFTEST, SelftestDevice.class);
        try {
            return dev.function;
        } finally {
            s.fd.context().objects().put(dev);
        }
    }

    // ---------------------------------------------------------------- FIXTURE(vfio_compat_mock_domain)

    static final long VFIO_IOMMU_MAP_DMA = (';' << 8) | 113;
    static final long VFIO_IOMMU_UNMAP_DMA = (';' << 8) | 114;
    static final long VFIO_SET_IOMMU = (';' << 8) | 102;
    static final int VFIO_TYPE1_IOMMU = 1;
    static final int VFIO_TYPE1v2_IOMMU = 3;
    static final int VFIO_DMA_RW = 3;
    static final int VFIO_DMA_UNMAP_FLAG_ALL = 2;

    /** FIXTURE_SETUP(vfio_compat_mock_domain): the fixture's IOAS is the compat IOAS; SET_IOMMU {@code version}. */
    private Fixture vfioCompat(int version) {
        Fixture f = new Fixture(1);
        ok(new ViommuCalls(f.s).vfioIoasRc(IommuVfioIoas.OP_SET, f.ioasId, null));
        ok(f.s.fd.ioctl(VFIO_SET_IOMMU, version));
        return f;
    }

    private static int vfioMapRc(SelftestSession s, long vaddr, long iova, long size) {
        UserStruct m = new UserStruct(32).put32(0, 32).put32(4, VFIO_DMA_RW).put64(8, vaddr).put64(16, iova).put64(24, size);
        s.proc.write(ViommuCalls.IO_VA, m.bytes(), 0, 32);
        return s.fd.ioctl(VFIO_IOMMU_MAP_DMA, ViommuCalls.IO_VA);
    }

    /** VFIO_IOMMU_UNMAP_DMA; {@code out[0]} receives the written-back size. */
    private static int vfioUnmapRc(SelftestSession s, int flags, long iova, long size, long[] out) {
        UserStruct u = new UserStruct(24).put32(0, 24).put32(4, flags).put64(8, iova).put64(16, size);
        s.proc.write(ViommuCalls.IO_VA, u.bytes(), 0, 24);
        int rc = s.fd.ioctl(VFIO_IOMMU_UNMAP_DMA, ViommuCalls.IO_VA);
        s.proc.read(ViommuCalls.IO_VA, u.bytes(), 0, 24);
        out[0] = u.u64(16);
        return rc;
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU})
    public void vfioCompatOptionHugePages(int version) { // vfio_compat_mock_domain.option_huge_pages
        try (Fixture f = vfioCompat(version)) {
            assertEquals(version == VFIO_TYPE1_IOMMU ? 0 : 1, f.s.fd.optionGet(IommuOption.OPTION_HUGE_PAGES, f.ioasId));
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU})
    public void vfioCompatGetInfo(int version) { // vfio_compat_mock_domain.get_info: the domain's IOVA ranges
        try (Fixture f = vfioCompat(version)) {
            VfioIommuInfo info = f.s.fd.vfioIommuGetInfo();
            List<IovaRange> want = new ArrayList<>();
            for (long[] r : expectedRanges()) {
                want.add(new IovaRange(r[0], r[1]));
            }
            assertEquals(want, info.iovaRanges(), "VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE");
            // iommufd_get_pagesizes: the domains' pgsize_bitmap with sub-PAGE_SIZE sizes folded into PAGE_SIZE
            // (vfio_update_pgsize_bitmap); its first set bit, all QEMU reads, is max(IO page, PAGE_SIZE)
            assertEquals(Math.max(provider().ioPageSize(), PS), Long.lowestOneBit(info.iovaPgsizes()), "iova_pgsizes");
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU})
    public void vfioCompatMap(int version) { // vfio_compat_mock_domain.map
        try (Fixture f = vfioCompat(version)) {
            SelftestSession s = f.s;
            long base = f.base;
            long[] size = new long[1];
            ok(vfioMapRc(s, s.buffer, base, BUFFER_SIZE));
            f.checkIova(s.buffer, base, BUFFER_SIZE);
            ok(vfioUnmapRc(s, 0, base, BUFFER_SIZE, size));
            assertEquals(BUFFER_SIZE, size[0]);
            ok(vfioUnmapRc(s, 0, base, BUFFER_SIZE, size));
            assertEquals(0, size[0], "nothing there: 0 bytes, no error");

            ok(vfioMapRc(s, s.buffer, base, BUFFER_SIZE));
            err(Errno.EINVAL, vfioUnmapRc(s, VFIO_DMA_UNMAP_FLAG_ALL, base, BUFFER_SIZE, size));
            ok(vfioUnmapRc(s, VFIO_DMA_UNMAP_FLAG_ALL, 0, 0, size));
            assertEquals(BUFFER_SIZE, size[0]);
            assertEquals(DmaStatus.FAULT, function(s, f.stdev[0]).dmaRead(base, new byte[8]), "unmapped from the domain");

            List<Long> iovas = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                ok(vfioMapRc(s, s.buffer + i * PS, base + i * PS, PS));
                iovas.add(base + i * PS);
            }
            f.checkIova(s.buffer, base, BUFFER_SIZE);
            Collections.shuffle(iovas, new Random(version));
            for (long iova : iovas) {
                ok(vfioUnmapRc(s, 0, iova, PS, size));
                assertEquals(PS, size[0]);
            }
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU})
    public void vfioCompatHugeMap(int version) { // vfio_compat_mock_domain.huge_map: v2 never splits, v1 cuts
        try (Fixture f = vfioCompat(version)) {
            SelftestSession s = f.s;
            long bufSize = 2 * HUGEPAGE_SIZE;
            long base = f.base + HUGEPAGE_SIZE; // 2 MiB aligned, clear of both MSI windows
            long buf = s.proc.mmap(0x40_0000_0000L, bufSize, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            ok(vfioMapRc(s, buf, base, bufSize));
            f.checkIova(buf, base, bufSize);
            long piece = bufSize / 16;
            List<Long> iovas = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                iovas.add(base + i * piece);
            }
            Collections.shuffle(iovas, new Random(7));
            long[] out = new long[1];
            for (long iova : iovas) {
                if (version == VFIO_TYPE1v2_IOMMU) {
                    err(Errno.ENOENT, vfioUnmapRc(s, 0, iova, piece, out));
                } else {
                    ok(vfioUnmapRc(s, 0, iova, piece, out));
                    assertEquals(piece, out[0], "v1 cuts the area and unmaps exactly the range");
                    assertEquals(DmaStatus.FAULT, function(s, f.stdev[0]).dmaRead(iova, new byte[8]), "the cut piece is gone");
                }
            }
            ok(vfioUnmapRc(s, VFIO_DMA_UNMAP_FLAG_ALL, 0, 0, out));
            assertEquals(version == VFIO_TYPE1_IOMMU ? 0 : bufSize, out[0]);
        }
    }

    // ---------------------------------------------------------------- FIXTURE(iommufd_device_pasid)

    /**
     * iommufd_device_pasid.pasid_attach (has_pasid), its paging-domain steps: IOMMU_HWPT_ALLOC_PASID domains
     * attached, refused twice (EBUSY), replaced and detached at a PASID, and PASID-tagged DMA translating through
     * exactly the domain attached at that PASID. The nested steps use IOMMU_HWPT_DATA_SELFTEST and PASID_CHECK_HWPT
     * reads the mock device: both mock-only (IommufdDevicePasidTest).
     */
    @Test
    public void pasidAttachPaging() {
        assumeTrue(provider().supports(SelftestDomainProvider.Feature.PASID),
                provider().name() + " attaches no domain at a PASID (VT-d legacy mode has no PASID tables)");
        try (Fixture f = new Fixture(0)) {
            SelftestSession s = f.s;
            int[] main = s.mockDomain(f.ioasId, MockSelftestUapi.MOCK_FLAGS_DEVICE_PASID);
            int stdev = main[0];
            int dev = main[2];
            int pasid = 100;
            long iova = provider().apertureStart() + HUGEPAGE_SIZE;
            s.mapFixed(f.ioasId, s.buffer, PS, iova);
            int ioas2 = s.ioasAlloc();
            s.mapFixed(ioas2, s.buffer + PS, PS, iova);
            ok(s.pasidRc(IommuTestCmd.OP_PASID_DETACH, stdev, pasid, 0)); // detaching an unattached PASID is fine

            int s2 = s.hwptAlloc(dev, f.ioasId, IommuHwptAlloc.FLAG_PASID);
            int s3 = s.hwptAlloc(dev, ioas2, IommuHwptAlloc.FLAG_PASID);
            s.replace(stdev, s2);
            PciFunction fn = function(s, stdev);
            DmaAttributes tagged = DmaAttributes.pasid(pasid);
            byte[] got = new byte[16];
            assertEquals(DmaStatus.FAULT, fn.dmaRead(tagged, iova, got, 0, 16), "nothing attached at the PASID yet");

            err(Errno.EINVAL, s.pasidRc(IommuTestCmd.OP_PASID_ATTACH, stdev, pasid, f.ioasId), "an IOAS at a PASID");
            ok(s.pasidRc(IommuTestCmd.OP_PASID_ATTACH, stdev, pasid, s2));
            err(Errno.EBUSY, s.pasidRc(IommuTestCmd.OP_PASID_ATTACH, stdev, pasid, s3), "attach does not overwrite");
            err(Errno.EBUSY, s.pasidRc(IommuTestCmd.OP_PASID_ATTACH, stdev, pasid, s2), "nor attach twice");
            assertEquals(DmaStatus.OK, fn.dmaRead(tagged, iova, got, 0, 16));
            assertArrayEquals(read16(s, s.buffer), got, "PASID DMA through the domain at the PASID");
            err(Errno.EBUSY, s.destroyRc(s2));

            ok(s.pasidRc(IommuTestCmd.OP_PASID_REPLACE, stdev, pasid, s3));
            assertEquals(DmaStatus.OK, fn.dmaRead(tagged, iova, got, 0, 16));
            assertArrayEquals(read16(s, s.buffer + PS), got, "after replace the PASID translates through s3");
            assertEquals(DmaStatus.OK, fn.dmaRead(iova, got));
            assertArrayEquals(read16(s, s.buffer), got, "the RID still translates through s2");
            err(Errno.EINVAL, s.pasidRc(IommuTestCmd.OP_PASID_REPLACE, stdev, pasid + 100, s2), "replace of an unattached PASID");

            ok(s.pasidRc(IommuTestCmd.OP_PASID_DETACH, stdev, pasid, 0));
            assertEquals(DmaStatus.FAULT, fn.dmaRead(tagged, iova, got, 0, 16), "detached");
            s.replace(stdev, f.ioasId);
            s.destroy(s3);
            s.destroy(s2);
            s.destroy(stdev);
            s.destroy(ioas2);
        }
    }

    // ---------------------------------------------------------------- mock-only, stated

    @Test
    public void mockOnlyCheckMap() { // iommufd_mock_domain.basic's MD_CHECK_MAP itself: reads the mock's own table
        assumeTrue(provider().supports(SelftestDomainProvider.Feature.MOCK_TEST_OPS),
                "MD_CHECK_MAP reads the mock domain's page table; a real driver's domain is checked by iova_to_phys and DMA");
        try (Fixture f = new Fixture(1)) {
            long iova = f.s.map(f.ioasId, f.s.buffer, PS);
            ok(f.s.checkMapRc(f.hwpt[0], f.s.buffer, iova, PS));
            f.checkIova(f.s.buffer, iova, PS);
        }
    }
}
