package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuHwptGetDirtyBitmap;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.UserDataArray;
import java.util.function.Supplier;

/**
 * A hardware page table ({@code struct iommufd_hw_pagetable}): one driver {@link IommuDomain} as an object of a
 * context. Either a {@link HwptPaging} (kernel-managed, mirrors an IOAS) or a {@link HwptNested} (user-managed
 * first stage over a nest-parent paging HWPT).
 *
 * <p>Devices attached to it hold one {@code users} reference each, so IOMMU_DESTROY is EBUSY while attached.
 * Immutable after creation.
 */
public abstract class HwPagetable extends IommufdObject {
    final IommufdContext ctx;
    /** The driver's domain; set once during allocation (null only while an allocation fails). */
    IommuDomain domain;
    /** {@code pasid_compat}: allocated with IOMMU_HWPT_ALLOC_PASID, so it may be attached to PASIDs. */
    final boolean pasidCompat;
    /** {@code hwpt->fault}: where I/O page faults of devices attached here go (set before finalize), or null. */
    FaultQueue fault;

    HwPagetable(ObjectKind kind, IommufdContext ctx, boolean pasidCompat) {
        super(kind);
        this.ctx = ctx;
        this.pasidCompat = pasidCompat;
    }

    /** The driver domain. */
    public IommuDomain domain() {
        return domain;
    }

    /** {@code find_hwpt_paging}: this HWPT if paging, a nested HWPT's parent; never null. */
    abstract HwptPaging paging();

    /** Whether the HWPT was allocated with IOMMU_HWPT_ALLOC_PASID. */
    public boolean pasidCompat() {
        return pasidCompat;
    }

    // ---------------------------------------------------------------- the typed paths of hw_pagetable.c

    /**
     * IOMMU_HWPT_ALLOC after the struct checks (§8.6 from step 2): the HWPT with its ID reserved but not yet
     * visible; the caller finalizes it (after copying the ID out) or aborts it.
     *
     * @param data the vendor data, read from user space only when the driver asks for it
     * @throws ErrnoException EINVAL (data_type/data_len mismatch; pt_id unknown or of a kind that cannot parent a
     *         HWPT), ENOENT (dev_id, fault_id), EOPNOTSUPP (flags),
     *         and the errors of {@link HwptPaging#alloc} / {@link HwptNested#alloc}
     */
    static HwPagetable alloc(IommufdContext ctx, int flags, int devId, int ptId, int dataType, int dataLen,
            Supplier<UserData> data, int faultId) {
        if ((dataType == IommuHwptAlloc.DATA_NONE && dataLen != 0) || (dataType != IommuHwptAlloc.DATA_NONE && dataLen == 0)) {
            throw ErrnoException.of(Errno.EINVAL, "data_type %#x with data_len %d", dataType, Integer.toUnsignedLong(dataLen));
        }
        IommufdDevice idev = ctx.objects().get(devId, ObjectKind.DEVICE, IommufdDevice.class);
        try {
            IommufdObject pt;
            try {
                pt = ctx.objects().get(ptId, ObjectKind.ANY, IommufdObject.class);
            } catch (ErrnoException e) {
                throw ErrnoException.of(Errno.EINVAL, "pt_id %d does not exist", ptId);
            }
            HwPagetable h;
            try {
                switch (pt.kind()) {
                    case IOAS -> {
                        Ioas ioas = (Ioas) pt;
                        ioas.mutex.lock();
                        try {
                            h = HwptPaging.alloc(ctx, ioas, idev, IommufdDevice.NO_PASID, flags, false, dataLen != 0 ? data : null);
                        } finally {
                            ioas.mutex.unlock();
                        }
                    }
                    case HWPT_PAGING -> h = HwptNested.alloc(ctx, (HwptPaging) pt, idev, flags, dataLen, data);
                    case VIOMMU -> h = HwptNested.allocOnViommu(ctx, (IommufdViommu) pt, idev, flags, data);
                    default -> throw ErrnoException.of(Errno.EINVAL, "pt_id %d is a %s, not an IOAS, HWPT_PAGING or VIOMMU",
                            ptId, pt.kind());
                }
            } finally {
                ctx.objects().put(pt);
            }
            if ((flags & DomainAllocFlags.FAULT_ID_VALID) != 0) {
                try {
                    h.useFault(faultId);
                } catch (RuntimeException e) {
                    ctx.objects().abort(h);
                    throw e;
                }
            }
            return h;
        } finally {
            ctx.objects().put(idev);
        }
    }

