package dev.iommufd.vtd;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.PageResponse;
import dev.iommufd.spi.ReservedRegion;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.PageRequestDescriptor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Intel VT-d driver bound to one machine (Linux {@code intel_iommu_ops}). Each unit of model {@code vtd} is
 * brought up through its registers: fault interrupt, queued invalidation, page request queue (scalable mode
 * with ECAP.PRS), root table, translation enable. Scalable mode is used when the unit reports ECAP.SMTS and QI.
 *
 * <h2>Locks</h2>
 * {@link #configLock} serialises every configuration change (attach, PASID attach, dirty-tracking switch,
 * release); under it a device's monitor, then a domain's monitor, then a unit's monitor and its QI lock may be
 * taken, in that order. The driver's monitor guards {@link #devices}. Map/unmap/flush paths take only the QI
 * lock.
 */
final class VtdDriver implements IommuDriver {
    /** IOMMU_HW_INFO_TYPE_INTEL_VTD. */
    static final int IOMMU_HW_INFO_TYPE_INTEL_VTD = 1;

    final VtdDriverProvider provider;
    final DriverContext context;
    final Machine machine;
    final List<DmarUnit> units = new ArrayList<>();
    private final Map<Long, VtdDevice> devices = new HashMap<>(); // unit index << 16 | rid
    final BlockedDomain blocked;
    /** Serialises configuration changes; see the class comment for the lock order. */
    final Object configLock = new Object();
    final IdentityDomain identity;

    VtdDriver(VtdDriverProvider provider, DriverContext context) {
        this.provider = provider;
        this.context = context;
        this.machine = context.machine();
        this.blocked = new BlockedDomain(this);
        this.identity = new IdentityDomain(this);
        for (IommuUnitModel m : machine.iommuUnits()) {
            if (provider.hardwareModels().contains(m.model())) {
                units.add(new DmarUnit(this, m.name(), m.mmioBase()));
            }
        }
        if (units.isEmpty()) {
            throw ErrnoException.of(Errno.ENODEV, "vtd: the machine has no VT-d unit");
        }
        for (DmarUnit u : units) {
            u.enable();
        }
    }

    @Override
    public IommuDriverProvider provider() {
        return provider;
    }

    @Override
    public List<String> units() {
        List<String> l = new ArrayList<>();
        for (DmarUnit u : units) {
            l.add(u.name);
        }
        return l;
    }

    private DmarUnit unit(String name) {
        for (DmarUnit u : units) {
            if (u.name.equals(name)) {
                return u;
            }
        }
        return null;
    }

    @Override
    public synchronized DeviceHandle probeDevice(PciFunction function) {
        DmarUnit u = unit(function.iommuUnit());
        if (u == null) {
            throw ErrnoException.of(Errno.ENODEV, "vtd: %s is behind '%s', not a VT-d unit of this driver",
                    function.address(), function.iommuUnit());
        }
        long key = ((long) units.indexOf(u) << 16) | function.rid();
        if (devices.containsKey(key)) {
            throw ErrnoException.of(Errno.EBUSY, "vtd: %s is already probed", function.address());
        }
        VtdDevice d = new VtdDevice(this, function, u);
        devices.put(key, d);
        return d;
    }

    @Override
    public void releaseDevice(DeviceHandle handle) {
        VtdDevice d = blocked.device(handle);
        synchronized (configLock) {
            if (d.domain != null && d.domain != blocked) {
                blocked.attachDevice(d);
            }
            for (Integer pasid : new ArrayList<>(d.pasidDomains.keySet())) {
                blocked.setDevicePasid(d, pasid, d.pasidDomains.get(pasid));
            }
            d.release();
        }
        synchronized (this) {
            devices.remove(((long) units.indexOf(d.unit) << 16) | d.rid);
        }
    }

    synchronized VtdDevice deviceAt(DmarUnit u, int rid) {
        return devices.get(((long) units.indexOf(u) << 16) | rid);
    }

    @Override
    public boolean deviceCapable(DeviceHandle handle, Capability capability) {
        VtdDevice d = blocked.device(handle);
        DmarUnit u = d.unit;
        switch (capability) {
            case ENFORCE_CACHE_COHERENCY:
                return u.has(ExtendedCapabilityRegister.SC);
            case DIRTY_TRACKING:
                return u.scalable && u.has(ExtendedCapabilityRegister.SLADS);
            case NESTING:
                return u.scalable && u.has(ExtendedCapabilityRegister.NEST);
            case PASID:
                return d.maxPasidLog2 > 0;
            case IOPF:
                return d.pri;
            case IDENTITY_DOMAIN:
                return u.has(ExtendedCapabilityRegister.PT);
            default:
                return capabilities().contains(capability);
        }
    }

