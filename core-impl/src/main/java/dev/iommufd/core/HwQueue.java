package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.Viommu;

/**
 * A hardware queue ({@code struct iommufd_hw_queue}, viommu.c, v6.17): guest queue memory at an IOVA of the
 * vIOMMU's parent HWPT, handed to the vIOMMU as a physical address.
 *
 * <h2>Pinning</h2>
 * The queue's pages are pinned through an internal access ({@link IoPageTable#internalPin}) for the queue's
 * lifetime; those areas answer IOAS_UNMAP with EBUSY. The pages must be physically contiguous.
 *
 * <h2>References</h2>
 * Holds a {@code users} reference on its vIOMMU, and on the queue the driver says it depends on
 * ({@code iommufd_hw_queue_depend}), so queues are destroyed in reverse order (EBUSY otherwise). Immutable after
 * allocation; destroy runs once.
 */
public final class HwQueue extends IommufdObject {
    final IommufdContext ctx;
    final IommufdViommu viommu;
    final int type;
    final long baseIova;
    final long length;
    private long pinIova;
    private long pinLength;
    private Ioas pinnedIoas;
    private Viommu.HwQueue driverQueue;
    private HwQueue dependsOn;
    private boolean holdsViommu;

    private HwQueue(IommufdContext ctx, IommufdViommu viommu, int type, long baseIova, long length) {
        super(ObjectKind.HW_QUEUE);
        this.ctx = ctx;
        this.viommu = viommu;
        this.type = type;
        this.baseIova = baseIova;
        this.length = length;
    }

    /**
     * {@code iommufd_hw_queue_alloc_ioctl} up to the reply (§10.3): flags / type DEFAULT (EOPNOTSUPP), length 0
     * (EINVAL), IOVA overflow (EOVERFLOW), the vIOMMU (ENOENT), a type the vIOMMU does not support (EOPNOTSUPP),
     * the object, the pin (ERANGE, ENOENT, EINVAL, EPERM; EFAULT when not contiguous), the driver's
     * {@code hw_queue_init_phys} (its errors). ID reserved, not finalized.
     */
    static HwQueue alloc(IommufdContext ctx, int flags, int viommuId, int type, int index, long iova, long length) {
        if (flags != 0 || type == 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "HW_QUEUE_ALLOC flags %#x, type %d", flags, type);
        }
        if (length == 0) {
            throw ErrnoException.of(Errno.EINVAL, "HW queue length 0");
        }
        if (Long.compareUnsigned(iova + length - 1, iova) < 0) {
            throw ErrnoException.of(Errno.EOVERFLOW, "nesting_parent_iova %#x + length %#x overflows", iova, length);
        }
        IommufdViommu v = ctx.objects().get(viommuId, ObjectKind.VIOMMU, IommufdViommu.class);
        try {
            if (v.driverViommu.hwQueueSize(type) == 0) {
                throw ErrnoException.of(Errno.EOPNOTSUPP, "vIOMMU %d has no HW queues of type %d", viommuId, type);
            }
            HwQueue q = new HwQueue(ctx, v, type, iova, length);
            ctx.objects().allocate(q);
            try {
                long basePa = q.pin();
                ctx.objects().addUser(v);
                q.holdsViommu = true;
                FaultInjection.check("hw_queue_init_phys");
                q.driverQueue = v.driverViommu.initHwQueue(type, index, iova, basePa, length);
                Viommu.HwQueue dep = q.driverQueue.dependsOn();
                if (dep != null) {
                    for (HwQueue other : ctx.objects().live(ObjectKind.HW_QUEUE, HwQueue.class)) {
                        if (other.driverQueue == dep) {
                            ctx.objects().addUser(other);
                            q.dependsOn = other;
                        }
                    }
                }
            } catch (RuntimeException e) {
                ctx.objects().abort(q);
                throw e;
            }
            return q;
        } finally {
            ctx.objects().put(v);
        }
    }

    /** {@code iommufd_hw_queue_alloc_phys}: pins the pages, checks contiguity. @return the base physical address */
    private long pin() {
        long page = IoPages.PAGE_SIZE;
        long aligned = baseIova & -page;
        long offset = baseIova - aligned;
        long span = offset + length;
        if (Long.compareUnsigned(span, length) < 0 || Long.compareUnsigned(span, -page) > 0) {
            throw ErrnoException.of(Errno.ERANGE, "HW queue span %#x + %#x overflows", offset, length);
        }
        long npages = (span + page - 1) / page;
        if (npages > Integer.MAX_VALUE) {
            throw ErrnoException.of(Errno.ENOMEM, "HW queue of %d pages", npages);
        }
        Ioas ioas = viommu.parent.ioas;
        long[] pa = ioas.iopt().internalPin(aligned, npages * page);
        pinnedIoas = ioas;
        pinIova = aligned;
        pinLength = npages * page;
        for (int i = 1; i < pa.length; i++) {
            if (pa[i] != pa[0] + i * page) {
                throw ErrnoException.of(Errno.EFAULT, "HW queue memory at IOVA %#x is not physically contiguous", baseIova);
            }
        }
        return pa[0] + offset;
    }

    /** Destroy and abort: the driver's queue, the dependency, the pins, the vIOMMU reference. */
    @Override
    protected void destroy() {
        if (driverQueue != null) {
            driverQueue.destroy();
            driverQueue = null;
        }
        if (dependsOn != null) {
            ctx.objects().put(dependsOn);
            dependsOn = null;
        }
        if (pinnedIoas != null) {
            pinnedIoas.iopt().internalUnpin(pinIova, pinLength);
            pinnedIoas = null;
        }
        if (holdsViommu) {
            holdsViommu = false;
            ctx.objects().put(viommu);
        }
    }
}
