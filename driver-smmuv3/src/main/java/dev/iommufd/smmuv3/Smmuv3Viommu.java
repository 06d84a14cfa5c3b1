package dev.iommufd.smmuv3;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.UserDataArray;
import dev.iommufd.spi.Viommu;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * The SMMUv3 vIOMMU ({@code struct arm_vsmmu}, type {@code IOMMU_VIOMMU_TYPE_ARM_SMMUV3} = 1) over a
 * nest-parent stage-2 domain, whose VMID it uses. It owns the vSID -> SID table of its vDEVICEs, allocates
 * nested domains from {@code struct iommu_hwpt_arm_smmuv3 {le64 ste[2]}} ({@code IOMMU_HWPT_DATA_ARM_SMMUV3}
 * = 2) and passes the guest's invalidation commands ({@code struct iommu_viommu_arm_smmuv3_invalidate
 * {le64 cmd[2]}}, {@code IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3} = 1) to the command queue after
 * {@code arm_vsmmu_validate_user_cmd} and {@code arm_vsmmu_convert_user_cmd}.
 *
 * <p>Locking: the vDEVICE table is guarded by {@code this}.
 */
final class Smmuv3Viommu implements Viommu {
    static final int TYPE_ARM_SMMUV3 = 1;
    static final int HWPT_DATA_ARM_SMMUV3 = 2;
    static final int INVALIDATE_DATA_ARM_SMMUV3 = 1;
    static final int VEVENTQ_TYPE_ARM_SMMUV3 = 1;
    /** {@code CMDQ_BATCH_ENTRIES - 1}. */
    static final int BATCH = 63;

    final Smmuv3Driver driver;
    final Smmuv3PagingDomain parent;
    final int vmid;
    private final Map<Long, VDev> vdevs = new HashMap<>();

    Smmuv3Viommu(Smmuv3Driver driver, Smmuv3PagingDomain parent) {
        this.driver = driver;
        this.parent = parent;
        this.vmid = parent.vmid;
    }

    @Override
    public int type() {
        return TYPE_ARM_SMMUV3;
    }