    /** intel_iommu_hw_info: struct iommu_hw_info_vtd {u32 flags; u32 __reserved; u64 cap_reg; u64 ecap_reg}. */
    @Override
    public HwInfo hwInfo(DeviceHandle handle, int requestedType) {
        VtdDevice d = blocked.device(handle);
        if (requestedType != 0 && requestedType != IOMMU_HW_INFO_TYPE_INTEL_VTD) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: hw_info type %d is not INTEL_VTD (1)", requestedType);
        }
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0).putInt(0).putLong(d.unit.cap).putLong(d.unit.ecap);
        long caps = deviceCapable(d, Capability.DIRTY_TRACKING) ? HwInfo.CAP_DIRTY_TRACKING : 0;
        return new HwInfo(IOMMU_HW_INFO_TYPE_INTEL_VTD, b.array(), caps, d.maxPasidLog2);
    }

    @Override
    public List<ReservedRegion> reservedRegions(DeviceHandle handle) {
        blocked.device(handle);
        return List.of(ReservedRegion.X86_MSI_WINDOW);
    }

    /** intel_iommu_domain_alloc_paging_flags. */
    @Override
    public IommuDomain allocPagingDomain(DeviceHandle handle, int flags, UserData data) {
        VtdDevice d = blocked.device(handle);
        DmarUnit u = d.unit;
        int known = DomainAllocFlags.NEST_PARENT | DomainAllocFlags.DIRTY_TRACKING | DomainAllocFlags.PASID;
        if ((flags & ~known) != 0 || data != null) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: paging domain flags %#x%s not supported", flags,
                    data != null ? " with user data" : "");
        }
        if ((flags & DomainAllocFlags.NEST_PARENT) != 0 && !(u.scalable && u.has(ExtendedCapabilityRegister.NEST))) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: NEST_PARENT needs ECAP.NEST in scalable mode on %s", u.name);
        }
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) != 0 && !(u.scalable && u.has(ExtendedCapabilityRegister.SLADS))) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: DIRTY_TRACKING needs ECAP.SLADS in scalable mode on %s", u.name);
        }
        return new PagingDomain(this, u, flags);
    }

    @Override
    public IommuDomain allocNestedDomain(DeviceHandle handle, IommuDomain parent, int flags, UserData data) {
        return NestedDomain.allocate(this, blocked.device(handle), parent, flags, data);
    }

    @Override
    public IommuDomain blockedDomain() {
        return blocked;
    }

    @Override
    public IommuDomain identityDomain() {
        return identity;
    }

    /** From the page request queue: report to the core, or answer INVALID for an unknown requester (handle_bad_prq_event). */
    void reportPageRequest(DmarUnit unit, long q0, long q1, long q2, long q3) {
        int rid = PageRequestDescriptor.rid(q0);
        boolean pasidPresent = PageRequestDescriptor.pasidPresent(q0);
        int pasid = PageRequestDescriptor.pasid(q0);
        int prg = PageRequestDescriptor.prgIndex(q1);
        VtdDevice d = deviceAt(unit, rid);
        if (d == null) {
            if ((q1 & PageRequestDescriptor.LPIG) != 0) {
                unit.pageGroupResponse(rid, pasid, pasidPresent, InvalidationDescriptor.RESP_INVALID, prg);
            }
            return;
        }
        int flags = (pasidPresent ? IoPageFault.FLAG_PASID_VALID | IoPageFault.FLAG_RESP_NEEDS_PASID : 0)
                | ((q1 & PageRequestDescriptor.LPIG) != 0 ? IoPageFault.FLAG_LAST_PAGE : 0)
                | ((q0 & PageRequestDescriptor.PRIV_DATA_PRESENT) != 0 ? IoPageFault.FLAG_PRIV_DATA : 0);
        int perm = ((q1 & PageRequestDescriptor.RD) != 0 ? IoPageFault.PERM_READ : 0)
                | ((q1 & PageRequestDescriptor.WR) != 0 ? IoPageFault.PERM_WRITE : 0)
                | ((q0 & PageRequestDescriptor.EXE) != 0 ? IoPageFault.PERM_EXEC : 0)
                | ((q0 & PageRequestDescriptor.PM) != 0 ? IoPageFault.PERM_PRIV : 0);
        context.faultSink().reportPageFault(d, new IoPageFault(flags, pasid, prg, perm,
                PageRequestDescriptor.address(q1), q2, q3));
    }

    /** intel_iommu_page_response: a page group response descriptor through the invalidation queue. */
    @Override
    public void pageResponse(DeviceHandle handle, PageResponse response) {
        VtdDevice d = blocked.device(handle);
        if (!d.pri) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: %s does not use PRI", d.function.address());
        }
        int code;
        switch (response.code()) {
            case PageResponse.SUCCESS:
                code = InvalidationDescriptor.RESP_SUCCESS;
                break;
            case PageResponse.INVALID:
                code = InvalidationDescriptor.RESP_INVALID;
                break;
            case PageResponse.FAILURE:
                code = InvalidationDescriptor.RESP_FAILURE;
                break;
            default:
                throw ErrnoException.of(Errno.EINVAL, "vtd: page response code %d", response.code());
        }
        d.unit.pageGroupResponse(d.rid, response.pasid(), response.pasidValid(), code, response.grpid());
    }

    @Override
    public void close() {
        for (DmarUnit u : units) {
            u.disable();
        }
    }
}
