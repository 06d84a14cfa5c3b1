package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.ok;
import static dev.iommufd.core.selftest.SelftestSession.struct;

import dev.iommufd.api.EventQueueFile;
import dev.iommufd.api.uapi.IommuFaultAlloc;
import dev.iommufd.api.uapi.IommuHwQueueAlloc;
import dev.iommufd.api.uapi.IommuHwptPageResponse;
import dev.iommufd.api.uapi.IommuHwptPgfault;
import dev.iommufd.api.uapi.IommuVdeviceAlloc;
import dev.iommufd.api.uapi.IommuVeventqAlloc;
import dev.iommufd.api.uapi.IommuVfioIoas;
import dev.iommufd.api.uapi.IommuViommuAlloc;
import dev.iommufd.api.uapi.IommufdVeventHeader;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.mock.MockSelftestUapi;

/**
 * The iommufd_utils.h helpers for fault queues, vIOMMUs, vDEVICEs, vEVENTQs, HW queues and IOMMU_VFIO_IOAS over
 * one {@link SelftestSession}: each call builds the uAPI struct in the session process and crosses the ioctl layer.
 * Event files are read and written through their {@link EventQueueFile} in the session process's memory at
 * {@link #IO_VA}.
 */
final class ViommuCalls {
    /** User buffer for event file reads/writes and vendor data. */
    static final long IO_VA = 0x30_0000_0000L;
    static final int PGFAULT = IommuHwptPgfault.SIZE;

    final SelftestSession s;

    ViommuCalls(SelftestSession s) {
        this.s = s;
        s.proc.mmap(IO_VA, 4 * SelftestSession.PS, dev.iommufd.platform.Prot.READ_WRITE, dev.iommufd.platform.MapKind.ANONYMOUS);
    }

    /** _test_ioctl_fault_alloc: {fault_id, fault_fd}. */
    int faultAllocRc(int flags, int[] out) {
        UserStruct c = struct(IommuFaultAlloc.SIZE).put32(IommuFaultAlloc.OFFSET_FLAGS, flags);
        int rc = s.ioctl(IommuFaultAlloc.REQUEST, c);
        if (out != null) {
            out[0] = c.u32(IommuFaultAlloc.OFFSET_OUT_FAULT_ID);
            out[1] = c.u32(IommuFaultAlloc.OFFSET_OUT_FAULT_FD);
        }
        return rc;
    }

    int[] faultAlloc() {
        int[] out = new int[2];
        ok(faultAllocRc(0, out));
        return out;
    }

    EventQueueFile file(int fd) {
        return s.fd.eventQueueFile(fd);
    }

    /** _test_cmd_hwpt_alloc_iopf / nested with SELFTEST data {iotlb}. */
    int hwptAllocSelftestRc(int devId, int ptId, int faultId, int flags, int[] out) {
        long data = s.scratch();
        s.proc.write(data, new UserStruct(4).put32(0, MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT).bytes(), 0, 4);
        return s.hwptAllocRc(devId, ptId, flags, MockSelftestUapi.IOMMU_HWPT_DATA_SELFTEST, data,
                MockSelftestUapi.IOMMU_HWPT_SELFTEST_SIZE, faultId, out);
    }

    int hwptAllocSelftest(int devId, int ptId, int faultId, int flags) {
        int[] out = new int[1];
        ok(hwptAllocSelftestRc(devId, ptId, faultId, flags, out));
        return out[0];
    }

