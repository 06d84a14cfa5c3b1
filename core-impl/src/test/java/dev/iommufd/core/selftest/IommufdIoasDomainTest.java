package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuIoasCopy;
import dev.iommufd.api.uapi.IommuIoasIovaRanges;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Ports of tools/testing/selftests/iommu/iommufd.c FIXTURE(iommufd_ioas) tests whose behaviour depends on mock
 * domains, each run for the kernel's four variants (no_domain, mock_domain (+ a PASID-capable second device),
 * two_mock_domain, mock_domain_limit), through the ioctl layer.
 */
class IommufdIoasDomainTest {

    /** FIXTURE_VARIANT(iommufd_ioas). */
    enum Variant {
        NO_DOMAIN(0, 0, false), MOCK_DOMAIN(1, 0, true), TWO_MOCK_DOMAIN(2, 0, false), MOCK_DOMAIN_LIMIT(1, 16, false);

        final int mockDomains;
        final int memoryLimit;
        final boolean pasidCapable;

        Variant(int mockDomains, int memoryLimit, boolean pasidCapable) {
            this.mockDomains = mockDomains;
            this.memoryLimit = memoryLimit;
            this.pasidCapable = pasidCapable;
        }
    }

    /** FIXTURE_SETUP(iommufd_ioas). */
    static final class Fixture implements AutoCloseable {
        final SelftestSession s = new SelftestSession();
        final Variant v;
        final int ioasId;
        int stdevId;
        int hwptId;
        int deviceId;
        int devicePasidId;
        final long baseIova;

        Fixture(Variant v) {
            this.v = v;
            ioasId = s.ioasAlloc();
            ok(s.test(testCmd(IommuTestCmd.OP_SET_TEMP_MEMORY_LIMIT, 0)
                    .put32(IommuTestCmd.OFFSET_MEMORY_LIMIT, v.memoryLimit == 0 ? 65536 : v.memoryLimit)));
            for (int i = 0; i < v.mockDomains; i++) {
                int[] out = s.mockDomain(ioasId);
                stdevId = out[0];
                hwptId = out[1];
                deviceId = out[2];
                s.checkDevCacheAll(deviceId, MockSelftestUapi.IOMMU_TEST_DEV_CACHE_DEFAULT);
            }
            baseIova = v.mockDomains > 0 ? MOCK_APERTURE_START : 0;
            if (v.pasidCapable) {
                devicePasidId = s.mockDomain(ioasId, MockSelftestUapi.MOCK_FLAGS_DEVICE_PASID)[2];
            }
        }

