package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuHwptGetDirtyBitmap;
import dev.iommufd.api.uapi.IommuHwptInvalidate;
import dev.iommufd.api.uapi.IommuHwptSetDirtyTracking;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.mock.MockSelftestUapi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The struct-level validation order of the HWPT and GET_HW_INFO ioctls (§8.6-§8.9, §7.14, §5.3), the dispatcher's
 * sizes for them (iommufd.cmd_length rows), and the GET_DIRTY_BITMAP quirks (bits only set; a hole ends the report
 * and still returns success).
 */
class HwptIoctlValidationTest {
    private final SelftestSession s = new SelftestSession();
    private final int ioas = s.ioasAlloc();
    private final int[] mock = s.mockDomain(ioas);

    @AfterEach
    void tearDown() {
        s.teardown();
        s.close();
    }

    @Test
    void hwptAllocOrder() { // §8.6 steps 1-5
        UserStruct c = struct(IommuHwptAlloc.SIZE).put32(IommuHwptAlloc.OFFSET_DEV_ID, mock[2])
                .put32(IommuHwptAlloc.OFFSET_PT_ID, ioas).put32(IommuHwptAlloc.OFFSET_RESERVED, 1);
        err(Errno.EOPNOTSUPP, s.ioctl(IommuHwptAlloc.REQUEST, c));
        // data_type/data_len mismatch is checked before the device lookup
        err(Errno.EINVAL, s.hwptAllocRc(9999, ioas, 0, IommuHwptAlloc.DATA_NONE, s.scratch(), 4, 0, null));
        err(Errno.EINVAL, s.hwptAllocRc(9999, ioas, 0, MockSelftestUapi.IOMMU_HWPT_DATA_SELFTEST, s.scratch(), 0, 0, null));
        err(Errno.ENOENT, s.hwptAllocRc(9999, ioas, 0));
        err(Errno.EINVAL, s.hwptAllocRc(mock[2], 9999, 0), "an unknown pt_id is EINVAL, not ENOENT");
        err(Errno.EINVAL, s.hwptAllocRc(mock[2], mock[0], 0), "a selftest object cannot parent a HWPT");
        // a paging HWPT with vendor data: the mock takes none
        s.proc.write64(s.scratch(), 1);
        err(Errno.EOPNOTSUPP, s.hwptAllocRc(mock[2], ioas, 0, MockSelftestUapi.IOMMU_HWPT_DATA_SELFTEST, s.scratch(), 4, 0, null));
        // the v6.6 struct (40 bytes) still works: fault_id is zero-extended
        UserStruct old = struct(40).put32(IommuHwptAlloc.OFFSET_DEV_ID, mock[2]).put32(IommuHwptAlloc.OFFSET_PT_ID, ioas);
        ok(s.ioctl(IommuHwptAlloc.REQUEST, old));
        int id = old.u32(IommuHwptAlloc.OFFSET_OUT_HWPT_ID);
        s.destroy(id);
        // below min_size (24) is EINVAL; a non-zero tail beyond 48 is E2BIG
        err(Errno.EINVAL, s.ioctl(IommuHwptAlloc.REQUEST, struct(23)));
        UserStruct big = struct(IommuHwptAlloc.SIZE + 8).put32(IommuHwptAlloc.OFFSET_DEV_ID, mock[2])
                .put32(IommuHwptAlloc.OFFSET_PT_ID, ioas).put8(IommuHwptAlloc.SIZE + 3, 1);
        err(Errno.E2BIG, s.ioctl(IommuHwptAlloc.REQUEST, big));
    }

    @Test
    void failedAllocationsReleaseTheirIds() { // ID reuse after abort (§3.2) and no leftover domain in the IOAS
        err(Errno.EOPNOTSUPP, s.hwptAllocRc(mock[2], ioas, IommuHwptAlloc.FLAG_NEST_PARENT | IommuHwptAlloc.FLAG_FAULT_ID_VALID));
        int parent = s.hwptAlloc(mock[2], ioas, IommuHwptAlloc.FLAG_NEST_PARENT);
        err(Errno.EINVAL, s.hwptAllocRc(mock[2], parent, 0, MockSelftestUapi.IOMMU_HWPT_DATA_SELFTEST, s.scratch(), 3, 0, null));
        int next = s.ioasAlloc();
        assertEquals(parent + 1, next, "the aborted nested HWPT's ID was released and is reused");
        dev.iommufd.core.Ioas i = s.fd.context().getIoas(ioas);
        try {
            assertEquals(2, i.iopt().domains().size(), "the automatic domain and the parent, nothing else");
        } finally {
            s.fd.context().objects().put(i);
        }
    }

    @Test
    void getHwInfoChecks() { // §7.14 step 1
        UserStruct c = struct(IommuHwInfo.SIZE).put32(IommuHwInfo.OFFSET_DEV_ID, mock[2]).put8(IommuHwInfo.OFFSET_RESERVED + 2, 1);
        err(Errno.EOPNOTSUPP, s.ioctl(IommuHwInfo.REQUEST, c));
        c = struct(IommuHwInfo.SIZE).put32(IommuHwInfo.OFFSET_DEV_ID, mock[2]).put32(IommuHwInfo.OFFSET_FLAGS, 2);
        err(Errno.EOPNOTSUPP, s.ioctl(IommuHwInfo.REQUEST, c));
        // without FLAG_INPUT_TYPE any in_data_type is the default request
        c = struct(IommuHwInfo.SIZE).put32(IommuHwInfo.OFFSET_DEV_ID, mock[2]).put32(IommuHwInfo.OFFSET_DATA_TYPE, 12345);
        ok(s.ioctl(IommuHwInfo.REQUEST, c));
        assertEquals(MockSelftestUapi.IOMMU_HW_INFO_TYPE_SELFTEST, c.u32(IommuHwInfo.OFFSET_DATA_TYPE));
        // the 32-byte struct (before out_capabilities) works; capabilities are simply not copied out
        UserStruct small = struct(32).put32(IommuHwInfo.OFFSET_DEV_ID, mock[2]);
        ok(s.ioctl(IommuHwInfo.REQUEST, small));
        err(Errno.EINVAL, s.ioctl(IommuHwInfo.REQUEST, struct(31)));
        assertEquals(IommuHwInfo.CAP_DIRTY_TRACKING, s.fd.getHwInfo(mock[2], 0, 0).capabilities());
    }