    /**
     * _test_cmd_trigger_iopf: TRIGGER_IOPF {dev, pasid, grpid 2, perm R|W, addr 0xdeadbeaf}, read one record (must
     * return > 0), answer it SUCCESS (must return > 0). @return the record read
     */
    UserStruct triggerIopf(int devId, int pasid, int faultFd) {
        ok(triggerIopfRc(devId, pasid, 0x2, IommuHwptPgfault.PERM_READ | IommuHwptPgfault.PERM_WRITE, 0xdeadbeafL));
        EventQueueFile f = file(faultFd);
        long n = f.read(IO_VA, PGFAULT, 0);
        if (n <= 0) {
            throw new AssertionError("fault read returned " + n);
        }
        UserStruct rec = new UserStruct(PGFAULT);
        s.proc.read(IO_VA, rec.bytes(), 0, PGFAULT);
        UserStruct resp = new UserStruct(IommuHwptPageResponse.SIZE)
                .put32(IommuHwptPageResponse.OFFSET_COOKIE, rec.u32(IommuHwptPgfault.OFFSET_COOKIE))
                .put32(IommuHwptPageResponse.OFFSET_CODE, IommuHwptPageResponse.CODE_SUCCESS);
        s.proc.write(IO_VA + 1024, resp.bytes(), 0, resp.size());
        long w = f.write(IO_VA + 1024, resp.size(), 0);
        if (w <= 0) {
            throw new AssertionError("fault write returned " + w);
        }
        return rec;
    }

    int triggerIopfRc(int devId, int pasid, int grpid, int perm, long addr) {
        return s.test(SelftestSession.testCmd(IommuTestCmd.OP_TRIGGER_IOPF, 0)
                .put32(IommuTestCmd.OFFSET_TRIGGER_IOPF_DEV_ID, devId).put32(IommuTestCmd.OFFSET_TRIGGER_IOPF_PASID, pasid)
                .put32(IommuTestCmd.OFFSET_TRIGGER_IOPF_GRPID, grpid).put32(IommuTestCmd.OFFSET_TRIGGER_IOPF_PERM, perm)
                .put64(IommuTestCmd.OFFSET_TRIGGER_IOPF_ADDR, addr));
    }

    int triggerVeventRc(int devId) {
        return s.test(SelftestSession.testCmd(IommuTestCmd.OP_TRIGGER_VEVENT, 0).put32(IommuTestCmd.OFFSET_TRIGGER_VEVENT_DEV_ID, devId));
    }

    /** _test_cmd_trigger_vevents: n events, stops at the first error. */
    void triggerVevents(int devId, int n) {
        for (int i = 0; i < n; i++) {
            ok(triggerVeventRc(devId));
        }
    }

    /** _test_cmd_viommu_alloc (flags 0); data (may be null) is copied to user memory and back. */
    int viommuAllocRc(int devId, int hwptId, int type, byte[] data, int[] out) {
        long va = 0;
        if (data != null) {
            va = IO_VA + 2048;
            s.proc.write(va, data, 0, data.length);
        }
        UserStruct c = struct(IommuViommuAlloc.SIZE).put32(IommuViommuAlloc.OFFSET_TYPE, type)
                .put32(IommuViommuAlloc.OFFSET_DEV_ID, devId).put32(IommuViommuAlloc.OFFSET_HWPT_ID, hwptId)
                .put64(IommuViommuAlloc.OFFSET_DATA_UPTR, va).put32(IommuViommuAlloc.OFFSET_DATA_LEN, data == null ? 0 : data.length);
        int rc = s.ioctl(IommuViommuAlloc.REQUEST, c);
        if (data != null) {
            s.proc.read(va, data, 0, data.length);
        }
        if (out != null) {
            out[0] = c.u32(IommuViommuAlloc.OFFSET_OUT_VIOMMU_ID);
        }
        return rc;
    }

    int viommuAlloc(int devId, int hwptId) {
        int[] out = new int[1];
        ok(viommuAllocRc(devId, hwptId, MockSelftestUapi.IOMMU_VIOMMU_TYPE_SELFTEST, null, out));
        return out[0];
    }

    int vdeviceAllocRc(int viommuId, int devId, long virtId, int[] out) {
        UserStruct c = struct(IommuVdeviceAlloc.SIZE).put32(IommuVdeviceAlloc.OFFSET_VIOMMU_ID, viommuId)
                .put32(IommuVdeviceAlloc.OFFSET_DEV_ID, devId).put64(IommuVdeviceAlloc.OFFSET_VIRT_ID, virtId);
        int rc = s.ioctl(IommuVdeviceAlloc.REQUEST, c);
        if (out != null) {
            out[0] = c.u32(IommuVdeviceAlloc.OFFSET_OUT_VDEVICE_ID);
        }
        return rc;
    }

