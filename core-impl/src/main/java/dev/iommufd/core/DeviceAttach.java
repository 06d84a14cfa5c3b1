package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IommuDomain;
import java.util.List;

/**
 * Attaching devices to HWPTs (device.c, v6.15+ PASID model, §7.15): the igroup bookkeeping, device reserved
 * regions entering the IOAS, the PASID compatibility rules, and the driver calls. Every method takes the device's
 * igroup lock; callers that select automatic domains hold the IOAS's mutex first.
 *
 * <h2>Rules</h2>
 * <ul>
 *   <li>All devices of a group share one HWPT per PASID (another HWPT: EINVAL); a device attached twice at one
 *       PASID: EBUSY. Only the first device of a PASID programs the hardware (group-wide for the RID).
 *   <li>RID attachments (paging, or nested through their parent) put the device's reserved regions into the
 *       IOAS; PASID attachments add none.
 *   <li>A PASID may only use a PASID-compatible HWPT (IOMMU_HWPT_ALLOC_PASID), and only while the RID (if
 *       attached) uses one too; the RID cannot move to a non-compatible HWPT while a PASID is attached (EINVAL).
 *   <li>Replace is atomic: on failure the old HWPT stays attached and reservations are as before.
 * </ul>
 */
final class DeviceAttach {
    private DeviceAttach() {
    }

    /** {@code iommufd_hw_pagetable_attach}: one more device on {@code hwpt} at {@code pasid}. */
    static void attach(HwPagetable hwpt, IommufdDevice idev, int pasid) {
        Igroup g = idev.igroup;
        g.lock.lock();
        try {
            Igroup.Attachment a = g.attachments.get(pasid);
            boolean created = a == null;
            if (created) {
                a = new Igroup.Attachment();
            }
            if (a.devices.contains(idev)) {
                throw ErrnoException.of(Errno.EBUSY, "device %d is already attached at pasid %d", idev.id(), pasid);
            }
            if (a.hwpt != null && a.hwpt != hwpt) {
                throw ErrnoException.of(Errno.EINVAL, "%s is attached to HWPT %d at pasid %d; its devices must share it",
                        g, a.hwpt.id(), pasid);
            }
            boolean resv = pasid == IommufdDevice.NO_PASID;
            HwptPaging paging = hwpt.paging();
            if (resv) {
                attachReservedIova(idev, paging, a.devices.isEmpty());
            }
            try {
                if (a.devices.isEmpty()) {
                    hwAttach(hwpt, idev, pasid, g);
                    a.hwpt = hwpt;
                }
            } catch (RuntimeException e) {
                if (resv) {
                    paging.ioas.iopt().unreserveOwner(idev);
                }
                throw e;
            }
            idev.ctx.objects().addUser(hwpt);
            a.devices.add(idev);
            if (created) {
                g.attachments.put(pasid, a);
            }
        } finally {
            g.lock.unlock();
        }
    }

    /**
     * {@code iommufd_hw_pagetable_detach}: removes the device from its attachment at {@code pasid}; the last one
     * blocks the PASID in hardware. The caller puts the returned HWPT's reference ({@link #put}).
     *
     * @return the HWPT the device was attached to, or null when it was not attached there
     */
    static HwPagetable detach(IommufdDevice idev, int pasid) {
        Igroup g = idev.igroup;
        g.lock.lock();
        try {
            Igroup.Attachment a = g.attachments.get(pasid);
            if (a == null || !a.devices.remove(idev)) {
                return null;
            }
            HwPagetable hwpt = a.hwpt;
            if (a.devices.isEmpty()) {
                hwDetach(hwpt, idev, pasid, g);
                g.attachments.remove(pasid);
            }
            if (pasid == IommufdDevice.NO_PASID) {
                hwpt.paging().ioas.iopt().unreserveOwner(idev);
            }
            if (hwpt.fault != null) {
                hwpt.fault.autoRespond(idev, pasid); // iommufd_fault_domain_detach_dev (core3)
            }
            return hwpt;
        } finally {
            g.lock.unlock();
        }
    }

