package dev.iommufd.core;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.IommuGroup;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IommuDomain;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * iommufd's state for one IOMMU group in one context ({@code struct iommufd_group}, v6.15+ form): what each PASID
 * of the group is attached to. PASID 0 ({@code IOMMU_NO_PASID}) is the RID: its attachment is group-wide (every
 * function of the group translates through one domain); other PASIDs are attached per PASID.
 *
 * <h2>Invariants (guarded by {@link #lock})</h2>
 * <ul>
 *   <li>An {@link Attachment} in {@link #attachments} has a non-null HWPT and at least one device; each device
 *       holds one {@code users} reference on that HWPT and one on itself.
 *   <li>The hardware (the driver's context entries) is attached to {@code attachment.hwpt.domain} exactly while the
 *       attachment exists; otherwise the PASID is blocked.
 * </ul>
 * {@link #refs} (bound devices using the igroup) is guarded by the context's {@code groups} map.
 */
final class Igroup {
    final IommufdContext ctx;
    final IommuGroup group;
    /** {@code igroup->lock}: taken after an IOAS's mutex and before an io_pagetable's lock. */
    final ReentrantLock lock = new ReentrantLock();
    /** {@code igroup->pasid_attach}: pasid → attachment. */
    final Map<Integer, Attachment> attachments = new HashMap<>();
    /** The group's SW_MSI window start, or -1 ({@code sw_msi_start}). */
    long swMsiStart = -1;
    /** Bound devices sharing this igroup (guarded by ctx.groups). */
    private int refs;
    /** The domain detached functions go to: the driver's blocked domain, or an empty paging domain (lazy). */
    private IommuDomain blocking;
    private boolean blockingOwned;

    /** {@code struct iommufd_attach}: one HWPT and the devices attached to it at one PASID. */
    static final class Attachment {
        HwPagetable hwpt;
        /** The attached devices, in attach order ({@code device_array}). */
        final List<IommufdDevice> devices = new ArrayList<>(2);
    }

    private Igroup(IommufdContext ctx, IommuGroup group) {
        this.ctx = ctx;
        this.group = group;
    }

    /** {@code iommufd_get_group}: the context's igroup of {@code group}, created on first use, with one more ref. */
    static Igroup get(IommufdContext ctx, IommuGroup group) {
        synchronized (ctx.groups) {
            Igroup g = ctx.groups.computeIfAbsent(group.id(), id -> new Igroup(ctx, group));
            g.refs++;
            return g;
        }
    }

    /** {@code iommufd_put_group}: the last bound device gone, the igroup (and its private blocking domain) goes. */
    void put() {
        synchronized (ctx.groups) {
            if (--refs > 0) {
                return;
            }
            ctx.groups.remove(group.id());
        }
        lock.lock();
        try {
            if (blockingOwned && blocking != null) {
                blocking.free();
            }
            blocking = null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The driver handles of every function of the group (the group-wide RID attach programs them all). Probes
     * functions not yet probed.
     */
    List<DeviceHandle> handles() {
        List<PciFunction> members = group.members();
        List<DeviceHandle> out = new ArrayList<>(members.size());
        for (PciFunction f : members) {
            out.add(ctx.subsystem().iommu().probe(f));
        }
        return out;
    }

    /**
     * The group's blocking domain ({@code group->blocking_domain}): the driver's blocked domain, or (for a driver
     * without one) an empty paging domain allocated for {@code device}. Caller holds {@link #lock}.
     */
    IommuDomain blockingDomain(DeviceHandle device) {
        if (blocking == null) {
            try {
                blocking = device.driver().blockedDomain();
            } catch (ErrnoException e) {
                blocking = device.driver().allocPagingDomain(device, 0, null);
                blockingOwned = true;
            }
        }
        return blocking;
    }

    /** Whether any PASID other than the RID is attached (caller holds {@link #lock}). */
    boolean hasPasidAttachment() {
        for (Integer pasid : attachments.keySet()) {
            if (pasid != IommufdDevice.NO_PASID) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return "igroup " + group.id();
    }
}
