package dev.iommufd.core;

import dev.iommufd.api.AccessOps;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.Iommufd;
import dev.iommufd.api.IommufdAccess;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.IovaRanges;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.UserProcess;
import java.util.List;

/**
 * A descriptor of an iommufd file in one process: the typed {@link Iommufd} face. Every method calls the shared
 * implementation in {@link IommufdContext} with this descriptor's process as "current"; {@link #ioctl} goes through
 * the context's {@link IommufdIoctl}.
 */
public final class IommufdFd implements Iommufd {
    private final IommufdContext ctx;
    private final UserProcess process;
    private volatile boolean closed;

    IommufdFd(IommufdContext ctx, UserProcess process) {
        this.ctx = ctx;
        this.process = process;
        ctx.addFileReference();
    }

    /** The file behind this descriptor. */
    public IommufdContext context() {
        return ctx;
    }

    @Override
    public UserProcess process() {
        return process;
    }

    @Override
    public Iommufd inheritedBy(UserProcess other) {
        checkOpen();
        return new IommufdFd(ctx, other);
    }

    @Override
    public int ioctl(long request, long argAddress) {
        if (closed) {
            return -Errno.EBADF.number();
        }
        return ctx.ioctls().dispatch(ctx, process, request, argAddress);
    }

    @Override
    public void destroy(int id) {
        checkOpen();
        ctx.destroy(id);
    }

    @Override
    public int ioasAlloc() {
        checkOpen();
        return ctx.ioasAlloc();
    }

    @Override
    public long ioasMap(int ioasId, int flags, long userVa, long length, long iova) {
        checkOpen();
        return ctx.ioasMap(process, ioasId, flags, userVa, length, iova);
    }

    @Override
    public long ioasMapFile(int ioasId, int flags, int fd, long start, long length, long iova) {
        checkOpen();
        return ctx.ioasMapFile(process, ioasId, flags, fd, start, length, iova);
    }

    /** IOMMU_IOAS_MAP_FILE with a memfd object rather than its descriptor number. */
    public long ioasMapFile(int ioasId, int flags, MemFd file, long start, long length, long iova) {
        checkOpen();
        return ctx.ioasMapFile(process, ioasId, flags, file, start, length, iova);
    }

    @Override
    public long ioasCopy(int dstIoasId, int srcIoasId, int flags, long length, long dstIova, long srcIova) {
        checkOpen();
        return ctx.ioasCopy(dstIoasId, srcIoasId, flags, length, dstIova, srcIova);
    }

    @Override
    public long ioasUnmap(int ioasId, long iova, long length) {
        checkOpen();
        return ctx.ioasUnmap(ioasId, iova, length);
    }

    @Override
    public IovaRanges ioasIovaRanges(int ioasId) {
        checkOpen();
        return ctx.ioasIovaRanges(ioasId);
    }

    @Override
    public void ioasAllowIovas(int ioasId, List<IovaRange> ranges) {
        checkOpen();
        ctx.ioasAllowIovas(ioasId, ranges);
    }

    @Override
    public long optionGet(int optionId, int objectId) {
        checkOpen();
        return ctx.option(process, optionId, IommuOption.OP_GET, objectId, 0);
    }

    @Override
    public void optionSet(int optionId, int objectId, long value) {
        checkOpen();
        ctx.option(process, optionId, IommuOption.OP_SET, objectId, value);
    }

    @Override
    public void ioasChangeProcess() {
        checkOpen();
        ctx.ioasChangeProcess(process);
    }

    @Override
    public IommufdAccess accessCreate(AccessOps ops) {
        checkOpen();
        return ctx.accessCreate(process, ops);
    }

    // ---------------------------------------------------------------- devices and HWPTs

    @Override
    public int bindDevice(dev.iommufd.platform.PciFunction function) {
        checkOpen();
        return IommufdDevice.bind(ctx, function, true).id();
    }

    @Override
    public void unbindDevice(int devId) {
        checkOpen();
        IommufdDevice d = ctx.objects().get(devId, ObjectKind.DEVICE, IommufdDevice.class);
        ctx.objects().put(d);
        d.unbind();
    }

    @Override
    public int deviceAttach(int devId, int pasid, int ptId) {
        checkOpen();
        IommufdDevice d = ctx.objects().get(devId, ObjectKind.DEVICE, IommufdDevice.class);
        try {
            return d.attach(pasid, ptId);
        } finally {
            ctx.objects().put(d);
        }
    }

    @Override
    public int deviceReplace(int devId, int pasid, int ptId) {
        checkOpen();
        IommufdDevice d = ctx.objects().get(devId, ObjectKind.DEVICE, IommufdDevice.class);
        try {
            return d.replace(pasid, ptId);
        } finally {
            ctx.objects().put(d);
        }
    }

    @Override
    public void deviceDetach(int devId, int pasid) {
        checkOpen();
        IommufdDevice d = ctx.objects().get(devId, ObjectKind.DEVICE, IommufdDevice.class);
        try {
            d.detach(pasid);
        } finally {
            ctx.objects().put(d);
        }
    }

