package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuHwptGetDirtyBitmap;
import dev.iommufd.api.uapi.IommuHwptInvalidate;
import dev.iommufd.api.uapi.IommuHwptSetDirtyTracking;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.UserData;
import java.util.function.Supplier;

/**
 * The ioctl face of hw_pagetable.c: IOMMU_HWPT_ALLOC, IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMU_HWPT_GET_DIRTY_BITMAP and
 * IOMMU_HWPT_INVALIDATE. Each handler checks the struct-only fields and calls the typed path in
 * {@link HwPagetable}.
 */
final class HwptIoctls {
    private HwptIoctls() {
    }

    static void registerAll(IommufdIoctl t) {
        t.register(IoctlHandler.of(IommuHwptAlloc.NR, IommuHwptAlloc.SIZE, IommuHwptAlloc.MIN_SIZE, HwptIoctls::alloc));
        t.register(IoctlHandler.of(IommuHwptSetDirtyTracking.NR, IommuHwptSetDirtyTracking.SIZE,
                IommuHwptSetDirtyTracking.MIN_SIZE, HwptIoctls::setDirtyTracking));
        t.register(IoctlHandler.of(IommuHwptGetDirtyBitmap.NR, IommuHwptGetDirtyBitmap.SIZE,
                IommuHwptGetDirtyBitmap.MIN_SIZE, HwptIoctls::getDirtyBitmap));
        t.register(IoctlHandler.of(IommuHwptInvalidate.NR, IommuHwptInvalidate.SIZE, IommuHwptInvalidate.MIN_SIZE,
                HwptIoctls::invalidate));
    }

    /** The user data of {@code data_len} bytes at {@code data_uptr}, copied when the driver asks (EFAULT then). */
    static Supplier<UserData> userData(UserProcess process, int type, long uptr, int len) {
        return () -> {
            byte[] b = new byte[len];
            if (len > 0) {
                process.read(uptr, b, 0, len);
            }
            return new UserData(type, b);
        };
    }

    /** IOMMU_HWPT_ALLOC (§8.6): __reserved (EOPNOTSUPP), then the typed path; the object shows after the reply. */
    private static void alloc(IoctlCall c) {
        UserStruct cmd = c.cmd();
        if (cmd.u32(IommuHwptAlloc.OFFSET_RESERVED) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "HWPT_ALLOC __reserved is not zero");
        }
        int dataType = cmd.u32(IommuHwptAlloc.OFFSET_DATA_TYPE);
        int dataLen = cmd.u32(IommuHwptAlloc.OFFSET_DATA_LEN);
        if (dataLen < 0) {
            throw ErrnoException.of(Errno.ENOMEM, "data_len %d is too large", Integer.toUnsignedLong(dataLen));
        }
        HwPagetable h = HwPagetable.alloc(c.ctx(), cmd.u32(IommuHwptAlloc.OFFSET_FLAGS), cmd.u32(IommuHwptAlloc.OFFSET_DEV_ID),
                cmd.u32(IommuHwptAlloc.OFFSET_PT_ID), dataType, dataLen,
                userData(c.caller(), dataType, cmd.u64(IommuHwptAlloc.OFFSET_DATA_UPTR), dataLen),
                cmd.u32(IommuHwptAlloc.OFFSET_FAULT_ID));
        try {
            cmd.put32(IommuHwptAlloc.OFFSET_OUT_HWPT_ID, h.id());
            c.respond();
        } catch (RuntimeException e) {
            c.ctx().objects().abort(h);
            throw e;
        }
        c.ctx().objects().finalizeObject(h);
    }

    /** IOMMU_HWPT_SET_DIRTY_TRACKING (§8.7): flags other than ENABLE → EOPNOTSUPP (__reserved is not checked). */
    private static void setDirtyTracking(IoctlCall c) {
        UserStruct cmd = c.cmd();
        int flags = cmd.u32(IommuHwptSetDirtyTracking.OFFSET_FLAGS);
        if ((flags & ~IommuHwptSetDirtyTracking.FLAG_ENABLE) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "SET_DIRTY_TRACKING flags %#x has unknown bits", flags);
        }
        HwPagetable.setDirtyTracking(c.ctx(), cmd.u32(IommuHwptSetDirtyTracking.OFFSET_HWPT_ID),
                (flags & IommuHwptSetDirtyTracking.FLAG_ENABLE) != 0);
    }

    /** IOMMU_HWPT_GET_DIRTY_BITMAP (§8.8): unknown flags or __reserved → EOPNOTSUPP. */
    private static void getDirtyBitmap(IoctlCall c) {
        UserStruct cmd = c.cmd();
        if (cmd.u32(IommuHwptGetDirtyBitmap.OFFSET_RESERVED) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "GET_DIRTY_BITMAP __reserved is not zero");
        }
        HwPagetable.getDirtyBitmap(c.ctx(), c.caller(), cmd.u32(IommuHwptGetDirtyBitmap.OFFSET_HWPT_ID),
                cmd.u32(IommuHwptGetDirtyBitmap.OFFSET_FLAGS), cmd.u64(IommuHwptGetDirtyBitmap.OFFSET_IOVA),
                cmd.u64(IommuHwptGetDirtyBitmap.OFFSET_LENGTH), cmd.u64(IommuHwptGetDirtyBitmap.OFFSET_PAGE_SIZE),
                cmd.u64(IommuHwptGetDirtyBitmap.OFFSET_DATA));
    }

    /**
     * IOMMU_HWPT_INVALIDATE (§8.9): entry_num is written back with the number of entries handled EVEN ON ERROR;
     * a failing write-back is EFAULT, overriding the result.
     */
    private static void invalidate(IoctlCall c) {
        UserStruct cmd = c.cmd();
        if (cmd.u32(IommuHwptInvalidate.OFFSET_RESERVED) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "HWPT_INVALIDATE __reserved is not zero");
        }
        int done = 0;
        ErrnoException failure = null;
        try {
            done = invalidate(c.ctx(), c.caller(), cmd.u32(IommuHwptInvalidate.OFFSET_HWPT_ID),
                    cmd.u32(IommuHwptInvalidate.OFFSET_DATA_TYPE), cmd.u64(IommuHwptInvalidate.OFFSET_DATA_UPTR),
                    cmd.u32(IommuHwptInvalidate.OFFSET_ENTRY_LEN), cmd.u32(IommuHwptInvalidate.OFFSET_ENTRY_NUM));
        } catch (ErrnoException e) {
            failure = e;
            done = (int) e.progress();
        }
        cmd.put32(IommuHwptInvalidate.OFFSET_ENTRY_NUM, done);
        c.respond();
        if (failure != null) {
            throw failure;
        }
    }

    /** The typed path of IOMMU_HWPT_INVALIDATE (shared with {@link IommufdFd#hwptInvalidate}). */
    static int invalidate(IommufdContext ctx, UserProcess current, int hwptId, int dataType, long uptr, int entryLen,
            int entryNum) {
        if (entryNum != 0 && (uptr == 0 || entryLen == 0)) {
            throw ErrnoException.of(Errno.EINVAL, "entry_num %d needs data_uptr and entry_len", Integer.toUnsignedLong(entryNum));
        }
        return HwPagetable.invalidate(ctx, hwptId, new UserMemoryDataArray(current, dataType, uptr, entryLen, entryNum));
    }
}