        @Override
        public void close() {
            s.teardown();
            s.close();
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void ioasDestroy(Variant v) { // iommufd_ioas.ioas_destroy
        try (Fixture f = new Fixture(v)) {
            if (f.stdevId != 0) {
                err(Errno.EBUSY, f.s.destroyRc(f.ioasId)); // the device's HWPT holds the IOAS
            } else {
                f.s.destroy(f.ioasId);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void hwptAttach(Variant v) { // iommufd_ioas.hwpt_attach
        try (Fixture f = new Fixture(v)) {
            if (f.stdevId != 0) {
                int[] out = f.s.mockDomain(f.hwptId);
                assertEquals(f.hwptId, out[1], "attached straight to the existing HWPT");
            } else {
                err(Errno.ENOENT, f.s.mockDomainRc(f.hwptId, 0, null));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void ioasAreaDestroy(Variant v) { // iommufd_ioas.ioas_area_destroy
        try (Fixture f = new Fixture(v)) {
            f.s.mapFixed(f.ioasId, f.s.buffer, PS, f.baseIova);
            if (f.stdevId != 0) {
                err(Errno.EBUSY, f.s.destroyRc(f.ioasId));
            } else {
                f.s.destroy(f.ioasId);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void ioasAreaAutoDestroy(Variant v) { // iommufd_ioas.ioas_area_auto_destroy: the close unpins everything
        try (Fixture f = new Fixture(v)) {
            for (int i = 0; i != 10; i++) {
                f.s.mapFixed(f.ioasId, f.s.buffer, PS, f.baseIova + i * PS);
            }
            if (f.stdevId != 0) {
                f.s.checkRefs(f.s.buffer, PS, 10); // ten separate maps of one page: ten pins
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void getHwInfo(Variant v) { // iommufd_ioas.get_hw_info
        try (Fixture f = new Fixture(v)) {
            long buf = f.s.scratch();
            if (f.deviceId != 0) {
                UserStruct s = struct(IommuHwInfo.SIZE);
                ok(f.s.getHwInfoRc(f.deviceId, 0, 0, 0, s));
                assertEquals(MockSelftestUapi.IOMMU_HW_INFO_TYPE_SELFTEST, s.u32(IommuHwInfo.OFFSET_DATA_TYPE));
                assertEquals(8, s.u32(IommuHwInfo.OFFSET_DATA_LEN), "data_len reports the kernel's full length");

                f.s.proc.write64(buf, -1L);
                s = struct(IommuHwInfo.SIZE);
                ok(f.s.getHwInfoRc(f.deviceId, 0, buf, 8, s));
                assertEquals(0, (int) f.s.proc.read64(buf), "flags");
                assertEquals(MockSelftestUapi.IOMMU_HW_INFO_SELFTEST_REGVAL, (int) (f.s.proc.read64(buf) >>> 32), "test_reg");

                err(Errno.EOPNOTSUPP, f.s.getHwInfoRc(f.deviceId, MockSelftestUapi.IOMMU_HW_INFO_TYPE_SELFTEST + 1, buf, 8,
                        struct(IommuHwInfo.SIZE)));
                ok(f.s.getHwInfoRc(f.deviceId, MockSelftestUapi.IOMMU_HW_INFO_TYPE_SELFTEST, buf, 8, struct(IommuHwInfo.SIZE)));

                // a larger buffer: the tail is zeroed, data_len written back as 8
                f.s.proc.write64(buf, -1L);
                f.s.proc.write64(buf + 8, -1L);
                s = struct(IommuHwInfo.SIZE);
                ok(f.s.getHwInfoRc(f.deviceId, 0, buf, 16, s));
                assertEquals(8, s.u32(IommuHwInfo.OFFSET_DATA_LEN));
                assertEquals(0, f.s.proc.read64(buf + 8), "trailing bytes zeroed");

                // a smaller buffer: only flags (4 bytes) written, no error
                f.s.proc.write64(buf, -1L);
                ok(f.s.getHwInfoRc(f.deviceId, 0, buf, 4, struct(IommuHwInfo.SIZE)));
                assertEquals(0xffff_ffff_0000_0000L, f.s.proc.read64(buf), "only data_len bytes are copied");

                s = struct(IommuHwInfo.SIZE);
                ok(f.s.getHwInfoRc(f.deviceId, 0, 0, 0, s));
                assertEquals(0, s.u8(IommuHwInfo.OFFSET_OUT_MAX_PASID_LOG2));
                if (v.pasidCapable) {
                    s = struct(IommuHwInfo.SIZE);
                    ok(f.s.getHwInfoRc(f.devicePasidId, 0, 0, 0, s));
                    assertEquals(MockSelftestUapi.MOCK_PASID_WIDTH, s.u8(IommuHwInfo.OFFSET_OUT_MAX_PASID_LOG2));
                }
            } else {
                err(Errno.ENOENT, f.s.getHwInfoRc(f.deviceId, 0, buf, 8, struct(IommuHwInfo.SIZE)));
                err(Errno.ENOENT, f.s.getHwInfoRc(f.deviceId, 0, buf, 16, struct(IommuHwInfo.SIZE)));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void allocHwptNested(Variant v) { // iommufd_ioas.alloc_hwpt_nested (its FAULT queue steps: FaultQueueTest)
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long data = s.scratch();
            int sel = MockSelftestUapi.IOMMU_HWPT_DATA_SELFTEST;
            s.proc.write64(data, MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT & 0xffff_ffffL);
            int[] out = new int[1];
            if (f.deviceId == 0) {
                err(Errno.ENOENT, s.hwptAllocRc(f.deviceId, f.ioasId, 0));
                err(Errno.ENOENT, s.hwptAllocRc(f.deviceId, 0, 0, sel, data, 4, 0, out));
                err(Errno.ENOENT, s.replaceRc(0, 0, null));
                return;
            }
            err(Errno.ENOENT, s.hwptAllocRc(f.ioasId, f.deviceId, 0));
            err(Errno.EINVAL, s.hwptAllocRc(f.deviceId, f.deviceId, 0));
            err(Errno.EOPNOTSUPP, s.hwptAllocRc(f.deviceId, f.ioasId,
                    IommuHwptAlloc.FLAG_NEST_PARENT | IommuHwptAlloc.FLAG_FAULT_ID_VALID));
            int parent = s.hwptAlloc(f.deviceId, f.ioasId, IommuHwptAlloc.FLAG_NEST_PARENT);
            int parentNotWork = s.hwptAlloc(f.deviceId, f.ioasId, 0);

            err(Errno.EINVAL, s.hwptAllocRc(f.deviceId, parent, 0, IommuHwptAlloc.DATA_NONE, data, 4, 0, out));
            err(Errno.EOPNOTSUPP, s.hwptAllocRc(f.deviceId, parent, 0, sel + 1, data, 4, 0, out));
            err(Errno.EINVAL, s.hwptAllocRc(f.deviceId, parent, 0, sel, data, 3, 0, out));
            err(Errno.EFAULT, s.hwptAllocRc(f.deviceId, parent, 0, sel, 0, 4, 0, out));
            err(Errno.EOPNOTSUPP, s.hwptAllocRc(f.deviceId, parent, IommuHwptAlloc.FLAG_NEST_PARENT, sel, data, 4, 0, out));
            err(Errno.EINVAL, s.hwptAllocRc(f.deviceId, parentNotWork, 0, sel, data, 4, 0, out));

            int[] nested = new int[2];
            for (int i = 0; i < 2; i++) {
                ok(s.hwptAllocRc(f.deviceId, parent, 0, sel, data, 4, 0, out));
                nested[i] = out[0];
            }
            // FAULT_QUEUE_ALLOC is not implemented: an unknown fault_id is ENOENT either way
            err(Errno.ENOENT, s.hwptAllocRc(f.deviceId, parent, IommuHwptAlloc.FLAG_FAULT_ID_VALID, sel, data, 4, -1, out));
            s.checkIotlbAll(nested[0], MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT);
            s.checkIotlbAll(nested[1], MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT);

            err(Errno.EINVAL, s.hwptAllocRc(f.deviceId, nested[0], 0, sel, data, 4, 0, out)); // nested on nested
            err(Errno.EBUSY, s.destroyRc(parent));

            // IOMMU_HWPT_INVALIDATE
            int inv = MockSelftestUapi.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
            long reqs = data + 64;
            int[] num = {1};
            writeReq(s, reqs, 0, 0, 0);
            err(Errno.EINVAL, s.invalidateRc(parent, reqs, inv, 8, num));
            assertEquals(0, num[0]);
            num[0] = 0;
            ok(s.invalidateRc(nested[0], reqs, inv, 8, num));
            assertEquals(0, num[0]);
            num[0] = 1;
            err(Errno.EINVAL, s.invalidateRc(nested[0], reqs, MockSelftestUapi.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID, 8, num));
            assertEquals(0, num[0]);
            num[0] = 1;
            err(Errno.EINVAL, s.invalidateRc(nested[0], reqs, inv, 9, num));
            assertEquals(0, num[0]);
            num[0] = 1;
            err(Errno.EINVAL, s.invalidateRc(nested[0], reqs, inv, 1, num));
            assertEquals(0, num[0]);
            writeReq(s, reqs, 0, 0xffffffff, 0);
            num[0] = 1;
            err(Errno.EOPNOTSUPP, s.invalidateRc(nested[0], reqs, inv, 8, num));
            assertEquals(0, num[0]);
            num[0] = 1;
            err(Errno.EINVAL, s.invalidateRc(nested[0], 0, inv, 8, num));
            assertEquals(0, num[0]);
            num[0] = 1;
            err(Errno.EINVAL, s.invalidateRc(nested[0], reqs, inv, 0, num));
            assertEquals(0, num[0]);
            writeReq(s, reqs, 0, 0, 4);
            num[0] = 1;
            err(Errno.EINVAL, s.invalidateRc(nested[0], reqs, inv, 8, num));
            assertEquals(0, num[0]);
            s.checkIotlbAll(nested[0], MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT);

            writeReq(s, reqs, 0, 0, 0);
            writeReq(s, reqs, 1, 0xffffffff, 1);
            num[0] = 2;
            err(Errno.EOPNOTSUPP, s.invalidateRc(nested[0], reqs, inv, 8, num));
            assertEquals(1, num[0], "entry_num written back even on error");
            ok(s.checkIotlbRc(nested[0], 0, 0));
            for (int i = 1; i < 4; i++) {
                ok(s.checkIotlbRc(nested[0], i, MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT));
            }
            writeReq(s, reqs, 1, 0, 4);
            num[0] = 2;
            err(Errno.EINVAL, s.invalidateRc(nested[0], reqs, inv, 8, num));
            assertEquals(1, num[0]);
            writeReq(s, reqs, 0, 0, 1);
            num[0] = 1;
            ok(s.invalidateRc(nested[0], reqs, inv, 8, num));
            assertEquals(1, num[0]);
            ok(s.checkIotlbRc(nested[0], 1, 0));
            ok(s.checkIotlbRc(nested[0], 2, MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT));
            writeReq(s, reqs, 0, 0, 2);
            writeReq(s, reqs, 1, 0, 3);
            num[0] = 2;
            ok(s.invalidateRc(nested[0], reqs, inv, 8, num));
            assertEquals(2, num[0]);
            s.checkIotlbAll(nested[0], 0);
            writeReq(s, reqs, 0, MockSelftestUapi.IOMMU_TEST_INVALIDATE_FLAG_ALL, 0);
            num[0] = 1;
            ok(s.invalidateRc(nested[1], reqs, inv, 8, num));
            assertEquals(1, num[0]);
            s.checkIotlbAll(nested[1], 0);

            // attach through replace; destroy refused while attached
            s.replace(f.stdevId, nested[0]);
            err(Errno.EBUSY, s.destroyRc(nested[0]));
            s.replace(f.stdevId, nested[1]);
            err(Errno.EBUSY, s.destroyRc(nested[1]));
            s.destroy(nested[0]);

            s.replace(f.stdevId, parent);
            s.destroy(nested[1]);
            s.replace(f.stdevId, f.ioasId);
            s.destroy(parent);
            s.destroy(parentNotWork);
        }
    }

    private static void writeReq(SelftestSession s, long reqs, int i, int flags, int iotlbId) {
        s.proc.write64(reqs + 8L * i, (flags & 0xffff_ffffL) | ((long) iotlbId << 32));
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void iovaRanges(Variant v) { // iommufd_ioas.iova_ranges
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long ranges = s.buffer;
            int cap = (int) (BUFFER_SIZE / 16);
            UserStruct cmd = rangesCmd(f.ioasId, cap, ranges);
            ok(s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
            assertEquals(1, cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
            if (f.stdevId != 0) {
                assertEquals(MOCK_APERTURE_START, s.proc.read64(ranges));
                assertEquals(MOCK_APERTURE_LAST, s.proc.read64(ranges + 8));
                assertEquals(MOCK_PAGE_SIZE, cmd.u64(IommuIoasIovaRanges.OFFSET_OUT_IOVA_ALIGNMENT));
            } else {
                assertEquals(0, s.proc.read64(ranges));
                assertEquals(-1L, s.proc.read64(ranges + 8));
                assertEquals(1, cmd.u64(IommuIoasIovaRanges.OFFSET_OUT_IOVA_ALIGNMENT));
            }
            s.proc.write(ranges, new byte[64], 0, 64);
            cmd = rangesCmd(f.ioasId, 0, ranges);
            err(Errno.EMSGSIZE, s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
            assertEquals(1, cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
            assertEquals(0, s.proc.read64(ranges));
            assertEquals(0, s.proc.read64(ranges + 8));

            ok(s.test(testCmd(IommuTestCmd.OP_ADD_RESERVED, f.ioasId).put64(IommuTestCmd.OFFSET_ADD_RESERVED_START, PS)
                    .put64(IommuTestCmd.OFFSET_ADD_RESERVED_LENGTH, PS)));
            cmd = rangesCmd(f.ioasId, cap, ranges);
            ok(s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
            if (f.stdevId != 0) {
                assertEquals(1, cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
                assertEquals(MOCK_APERTURE_START, s.proc.read64(ranges));
                assertEquals(MOCK_APERTURE_LAST, s.proc.read64(ranges + 8));
            } else {
                assertEquals(2, cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
                assertEquals(0, s.proc.read64(ranges));
                assertEquals(PS - 1, s.proc.read64(ranges + 8));
                assertEquals(2 * PS, s.proc.read64(ranges + 16));
                assertEquals(-1L, s.proc.read64(ranges + 24));
            }
            s.proc.write(ranges, new byte[64], 0, 64);
            cmd = rangesCmd(f.ioasId, 1, ranges);
            if (f.stdevId != 0) {
                ok(s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
                assertEquals(1, cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
                assertEquals(MOCK_APERTURE_START, s.proc.read64(ranges));
            } else {
                err(Errno.EMSGSIZE, s.ioctl(IommuIoasIovaRanges.REQUEST, cmd));
                assertEquals(2, cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
                assertEquals(0, s.proc.read64(ranges));
                assertEquals(PS - 1, s.proc.read64(ranges + 8));
            }
            assertEquals(0, s.proc.read64(ranges + 16));
            assertEquals(0, s.proc.read64(ranges + 24));
        }
    }

    private static UserStruct rangesCmd(int ioas, int num, long ranges) {
        return struct(IommuIoasIovaRanges.SIZE).put32(IommuIoasIovaRanges.OFFSET_IOAS_ID, ioas)
                .put32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS, num).put64(IommuIoasIovaRanges.OFFSET_ALLOWED_IOVAS, ranges);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void ioasIovaAlloc(Variant v) { // iommufd_ioas.ioas_iova_alloc
        try (Fixture f = new Fixture(v)) {
            long[] out = new long[1];
            for (long length = 1; length != PS * 2; length++) {
                if (v.mockDomains > 0 && length % MOCK_PAGE_SIZE != 0) {
                    err(Errno.EINVAL, f.s.mapRc(f.ioasId, f.s.buffer, length, 0, RW, out));
                } else {
                    ok(f.s.mapRc(f.ioasId, f.s.buffer, length, 0, RW, out));
                    f.s.unmap(f.ioasId, out[0], length);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void area(Variant v) { // iommufd_ioas.area
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long base = f.baseIova;
            for (int i = 0; i != 10; i++) {
                err(Errno.ENOENT, s.unmapRc(f.ioasId, i * PS, PS));
            }
            for (int i = 0; i != 10; i++) {
                s.mapFixed(f.ioasId, s.buffer, PS, base + i * PS);
            }
            for (int i = 0; i != 10; i++) {
                s.unmap(f.ioasId, base + i * PS, PS);
            }
            s.mapFixed(f.ioasId, s.buffer, 2 * PS, base + 16 * PS);
            err(Errno.ENOENT, s.unmapRc(f.ioasId, base + 16 * PS, PS));
            err(Errno.ENOENT, s.unmapRc(f.ioasId, base + 17 * PS, PS));
            long[][] over = {{2, 16}, {1, 16}, {1, 17}, {2, 15}, {3, 15}};
            for (long[] m : over) {
                err(Errno.EEXIST, s.mapRc(f.ioasId, s.buffer, m[0] * PS, base + m[1] * PS, RW_FIXED, null));
            }
            s.unmap(f.ioasId, 0, -1L);
            s.unmap(f.ioasId, 0, -1L);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void copyArea(Variant v) { // iommufd_ioas.copy_area
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            s.mapFixed(f.ioasId, s.buffer, PS, f.baseIova);
            ok(s.ioctl(IommuIoasCopy.REQUEST, copyCmd(f.ioasId, f.ioasId, f.baseIova, f.baseIova + PS, PS)));
            int dst = s.ioasAlloc();
            ok(s.ioctl(IommuIoasCopy.REQUEST, copyCmd(dst, f.ioasId, f.baseIova, 0, PS)));
            if (f.stdevId != 0) {
                ok(s.checkMapRc(f.hwptId, s.buffer, f.baseIova + PS, PS)); // the copy is mapped in the domain
                s.checkRefs(s.buffer, PS, 1); // shared pages: still one pin
            }
        }
    }

    static UserStruct copyCmd(int dst, int src, long srcIova, long dstIova, long length) {
        return struct(IommuIoasCopy.SIZE).put32(IommuIoasCopy.OFFSET_FLAGS, IommuIoasMap.FLAG_FIXED_IOVA | IommuIoasMap.FLAG_WRITEABLE)
                .put32(IommuIoasCopy.OFFSET_DST_IOAS_ID, dst).put32(IommuIoasCopy.OFFSET_SRC_IOAS_ID, src)
                .put64(IommuIoasCopy.OFFSET_LENGTH, length).put64(IommuIoasCopy.OFFSET_DST_IOVA, dstIova)
                .put64(IommuIoasCopy.OFFSET_SRC_IOVA, srcIova);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void ioasAlignChange(Variant v) { // iommufd_ioas.ioas_align_change
        if (v.mockDomains > 0) {
            return; // the kernel test returns early with mock domains
        }
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            s.mapFixed(f.ioasId, s.buffer, PS, MOCK_APERTURE_START);
            ok(hugePages(s, f.ioasId, 0));
            err(Errno.EINVAL, s.mapRc(f.ioasId, s.buffer + MOCK_PAGE_SIZE, PS, MOCK_APERTURE_START + PS, RW_FIXED, null));
            ok(hugePages(s, f.ioasId, 0));
            ok(hugePages(s, f.ioasId, 1));
            s.mapFixed(f.ioasId, s.buffer + MOCK_PAGE_SIZE, PS, MOCK_APERTURE_START + PS);
            err(Errno.EADDRINUSE, hugePages(s, f.ioasId, 0));
            s.unmap(f.ioasId, MOCK_APERTURE_START + PS, PS);
            s.unmap(f.ioasId, MOCK_APERTURE_START, PS);
        }
    }

    static int hugePages(SelftestSession s, int ioas, long val) {
        return s.ioctl(IommuOption.REQUEST, struct(IommuOption.SIZE).put32(IommuOption.OFFSET_OPTION_ID, IommuOption.OPTION_HUGE_PAGES)
                .put16(IommuOption.OFFSET_OP, IommuOption.OP_SET).put32(IommuOption.OFFSET_OBJECT_ID, ioas)
                .put64(IommuOption.OFFSET_VAL64, val));
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void accessDomainDestroy(Variant v) { // iommufd_ioas.access_domain_destory (sic)
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long buf = s.proc.mmap(0, 2 * HUGEPAGE_SIZE, Prot.READ_WRITE, MapKind.HUGETLB_2M);
            s.mapFixed(f.ioasId, buf, 2 * HUGEPAGE_SIZE, MOCK_APERTURE_START);
            UserStruct create = testCmd(IommuTestCmd.OP_CREATE_ACCESS, f.ioasId)
                    .put32(IommuTestCmd.OFFSET_CREATE_ACCESS_FLAGS, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
            ok(s.test(create));
            int access = create.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD);
            UserStruct pages = testCmd(IommuTestCmd.OP_ACCESS_PAGES, access)
                    .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, MOCK_APERTURE_START + PS)
                    .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, PS).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, buf + PS);
            ok(s.test(pages));
            if (f.stdevId != 0) {
                s.destroy(f.stdevId); // the domain goes while the access still pins
                f.stdevId = 0;
                assertEquals(1, s.proc.pinCount(s.proc.translate(buf + PS)), "the access pin survives the domain");
            }
            ok(s.test(testCmd(IommuTestCmd.OP_DESTROY_ACCESS_PAGES, access)
                    .put32(IommuTestCmd.OFFSET_DESTROY_ACCESS_PAGES_ID, pages.u32(IommuTestCmd.OFFSET_ACCESS_PAGES_OUT_ID))));
            s.selftest.closeAccess(s.fd.context(), access);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void accessPinWithNewDomain(Variant v) { // iommufd_ioas.access_pin (the MOCK_DOMAIN-while-pinned step)
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            UserStruct create = testCmd(IommuTestCmd.OP_CREATE_ACCESS, f.ioasId)
                    .put32(IommuTestCmd.OFFSET_CREATE_ACCESS_FLAGS, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
            ok(s.test(create));
            int access = create.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD);
            for (int npages = 1; npages < BUFFER_SIZE / PS; npages++) {
                s.mapFixed(f.ioasId, s.buffer, BUFFER_SIZE, MOCK_APERTURE_START);
                UserStruct pages = testCmd(IommuTestCmd.OP_ACCESS_PAGES, access)
                        .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, MOCK_APERTURE_START)
                        .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, npages * PS)
                        .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, s.buffer);
                ok(s.test(pages));
                int[] mock = s.mockDomain(f.ioasId);
                ok(s.checkMapRc(mock[1], s.buffer, MOCK_APERTURE_START, BUFFER_SIZE));
                s.destroy(mock[0]);
                ok(s.test(testCmd(IommuTestCmd.OP_DESTROY_ACCESS_PAGES, access)
                        .put32(IommuTestCmd.OFFSET_DESTROY_ACCESS_PAGES_ID, pages.u32(IommuTestCmd.OFFSET_ACCESS_PAGES_OUT_ID))));
                s.unmap(f.ioasId, MOCK_APERTURE_START, BUFFER_SIZE);
            }
            s.selftest.closeAccess(s.fd.context(), access);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void autoDomainIsSharedAndDestroyedWithItsLastDevice(Variant v) { // B.5 #5/#8 via MOCK_DOMAIN
        try (Fixture f = new Fixture(v)) {
            int[] a = f.s.mockDomain(f.ioasId);
            if (f.hwptId != 0) {
                assertEquals(f.hwptId, a[1], "a compatible automatic HWPT is reused, first created first");
            }
            assertNotEquals(0, a[1]);
            err(Errno.EBUSY, f.s.destroyRc(a[1]));
            err(Errno.EBUSY, f.s.destroyRc(a[2])); // device objects are never user-destroyable
            f.s.destroy(a[0]);
            if (f.hwptId == 0) {
                err(Errno.ENOENT, f.s.destroyRc(a[1]));
            } else {
                assertTrue(f.s.fd.context().objects().isLive(f.hwptId, dev.iommufd.core.ObjectKind.HWPT_PAGING));
            }
        }
    }

    /** check_access_rw over the IOVA of the shared buffer: reads and writes through the access match the memory. */
    private static void checkAccessRw(SelftestSession s, int access, long iova, long va) {
        long tmp = s.scratch();
        byte[] pattern = new byte[64];
        for (int i = 0; i < pattern.length; i++) {
            pattern[i] = (byte) (31 * i + 7);
        }
        s.proc.write(va + PS - 32, pattern, 0, 64);
        UserStruct rw = testCmd(IommuTestCmd.OP_ACCESS_RW, access).put64(IommuTestCmd.OFFSET_ACCESS_RW_IOVA, iova + PS - 32)
                .put64(IommuTestCmd.OFFSET_ACCESS_RW_LENGTH, 64).put64(IommuTestCmd.OFFSET_ACCESS_RW_UPTR, tmp);
        ok(s.test(rw));
        byte[] got = new byte[64];
        s.proc.read(tmp, got, 0, 64);
        org.junit.jupiter.api.Assertions.assertArrayEquals(pattern, got, "read through the access across a page");
        byte[] back = new byte[64];
        java.util.Arrays.fill(back, (byte) 0x77);
        s.proc.write(tmp, back, 0, 64);
        ok(s.test(rw.put32(IommuTestCmd.OFFSET_ACCESS_RW_FLAGS, IommuTestCmd.MOCK_ACCESS_RW_WRITE)));
        s.proc.read(va + PS - 32, got, 0, 64);
        org.junit.jupiter.api.Assertions.assertArrayEquals(back, got, "written through the access");
    }

    /** The selftests' MAP_SHARED buffer as seen by a forked child: a memfd mapped at the same VA in both. */
    private static long sharedBuffer(SelftestSession s, dev.iommufd.platform.UserProcess child, dev.iommufd.platform.MemFd mfd) {
        long va = 0x60_0000_0000L;
        s.proc.mmapFile(va, BUFFER_SIZE, Prot.READ_WRITE, mfd, 0);
        child.mmapFile(va, BUFFER_SIZE, Prot.READ_WRITE, mfd, 0);
        return va;
    }

    private static int createAccess(SelftestSession s, int ioas) {
        UserStruct create = testCmd(IommuTestCmd.OP_CREATE_ACCESS, ioas);
        ok(s.test(create));
        return create.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void forkGone(Variant v) { // iommufd_ioas.fork_gone
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            int access = createAccess(s, f.ioasId);
            dev.iommufd.platform.MemFd mfd = s.proc.memfdCreate("shared", BUFFER_SIZE, 0);
            dev.iommufd.platform.UserProcess child = s.machine.spawn("child", 0);
            child.grant(dev.iommufd.platform.ProcessCapability.CAP_IPC_LOCK);
            long va = sharedBuffer(s, child, mfd);
            try (dev.iommufd.api.Iommufd childFd = s.fd.inheritedBy(child)) {
                childFd.ioasMap(f.ioasId, RW_FIXED, va, BUFFER_SIZE, MOCK_APERTURE_START); // the mapping belongs to the child's mm
            }
            child.exit();
            if (f.stdevId != 0) {
                s.mockDomain(f.ioasId); // everything was pinned in the child: copied from one domain to the other
                checkAccessRw(s, access, MOCK_APERTURE_START, va);
            } else {
                err(Errno.EFAULT, s.mockDomainRc(f.ioasId, 0, null)); // pinning from a gone mm
            }
            s.selftest.closeAccess(s.fd.context(), access);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void forkPresent(Variant v) { // iommufd_ioas.fork_present
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            int access = createAccess(s, f.ioasId);
            dev.iommufd.platform.MemFd mfd = s.proc.memfdCreate("shared", BUFFER_SIZE, 0);
            dev.iommufd.platform.UserProcess child = s.machine.spawn("child", 0);
            child.grant(dev.iommufd.platform.ProcessCapability.CAP_IPC_LOCK);
            long va = sharedBuffer(s, child, mfd);
            try (dev.iommufd.api.Iommufd childFd = s.fd.inheritedBy(child)) {
                childFd.ioasMap(f.ioasId, RW_FIXED, va, BUFFER_SIZE, MOCK_APERTURE_START);
            }
            s.mockDomain(f.ioasId); // pins from the live child's mm
            checkAccessRw(s, access, MOCK_APERTURE_START, va);
            child.exit();
            s.selftest.closeAccess(s.fd.context(), access);
        }
    }

    private static int addReservedRc(SelftestSession s, int ioas, long start, long length) {
        return s.test(testCmd(IommuTestCmd.OP_ADD_RESERVED, ioas).put64(IommuTestCmd.OFFSET_ADD_RESERVED_START, start)
                .put64(IommuTestCmd.OFFSET_ADD_RESERVED_LENGTH, length));
    }

    private static int allowRc(SelftestSession s, int ioas, long[][] ranges) {
        long va = s.scratch() + 1024;
        for (int i = 0; i < ranges.length; i++) {
            s.proc.write64(va + 16L * i, ranges[i][0]);
            s.proc.write64(va + 16L * i + 8, ranges[i][1]);
        }
        return s.ioctl(dev.iommufd.api.uapi.IommuIoasAllowIovas.REQUEST, struct(dev.iommufd.api.uapi.IommuIoasAllowIovas.SIZE)
                .put32(dev.iommufd.api.uapi.IommuIoasAllowIovas.OFFSET_IOAS_ID, ioas)
                .put32(dev.iommufd.api.uapi.IommuIoasAllowIovas.OFFSET_NUM_IOVAS, ranges.length)
                .put64(dev.iommufd.api.uapi.IommuIoasAllowIovas.OFFSET_ALLOWED_IOVAS, va));
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void unmapFullyContainedAreas(Variant v) { // iommufd_ioas.unmap_fully_contained_areas
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long base = f.baseIova + 4 * PS;
            for (int i = 0; i != 4; i++) {
                s.mapFixed(f.ioasId, s.buffer, 8 * PS, base + i * 16 * PS);
            }
            err(Errno.ENOENT, s.unmapRc(f.ioasId, base - 4 * PS, 8 * PS));
            err(Errno.ENOENT, s.unmapRc(f.ioasId, base + 3 * 16 * PS + 8 * PS - 4 * PS, 8 * PS));
            UserStruct c = struct(dev.iommufd.api.uapi.IommuIoasUnmap.SIZE).put32(dev.iommufd.api.uapi.IommuIoasUnmap.OFFSET_IOAS_ID, f.ioasId)
                    .put64(dev.iommufd.api.uapi.IommuIoasUnmap.OFFSET_IOVA, base - 4 * PS)
                    .put64(dev.iommufd.api.uapi.IommuIoasUnmap.OFFSET_LENGTH, 3 * 16 * PS + 8 * PS + 4 * PS);
            ok(s.ioctl(dev.iommufd.api.uapi.IommuIoasUnmap.REQUEST, c));
            assertEquals(32 * PS, c.u64(dev.iommufd.api.uapi.IommuIoasUnmap.OFFSET_LENGTH));
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void areaAutoIova(Variant v) { // iommufd_ioas.area_auto_iova
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long[] iovas = new long[10];
            for (int i = 0; i != 10; i++) {
                iovas[i] = s.map(f.ioasId, s.buffer, PS);
            }
            for (int i = 0; i != 10; i++) {
                s.unmap(f.ioasId, iovas[i], PS);
            }
            for (int i = 0; i != 10; i++) {
                long length = PS * (i + 1);
                iovas[i] = f.stdevId != 0 ? s.map(f.ioasId, s.buffer, length) : s.map(f.ioasId, 1L << 31, length);
                assertEquals(0, iovas[i] % Long.lowestOneBit(length), "aligned to the length's lowest bit");
            }
            for (int i = 0; i != 10; i++) {
                s.unmap(f.ioasId, iovas[i], PS * (i + 1));
            }
            ok(addReservedRc(s, f.ioasId, 4 * PS, 100 * PS));
            for (int i = 0; i != 10; i++) {
                long length = PS * (i + 1);
                iovas[i] = s.map(f.ioasId, s.buffer, length);
                assertEquals(0, iovas[i] % Long.lowestOneBit(length));
                org.junit.jupiter.api.Assertions.assertFalse(iovas[i] > 4 * PS && iovas[i] < 104 * PS, "avoids the reserved range");
            }
            for (int i = 0; i != 10; i++) {
                s.unmap(f.ioasId, iovas[i], PS * (i + 1));
            }
            err(Errno.EADDRINUSE, allowRc(s, f.ioasId, new long[][] {{PS, 600 * PS}}));
            long start = f.stdevId != 0 ? MOCK_APERTURE_START + PS : 200 * PS;
            long last = f.stdevId != 0 ? MOCK_APERTURE_START + 600 * PS - 1 : 600 * PS - 1;
            ok(allowRc(s, f.ioasId, new long[][] {{start, last}}));
            for (int i = 0; i != 10; i++) {
                long length = PS * (i + 1);
                iovas[i] = s.map(f.ioasId, s.buffer, length);
                assertEquals(0, iovas[i] % Long.lowestOneBit(length));
                assertTrue(iovas[i] >= start && iovas[i] <= last && iovas[i] + length > start && iovas[i] + length <= last + 1,
                        "inside the allowed range");
            }
            for (int i = 0; i != 10; i++) {
                s.unmap(f.ioasId, iovas[i], PS * (i + 1));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void reservedOverflow(Variant v) { // iommufd_ioas.reserved_overflow (syzbot)
        try (Fixture f = new Fixture(v)) {
            ok(addReservedRc(f.s, f.ioasId, 6, 0xffff_ffff_ffff_8001L));
            err(Errno.ENOSPC, f.s.mapRc(f.ioasId, f.s.buffer, 0x5000, 0, RW, new long[1]));
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void areaAllowed(Variant v) { // iommufd_ioas.area_allowed
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long[][] r = {{f.baseIova, f.baseIova + 600 * PS}};
            ok(allowRc(s, f.ioasId, r));
            err(Errno.EADDRINUSE, addReservedRc(s, f.ioasId, f.baseIova + PS, PS));
            ok(allowRc(s, f.ioasId, new long[0][]));
            ok(addReservedRc(s, f.ioasId, f.baseIova + PS, PS));
            err(Errno.EADDRINUSE, allowRc(s, f.ioasId, r));
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void copySweep(Variant v) { // iommufd_ioas.copy_sweep
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            int dst = s.ioasAlloc();
            long lastIova = MOCK_APERTURE_START + BUFFER_SIZE - (v.mockDomains > 0 ? 1 : 2);
            s.mapFixed(f.ioasId, s.buffer, lastIova - MOCK_APERTURE_START + 1, MOCK_APERTURE_START);
            for (long iova = MOCK_APERTURE_START - PS; iova <= lastIova; iova += 511) {
                int rc = s.ioctl(IommuIoasCopy.REQUEST, copyCmd(dst, f.ioasId, iova, MOCK_APERTURE_START, MOCK_PAGE_SIZE));
                if (iova < MOCK_APERTURE_START || iova + MOCK_PAGE_SIZE - 1 > lastIova) {
                    err(Errno.ENOENT, rc);
                } else {
                    ok(rc);
                    s.unmap(dst, MOCK_APERTURE_START, MOCK_PAGE_SIZE);
                }
            }
            s.destroy(dst);
        }
    }

    /** check_access_rw of iommufd.c: every (iova, length) around a page boundary, both directions, then all. */
    private static void checkAccessRwFull(SelftestSession s, int access, long iova, int defFlags) {
        java.util.Random rnd = new java.util.Random(iova ^ defFlags);
        byte[] content = new byte[(int) BUFFER_SIZE];
        rnd.nextBytes(content);
        s.proc.write(s.buffer, content, 0, content.length);
        long tmp = s.scratch();
        byte[] got = new byte[64];
        for (long rwIova = iova + PS - 50; rwIova != iova + PS + 50; rwIova++) {
            int off = (int) (rwIova - iova);
            for (int length = 1; length != 64; length++) {
                UserStruct rw = testCmd(IommuTestCmd.OP_ACCESS_RW, access).put64(IommuTestCmd.OFFSET_ACCESS_RW_IOVA, rwIova)
                        .put64(IommuTestCmd.OFFSET_ACCESS_RW_LENGTH, length).put64(IommuTestCmd.OFFSET_ACCESS_RW_UPTR, tmp)
                        .put32(IommuTestCmd.OFFSET_ACCESS_RW_FLAGS, defFlags);
                ok(s.test(rw));
                s.proc.read(tmp, got, 0, length);
                assertTrue(java.util.Arrays.equals(got, 0, length, content, off, off + length), "read at " + off + "+" + length);
                byte[] w = new byte[length];
                rnd.nextBytes(w);
                s.proc.write(tmp, w, 0, length);
                ok(s.test(rw.put32(IommuTestCmd.OFFSET_ACCESS_RW_FLAGS, defFlags | IommuTestCmd.MOCK_ACCESS_RW_WRITE)));
                s.proc.read(s.buffer + off, got, 0, length);
                assertTrue(java.util.Arrays.equals(got, 0, length, w, 0, length), "written at " + off + "+" + length);
                System.arraycopy(w, 0, content, off, length);
            }
        }
        long big = s.proc.mmap(0, BUFFER_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        ok(s.test(testCmd(IommuTestCmd.OP_ACCESS_RW, access).put64(IommuTestCmd.OFFSET_ACCESS_RW_IOVA, iova)
                .put64(IommuTestCmd.OFFSET_ACCESS_RW_LENGTH, BUFFER_SIZE).put64(IommuTestCmd.OFFSET_ACCESS_RW_UPTR, big)
                .put32(IommuTestCmd.OFFSET_ACCESS_RW_FLAGS, defFlags)));
        byte[] all = new byte[(int) BUFFER_SIZE];
        s.proc.read(big, all, 0, all.length);
        org.junit.jupiter.api.Assertions.assertArrayEquals(content, all);
        s.proc.munmap(big, BUFFER_SIZE);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void accessRw(Variant v) { // iommufd_ioas.access_rw
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            int access = createAccess(s, f.ioasId);
            long iova = s.map(f.ioasId, s.buffer, BUFFER_SIZE);
            checkAccessRwFull(s, access, iova, 0);
            checkAccessRwFull(s, access, iova, IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH);
            s.unmap(f.ioasId, iova, BUFFER_SIZE);
            s.selftest.closeAccess(s.fd.context(), access);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void accessRwUnaligned(Variant v) { // iommufd_ioas.access_rw_unaligned
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            int access = createAccess(s, f.ioasId);
            long iova = f.baseIova + MOCK_PAGE_SIZE;
            s.mapFixed(f.ioasId, s.buffer, BUFFER_SIZE, iova);
            checkAccessRwFull(s, access, iova, 0);
            s.unmap(f.ioasId, iova, BUFFER_SIZE);
            s.selftest.closeAccess(s.fd.context(), access);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void accessPinUnmap(Variant v) { // iommufd_ioas.access_pin_unmap
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            UserStruct create = testCmd(IommuTestCmd.OP_CREATE_ACCESS, f.ioasId)
                    .put32(IommuTestCmd.OFFSET_CREATE_ACCESS_FLAGS, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
            ok(s.test(create));
            int access = create.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD);
            s.mapFixed(f.ioasId, s.buffer, BUFFER_SIZE, MOCK_APERTURE_START);
            UserStruct pages = testCmd(IommuTestCmd.OP_ACCESS_PAGES, access).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, MOCK_APERTURE_START)
                    .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, BUFFER_SIZE).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, s.buffer);
            ok(s.test(pages));
            s.unmap(f.ioasId, MOCK_APERTURE_START, BUFFER_SIZE); // the access is told to unpin
            err(Errno.ENOENT, s.test(testCmd(IommuTestCmd.OP_DESTROY_ACCESS_PAGES, access)
                    .put32(IommuTestCmd.OFFSET_DESTROY_ACCESS_PAGES_ID, pages.u32(IommuTestCmd.OFFSET_ACCESS_PAGES_OUT_ID))));
            s.selftest.closeAccess(s.fd.context(), access);
        }
    }
}
