package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommuHwQueueAlloc;
import dev.iommufd.api.uapi.IommuVdeviceAlloc;
import dev.iommufd.api.uapi.IommuViommuAlloc;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.platform.UserProcess;

/**
 * The ioctl face of viommu.c: IOMMU_VIOMMU_ALLOC, IOMMU_VDEVICE_ALLOC and IOMMU_HW_QUEUE_ALLOC. Each parses the
 * struct, calls the typed path ({@link IommufdViommu#alloc}, {@link VDevice#alloc}, {@link HwQueue#alloc}), copies
 * the ID out and finalizes the object, or aborts it when the copy fails.
 */
final class ViommuIoctls {
    private ViommuIoctls() {
    }

    static void registerAll(IommufdIoctl t) {
        t.register(IoctlHandler.of(IommuViommuAlloc.NR, IommuViommuAlloc.SIZE, IommuViommuAlloc.MIN_SIZE, ViommuIoctls::viommuAlloc));
        t.register(IoctlHandler.of(IommuVdeviceAlloc.NR, IommuVdeviceAlloc.SIZE, IommuVdeviceAlloc.MIN_SIZE,
                ViommuIoctls::vdeviceAlloc));
        t.register(IoctlHandler.of(IommuHwQueueAlloc.NR, IommuHwQueueAlloc.SIZE, IommuHwQueueAlloc.MIN_SIZE,
                ViommuIoctls::hwQueueAlloc));
    }

    /**
     * The typed IOMMU_VIOMMU_ALLOC shared by both faces: the vendor data is read from {@code dataUptr} when the
     * driver is called, and the driver's output (if any) written back there.
     */
    static IommufdViommu viommuAlloc(IommufdContext ctx, UserProcess caller, int flags, int type, int devId, int hwptId,
            long dataUptr, int dataLen) {
        if (dataLen < 0) {
            throw ErrnoException.of(Errno.ENOMEM, "data_len %d is too large", Integer.toUnsignedLong(dataLen));
        }
        IommufdViommu v = IommufdViommu.alloc(ctx, flags, type, devId, hwptId,
                dataLen == 0 ? null : HwptIoctls.userData(caller, type, dataUptr, dataLen));
        try {
            byte[] out = dataLen == 0 ? null : v.userDataOut();
            if (out != null) {
                caller.write(dataUptr, out, 0, Math.min(out.length, dataLen));
            }
        } catch (RuntimeException e) {
            ctx.objects().abort(v);
            throw e;
        }
        return v;
    }

    private static void viommuAlloc(IoctlCall c) {
        UserStruct cmd = c.cmd();
        IommufdViommu v = viommuAlloc(c.ctx(), c.caller(), cmd.u32(IommuViommuAlloc.OFFSET_FLAGS),
                cmd.u32(IommuViommuAlloc.OFFSET_TYPE), cmd.u32(IommuViommuAlloc.OFFSET_DEV_ID),
                cmd.u32(IommuViommuAlloc.OFFSET_HWPT_ID), cmd.u64(IommuViommuAlloc.OFFSET_DATA_UPTR),
                cmd.u32(IommuViommuAlloc.OFFSET_DATA_LEN));
        reply(c, v, IommuViommuAlloc.OFFSET_OUT_VIOMMU_ID);
    }

    private static void vdeviceAlloc(IoctlCall c) {
        UserStruct cmd = c.cmd();
        VDevice v = VDevice.alloc(c.ctx(), cmd.u32(IommuVdeviceAlloc.OFFSET_VIOMMU_ID), cmd.u32(IommuVdeviceAlloc.OFFSET_DEV_ID),
                cmd.u64(IommuVdeviceAlloc.OFFSET_VIRT_ID));
        reply(c, v, IommuVdeviceAlloc.OFFSET_OUT_VDEVICE_ID);
    }

    private static void hwQueueAlloc(IoctlCall c) {
        UserStruct cmd = c.cmd();
        HwQueue q = HwQueue.alloc(c.ctx(), cmd.u32(IommuHwQueueAlloc.OFFSET_FLAGS), cmd.u32(IommuHwQueueAlloc.OFFSET_VIOMMU_ID),
                cmd.u32(IommuHwQueueAlloc.OFFSET_TYPE), cmd.u32(IommuHwQueueAlloc.OFFSET_INDEX),
                cmd.u64(IommuHwQueueAlloc.OFFSET_NESTING_PARENT_IOVA), cmd.u64(IommuHwQueueAlloc.OFFSET_LENGTH));
        reply(c, q, IommuHwQueueAlloc.OFFSET_OUT_HW_QUEUE_ID);
    }

    private static void reply(IoctlCall c, IommufdObject obj, int idOffset) {
        try {
            c.cmd().put32(idOffset, obj.id());
            c.respond();
        } catch (RuntimeException e) {
            c.ctx().objects().abort(obj);
            throw e;
        }
        c.ctx().objects().finalizeObject(obj);
    }
}
