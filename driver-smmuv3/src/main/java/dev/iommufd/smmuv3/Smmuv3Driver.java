package dev.iommufd.smmuv3;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.ReservedRegion;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The SMMUv3 driver bound to one machine ({@code arm-smmu-v3}'s {@code iommu_ops}): brings up every smmuv3 unit
 * the firmware (the machine's unit list: name and MMIO base, as IORT gives them) describes, and talks to each
 * only through its MMIO registers and the structures it writes into physical memory.
 *
 * <p>Locking: {@link #instances} is immutable after bind; per-SMMU and per-master locks are documented there.
 */
final class Smmuv3Driver implements IommuDriver {
    /** {@code IOMMU_HW_INFO_TYPE_ARM_SMMUV3}. */
    static final int HW_INFO_TYPE_ARM_SMMUV3 = 2;

    private final Smmuv3DriverProvider provider;
    private final DriverContext context;
    private final Map<String, SmmuInstance> instances;
    private final Smmuv3StaticDomain blocked;
    private final Smmuv3StaticDomain identity;
    private boolean closed;

    Smmuv3Driver(Smmuv3DriverProvider provider, DriverContext context) {
        this.provider = provider;
        this.context = context;
        Machine machine = context.machine();
        Map<String, SmmuInstance> map = new LinkedHashMap<>();
        try {
            for (IommuUnitModel unit : machine.iommuUnits()) {
                if (!provider.hardwareModels().contains(unit.model())) {
                    continue;
                }
                SmmuInstance smmu = new SmmuInstance(this, unit.name(), unit.mmioBase(), machine.mmio(), machine.memory(),
                        machine.interrupts());
                map.put(unit.name(), smmu);
                smmu.reset();
            }
        } catch (RuntimeException e) {
            for (SmmuInstance s : map.values()) {
                try {
                    s.shutdown();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        if (map.isEmpty()) {
            throw ErrnoException.of(Errno.ENODEV, "the machine has no smmuv3 unit");
        }
        this.instances = Collections.unmodifiableMap(map);
        this.blocked = new Smmuv3StaticDomain(this, DomainType.BLOCKED);
        this.identity = new Smmuv3StaticDomain(this, DomainType.IDENTITY);
    }

    DriverContext context() {
        return context;
    }

    @Override
    public IommuDriverProvider provider() {
        return provider;
    }

    @Override
    public List<String> units() {
        return new ArrayList<>(instances.keySet());
    }

    SmmuInstance instance(String unit) {
        return instances.get(unit);
    }

    /**
     * {@code device} as the master this driver probed for it; EINVAL when another driver (or none) probed it. Every
     * entry point taking a DeviceHandle checks it first.
     */
    SmmuMaster master(DeviceHandle device) {
        if (!(device instanceof SmmuMaster) || device.driver() != this) {
            throw ErrnoException.of(Errno.EINVAL, "device %s is not probed by this smmuv3 driver", device);
        }
        return (SmmuMaster) device;
    }

    @Override
    public DeviceHandle probeDevice(PciFunction function) {
        SmmuInstance smmu = instances.get(function.iommuUnit());
        if (smmu == null) {
            throw ErrnoException.of(Errno.ENODEV, "function %s is behind unit '%s', not an smmuv3 unit of this driver",
                    function.address(), function.iommuUnit());
        }
        if (!smmu.streamTable.covers(function.rid())) {
            throw ErrnoException.of(Errno.ERANGE, "StreamID %#x of %s exceeds the SMMU's %d SID bits",
                    function.rid(), function.address(), smmu.features.sidBits);
        }
        SmmuMaster master = new SmmuMaster(this, smmu, function);
        smmu.addMaster(master);
        return master;
    }

    @Override
    public void releaseDevice(DeviceHandle device) {
        SmmuMaster m = master(device);
        m.release();
        m.smmu.removeMaster(m);
    }

    /**
     * {@code arm_smmu_capable}: dirty tracking needs HTTU with dirty-state update on a stage-1 capable SMMU
     * ({@code arm_smmu_dbm_capable}); cache coherency needs COHACC.
     */
    @Override
    public boolean deviceCapable(DeviceHandle device, dev.iommufd.spi.Capability capability) {
        SmmuMaster m = master(device);
        switch (capability) {
            case DIRTY_TRACKING:
                return m.smmu.features.httuDirty && m.smmu.features.stage1;
            case ENFORCE_CACHE_COHERENCY:
                return m.smmu.features.coherent;
            case NESTING:
            case VIOMMU:
                return m.smmu.features.stage1 && m.smmu.features.stage2;
            case PASID:
                return m.maxPasidLog2() > 0;
            case IOPF:
                return m.iopfEnabled();
            default:
                return capabilities().contains(capability);
        }
    }

    @Override
    public HwInfo hwInfo(DeviceHandle device, int requestedType) {
        SmmuMaster m = master(device);
        if (requestedType != 0 && requestedType != HW_INFO_TYPE_ARM_SMMUV3) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "hw_info type %d is not supported by smmuv3", requestedType);
        }
        SmmuFeatures f = m.smmu.features;
        // struct iommu_hw_info_arm_smmuv3 { u32 flags; u32 __reserved; u32 idr[6]; u32 iidr; u32 aidr; }
        ByteBuffer b = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0).putInt(0);
        for (int i = 0; i < 6; i++) {
            b.putInt(f.idr[i]);
        }
        b.putInt(f.iidr).putInt(f.aidr);
        long caps = f.httuDirty && f.stage1 ? HwInfo.CAP_DIRTY_TRACKING : 0;
        return new HwInfo(HW_INFO_TYPE_ARM_SMMUV3, b.array(), caps, m.maxPasidLog2());
    }

    @Override
    public List<ReservedRegion> reservedRegions(DeviceHandle device) {
        master(device);
        return List.of(ReservedRegion.ARM_SW_MSI_WINDOW);
    }

    @Override
    public IommuDomain allocPagingDomain(DeviceHandle device, int flags, UserData data) {
        SmmuMaster m = master(device);
        int known = DomainAllocFlags.NEST_PARENT | DomainAllocFlags.DIRTY_TRACKING | DomainAllocFlags.PASID;
        if ((flags & ~known) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "allocation flags %#x are not supported", flags & ~known);
        }
        if (data != null) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "smmuv3 paging domains take no driver data (type %d)", data.type());
        }
        return new Smmuv3PagingDomain(this, m.smmu, flags);
    }

    /**
     * {@code page_response}: CMD_PRI_RESP for the group (IOMMU_PAGE_RESP_SUCCESS -> Success, INVALID ->
     * InvalidRequest, FAILURE -> ResponseFailure), then CMD_SYNC.
     */
    @Override
    public void pageResponse(DeviceHandle device, dev.iommufd.spi.PageResponse response) {
        SmmuMaster m = master(device);
        if (!m.iopfEnabled()) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "%s does not use PRI page requests", device);
        }
        int resp;
        switch (response.code()) {
            case dev.iommufd.spi.PageResponse.SUCCESS:
                resp = dev.iommufd.smmuv3.layout.Command.PRI_RESP_SUCC;
                break;
            case dev.iommufd.spi.PageResponse.INVALID:
                resp = dev.iommufd.smmuv3.layout.Command.PRI_RESP_FAIL;
                break;
            case dev.iommufd.spi.PageResponse.FAILURE:
                resp = dev.iommufd.smmuv3.layout.Command.PRI_RESP_DENY;
                break;
            default:
                throw ErrnoException.of(Errno.EINVAL, "page response code %d is not a valid code", response.code());
        }
        if (!m.stallEnabled && (response.grpid() >>> 9) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "PRG index %d does not fit 9 bits", response.grpid());
        }
        if (m.stallEnabled) {
            // arm_smmu_page_response: retry the stalled transaction on success, abort it otherwise
            if ((response.grpid() >>> 16) != 0) {
                throw ErrnoException.of(Errno.EINVAL, "STAG %d does not fit 16 bits", response.grpid());
            }
            m.smmu.resume(m.sid, response.grpid(), response.code() == dev.iommufd.spi.PageResponse.SUCCESS
                    ? dev.iommufd.smmuv3.layout.Command.RESUME_RETRY : dev.iommufd.smmuv3.layout.Command.RESUME_ABORT);
            return;
        }
        m.smmu.respond(m.sid, response.pasidValid(), response.pasid(), response.grpid(), resp);
    }

    /**
     * Nested domains of SMMUv3 come from a vIOMMU ({@code arm_vsmmu_alloc_domain_nested}); the kernel's driver has
     * no {@code domain_alloc_nested} of its own since v6.13.
     */
    @Override
    public IommuDomain allocNestedDomain(DeviceHandle device, IommuDomain parent, int flags, UserData data) {
        master(device);
        throw ErrnoException.of(Errno.EOPNOTSUPP,
                "smmuv3 nested domains are allocated through a vIOMMU (IOMMU_VIOMMU_TYPE_ARM_SMMUV3)");
    }

    /** {@code arm_vsmmu_init} with {@code arm_smmu_get_viommu_size}'s checks. */
    @Override
    public dev.iommufd.spi.Viommu allocViommu(DeviceHandle device, IommuDomain parent, int type, UserData data) {
        SmmuMaster m = master(device);
        if (type != Smmuv3Viommu.TYPE_ARM_SMMUV3) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vIOMMU type %d is not supported by smmuv3", type);
        }
        SmmuFeatures f = m.smmu.features;
        if (!(f.stage1 && f.stage2)) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "SMMU %s cannot nest", m.smmu.name);
        }
        if (!f.coherent && !f.fwb) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "SMMU %s is neither coherent nor S2FWB-capable", m.smmu.name);
        }
        if (!(parent instanceof Smmuv3PagingDomain) || !((Smmuv3PagingDomain) parent).nestParent
                || ((Smmuv3PagingDomain) parent).smmu != m.smmu) {
            throw ErrnoException.of(Errno.EINVAL, "the vIOMMU parent must be a NEST_PARENT domain of SMMU %s", m.smmu.name);
        }
        return new Smmuv3Viommu(this, (Smmuv3PagingDomain) parent);
    }

    @Override
    public IommuDomain blockedDomain() {
        return blocked;
    }

    @Override
    public IommuDomain identityDomain() {
        return identity;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (SmmuInstance s : instances.values()) {
            s.shutdown();
        }
    }
}
