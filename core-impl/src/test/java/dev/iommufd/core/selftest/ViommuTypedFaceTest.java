package dev.iommufd.core.selftest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.ObjectAndFd;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.IommufdViommu;
import dev.iommufd.core.ObjectKind;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.mock.MockViommu;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.platform.Prot;
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
        long mmapOffset = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
        long mmapLength = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getLong(16);
        assertEquals(0, mmapOffset % SelftestSession.PS, "out_mmap_offset is a page offset");
        assertEquals(Errno.ENXIO, errno(() -> fd.mmap(mmapLength, Prot.READ_WRITE, 0)), "offset 0 is never a region");
        int vdev = fd.vdeviceAlloc(viommu, dev, 0x77);
        assertEquals(Errno.EEXIST, errno(() -> fd.vdeviceAlloc(viommu, dev, 0x78)), "one vDEVICE per device");
        assertEquals(Errno.EBUSY, errno(() -> fd.destroy(viommu)));
        fd.destroy(vdev);
        assertEquals(vdev, fd.vdeviceAlloc(viommu, dev, 0x77), "a destroyed (not tombstoned) ID is reused");
    }

    /**
     * mmap on the iommufd (Linux 6.17 iommufd_fops_mmap): the kernel's argument order (EINVAL for an unaligned
     * offset or length, EPERM for PROT_EXEC, ENXIO for anything but the exact region), the VM_PFNMAP mapping is the
     * driver's physical page (writes reach it) and cannot be pinned (IOAS_MAP → EFAULT), each piece of a split
     * mapping holds the vIOMMU, and the mapping holds the file (closing the descriptor does not release it).
     */
    @Test
    void mmapOfTheViommuRegion() {
        byte[] data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(0x5a5a).array();
        int viommu = fd.viommuAlloc(dev, parent, MockSelftestUapi.IOMMU_VIOMMU_TYPE_SELFTEST, data);
        long off = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
        long len = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getLong(16);
        assertEquals(Errno.EINVAL, errno(() -> fd.mmap(0, Prot.READ_WRITE, off)), "length 0");
        assertEquals(Errno.EINVAL, errno(() -> fd.mmap(len, Prot.READ_WRITE, off + 1)), "unaligned offset");
        assertEquals(Errno.EINVAL, errno(() -> fd.mmap(len - 1, Prot.READ_WRITE, off)), "unaligned length");
        assertEquals(Errno.EPERM, errno(() -> fd.mmap(len, Prot.READ_WRITE | Prot.EXEC, off)), "VM_EXEC");
        assertEquals(Errno.ENXIO, errno(() -> fd.mmap(len, Prot.READ_WRITE, off + 16 * len)), "no region there");

        IommufdViommu iv = s.fd.context().objects().get(viommu, ObjectKind.VIOMMU, IommufdViommu.class);
        MockViommu mv = (MockViommu) iv.driverViommu();
        s.fd.context().objects().put(iv);
        long a = fd.mmap(len, Prot.READ_WRITE, off);
        long b = fd.mmap(len, Prot.READ, off);
        assertEquals(mv.mmapPhysicalAddress(), s.proc.translate(a), "the driver's physical page");
        assertEquals(0x5a5a, (int) s.proc.read64(b));
        s.proc.write64(a + 8, 0x1122L);
        assertEquals(0x1122L, s.machine.memory().read64(mv.mmapPhysicalAddress() + 8), "writes reach the page");
        assertEquals(Errno.EFAULT, errno(() -> fd.ioasMap(ioas, IommuIoasMap.FLAG_READABLE, a, SelftestSession.PS, 0)),
                "a VM_PFNMAP range cannot be pinned");
        assertEquals(Errno.EFAULT, errno(() -> s.proc.write64(b, 1)), "PROT_READ mapping");

        s.proc.munmap(a, SelftestSession.PS); // split: the rest still holds the vIOMMU
        assertEquals(Errno.EBUSY, errno(() -> fd.destroy(viommu)));
        s.proc.munmap(a + SelftestSession.PS, len - SelftestSession.PS);
        assertEquals(Errno.EBUSY, errno(() -> fd.destroy(viommu)), "the second mapping still holds it");

        fd.close(); // the last descriptor: the file stays open, the mapping holds it
        assertEquals(false, s.fd.context().isReleased(), "vm_file keeps the iommufd file");
        assertEquals(0x5a5a, (int) s.proc.read64(b));
        s.proc.munmap(b, len); // last reference: the file is released, its objects destroyed
        assertEquals(true, s.fd.context().isReleased());
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
