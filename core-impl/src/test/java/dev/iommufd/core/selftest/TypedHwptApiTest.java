package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuHwptGetDirtyBitmap;
import dev.iommufd.mock.MockIommu;
import dev.iommufd.mock.MockNestedDomain;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.core.HwptNested;
import dev.iommufd.core.ObjectKind;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.HwInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The typed faces of HWPT_ALLOC, GET_HW_INFO, SET_DIRTY_TRACKING, GET_DIRTY_BITMAP and HWPT_INVALIDATE (the same
 * implementation the ioctls call), and attach/detach from several threads keeping the references consistent.
 */
class TypedHwptApiTest {
    private final SelftestSession s = new SelftestSession();

    @AfterEach
    void tearDown() {
        s.close();
    }

    private static Errno errno(Runnable r) {
        return assertThrows(ErrnoException.class, r::run).errno();
    }

    @Test
    void nestedAllocAndInvalidateReportProgressOnError() { // §8.4, §8.9 through the typed API
        PciFunction f = MockIommu.createDevice(s.machine, 0);
        int dev = s.fd.bindDevice(f);
        int ioas = s.fd.ioasAlloc();
        int parent = s.fd.hwptAlloc(dev, ioas, IommuHwptAlloc.FLAG_NEST_PARENT, 0, null, 0);
        byte[] cfg = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0x1234).array();
        int nested = s.fd.hwptAlloc(dev, parent, 0, MockSelftestUapi.IOMMU_HWPT_DATA_SELFTEST, cfg, 0);
        assertEquals(Errno.EINVAL, errno(() -> s.fd.hwptAlloc(dev, parent, 0, MockSelftestUapi.IOMMU_HWPT_DATA_SELFTEST,
                new byte[3], 0)), "shorter than the first uAPI version");
        assertEquals(Errno.EINVAL, errno(() -> s.fd.hwptAlloc(dev, 777, 0, 0, null, 0)));
        HwptNested h = s.fd.context().objects().get(nested, ObjectKind.HWPT_NESTED, HwptNested.class);
        MockNestedDomain d = (MockNestedDomain) h.domain();
        s.fd.context().objects().put(h);
        assertEquals(0x1234, d.iotlb(3));

        long reqs = s.scratch();
        s.proc.write64(reqs, 2L << 32); // {flags 0, iotlb_id 2}
        s.proc.write64(reqs + 8, 9L << 32); // {flags 0, iotlb_id 9}: bad
        ErrnoException e = assertThrows(ErrnoException.class, () -> s.fd.hwptInvalidate(nested,
                MockSelftestUapi.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, reqs, 8, 2));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals(1, e.progress(), "the first entry was handled");
        assertEquals(0, d.iotlb(2));
        assertEquals(0x1234, d.iotlb(1));
        assertEquals(1, s.fd.hwptInvalidate(nested, MockSelftestUapi.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, reqs, 8, 1));
        assertEquals(Errno.EINVAL, errno(() -> s.fd.hwptInvalidate(nested, MockSelftestUapi.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, 0, 8, 1)));

