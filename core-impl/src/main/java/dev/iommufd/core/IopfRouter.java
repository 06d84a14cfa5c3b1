package dev.iommufd.core;

import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.FaultSink;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.PageResponse;
import dev.iommufd.spi.Viommu;
import dev.iommufd.spi.ViommuEventSink;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The machine's I/O page fault and vIOMMU event routing: the IOMMU core's {@code iommu_report_device_fault}
 * (io-pgfault.c) and iommufd's {@code iommufd_viommu_report_event} as the drivers' {@link FaultSink} and
 * {@link ViommuEventSink} (installed into {@link IommuCore}).
 *
 * <h2>Page requests</h2>
 * A request without LAST_PAGE is kept as a partial of its device. A LAST_PAGE request completes a group with the
 * partials of the same {@code grpid}. The group goes to the attachment of the device's group at the request's
 * PASID (with PASID_VALID), else at the RID; a driver with a user-owned PASID table
 * ({@link dev.iommufd.spi.IommuDriver#userPasidTable}) sends PASID requests without an attachment of their own to
 * the NESTED domain on the RID. When that HWPT has no FAULT object, or nothing is attached, or the device is not
 * bound to iommufd, the group is answered {@link PageResponse#FAILURE} (the kernel's {@code err_abort}).
 * Delivery runs under the device's igroup lock, so a concurrent detach either sees the group (and answers it
 * INVALID) or the group is answered FAILURE.
 *
 * <h2>vIOMMU events</h2>
 * Each live vIOMMU registers its driver object here; an event for an unknown vIOMMU, or of a type without a
 * vEVENTQ, is dropped (the kernel returns EOPNOTSUPP to the driver).
 *
 * <p>Locks: {@link #partials} is guarded by itself (a leaf); {@link #viommus} is concurrent.
 */
final class IopfRouter implements FaultSink, ViommuEventSink {
    private final IommuCore core;
    private final Map<DeviceHandle, List<IoPageFault>> partials = new HashMap<>();
    private final Map<Viommu, IommufdViommu> viommus = new ConcurrentHashMap<>();

    IopfRouter(IommuCore core) {
        this.core = core;
    }

    void register(Viommu driverViommu, IommufdViommu viommu) {
        viommus.put(driverViommu, viommu);
    }

    void unregister(Viommu driverViommu) {
        viommus.remove(driverViommu);
    }

    @Override
    public void reportPageFault(DeviceHandle device, IoPageFault fault) {
        List<IoPageFault> faults = new ArrayList<>();
        synchronized (partials) {
            if (!fault.lastPage()) {
                partials.computeIfAbsent(device, d -> new ArrayList<>()).add(fault);
                return;
            }
            List<IoPageFault> p = partials.get(device);
            if (p != null) {
                for (Iterator<IoPageFault> it = p.iterator(); it.hasNext(); ) {
                    IoPageFault f = it.next();
                    if (f.grpid() == fault.grpid()) {
                        faults.add(f);
                        it.remove();
                    }
                }
                if (p.isEmpty()) {
                    partials.remove(device);
                }
            }
        }
        faults.add(fault);
        if (!deliver(device, fault, faults)) {
            device.driver().pageResponse(device, new PageResponse(fault.pasid(), fault.pasidValid(), fault.grpid(),
                    PageResponse.FAILURE));
        }
    }

    /** {@code find_fault_handler} + {@code iopf_handler}. @return false when nothing takes the group */
    private boolean deliver(DeviceHandle device, IoPageFault fault, List<IoPageFault> faults) {
        PciFunction function = device.function();
        Object owner = core.ownerOf(function);
        if (!(owner instanceof IommufdContext ctx)) {
            return false;
        }
        IommufdDevice idev = null;
        for (IommufdDevice d : ctx.objects().live(ObjectKind.DEVICE, IommufdDevice.class)) {
            if (d.function() == function) {
                idev = d;
            }
        }
        if (idev == null) {
            return false;
        }
        Igroup g = idev.igroup;
        g.lock.lock();
        try {
            int pasid = IommufdDevice.NO_PASID;
            Igroup.Attachment a;
            if (fault.pasidValid()) {
                pasid = fault.pasid();
                a = g.attachments.get(pasid);
                if (a == null && device.driver().userPasidTable()) {
                    a = g.attachments.get(IommufdDevice.NO_PASID);
                    pasid = IommufdDevice.NO_PASID;
                    if (a != null && a.hwpt.domain().type() != DomainType.NESTED) {
                        a = null;
                    }
                }
            } else {
                a = g.attachments.get(IommufdDevice.NO_PASID);
            }
            if (a == null || a.hwpt.fault == null || !a.devices.contains(idev)) {
                return false;
            }
            a.hwpt.fault.deliver(new IopfGroup(device, idev, pasid, List.copyOf(faults)));
            return true;
        } finally {
            g.lock.unlock();
        }
    }

    @Override
    public void reportEvent(Viommu viommu, int type, byte[] data) {
        IommufdViommu v = viommus.get(viommu);
        if (v != null) {
            v.reportEvent(type, data);
        }
    }
}
