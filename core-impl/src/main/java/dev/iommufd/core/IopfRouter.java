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
 * <h2>Page requests (io-pgfault.c, v6.12+ order)</h2>
 * The handler is found first: the attachment of the device's group at the request's PASID (with PASID_VALID),
 * else at the RID; a driver with a user-owned PASID table ({@link dev.iommufd.spi.IommuDriver#userPasidTable})
 * sends PASID requests without an attachment of their own to the NESTED domain on the RID. When nothing is
 * attached there, its HWPT has no FAULT object, or the device is not bound to iommufd, the request is answered
 * {@link PageResponse#INVALID} at once ({@code iopf_error_response}), partial ones included. Otherwise a request
 * without LAST_PAGE is kept; a LAST_PAGE request completes the group with the kept requests of its {@code grpid}
 * and goes to the FAULT object; a group that cannot be allocated is answered {@link PageResponse#FAILURE}.
 * Routing runs under the device's igroup lock, so a concurrent detach either sees the group (and answers it
 * INVALID) or the request finds no handler.
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
        int code = route(device, fault);
        if (code >= 0) {
            device.driver().pageResponse(device, new PageResponse(fault.pasid(), fault.pasidValid(), fault.grpid(), code));
        }
    }

    /**
     * {@code iommu_report_device_fault}: finds the handler first ({@code find_fault_handler}); none answers this
     * request INVALID ({@code iopf_error_response}, partial requests included). With a handler, a request without
     * LAST_PAGE is kept; a LAST_PAGE request completes the group (with the kept requests of its grpid, in report
     * order) and hands it to the FAULT object; a group that cannot be allocated is answered FAILURE
     * ({@code err_abort}).
     *
     * @return the code to answer this request with, or -1 when the request was kept or delivered
     */
    private int route(DeviceHandle device, IoPageFault fault) {
        IommufdDevice idev = boundDevice(device);
        if (idev == null) {
            return PageResponse.INVALID;
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
                    pasid = IommufdDevice.NO_PASID;
                    a = g.attachments.get(IommufdDevice.NO_PASID);
                    if (a != null && a.hwpt.domain().type() != DomainType.NESTED) {
                        a = null;
                    }
                }
            } else {
                a = g.attachments.get(IommufdDevice.NO_PASID);
            }
            if (a == null || a.hwpt.fault == null || !a.devices.contains(idev)) {
                return PageResponse.INVALID;
            }
            List<IoPageFault> faults = new ArrayList<>();
            synchronized (partials) {
                if (!fault.lastPage()) {
                    partials.computeIfAbsent(device, d -> new ArrayList<>()).add(fault);
                    return -1; // a request that is not the last is not answered
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
            try {
                FaultInjection.check("iopf_group_alloc");
            } catch (dev.iommufd.api.ErrnoException e) {
                return PageResponse.FAILURE; // the stack abort_group answers the whole group
            }
            a.hwpt.fault.deliver(new IopfGroup(device, idev, pasid, List.copyOf(faults)));
            return -1;
        } finally {
            g.lock.unlock();
        }
    }

    /** The iommufd device of {@code device} in the context that bound it, or null. */
    private IommufdDevice boundDevice(DeviceHandle device) {
        PciFunction function = device.function();
        Object owner = core.ownerOf(function);
        if (!(owner instanceof IommufdContext ctx)) {
            return null;
        }
        for (IommufdDevice d : ctx.objects().live(ObjectKind.DEVICE, IommufdDevice.class)) {
            if (d.function() == function) {
                return d;
            }
        }
        return null;
    }

    @Override
    public void reportEvent(Viommu viommu, int type, byte[] data) {
        IommufdViommu v = viommus.get(viommu);
        if (v != null) {
            v.reportEvent(type, data);
        }
    }
}