        // a nested HWPT translates through its parent's mappings (the mock's S1 is the identity)
        s.fd.ioasMap(ioas, RW_FIXED, s.buffer, PS, MOCK_APERTURE_START);
        s.proc.write64(s.buffer, 0x1122334455667788L);
        assertEquals(nested, s.fd.deviceAttach(dev, 0, nested));
        byte[] got = new byte[8];
        assertEquals(DmaStatus.OK, f.dmaRead(MOCK_APERTURE_START, got));
        assertArrayEquals(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0x1122334455667788L).array(), got);
        assertEquals(Errno.EBUSY, errno(() -> s.fd.destroy(parent)));
        s.fd.deviceDetach(dev, 0);
        s.fd.destroy(nested);
        s.fd.destroy(parent);
        s.fd.unbindDevice(dev);
    }

    @Test
    void hwInfoAndDirtyThroughTheTypedApi() {
        PciFunction f = MockIommu.createDevice(s.machine, MockSelftestUapi.MOCK_FLAGS_DEVICE_PASID);
        int dev = s.fd.bindDevice(f);
        HwInfo info = s.fd.getHwInfo(dev, 0, 0);
        assertEquals(MockSelftestUapi.IOMMU_HW_INFO_TYPE_SELFTEST, info.type());
        assertEquals(8, info.data().length);
        assertEquals(MockSelftestUapi.MOCK_PASID_WIDTH, info.maxPasidLog2());
        assertEquals(Errno.EOPNOTSUPP, errno(() -> s.fd.getHwInfo(dev, IommuHwInfo.FLAG_INPUT_TYPE, 1)));

        int ioas = s.fd.ioasAlloc();
        s.fd.ioasMap(ioas, RW_FIXED, s.buffer, 4 * PS, MOCK_APERTURE_START);
        int hwpt = s.fd.hwptAlloc(dev, ioas, IommuHwptAlloc.FLAG_DIRTY_TRACKING, 0, null, 0);
        s.fd.deviceAttach(dev, 0, hwpt);
        s.fd.hwptSetDirtyTracking(hwpt, true);
        // DMA writes set the hardware dirty bit of the IOPTE they hit
        assertEquals(DmaStatus.OK, f.dmaWrite(MOCK_APERTURE_START + 3 * MOCK_PAGE_SIZE + 5, new byte[] {1}));
        long bitmap = s.scratch();
        s.proc.write64(bitmap, 0);
        s.fd.hwptGetDirtyBitmap(hwpt, IommuHwptGetDirtyBitmap.FLAG_NO_CLEAR, MOCK_APERTURE_START, 4 * PS, MOCK_PAGE_SIZE, bitmap);
        assertEquals(1L << 3, s.proc.read64(bitmap));
        s.proc.write64(bitmap, 0);
        s.fd.hwptGetDirtyBitmap(hwpt, 0, MOCK_APERTURE_START, 4 * PS, PS, bitmap);
        assertEquals(1L << 1, s.proc.read64(bitmap), "4 KiB granularity: the 2 KiB page 3 is in 4 KiB page 1");
        s.proc.write64(bitmap, 0);
        s.fd.hwptGetDirtyBitmap(hwpt, 0, MOCK_APERTURE_START, 4 * PS, PS, bitmap);
        assertEquals(0, s.proc.read64(bitmap), "the previous read cleared it");
        s.fd.hwptSetDirtyTracking(hwpt, false);
        assertEquals(DmaStatus.OK, f.dmaWrite(MOCK_APERTURE_START, new byte[] {1}));
        s.fd.hwptSetDirtyTracking(hwpt, true); // enabling starts from a clean snapshot
        s.fd.hwptGetDirtyBitmap(hwpt, 0, MOCK_APERTURE_START, 4 * PS, PS, bitmap);
        assertEquals(0, s.proc.read64(bitmap));
        s.fd.deviceDetach(dev, 0);
        s.fd.destroy(hwpt);
        s.fd.unbindDevice(dev);
    }

    @Test
    void concurrentAttachDetachKeepsReferencesConsistent() throws Exception {
        int ioas = s.fd.ioasAlloc();
        s.fd.ioasMap(ioas, RW_FIXED, s.buffer, PS, MOCK_APERTURE_START);
        int n = 4;
        PciFunction[] fs = new PciFunction[n];
        int[] devs = new int[n];
        for (int i = 0; i < n; i++) {
            fs[i] = MockIommu.createDevice(s.machine, 0);
            devs[i] = s.fd.bindDevice(fs[i]);
        }
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            Future<?>[] done = new Future<?>[n];
            for (int i = 0; i < n; i++) {
                int dev = devs[i];
                PciFunction f = fs[i];
                done[i] = pool.submit(() -> {
                    for (int round = 0; round < 200; round++) {
                        s.fd.deviceAttach(dev, 0, ioas);
                        if (f.dmaRead(MOCK_APERTURE_START, new byte[8]) != DmaStatus.OK) {
                            throw new AssertionError("attached device cannot DMA");
                        }
                        s.fd.deviceDetach(dev, 0);
                    }
                    return null;
                });
            }
            for (Future<?> d : done) {
                d.get();
            }
        } finally {
            pool.shutdown();
        }
        assertEquals(0, s.fd.context().objects().live(ObjectKind.HWPT_PAGING, dev.iommufd.core.HwptPaging.class).size(),
                "every automatic HWPT went with its last device");
        assertEquals(0, s.fd.ioasUnmap(ioas, 0, -1L) - PS, "the mapping is intact");
        for (int dev : devs) {
            s.fd.unbindDevice(dev);
        }
        s.fd.destroy(ioas);
    }
}