    /**
     * {@code iommufd_device_do_replace}: the device's group moves to {@code hwpt} at {@code pasid}; references move
     * with it. The caller puts the returned old HWPT's last reference ({@link #put}).
     *
     * @return the old HWPT, or null when {@code hwpt} is already attached (no-op)
     */
    static HwPagetable replace(HwPagetable hwpt, IommufdDevice idev, int pasid) {
        Igroup g = idev.igroup;
        g.lock.lock();
        try {
            Igroup.Attachment a = g.attachments.get(pasid);
            if (a == null || !a.devices.contains(idev)) {
                throw ErrnoException.of(Errno.EINVAL, "device %d is not attached at pasid %d", idev.id(), pasid);
            }
            HwPagetable old = a.hwpt;
            if (old == hwpt) {
                return null;
            }
            HwptPaging newPaging = hwpt.paging();
            HwptPaging oldPaging = old.paging();
            boolean moveResv = pasid == IommufdDevice.NO_PASID && newPaging.ioas != oldPaging.ioas;
            if (moveResv) {
                try {
                    for (int i = 0; i < a.devices.size(); i++) {
                        attachReservedIova(a.devices.get(i), newPaging, i == 0);
                    }
                } catch (RuntimeException e) {
                    for (IommufdDevice d : a.devices) {
                        newPaging.ioas.iopt().unreserveOwner(d);
                    }
                    throw e;
                }
            }
            try {
                hwReplace(hwpt, old, idev, pasid, g);
            } catch (RuntimeException e) {
                if (moveResv) {
                    for (IommufdDevice d : a.devices) {
                        newPaging.ioas.iopt().unreserveOwner(d);
                    }
                }
                throw e;
            }
            if (moveResv) {
                for (IommufdDevice d : a.devices) {
                    oldPaging.ioas.iopt().unreserveOwner(d);
                }
            }
            a.hwpt = hwpt;
            if (old.fault != null) {
                old.fault.autoRespond(idev, pasid); // iommufd_fault_domain_replace_dev (core3)
            }
            int n = a.devices.size();
            for (int i = 0; i < n; i++) {
                idev.ctx.objects().addUser(hwpt);
            }
            for (int i = 0; i < n - 1; i++) {
                idev.ctx.objects().put(old);
            }
            return old;
        } finally {
            g.lock.unlock();
        }
    }

    /** {@code iommufd_hw_pagetable_put}: automatic domains go with their last reference, others just drop one. */
    static void put(HwPagetable hwpt) {
        if (hwpt instanceof HwptPaging && ((HwptPaging) hwpt).autoDomain) {
            hwpt.ctx.objects().putAndTryDestroy(hwpt);
        } else {
            hwpt.ctx.objects().put(hwpt);
        }
    }

    /**
     * {@code iommufd_device_attach_reserved_iova}: the device's reserved regions into the IOAS (owner = the
     * device), then, for the group's first device, the SW_MSI window set-up ({@code iommufd_group_setup_msi}).
     */
    private static void attachReservedIova(IommufdDevice idev, HwptPaging paging, boolean firstInGroup) {
        long swMsi = paging.ioas.iopt().enforceDeviceReservedRegions(idev, idev.driver().reservedRegions(idev.handle));
        if (swMsi != -1) {
            idev.igroup.swMsiStart = swMsi;
        }
        if (firstInGroup && idev.igroup.swMsiStart != -1 && !paging.msiCookie) {
            // iommu_get_msi_cookie: the window is reserved above; doorbells would be mapped into it when an MSI is
            // programmed through the domain, which the platform does not model for SW_MSI machines yet.
            paging.msiCookie = true;
        }
    }

    /**
     * {@code iommufd_hwpt_compatible_device}: a fault-capable HWPT (IOMMU_HWPT_FAULT_ID_VALID) takes no PCI virtual
     * function that supports PRI (a VF's PRI is its PF's, shared with the other VFs without coordination, so a
     * failure response could not be forwarded): EINVAL.
     */
    private static void checkCompatibleDevice(HwPagetable hwpt, IommufdDevice idev) {
        if (hwpt.fault == null) {
            return;
        }
        dev.iommufd.platform.PciFunction f = idev.handle.function();
        if (f.virtualFunction() && f.priCapable()) {
            throw ErrnoException.of(Errno.EINVAL, "HWPT %d reports I/O page faults; device %d is a PRI-capable PCI VF",
                    hwpt.id(), idev.id());
        }
    }

