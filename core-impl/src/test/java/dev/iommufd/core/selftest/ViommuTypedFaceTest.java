package dev.iommufd.core.selftest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.ObjectAndFd;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.mock.MockSelftestUapi;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The typed face ({@link dev.iommufd.api.Iommufd}) of IOMMU_VIOMMU_ALLOC, IOMMU_VDEVICE_ALLOC, IOMMU_HW_QUEUE_ALLOC,
 * IOMMU_VEVENTQ_ALLOC and IOMMU_FAULT_QUEUE_ALLOC: the same implementation as the ioctls, so the same errnos and the
 * same objects.
 */
class ViommuTypedFaceTest {
    private SelftestSession s;
    private IommufdFd fd;
    private int ioas;
    private int stdev;
    private int dev;
    private int parent;

    @BeforeEach
    void setUp() {
        s = new SelftestSession();
        fd = s.fd;
        ioas = fd.ioasAlloc();
        int[] md = s.mockDomain(ioas);
        stdev = md[0];
        dev = md[2];
        parent = fd.hwptAlloc(dev, ioas, IommuHwptAlloc.FLAG_NEST_PARENT, 0, null, 0);
    }

    @AfterEach
    void teardown() {
        s.teardown();
        s.machine.close();
    }

    private static Errno errno(Runnable r) {
        return assertThrows(ErrnoException.class, r::run).errno();
    }

    @Test
    void viommuAndVdevice() {
        assertEquals(Errno.EOPNOTSUPP, errno(() -> fd.viommuAlloc(dev, parent, 0, null)));
        assertEquals(Errno.ENOENT, errno(() -> fd.viommuAlloc(dev, 0, MockSelftestUapi.IOMMU_VIOMMU_TYPE_SELFTEST, null)));
        byte[] data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(0x1234).array();
        int viommu = fd.viommuAlloc(dev, parent, MockSelftestUapi.IOMMU_VIOMMU_TYPE_SELFTEST, data);
        assertEquals(0x1234, ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getInt(4), "out_data written back");
        long mmapLength = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getLong(16);
        assertEquals(Errno.EOPNOTSUPP, errno(() -> fd.mmap(mmapLength, 3, 0)), "vIOMMU mmap is not implemented");
        int vdev = fd.vdeviceAlloc(viommu, dev, 0x77);
        assertEquals(Errno.EEXIST, errno(() -> fd.vdeviceAlloc(viommu, dev, 0x78)), "one vDEVICE per device");
        assertEquals(Errno.EBUSY, errno(() -> fd.destroy(viommu)));
        fd.destroy(vdev);
        assertEquals(vdev, fd.vdeviceAlloc(viommu, dev, 0x77), "a destroyed (not tombstoned) ID is reused");
    }

    @Test
    void hwQueuePinsItsMemory() {
        int viommu = fd.viommuAlloc(dev, parent, MockSelftestUapi.IOMMU_VIOMMU_TYPE_SELFTEST, null);
        long iova = s.map(ioas, s.buffer, 2 * SelftestSession.PS);
        int q = fd.hwQueueAlloc(viommu, MockSelftestUapi.IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, iova, 2 * SelftestSession.PS);
        assertEquals(1, s.proc.pinCount(s.proc.translate(s.buffer)), "pinned by the internal access");
        assertEquals(Errno.EBUSY, errno(() -> fd.ioasUnmap(ioas, iova, 2 * SelftestSession.PS)));
        fd.destroy(q);
        assertEquals(2 * SelftestSession.PS, fd.ioasUnmap(ioas, iova, 2 * SelftestSession.PS));
    }

    @Test
    void eventQueues() {
        int viommu = fd.viommuAlloc(dev, parent, MockSelftestUapi.IOMMU_VIOMMU_TYPE_SELFTEST, null);
        ObjectAndFd q = fd.veventqAlloc(viommu, MockSelftestUapi.IOMMU_VEVENTQ_TYPE_SELFTEST, 1);
        assertEquals(Errno.EEXIST, errno(() -> fd.veventqAlloc(viommu, MockSelftestUapi.IOMMU_VEVENTQ_TYPE_SELFTEST, 1)));
        ObjectAndFd f = fd.faultQueueAlloc();
        assertDistinct(q.fd(), f.fd());
        assertEquals(q.id(), fd.eventQueueFile(q.fd()).objectId());
        assertEquals(f.id(), fd.eventQueueFile(f.fd()).objectId());
        fd.eventQueueFile(q.fd()).close();
        fd.eventQueueFile(f.fd()).close();
        assertEquals(Errno.EBADF, errno(() -> fd.eventQueueFile(f.fd())));
        fd.destroy(q.id());
        fd.destroy(f.id());
    }

    private static void assertDistinct(int a, int b) {
        org.junit.jupiter.api.Assertions.assertNotEquals(a, b, "descriptors " + a + " and " + b);
    }
}
