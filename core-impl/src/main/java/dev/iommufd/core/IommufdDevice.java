package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IommuDriver;

/**
 * A device bound to a context ({@code struct iommufd_device}): the DMA-ownership claim of one PCI function by
 * iommufd, made by the VFIO cdev's BIND_IOMMUFD ({@code iommufd_device_bind}). Its {@code users} count holds one
 * reference for the binding driver (so IOMMU_DESTROY of a device ID is always EBUSY) and one per attachment.
 *
 * <h2>Binding (kernel order, §7.2)</h2>
 * <ol>
 *   <li>probe: the function's IOMMU unit must be driven by a bound driver (ENODEV);
 *   <li>{@code IOMMU_CAP_CACHE_COHERENCY}: every modelled IOMMU maps with IOMMU_CACHE, nothing to refuse;
 *   <li>the igroup of the function's IOMMU group (shared by the group's bound functions);
 *   <li>isolated MSI: every modelled machine remaps or translates MSIs (no {@code allow_unsafe_interrupts} case);
 *   <li>DMA ownership: EBUSY when the function is bound already or its group belongs to another context;
 *   <li>the object, with {@link #enforceCacheCoherency} from the driver's ENFORCE_CACHE_COHERENCY capability.
 * </ol>
 * A device bound through the typed API also holds the file open (as a VFIO cdev holds its iommufd); the selftest
 * device does not (the kernel's {@code iommufd_selftest_is_mock_dev} exception), so closing the file destroys it.
 *
 * <p>Immutable after bind; attachment state lives in the {@link Igroup}.
 */
public final class IommufdDevice extends IommufdObject {
    /** {@code IOMMU_NO_PASID}: the requester ID without a PASID. */
    public static final int NO_PASID = 0;

    final IommufdContext ctx;
    final PciFunction function;
    final DeviceHandle handle;
    /** The bound driver of the function's unit ({@code dev->iommu->iommu_dev->ops}). */
    final IommuDriver driver;
    final Igroup igroup;
    final boolean enforceCacheCoherency;
    private final boolean holdsFile;
    private boolean bound;
    private boolean holdingFile;
    /** {@code idev->vdev}: the device's vDEVICE, or null (guarded by the igroup lock; core3). */
    VDevice vdev;

    private IommufdDevice(IommufdContext ctx, PciFunction function, IommuDriver driver, DeviceHandle handle, Igroup igroup,
            boolean holdsFile) {
        super(ObjectKind.DEVICE);
        this.ctx = ctx;
        this.function = function;
        this.driver = driver;
        this.handle = handle;
        this.igroup = igroup;
        this.enforceCacheCoherency = driver.deviceCapable(handle, Capability.ENFORCE_CACHE_COHERENCY);
        this.holdsFile = holdsFile;
    }

    public PciFunction function() {
        return function;
    }

    public DeviceHandle handle() {
        return handle;
    }

    public IommuDriver driver() {
        return driver;
    }

    // ---------------------------------------------------------------- bind / unbind

    /**
     * {@code iommufd_device_bind}.
     *
     * @param holdsFile whether the binding keeps the iommufd file open (VFIO does; the selftest device does not)
     * @throws ErrnoException ENODEV (no driver for the function's unit), EBUSY (already bound / group owned by
     *         another context)
     */
    public static IommufdDevice bind(IommufdContext ctx, PciFunction function, boolean holdsFile) {
        IommuCore core = ctx.subsystem().iommu();
        DeviceHandle handle = core.probe(function);
        IommuDriver driver = core.driverOf(function);
        Igroup igroup = Igroup.get(ctx, function.group());
        try {
            core.claim(function, ctx);
        } catch (RuntimeException e) {
            igroup.put();
            throw e;
        }
        IommufdDevice d = new IommufdDevice(ctx, function, driver, handle, igroup, holdsFile);
        try {
            ctx.objects().allocate(d);
        } catch (RuntimeException e) {
            core.unclaim(function, ctx);
            igroup.put();
            throw e;
        }
        d.bound = true;
        if (holdsFile) {
            try {
                ctx.addFileReference();
                d.holdingFile = true;
            } catch (RuntimeException e) {
                ctx.objects().abort(d);
                throw e;
            }
        }
        ctx.objects().addUser(d); // the binding driver's reference
        ctx.objects().finalizeObject(d);
        return d;
    }