    int vdeviceAlloc(int viommuId, int devId, long virtId) {
        int[] out = new int[1];
        ok(vdeviceAllocRc(viommuId, devId, virtId, out));
        return out[0];
    }

    /** _test_cmd_veventq_alloc: {id, fd}. */
    int veventqAllocRc(int viommuId, int type, int depth, int[] out) {
        UserStruct c = struct(IommuVeventqAlloc.SIZE).put32(IommuVeventqAlloc.OFFSET_VIOMMU_ID, viommuId)
                .put32(IommuVeventqAlloc.OFFSET_TYPE, type).put32(IommuVeventqAlloc.OFFSET_VEVENTQ_DEPTH, depth);
        int rc = s.ioctl(IommuVeventqAlloc.REQUEST, c);
        if (out != null) {
            out[0] = c.u32(IommuVeventqAlloc.OFFSET_OUT_VEVENTQ_ID);
            out[1] = c.u32(IommuVeventqAlloc.OFFSET_OUT_VEVENTQ_FD);
        }
        return rc;
    }

    int hwQueueAllocRc(int viommuId, int type, int index, long iova, long length, int[] out) {
        UserStruct c = struct(IommuHwQueueAlloc.SIZE).put32(IommuHwQueueAlloc.OFFSET_VIOMMU_ID, viommuId)
                .put32(IommuHwQueueAlloc.OFFSET_TYPE, type).put32(IommuHwQueueAlloc.OFFSET_INDEX, index)
                .put64(IommuHwQueueAlloc.OFFSET_NESTING_PARENT_IOVA, iova).put64(IommuHwQueueAlloc.OFFSET_LENGTH, length);
        int rc = s.ioctl(IommuHwQueueAlloc.REQUEST, c);
        if (out != null) {
            out[0] = c.u32(IommuHwQueueAlloc.OFFSET_OUT_HW_QUEUE_ID);
        }
        return rc;
    }

    /**
     * _test_cmd_read_vevents: reads n SELFTEST events (8-byte header + u32 virt_id each). @return 0, or the errno the
     * helper would set: EFAULT (nothing read), EOVERFLOW (a LOST_EVENTS header or a sequence gap), EINVAL (virt_id)
     */
    int readVevents(int fd, int n, int virtId, int[] prevSeq) {
        int rec = IommufdVeventHeader.SIZE + 4;
        long got = file(fd).read(IO_VA, (long) n * rec, 0);
        if (got <= 0) {
            return dev.iommufd.api.Errno.EFAULT.number();
        }
        byte[] b = new byte[(int) got];
        s.proc.read(IO_VA, b, 0, b.length);
        UserStruct u = new UserStruct(b);
        for (int i = 0; i < n; i++) {
            int off = i * rec;
            if (off + IommufdVeventHeader.SIZE > b.length) {
                return dev.iommufd.api.Errno.EOVERFLOW.number(); // fewer records than asked: what was read ended early
            }
            int flags = u.u32(off + IommufdVeventHeader.OFFSET_FLAGS);
            int seq = u.u32(off + IommufdVeventHeader.OFFSET_SEQUENCE);
            if ((flags & IommufdVeventHeader.FLAG_LOST_EVENTS) != 0 || seq - prevSeq[0] > 1) {
                prevSeq[0] = seq;
                return dev.iommufd.api.Errno.EOVERFLOW.number();
            }
            prevSeq[0] = seq;
            if (u.u32(IommufdVeventHeader.SIZE) != virtId) { // the C helper always checks the first payload
                return dev.iommufd.api.Errno.EINVAL.number();
            }
        }
        return 0;
    }

    int vfioIoasRc(int op, int ioasId, int[] out) {
        UserStruct c = struct(IommuVfioIoas.SIZE).put16(IommuVfioIoas.OFFSET_OP, op).put32(IommuVfioIoas.OFFSET_IOAS_ID, ioasId);
        int rc = s.ioctl(IommuVfioIoas.REQUEST, c);
        if (out != null) {
            out[0] = c.u32(IommuVfioIoas.OFFSET_IOAS_ID);
        }
        return rc;
    }
}