    /**
     * {@code iommufd_get_fault} + {@code hwpt->fault = fault}: the HWPT holds a {@code users} reference on the FAULT
     * object until it is destroyed ({@link #putFault}).
     *
     * @throws ErrnoException ENOENT when {@code faultId} is not a FAULT object
     */
    void useFault(int faultId) {
        FaultQueue f = ctx.objects().get(faultId, ObjectKind.FAULT, FaultQueue.class);
        fault = f; // the lookup reference becomes the HWPT's long-term one
    }

    /** Gives back the FAULT reference (destroy and abort of both HWPT kinds). */
    final void putFault() {
        FaultQueue f = fault;
        if (f != null) {
            fault = null;
            ctx.objects().put(f);
        }
    }

    /**
     * IOMMU_HWPT_SET_DIRTY_TRACKING after the flags check (§8.7).
     *
     * @throws ErrnoException ENOENT (not a HWPT_PAGING), EOPNOTSUPP (allocated without DIRTY_TRACKING)
     */
    static void setDirtyTracking(IommufdContext ctx, int hwptId, boolean enable) {
        HwptPaging h = ctx.objects().get(hwptId, ObjectKind.HWPT_PAGING, HwptPaging.class);
        try {
            h.ioas.iopt().setDirtyTracking(h.domain, enable);
        } finally {
            ctx.objects().put(h);
        }
    }

    /**
     * IOMMU_HWPT_GET_DIRTY_BITMAP (§8.8, §5.3): sets the bits of dirty IOVA in the user bitmap at {@code data}.
     *
     * @throws ErrnoException EOPNOTSUPP (flags other than NO_CLEAR; no dirty tracking), ENOENT, EOVERFLOW, EINVAL
     */
    static void getDirtyBitmap(IommufdContext ctx, UserProcess current, int hwptId, int flags, long iova, long length,
            long pageSize, long data) {
        if ((flags & ~IommuHwptGetDirtyBitmap.FLAG_NO_CLEAR) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "GET_DIRTY_BITMAP flags %#x has unknown bits", flags);
        }
        HwptPaging h = ctx.objects().get(hwptId, ObjectKind.HWPT_PAGING, HwptPaging.class);
        try {
            IovaBitmap bitmap = new IovaBitmap(current, data, iova, length, pageSize == 0 ? 1 : pageSize);
            h.ioas.iopt().readAndClearDirty(h.domain, flags, iova, length, pageSize, bitmap);
        } finally {
            ctx.objects().put(h);
        }
    }

    /**
     * IOMMU_HWPT_INVALIDATE after the struct checks (§8.9 steps 2-4).
     *
     * @return entries handled
     * @throws ErrnoException with {@link ErrnoException#progress()} = entries handled before the failing one
     */
    static int invalidate(IommufdContext ctx, int hwptId, UserDataArray array) {
        if (array.entryCount() != 0 && array.entryLength() == 0) {
            throw ErrnoException.of(Errno.EINVAL, "entry_num %d with entry_len 0", Integer.toUnsignedLong(array.entryCount()));
        }
        IommufdObject obj = ctx.objects().get(hwptId, ObjectKind.ANY, IommufdObject.class);
        try {
            return switch (obj.kind()) {
                case HWPT_NESTED -> ((HwptNested) obj).domain.cacheInvalidateUser(array);
                case VIOMMU -> ((IommufdViommu) obj).cacheInvalidate(array);
                default -> throw ErrnoException.of(Errno.EINVAL, "hwpt_id %d is a %s, not a nested HWPT or vIOMMU", hwptId,
                        obj.kind());
            };
        } finally {
            ctx.objects().put(obj);
        }
    }
}