    /**
     * {@code iommufd_device_unbind}: the driver gives back its reference; the device must be detached.
     *
     * @throws ErrnoException EBUSY while attached (or looked up by an in-flight call)
     */
    public void unbind() {
        VDevice.revoke(this); // iommufd_device_pre_destroy: tombstones the vDEVICE (core3)
        ctx.objects().destroyByOwner(this);
    }

    @Override
    protected void destroy() {
        if (!bound) {
            return;
        }
        bound = false;
        ctx.subsystem().iommu().unclaim(function, ctx);
        igroup.put();
        if (holdingFile) {
            holdingFile = false;
            ctx.releaseFileReference();
        }
    }

    // ---------------------------------------------------------------- attach / replace / detach

    /**
     * {@code iommufd_device_attach(idev, pasid, &pt_id)}: attaches to a HWPT, or to an IOAS through an automatic
     * domain. The device gains one reference per attachment.
     *
     * @return the HWPT actually attached
     * @throws ErrnoException ENOENT (pt_id), EINVAL (pt_id of another kind; group on another HWPT; incompatible),
     *         EBUSY (already attached at that PASID), EADDRINUSE (reserved regions vs. mappings), driver errors
     */
    public int attach(int pasid, int ptId) {
        int hwptId = changePt(pasid, ptId, true);
        ctx.objects().addUser(this);
        return hwptId;
    }

    /**
     * {@code iommufd_device_replace}: atomically moves an attached (device, PASID) to another HWPT or IOAS; on
     * failure nothing changes.
     *
     * @throws ErrnoException EINVAL when not attached at that PASID; as {@link #attach}
     */
    public int replace(int pasid, int ptId) {
        return changePt(pasid, ptId, false);
    }

    /** {@code iommufd_device_detach}: no-op when nothing is attached at that PASID. */
    public void detach(int pasid) {
        HwPagetable h = DeviceAttach.detach(this, pasid);
        if (h != null) {
            DeviceAttach.put(h);
            ctx.objects().put(this);
        }
    }

    /** {@code iommufd_device_change_pt}. */
    private int changePt(int pasid, int ptId, boolean doAttach) {
        IommufdObject pt = ctx.objects().get(ptId, ObjectKind.ANY, IommufdObject.class);
        HwPagetable[] old = new HwPagetable[1];
        int result;
        try {
            switch (pt.kind()) {
                case HWPT_PAGING, HWPT_NESTED -> {
                    HwPagetable hwpt = (HwPagetable) pt;
                    if (doAttach) {
                        DeviceAttach.attach(hwpt, this, pasid);
                    } else {
                        old[0] = DeviceAttach.replace(hwpt, this, pasid);
                    }
                    result = hwpt.id();
                }
                case IOAS -> result = autoGetDomain(pasid, (Ioas) pt, doAttach, old);
                default -> throw ErrnoException.of(Errno.EINVAL, "pt_id %d is a %s, not an IOAS or HWPT", ptId, pt.kind());
            }
        } finally {
            ctx.objects().put(pt);
        }
        if (old[0] != null) {
            DeviceAttach.put(old[0]);
        }
        return result;
    }

