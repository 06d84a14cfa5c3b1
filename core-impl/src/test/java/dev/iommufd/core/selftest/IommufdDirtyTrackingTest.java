package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuHwptGetDirtyBitmap;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Ports of FIXTURE(iommufd_dirty_tracking) of tools/testing/selftests/iommu/iommufd.c for its nine variants:
 * enforce_dirty, set_dirty_tracking, device_dirty_capability, get_dirty_bitmap, get_dirty_bitmap_no_clear. The
 * huge variants use a mock device with MOCK_FLAGS_DEVICE_HUGE_IOVA (the ≈v6.9-6.17 form), whose domains map
 * 1 MiB IOPTEs over the hugetlb buffer.
 */
class IommufdDirtyTrackingTest {

    /** FIXTURE_VARIANT(iommufd_dirty_tracking). */
    enum Variant {
        DOMAIN_DIRTY8K(8 << 10, false), DOMAIN_DIRTY16K(16 << 10, false), DOMAIN_DIRTY64K(64 << 10, false),
        DOMAIN_DIRTY128K(128 << 10, false), DOMAIN_DIRTY320K(320 << 10, false), DOMAIN_DIRTY64M(64L << 20, false),
        DOMAIN_DIRTY64M_HUGE(64L << 20, true), DOMAIN_DIRTY128M(128L << 20, false), DOMAIN_DIRTY128M_HUGE(128L << 20, true);

        final long bufferSize;
        final boolean hugepages;

        Variant(long bufferSize, boolean hugepages) {
            this.bufferSize = bufferSize;
            this.hugepages = hugepages;
        }
    }

    /** FIXTURE_SETUP(iommufd_dirty_tracking). */
    static final class Fixture implements AutoCloseable {
        final SelftestSession s = new SelftestSession();
        final Variant v;
        final long buffer;
        final long pageSize = MOCK_PAGE_SIZE;
        final long bitmapBits;
        final long bitmap;
        final int ioasId;
        final int stdevId;
        final int hwptId;
        final int idevId;
        final int devFlags;