    @Override
    public IommuDomain allocNestedDomain(DeviceHandle device, int flags, UserData data) {
        if (flags != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "nested domain flags %#x are not supported", flags);
        }
        if (data == null) {
            throw ErrnoException.of(Errno.EINVAL, "a nested domain needs IOMMU_HWPT_DATA_ARM_SMMUV3 data");
        }
        ByteBuffer b = data.copyStruct(HWPT_DATA_ARM_SMMUV3, 16, 16);
        return Smmuv3NestedDomain.create(this, b.getLong(0), b.getLong(8));
    }

    /** A vDEVICE: the device's virtual StreamID in the guest. */
    final class VDev implements VDevice {
        final SmmuMaster master;
        final long vsid;

        VDev(SmmuMaster master, long vsid) {
            this.master = master;
            this.vsid = vsid;
        }

        @Override
        public DeviceHandle device() {
            return master;
        }

        Smmuv3Viommu owner() {
            return Smmuv3Viommu.this;
        }

        @Override
        public long virtualId() {
            return vsid;
        }

        @Override
        public void destroy() {
            synchronized (Smmuv3Viommu.this) {
                vdevs.remove(vsid, this);
            }
            master.setVdevice(null);
        }
    }

    @Override
    public VDevice allocVDevice(DeviceHandle device, long virtualId) {
        SmmuMaster m = driver.master(device);
        if (m.smmu != parent.smmu) {
            throw ErrnoException.of(Errno.EINVAL, "device %s is not behind the vIOMMU's SMMU %s", device.function().address(),
                    parent.smmu.name);
        }
        if ((virtualId >>> 32) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "virtual StreamID %#x does not fit 32 bits", virtualId);
        }
        VDev v = new VDev(m, virtualId);
        synchronized (this) {
            if (vdevs.containsKey(virtualId)) {
                throw ErrnoException.of(Errno.EEXIST, "virtual StreamID %#x is already in use", virtualId);
            }
            vdevs.put(virtualId, v);
        }
        m.setVdevice(v);
        return v;
    }

    /** {@code arm_vsmmu_vsid_to_sid}; -1 when no vDEVICE has that vSID. */
    synchronized long sidOf(long vsid) {
        VDev v = vdevs.get(vsid);
        return v == null ? -1 : v.master.sid & 0xffff_ffffL;
    }

    /** {@code arm_vsmmu_validate_user_cmd}: the fields a guest may set per opcode; EIO otherwise. */
    private void validate(long c0, long c1) {
        SmmuFeatures f = parent.smmu.features;
        long allowed0 = BitField.mask(Command.OPCODE);
        long allowed1 = 0;
        int op = Command.opcode(c0);
        long asidMask = BitField.place(Command.TLBI_ASID, (1L << f.asidBits) - 1);
        switch (op) {
            case Command.OP_TLBI_NSNH_ALL:
                break;
            case Command.OP_TLBI_NH_VA:
            case Command.OP_TLBI_NH_VAA:
                if (op == Command.OP_TLBI_NH_VA) {
                    allowed0 |= asidMask;
                }
                if (f.rangeInvalidation) {
                    validateRange(c0, c1);
                    allowed0 |= BitField.mask(Command.TLBI_NUM) | BitField.mask(Command.TLBI_SCALE);
                    allowed1 |= BitField.mask(Command.TLBI_TG) | BitField.mask(Command.TLBI_TTL);
                }
                allowed0 |= BitField.mask(Command.TLBI_VMID);
                allowed1 |= BitField.mask(Command.TLBI_LEAF) | BitField.mask(Command.TLBI_ADDR);
                break;
            case Command.OP_TLBI_NH_ASID:
                allowed0 |= asidMask | BitField.mask(Command.TLBI_VMID);
                break;
            case Command.OP_TLBI_NH_ALL:
                allowed0 |= BitField.mask(Command.TLBI_VMID);
                break;
            case Command.OP_ATC_INV:
                if (!f.ats || BitField.extract(Command.ATC_SIZE, c1) > Command.ATC_INV_SIZE_ALL) {
                    throw ErrnoException.of(Errno.EIO, "ATC_INV is not allowed here (ATS %b)", f.ats);
                }
                if (f.ssidBits != 0) {
                    allowed0 |= BitField.mask(Command.SSV) | BitField.mask(Command.SSID) | BitField.mask(Command.ATC_GLOBAL);
                }
                allowed0 |= BitField.mask(Command.SID);
                allowed1 |= BitField.mask(Command.ATC_SIZE) | BitField.mask(Command.ATC_ADDR);
                break;
            case Command.OP_CFGI_CD:
                if (f.ssidBits != 0) {
                    allowed0 |= BitField.mask(Command.SSID);
                }
                allowed1 |= BitField.mask(Command.CFGI_LEAF);
                allowed0 |= BitField.mask(Command.SID);
                break;
            case Command.OP_CFGI_CD_ALL:
                allowed0 |= BitField.mask(Command.SID);
                break;
            default:
                throw ErrnoException.of(Errno.EIO, "guest command opcode %#x is not allowed", op);
        }
        if ((c0 & ~allowed0) != 0 || (c1 & ~allowed1) != 0) {
            throw ErrnoException.of(Errno.EIO, "guest command %#x sets reserved bits (%#x, %#x)", op, c0 & ~allowed0,
                    c1 & ~allowed1);
        }
    }

    /** {@code arm_vsmmu_validate_range}. */
    private static void validateRange(long c0, long c1) {
        boolean range = (c0 & (BitField.mask(Command.TLBI_NUM) | BitField.mask(Command.TLBI_SCALE))) != 0;
        long ttl = BitField.extract(Command.TLBI_TTL, c1);
        long tg = BitField.extract(Command.TLBI_TG, c1);
        if (tg == 0 ? range || ttl != 0 : tg == 2 && ttl == 1 || !range && ttl == 0) {
            throw ErrnoException.of(Errno.EIO, "reserved TLBI range encoding (TG %d, TTL %d)", tg, ttl);
        }
    }

    /** {@code arm_vsmmu_convert_user_cmd}: validate, then force the VMID or translate the vSID. */
    private void convert(long[] c) {
        validate(c[0], c[1]);
        int op = Command.opcode(c[0]);
        switch (op) {
            case Command.OP_TLBI_NSNH_ALL:
                Command.tlbiNhAll(c, vmid);
                break;
            case Command.OP_TLBI_NH_VA:
            case Command.OP_TLBI_NH_VAA:
            case Command.OP_TLBI_NH_ALL:
            case Command.OP_TLBI_NH_ASID:
                c[0] = c[0] & ~BitField.mask(Command.TLBI_VMID) | BitField.place(Command.TLBI_VMID, vmid);
                break;
            default: {
                long vsid = BitField.extract(Command.SID, c[0]);
                long sid = sidOf(vsid);
                if (sid < 0) {
                    throw ErrnoException.of(Errno.EIO, "virtual StreamID %#x has no vDEVICE", vsid);
                }
                c[0] = c[0] & ~BitField.mask(Command.SID) | sid << 32;
                break;
            }
        }
    }

    /**
     * {@code arm_vsmmu_cache_invalidate}: batches of 63 commands; a bad command fails its whole batch (nothing of
     * it is issued); the progress is the number of commands issued in earlier batches.
     */
    @Override
    public int cacheInvalidate(dev.iommufd.spi.UserDataArray entries) {
        if (entries.type() != INVALIDATE_DATA_ARM_SMMUV3) {
            throw ErrnoException.of(Errno.EINVAL, "invalidation data_type %d is not IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3",
                    entries.type());
        }
        int n = entries.entryCount();
        long[][] batch = new long[BATCH][2];
        int done = 0;
        while (done < n) {
            int count = Math.min(BATCH, n - done);
            try {
                for (int i = 0; i < count; i++) {
                    ByteBuffer b = entries.copyEntry(done + i, INVALIDATE_DATA_ARM_SMMUV3, 16, 16);
                    batch[i][0] = b.getLong(0);
                    batch[i][1] = b.getLong(8);
                    convert(batch[i]);
                }
            } catch (ErrnoException e) {
                throw e.withProgress(done);
            }
            CommandQueue q = parent.smmu.cmdq;
            synchronized (q) {
                for (int i = 0; i < count; i++) {
                    q.add(batch[i]);
                }
                q.sync();
            }
            done += count;
        }
        return done;
    }

    /** {@code arm_vmaster_report_event}: the event with its StreamID replaced by the vSID. */
    void reportEvent(long vsid, long[] evt) {
        ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(evt[0] & ~BitField.mask(dev.iommufd.smmuv3.layout.EventRecord.SID) | vsid << 32);
        b.putLong(evt[1]).putLong(evt[2]).putLong(evt[3]);
        driver.context().viommuEventSink().reportEvent(this, VEVENTQ_TYPE_ARM_SMMUV3, b.array());
    }

    @Override
    public void destroy() {
        synchronized (this) {
            vdevs.clear();
        }
    }
}