    /** {@code iommufd_hwpt_pasid_compat}. */
    private static void checkPasidCompat(HwPagetable hwpt, IommufdDevice idev, int pasid, Igroup g) {
        if (pasid == IommufdDevice.NO_PASID) {
            if (!hwpt.pasidCompat && g.hasPasidAttachment()) {
                throw ErrnoException.of(Errno.EINVAL, "HWPT %d is not PASID-compatible and %s has PASIDs attached",
                        hwpt.id(), g);
            }
            return;
        }
        if (!hwpt.pasidCompat) {
            throw ErrnoException.of(Errno.EINVAL, "HWPT %d was not allocated with IOMMU_HWPT_ALLOC_PASID", hwpt.id());
        }
        Igroup.Attachment rid = g.attachments.get(IommufdDevice.NO_PASID);
        if (rid != null && !rid.hwpt.pasidCompat) {
            throw ErrnoException.of(Errno.EINVAL, "the RID of %s uses HWPT %d, which is not PASID-compatible", g,
                    rid.hwpt.id());
        }
    }

    /** {@code iommu_attach_device_pasid}'s device checks. */
    private static void checkPasidRange(IommufdDevice idev, int pasid) {
        int bits = idev.handle.maxPasidLog2();
        if (bits == 0 || Integer.compareUnsigned(pasid, bits >= 32 ? -1 : (1 << bits)) >= 0) {
            throw ErrnoException.of(Errno.EINVAL, "pasid %d is beyond device %d's %d PASID bits", Integer.toUnsignedLong(pasid),
                    idev.id(), bits);
        }
    }

    /** {@code iommufd_hwpt_attach_device}: the first device of a PASID programs the hardware. */
    private static void hwAttach(HwPagetable hwpt, IommufdDevice idev, int pasid, Igroup g) {
        checkCompatibleDevice(hwpt, idev);
        checkPasidCompat(hwpt, idev, pasid, g);
        if (pasid == IommufdDevice.NO_PASID) {
            List<DeviceHandle> handles = g.handles();
            int done = 0;
            try {
                for (DeviceHandle h : handles) {
                    hwpt.domain.attachDevice(h);
                    done++;
                }
            } catch (RuntimeException e) {
                for (int i = 0; i < done; i++) {
                    g.blockingDomain(handles.get(i)).attachDevice(handles.get(i));
                }
                throw e;
            }
            return;
        }
        checkPasidRange(idev, pasid);
        hwpt.domain.setDevicePasid(idev.handle, pasid, g.blockingDomain(idev.handle));
    }

    /** {@code iommufd_hwpt_replace_device}: atomic in the driver; a group-wide RID replace rolls back on failure. */
    private static void hwReplace(HwPagetable hwpt, HwPagetable old, IommufdDevice idev, int pasid, Igroup g) {
        checkCompatibleDevice(hwpt, idev);
        checkPasidCompat(hwpt, idev, pasid, g);
        if (pasid == IommufdDevice.NO_PASID) {
            List<DeviceHandle> handles = g.handles();
            int done = 0;
            try {
                for (DeviceHandle h : handles) {
                    hwpt.domain.attachDevice(h);
                    done++;
                }
            } catch (RuntimeException e) {
                for (int i = 0; i < done; i++) {
                    old.domain.attachDevice(handles.get(i));
                }
                throw e;
            }
            return;
        }
        checkPasidRange(idev, pasid);
        hwpt.domain.setDevicePasid(idev.handle, pasid, old.domain);
    }

    /** {@code iommufd_hwpt_detach_device}: the RID goes to the group's blocking domain, a PASID is blocked. */
    private static void hwDetach(HwPagetable hwpt, IommufdDevice idev, int pasid, Igroup g) {
        if (pasid == IommufdDevice.NO_PASID) {
            for (DeviceHandle h : g.handles()) {
                g.blockingDomain(h).attachDevice(h);
            }
            return;
        }
        IommuDomain blocked = g.blockingDomain(idev.handle);
        blocked.setDevicePasid(idev.handle, pasid, hwpt.domain);
    }
}