    @Override
    public int hwptAlloc(int devId, int ptId, int flags, int dataType, byte[] data, int faultId) {
        checkOpen();
        byte[] bytes = data == null ? new byte[0] : data.clone();
        HwPagetable h = HwPagetable.alloc(ctx, flags, devId, ptId, dataType, bytes.length,
                () -> new dev.iommufd.spi.UserData(dataType, bytes), faultId);
        ctx.objects().finalizeObject(h);
        return h.id();
    }

    @Override
    public dev.iommufd.spi.HwInfo getHwInfo(int devId, int flags, int dataType) {
        checkOpen();
        return IommufdDevice.hwInfo(ctx, devId, flags, dataType);
    }

    @Override
    public void hwptSetDirtyTracking(int hwptId, boolean enable) {
        checkOpen();
        HwPagetable.setDirtyTracking(ctx, hwptId, enable);
    }

    @Override
    public void hwptGetDirtyBitmap(int hwptId, int flags, long iova, long length, long pageSize, long data) {
        checkOpen();
        HwPagetable.getDirtyBitmap(ctx, process, hwptId, flags, iova, length, pageSize, data);
    }

    @Override
    public int hwptInvalidate(int hwptId, int dataType, long dataUptr, int entryLen, int entryNum) {
        checkOpen();
        return HwptIoctls.invalidate(ctx, process, hwptId, dataType, dataUptr, entryLen, entryNum);
    }

    // ---------------------------------------------------------------- event queues, vIOMMU, VFIO compat (core3)

    @Override
    public dev.iommufd.api.ObjectAndFd faultQueueAlloc() {
        checkOpen();
        EventFile f = FaultQueue.alloc(ctx, process, 0);
        f.publish();
        return new dev.iommufd.api.ObjectAndFd(f.objectId(), f.fd());
    }

    @Override
    public dev.iommufd.api.EventQueueFile eventQueueFile(int fd) {
        checkOpen();
        return ctx.eventFiles.get(fd);
    }

    @Override
    public int viommuAlloc(int devId, int hwptId, int type, byte[] data) {
        checkOpen();
        IommufdViommu v = IommufdViommu.alloc(ctx, 0, type, devId, hwptId,
                data == null || data.length == 0 ? null : () -> new dev.iommufd.spi.UserData(type, data.clone()));
        byte[] out = data == null || data.length == 0 ? null : v.userDataOut();
        if (out != null) {
            System.arraycopy(out, 0, data, 0, Math.min(out.length, data.length));
        }
        ctx.objects().finalizeObject(v);
        return v.id();
    }

    @Override
    public int vdeviceAlloc(int viommuId, int devId, long virtId) {
        checkOpen();
        VDevice v = VDevice.alloc(ctx, viommuId, devId, virtId);
        ctx.objects().finalizeObject(v);
        return v.id();
    }

    @Override
    public dev.iommufd.api.ObjectAndFd veventqAlloc(int viommuId, int type, int depth) {
        checkOpen();
        EventFile f = Veventq.alloc(ctx, process, 0, viommuId, type, depth, 0);
        f.publish();
        return new dev.iommufd.api.ObjectAndFd(f.objectId(), f.fd());
    }

    @Override
    public int hwQueueAlloc(int viommuId, int type, int index, long nestingParentIova, long length) {
        checkOpen();
        HwQueue q = HwQueue.alloc(ctx, 0, viommuId, type, index, nestingParentIova, length);
        ctx.objects().finalizeObject(q);
        return q.id();
    }

    @Override
    public int vfioIoas(int op, int ioasId) {
        checkOpen();
        return ctx.vfioCompat.vfioIoas(op, ioasId);
    }

    @Override
    public int vfioCheckExtension(long extension) {
        checkOpen();
        return ctx.vfioCompat.checkExtension(extension);
    }

    @Override
    public void vfioSetIommu(long type) {
        checkOpen();
        ctx.vfioCompat.setIommu(type);
    }

    @Override
    public dev.iommufd.api.VfioIommuInfo vfioIommuGetInfo() {
        checkOpen();
        return ctx.vfioCompat.getInfo();
    }

    @Override
    public void vfioMapDma(int flags, long vaddr, long iova, long size) {
        checkOpen();
        ctx.vfioCompat.mapDma(process, flags, vaddr, iova, size);
    }

    @Override
    public long vfioUnmapDma(int flags, long iova, long size) {
        checkOpen();
        return ctx.vfioCompat.unmapDma(flags, iova, size);
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        ctx.releaseFileReference();
    }

    /**
     * {@inheritDoc}
     *
     * <p>{@code iommufd_fops_mmap} into this descriptor's process (see {@link MmapRegions#mmap}).
     */
    @Override
    public long mmap(long length, int prot, long offset) {
        checkOpen();
        return ctx.mmaps.mmap(process, length, prot, offset);
    }

    private void checkOpen() {
        if (closed) {
            throw ErrnoException.of(Errno.EBADF, "iommufd descriptor is closed");
        }
    }
}
