package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.UserDataArray;
import dev.iommufd.spi.Viommu;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * A vIOMMU ({@code struct iommufd_viommu}, viommu.c): the driver's {@link Viommu} over a nest-parent
 * {@link HwptPaging} on one physical IOMMU instance, with its vDEVICEs and vEVENTQs.
 *
 * <h2>References</h2>
 * The vIOMMU holds a {@code users} reference on its parent HWPT; vDEVICEs, nested HWPTs, vEVENTQs and HW queues
 * on it each hold one on the vIOMMU (IOMMU_DESTROY answers EBUSY while any exists). It does not hold the device
 * it was allocated with: the device only selects the IOMMU instance.
 *
 * <h2>Locks</h2>
 * {@link #vdevs} ({@code viommu->vdevs}) is guarded by {@code this}. {@link #veventqs} is guarded by
 * {@link #veventqLock} ({@code veventqs_rwsem}: writers add and remove, event producers read); a vEVENTQ's own lock
 * is taken under it. Fields set at allocation are immutable.
 */
public final class IommufdViommu extends IommufdObject {
    final IommufdContext ctx;
    final HwptPaging parent;
    final IommuDriver driver;
    /** The IOMMU instance ({@code iommu_dev}): the unit name of the device it was allocated with. */
    final String unit;
    final int type;
    Viommu driverViommu;
    final Map<Long, VDevice> vdevs = new HashMap<>();
    final ReentrantReadWriteLock veventqLock = new ReentrantReadWriteLock();
    final List<Veventq> veventqs = new ArrayList<>();
    private boolean holdsParent;
    /** The MMIO region the driver exposes for mmap on the iommufd (v6.17), or null. Set at allocation. */
    MmapRegions.Region mmapRegion;

    private IommufdViommu(IommufdContext ctx, HwptPaging parent, IommuDriver driver, String unit, int type) {
        super(ObjectKind.VIOMMU);
        this.ctx = ctx;
        this.parent = parent;
        this.driver = driver;
        this.unit = unit;
        this.type = type;
    }

    /**
     * The driver's output data for {@code data_uptr}: {@link Viommu#outputStruct(long)} with the registered mmap
     * offset (0 without a region), as the kernel driver writes the offset {@code iommufd_viommu_alloc_mmap} gave it.
     */
    byte[] userDataOut() {
        return mmapRegion != null ? driverViommu.outputStruct(mmapRegion.offset) : driverViommu.userDataOut();
    }

    /** The driver's vIOMMU. */
    public Viommu driverViommu() {
        return driverViommu;
    }

    public HwptPaging parent() {
        return parent;
    }

    /**
     * {@code iommufd_viommu_alloc_ioctl} up to the reply (§10.1): flags / type DEFAULT (EOPNOTSUPP), the device
     * (ENOENT), a driver without vIOMMUs (EOPNOTSUPP), the HWPT_PAGING (ENOENT), not NEST_PARENT (EINVAL), the
     * object with its parent reference, the driver's {@code viommu_init} (its errors; EOPNOTSUPP for another type).
     * ID reserved, not finalized.
     */
    static IommufdViommu alloc(IommufdContext ctx, int flags, int type, int devId, int hwptId, Supplier<UserData> data) {
        if (flags != 0 || type == 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "VIOMMU_ALLOC flags %#x, type %d", flags, type);
        }
        IommufdDevice idev = ctx.objects().get(devId, ObjectKind.DEVICE, IommufdDevice.class);
        try {
            if (!idev.driver().capabilities().contains(Capability.VIOMMU)) {
                throw ErrnoException.of(Errno.EOPNOTSUPP, "driver %s has no vIOMMU support", idev.driver().provider().id());
            }
            HwptPaging hwpt = ctx.objects().get(hwptId, ObjectKind.HWPT_PAGING, HwptPaging.class);
            boolean keep = false;
            try {
                if (!hwpt.nestParent) {
                    throw ErrnoException.of(Errno.EINVAL, "HWPT %d is not a NEST_PARENT HWPT", hwptId);
                }
                IommufdViommu v = new IommufdViommu(ctx, hwpt, idev.driver(), idev.handle().unit(), type);
                ctx.objects().allocate(v);
                v.holdsParent = true;
                keep = true; // the lookup reference becomes the vIOMMU's reference on its parent
                try {
                    FaultInjection.check("viommu_init");
                    v.driverViommu = idev.driver().allocViommu(idev.handle(), hwpt.domain, type, data == null ? null : data.get());
                    ctx.subsystem().events.register(v.driverViommu, v);
                    if (v.driverViommu.mmapLength() > 0) { // the driver's iommufd_viommu_alloc_mmap
                        v.mmapRegion = ctx.mmaps.register(v, v.driverViommu.mmapPhysicalAddress(), v.driverViommu.mmapLength());
                    }
                } catch (RuntimeException e) {
                    ctx.objects().abort(v);
                    throw e;
                }
                return v;
            } finally {
                if (!keep) {
                    ctx.objects().put(hwpt);
                }
            }
        } finally {
            ctx.objects().put(idev);
        }
    }

    /** {@code iommufd_viommu_report_event}: to the vEVENTQ of {@code type}, else dropped (EOPNOTSUPP to the driver). */
    void reportEvent(int eventType, byte[] data) {
        if (data == null || data.length == 0) {
            return; // the kernel WARNs and returns EINVAL
        }
        veventqLock.readLock().lock();
        try {
            for (Veventq q : veventqs) {
                if (q.type == eventType) {
                    q.report(data);
                    return;
                }
            }
        } finally {
            veventqLock.readLock().unlock();
        }
    }

    /** IOMMU_HWPT_INVALIDATE with hwpt_id = this vIOMMU: the driver's {@code cache_invalidate}. */
    int cacheInvalidate(UserDataArray array) {
        return driverViommu.cacheInvalidate(array);
    }

    /** The vDEVICE with virtual ID {@code virtId} ({@code iommufd_viommu_find_dev}), or null. */
    public synchronized VDevice findVdev(long virtId) {
        return vdevs.get(virtId);
    }

    /** Destroy and abort: the driver's destroy, the parent reference. */
    @Override
    protected void destroy() {
        if (mmapRegion != null) { // no VMA can be live: each holds a users reference
            ctx.mmaps.unregister(mmapRegion);
            mmapRegion = null;
        }
        if (driverViommu != null) {
            ctx.subsystem().events.unregister(driverViommu);
            driverViommu.destroy();
            driverViommu = null;
        }
        if (holdsParent) {
            holdsParent = false;
            ctx.objects().put(parent);
        }
    }
}
