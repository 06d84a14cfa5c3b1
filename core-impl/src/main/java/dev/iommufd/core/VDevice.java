package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.Viommu;

/**
 * A vDEVICE ({@code struct iommufd_vdevice}, viommu.c): a device's virtual ID (a guest StreamID or RID) on a
 * vIOMMU.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>At most one vDEVICE per device, on any vIOMMU ({@link IommufdDevice#vdev}, guarded by the device's igroup
 *       lock); virtual IDs are unique per vIOMMU ({@link IommufdViommu#vdevs}, guarded by the vIOMMU).
 *   <li>Holds a {@code users} reference on its vIOMMU. It does not block unbinding its device: unbind destroys it
 *       and tombstones its ID ({@link #revoke}), so the ID is never reused until the context closes and
 *       IOMMU_DESTROY of it answers ENOENT.
 * </ul>
 */
public final class VDevice extends IommufdObject {
    final IommufdContext ctx;
    final IommufdViommu viommu;
    final IommufdDevice idev;
    final long virtId;
    private Viommu.VDevice driverVdev;
    private boolean inViommu;
    private boolean holdsViommu;
    private boolean onDevice;

    private VDevice(IommufdContext ctx, IommufdViommu viommu, IommufdDevice idev, long virtId) {
        super(ObjectKind.VDEVICE);
        this.ctx = ctx;
        this.viommu = viommu;
        this.idev = idev;
        this.virtId = virtId;
    }

    public long virtId() {
        return virtId;
    }

    /**
     * {@code iommufd_vdevice_alloc_ioctl} up to the reply (§10.2): the vIOMMU (ENOENT), the device (ENOENT), another
     * IOMMU instance (EINVAL), a device being unbound (ENOENT), a device with a vDEVICE already (EEXIST), the object,
     * the virtual ID taken on the vIOMMU (EEXIST), the driver's vDEVICE. ID reserved, not finalized.
     */
    static VDevice alloc(IommufdContext ctx, int viommuId, int devId, long virtId) {
        IommufdViommu v = ctx.objects().get(viommuId, ObjectKind.VIOMMU, IommufdViommu.class);
        try {
            IommufdDevice idev = ctx.objects().get(devId, ObjectKind.DEVICE, IommufdDevice.class);
            try {
                if (idev.driver() != v.driver || !idev.handle().unit().equals(v.unit)) {
                    throw ErrnoException.of(Errno.EINVAL, "device %d is behind IOMMU %s, vIOMMU %d is on %s", devId,
                            idev.handle().unit(), viommuId, v.unit);
                }
                VDevice vd = new VDevice(ctx, v, idev, virtId);
                idev.igroup.lock.lock();
                try {
                    if (idev.vdev != null) {
                        throw ErrnoException.of(Errno.EEXIST, "device %d already has vDEVICE %d", devId, idev.vdev.id());
                    }
                    ctx.objects().allocate(vd);
                    ctx.objects().addUser(v);
                    vd.holdsViommu = true;
                    idev.vdev = vd;
                    vd.onDevice = true;
                    try {
                        synchronized (v) {
                            if (v.vdevs.containsKey(virtId)) {
                                throw ErrnoException.of(Errno.EEXIST, "virt_id %#x is taken on vIOMMU %d", virtId, viommuId);
                            }
                            v.vdevs.put(virtId, vd);
                            vd.inViommu = true;
                        }
                        FaultInjection.check("vdevice_init");
                        vd.driverVdev = v.driverViommu.allocVDevice(idev.handle(), virtId);
                    } catch (RuntimeException e) {
                        ctx.objects().abort(vd); // destroy re-takes the (reentrant) igroup lock
                        throw e;
                    }
                    return vd;
                } finally {
                    idev.igroup.lock.unlock();
                }
            } finally {
                ctx.objects().put(idev);
            }
        } finally {
            ctx.objects().put(v);
        }
    }

    /**
     * The device is being unbound ({@code iommufd_device_pre_destroy}): a live vDEVICE is destroyed and its ID
     * tombstoned. A vDEVICE already being destroyed is left to that.
     */
    static void revoke(IommufdDevice idev) {
        VDevice vd;
        idev.igroup.lock.lock();
        try {
            vd = idev.vdev;
        } finally {
            idev.igroup.lock.unlock();
        }
        if (vd == null) {
            return;
        }
        ObjectTable t = vd.ctx.objects();
        synchronized (t) {
            if (!t.isLive(vd.id(), ObjectKind.VDEVICE)) {
                return;
            }
            VDevice live = t.get(vd.id(), ObjectKind.VDEVICE, VDevice.class);
            t.put(live);
            if (live != vd) {
                return;
            }
            t.tombstone(vd);
        }
        vd.destroy();
    }

    /** Destroy and abort: the driver's vDEVICE, the virtual ID, the device link, the vIOMMU reference. */
    @Override
    protected void destroy() {
        if (driverVdev != null) {
            driverVdev.destroy();
            driverVdev = null;
        }
        if (inViommu) {
            inViommu = false;
            synchronized (viommu) {
                viommu.vdevs.remove(virtId, this);
            }
        }
        if (onDevice) {
            onDevice = false;
            idev.igroup.lock.lock();
            try {
                if (idev.vdev == this) {
                    idev.vdev = null;
                }
            } finally {
                idev.igroup.lock.unlock();
            }
        }
        if (holdsViommu) {
            holdsViommu = false;
            ctx.objects().put(viommu);
        }
    }
}