    @Test
    void dirtyIoctlChecks() { // §8.7, §8.8, §5.3
        int hwpt = s.hwptAlloc(mock[2], ioas, IommuHwptAlloc.FLAG_DIRTY_TRACKING);
        err(Errno.EOPNOTSUPP, s.ioctl(IommuHwptSetDirtyTracking.REQUEST, struct(IommuHwptSetDirtyTracking.SIZE)
                .put32(IommuHwptSetDirtyTracking.OFFSET_FLAGS, 2).put32(IommuHwptSetDirtyTracking.OFFSET_HWPT_ID, hwpt)));
        err(Errno.ENOENT, s.setDirtyTrackingRc(mock[0], true));
        ok(s.setDirtyTrackingRc(hwpt, true));
        long bitmap = s.scratch();
        err(Errno.EOPNOTSUPP, s.getDirtyBitmapRc(hwpt, PS, MOCK_APERTURE_START, MOCK_PAGE_SIZE, bitmap, 2));
        err(Errno.EOPNOTSUPP, s.ioctl(IommuHwptGetDirtyBitmap.REQUEST, struct(IommuHwptGetDirtyBitmap.SIZE)
                .put32(IommuHwptGetDirtyBitmap.OFFSET_HWPT_ID, hwpt).put32(IommuHwptGetDirtyBitmap.OFFSET_RESERVED, 1)));
        err(Errno.ENOENT, s.getDirtyBitmapRc(ioas, PS, MOCK_APERTURE_START, MOCK_PAGE_SIZE, bitmap, 0));
        err(Errno.EOVERFLOW, s.getDirtyBitmapRc(hwpt, 2 * PS, -PS, MOCK_PAGE_SIZE, bitmap, 0));
        err(Errno.EINVAL, s.getDirtyBitmapRc(hwpt, PS, MOCK_APERTURE_START + 1024, MOCK_PAGE_SIZE, bitmap, 0), "IOAS alignment");
        err(Errno.EINVAL, s.getDirtyBitmapRc(hwpt, PS, MOCK_APERTURE_START, 0, bitmap, 0));
        err(Errno.EINVAL, s.getDirtyBitmapRc(hwpt, 3 * MOCK_PAGE_SIZE, MOCK_APERTURE_START, PS, bitmap, 0), "page_size alignment");
        err(Errno.EOPNOTSUPP, s.getDirtyBitmapRc(mock[1], PS, MOCK_APERTURE_START, MOCK_PAGE_SIZE, bitmap, 0),
                "the automatic domain has no dirty tracking");

        // map 4 pages, leave a hole, map 4 more; dirty everything; the report stops at the hole and succeeds
        s.mapFixed(ioas, s.buffer, 4 * PS, MOCK_APERTURE_START);
        s.mapFixed(ioas, s.buffer + 4 * PS, 4 * PS, MOCK_APERTURE_START + 8 * PS);
        long bits = 12 * PS / MOCK_PAGE_SIZE; // 24 bits: 8 mapped, 8 hole, 8 mapped
        s.proc.write64(bitmap, (1L << bits) - 1);
        assertEquals(bits, s.mockSetDirty(hwpt, 12 * PS, MOCK_APERTURE_START, MOCK_PAGE_SIZE, bitmap));
        s.proc.write64(bitmap, 1L << 40); // a bit the user set stays set
        ok(s.getDirtyBitmapRc(hwpt, 12 * PS, MOCK_APERTURE_START, MOCK_PAGE_SIZE, bitmap, 0));
        assertEquals((1L << 40) | 0xffL, s.proc.read64(bitmap), "the 8 bits before the hole, plus the user's own bit");
        // the areas after the hole were not read, so their dirty bits are still there
        s.proc.write64(bitmap, 0);
        ok(s.getDirtyBitmapRc(hwpt, 4 * PS, MOCK_APERTURE_START + 8 * PS, MOCK_PAGE_SIZE, bitmap, 0));
        assertEquals(0xffL, s.proc.read64(bitmap));
        s.destroy(hwpt);
    }

    @Test
    void invalidateChecks() { // §8.9 steps 1-3
        int[] num = {0};
        err(Errno.EOPNOTSUPP, s.ioctl(IommuHwptInvalidate.REQUEST, struct(IommuHwptInvalidate.SIZE)
                .put32(IommuHwptInvalidate.OFFSET_HWPT_ID, mock[1]).put32(IommuHwptInvalidate.OFFSET_RESERVED, 1)));
        num[0] = 0;
        err(Errno.ENOENT, s.invalidateRc(9999, s.scratch(), 0, 8, num));
        num[0] = 0;
        err(Errno.EINVAL, s.invalidateRc(mock[1], s.scratch(), 0, 8, num), "a paging HWPT takes no invalidation");
        assertEquals(0, num[0]);
    }
}