    /**
     * {@code iommufd_device_auto_get_domain}: under the IOAS's mutex, tries every automatic HWPT of the IOAS in
     * creation order (EINVAL = incompatible, try the next; any other error fails); else allocates a new automatic
     * HWPT (attached before it is filled, for attach).
     */
    private int autoGetDomain(int pasid, Ioas ioas, boolean doAttach, HwPagetable[] old) {
        ioas.mutex.lock();
        try {
            for (int i = 0; i < ioas.hwpts.size(); i++) {
                HwptPaging h = ioas.hwpts.get(i);
                if (!h.autoDomain || !ctx.objects().isLive(h.id(), ObjectKind.HWPT_PAGING)) {
                    continue;
                }
                HwptPaging locked;
                try {
                    locked = ctx.objects().get(h.id(), ObjectKind.HWPT_PAGING, HwptPaging.class);
                } catch (ErrnoException e) {
                    continue; // being destroyed
                }
                try {
                    if (doAttach) {
                        DeviceAttach.attach(locked, this, pasid);
                    } else {
                        old[0] = DeviceAttach.replace(locked, this, pasid);
                    }
                    return locked.id();
                } catch (ErrnoException e) {
                    if (e.errno() != Errno.EINVAL) {
                        throw e;
                    }
                } finally {
                    ctx.objects().put(locked);
                }
            }
            HwptPaging h = HwptPaging.alloc(ctx, ioas, this, pasid, 0, doAttach, null);
            h.autoDomain = true;
            if (!doAttach) {
                try {
                    old[0] = DeviceAttach.replace(h, this, pasid);
                } catch (RuntimeException e) {
                    ctx.objects().abort(h);
                    throw e;
                }
            }
            ctx.objects().finalizeObject(h);
            return h.id();
        } finally {
            ioas.mutex.unlock();
        }
    }

    /** The PASIDs ({@link #NO_PASID} included) at which this device has an HWPT attached, ascending (a snapshot). */
    public int[] attachedPasids() {
        igroup.lock.lock();
        try {
            return igroup.attachments.entrySet().stream().filter(e -> e.getValue().devices.contains(this))
                    .mapToInt(java.util.Map.Entry::getKey).sorted().toArray();
        } finally {
            igroup.lock.unlock();
        }
    }

    /** The HWPT attached at {@code pasid}, or null (a snapshot). */
    public HwPagetable attachedHwpt(int pasid) {
        igroup.lock.lock();
        try {
            Igroup.Attachment a = igroup.attachments.get(pasid);
            return a == null || !a.devices.contains(this) ? null : a.hwpt;
        } finally {
            igroup.lock.unlock();
        }
    }

    // ---------------------------------------------------------------- IOMMU_GET_HW_INFO

    /**
     * IOMMU_GET_HW_INFO without the user buffer (§7.14): flags (EOPNOTSUPP), the device (ENOENT), the driver's
     * {@code hw_info} for the requested type (0 = default; any value without FLAG_INPUT_TYPE is the default), and
     * the capabilities: DIRTY_TRACKING from the device capability, the PASID bits from the driver.
     */
    static HwInfo hwInfo(IommufdContext ctx, int devId, int flags, int dataType) {
        if ((flags & ~IommuHwInfo.FLAG_INPUT_TYPE) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "GET_HW_INFO flags %#x has unknown bits", flags);
        }
        IommufdDevice d = ctx.objects().get(devId, ObjectKind.DEVICE, IommufdDevice.class);
        try {
            int requested = (flags & IommuHwInfo.FLAG_INPUT_TYPE) != 0 ? dataType : IommuHwInfo.TYPE_NONE;
            HwInfo info = d.driver().hwInfo(d.handle, requested);
            long caps = info.capabilities() & (HwInfo.CAP_PCI_PASID_EXEC | HwInfo.CAP_PCI_PASID_PRIV);
            if (d.driver().deviceCapable(d.handle, Capability.DIRTY_TRACKING)) {
                caps |= HwInfo.CAP_DIRTY_TRACKING;
            }
            return new HwInfo(info.type(), info.data(), caps, d.handle.maxPasidLog2());
        } finally {
            ctx.objects().put(d);
        }
    }

    @Override
    public String toString() {
        return "DEVICE#" + id() + " (" + function.address() + ")";
    }
}