        Fixture(Variant v) {
            this.v = v;
            long mmapSize = v.hugepages ? Math.max(v.bufferSize, HUGEPAGE_SIZE) : v.bufferSize;
            buffer = s.proc.mmap(0x40_0000_0000L, mmapSize, Prot.READ_WRITE, v.hugepages ? MapKind.HUGETLB_2M : MapKind.ANONYMOUS);
            bitmapBits = v.bufferSize / MOCK_PAGE_SIZE;
            long bitmapBytes = (bitmapBits + 7) / 8;
            bitmap = s.proc.mmap(0x50_0000_0000L, (bitmapBytes + 2 * PS + PS - 1) / PS * PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
            ioasId = s.ioasAlloc();
            if (!v.hugepages) {
                ok(IommufdIoasDomainTest.hugePages(s, ioasId, 0));
            }
            devFlags = v.hugepages ? MockSelftestUapi.MOCK_FLAGS_DEVICE_HUGE_IOVA : 0;
            int[] m = s.mockDomain(ioasId, devFlags);
            stdevId = m[0];
            hwptId = m[1];
            idevId = m[2];
        }

        @Override
        public void close() {
            s.teardown();
            s.close();
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void enforceDirty(Variant v) { // iommufd_dirty_tracking.enforce_dirty
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            int hwpt = s.hwptAlloc(f.idevId, f.ioasId, IommuHwptAlloc.FLAG_DIRTY_TRACKING);
            int[] std = s.mockDomain(hwpt);
            err(Errno.EINVAL, s.mockDomainRc(hwpt, MockSelftestUapi.MOCK_FLAGS_DEVICE_NO_DIRTY, null));
            s.destroy(std[0]);
            s.destroy(hwpt);

            int ioas = s.ioasAlloc();
            int[] nd = s.mockDomain(ioas, MockSelftestUapi.MOCK_FLAGS_DEVICE_NO_DIRTY);
            err(Errno.EOPNOTSUPP, s.hwptAllocRc(nd[2], ioas, IommuHwptAlloc.FLAG_DIRTY_TRACKING));
            s.destroy(nd[0]);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void setDirtyTracking(Variant v) { // iommufd_dirty_tracking.set_dirty_tracking
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            int hwpt = s.hwptAlloc(f.idevId, f.ioasId, IommuHwptAlloc.FLAG_DIRTY_TRACKING);
            int[] std = s.mockDomain(hwpt);
            ok(s.setDirtyTrackingRc(hwpt, true));
            ok(s.setDirtyTrackingRc(hwpt, false));
            err(Errno.EOPNOTSUPP, s.setDirtyTrackingRc(f.hwptId, true)); // an automatic domain has no dirty ops
            s.destroy(std[0]);
            s.destroy(hwpt);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void deviceDirtyCapability(Variant v) { // iommufd_dirty_tracking.device_dirty_capability
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            int hwpt = s.hwptAlloc(f.idevId, f.ioasId, 0);
            int[] std = s.mockDomain(hwpt);
            UserStruct info = struct(IommuHwInfo.SIZE);
            ok(s.getHwInfoRc(f.idevId, 0, 0, 0, info));
            assertEquals(IommuHwInfo.CAP_DIRTY_TRACKING, info.u64(IommuHwInfo.OFFSET_OUT_CAPABILITIES) & IommuHwInfo.CAP_DIRTY_TRACKING);
            s.destroy(std[0]);
            s.destroy(hwpt);
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void getDirtyBitmap(Variant v) { // iommufd_dirty_tracking.get_dirty_bitmap
        getDirtyBitmap(v, 0);
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void getDirtyBitmapNoClear(Variant v) { // iommufd_dirty_tracking.get_dirty_bitmap_no_clear
        getDirtyBitmap(v, IommuHwptGetDirtyBitmap.FLAG_NO_CLEAR);
    }

    private static void getDirtyBitmap(Variant v, int flags) {
        try (Fixture f = new Fixture(v)) {
            SelftestSession s = f.s;
            long pteSize = v.hugepages ? MOCK_HUGE_PAGE_SIZE : MOCK_PAGE_SIZE;
            s.mapFixed(f.ioasId, f.buffer, v.bufferSize, MOCK_APERTURE_START);
            int hwpt = s.hwptAlloc(f.idevId, f.ioasId, IommuHwptAlloc.FLAG_DIRTY_TRACKING);
            ok(s.setDirtyTrackingRc(hwpt, true));
            mockDirtyBitmaps(s, hwpt, v.bufferSize, MOCK_APERTURE_START, f.pageSize, pteSize, f.bitmap, f.bitmapBits, flags);
            mockDirtyBitmaps(s, hwpt, v.bufferSize, MOCK_APERTURE_START, f.pageSize, pteSize, f.bitmap + MOCK_PAGE_SIZE,
                    f.bitmapBits, flags);
            mockDirtyBitmaps(s, hwpt, v.bufferSize, MOCK_APERTURE_START, f.pageSize, pteSize, f.bitmap + 0xff1,
                    f.bitmapBits, flags);
            s.destroy(hwpt);
        }
    }

    /** _test_mock_dirty_bitmaps (iommufd_utils.h). */
    static void mockDirtyBitmaps(SelftestSession s, int hwpt, long length, long iova, long pageSize, long pteSize,
            long bitmap, long nbits, int flags) {
        long npte = pteSize / pageSize;
        long pteset = 2 * npte;
        long nr = Math.max(1, nbits / pteset);
        int bitmapSize = (int) ((nbits + 7) / 8);
        byte[] bits = new byte[bitmapSize];
        for (long i = 0; i < nbits; i += pteset) {
            bits[(int) (i >>> 3)] |= (byte) (1 << (i & 7));
        }
        s.proc.write(bitmap, bits, 0, bitmapSize);
        assertEquals(nr, s.mockSetDirty(hwpt, length, iova, pageSize, bitmap));

        s.proc.write(bitmap, new byte[bitmapSize], 0, bitmapSize);
        ok(s.getDirtyBitmapRc(hwpt, length, iova, pageSize, bitmap, flags));
        byte[] got = new byte[bitmapSize];
        s.proc.read(bitmap, got, 0, bitmapSize);
        for (long i = 0; i < nbits; i += pteset) {
            for (long j = 0; j < pteset && i + j < nbits; j++) {
                assertEquals(j < npte, bit(got, i + j), "bit " + (i + j) + " after the first read");
            }
        }

        s.proc.write(bitmap, new byte[bitmapSize], 0, bitmapSize);
        ok(s.getDirtyBitmapRc(hwpt, length, iova, pageSize, bitmap, flags));
        s.proc.read(bitmap, got, 0, bitmapSize);
        boolean noClear = (flags & IommuHwptGetDirtyBitmap.FLAG_NO_CLEAR) != 0;
        for (long i = 0; i < nbits; i += pteset) {
            for (long j = 0; j < pteset && i + j < nbits; j++) {
                assertEquals(j < npte && noClear, bit(got, i + j), "bit " + (i + j) + " after the second read");
            }
        }
    }

    private static boolean bit(byte[] b, long i) {
        return (b[(int) (i >>> 3)] & (1 << (i & 7))) != 0;
    }
}
