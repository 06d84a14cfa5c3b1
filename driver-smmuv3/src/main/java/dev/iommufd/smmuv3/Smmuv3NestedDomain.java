package dev.iommufd.smmuv3;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;

/**
 * A nested domain ({@code struct arm_smmu_nested_domain}): the guest's STE dwords 0-1 (validated: only the
 * {@code STRTAB_STE_0/1_NESTING_ALLOWED} fields) over the vIOMMU's nest-parent stage-2 domain. Attaching it
 * installs {@code arm_smmu_make_nested_domain_ste}: a Config=nested STE (guest S1 fields + host S2 fields + MEV)
 * for a guest Config of S1_TRANS, the parent's S2 STE for a guest bypass, an abort STE for a guest abort or an
 * invalid guest STE. Invalidation goes through the vIOMMU ({@link Smmuv3Viommu#cacheInvalidate}).
 */
final class Smmuv3NestedDomain implements IommuDomain {
    /** {@code STRTAB_STE_0_NESTING_ALLOWED}: V, Config, S1Fmt, S1ContextPtr (GENMASK(51,6)), S1CDMax. */
    static final long STE0_NESTING_ALLOWED = BitField.mask(StreamTableEntry.V) | BitField.mask(StreamTableEntry.CONFIG)
            | BitField.mask(StreamTableEntry.S1FMT) | ConfigurationUsedBits.S1CTXPTR_MASK
            | BitField.mask(StreamTableEntry.S1CDMAX);
    /** {@code STRTAB_STE_1_NESTING_ALLOWED}: S1DSS, S1CIR, S1COR, S1CSH, S1STALLD, EATS. */
    static final long STE1_NESTING_ALLOWED = BitField.mask(StreamTableEntry.S1DSS) | BitField.mask(StreamTableEntry.S1CIR)
            | BitField.mask(StreamTableEntry.S1COR) | BitField.mask(StreamTableEntry.S1CSH)
            | BitField.mask(StreamTableEntry.S1STALLD) | BitField.mask(StreamTableEntry.EATS);

    final Smmuv3Viommu viommu;
    /** The validated guest STE dwords (EATS removed). */
    final long ste0;
    final long ste1;
    final boolean enableAts;

    private Smmuv3NestedDomain(Smmuv3Viommu viommu, long ste0, long ste1, boolean enableAts) {
        this.viommu = viommu;
        this.ste0 = ste0;
        this.ste1 = ste1;
        this.enableAts = enableAts;
    }

    /** {@code arm_smmu_validate_vste} + allocation. */
    static Smmuv3NestedDomain create(Smmuv3Viommu viommu, long ste0, long ste1) {
        if ((ste0 & BitField.mask(StreamTableEntry.V)) == 0) {
            return new Smmuv3NestedDomain(viommu, 0, 0, false);
        }
        if ((ste0 & ~STE0_NESTING_ALLOWED) != 0 || (ste1 & ~STE1_NESTING_ALLOWED) != 0) {
            throw ErrnoException.of(Errno.EIO, "vSTE sets fields outside the nesting-allowed set (ste[0] %#x, ste[1] %#x)",
                    ste0 & ~STE0_NESTING_ALLOWED, ste1 & ~STE1_NESTING_ALLOWED);
        }
        int cfg = (int) BitField.extract(StreamTableEntry.CONFIG, ste0);
        if (cfg != StreamTableEntry.CONFIG_ABORT && cfg != StreamTableEntry.CONFIG_BYPASS
                && cfg != StreamTableEntry.CONFIG_S1_TRANS) {
            throw ErrnoException.of(Errno.EIO, "vSTE Config %d is not abort, bypass or S1_TRANS", cfg);
        }
        int eats = (int) BitField.extract(StreamTableEntry.EATS, ste1);
        long s1 = ste1 & ~BitField.mask(StreamTableEntry.EATS);
        if (eats != StreamTableEntry.EATS_ABT && eats != StreamTableEntry.EATS_TRANS) {
            throw ErrnoException.of(Errno.EIO, "vSTE EATS %d is neither ABT nor TRANS", eats);
        }
        return new Smmuv3NestedDomain(viommu, ste0, s1,
                cfg == StreamTableEntry.CONFIG_S1_TRANS && eats == StreamTableEntry.EATS_TRANS);
    }

    /** {@code arm_smmu_make_nested_domain_ste}. */
    void makeSte(long[] t, boolean ats, boolean stall) {
        int cfg = (ste0 & BitField.mask(StreamTableEntry.V)) == 0 ? StreamTableEntry.CONFIG_ABORT
                : (int) BitField.extract(StreamTableEntry.CONFIG, ste0);
        Smmuv3PagingDomain parent = viommu.parent;
        switch (cfg) {
            case StreamTableEntry.CONFIG_S1_TRANS:
                parent.makeSte(t, ats, stall);
                t[0] = BitField.place(StreamTableEntry.V, 1)
                        | BitField.place(StreamTableEntry.CONFIG, StreamTableEntry.CONFIG_NESTED)
                        | ste0 & ~BitField.mask(StreamTableEntry.CONFIG);
                t[1] |= ste1 | BitField.mask(StreamTableEntry.MEV);
                break;
            case StreamTableEntry.CONFIG_BYPASS:
                parent.makeSte(t, ats, stall);
                break;
            default:
                EntryTargets.abortSte(t);
                break;
        }
    }

    @Override
    public DomainType type() {
        return DomainType.NESTED;
    }

    @Override
    public IommuDriver driver() {
        return viommu.driver;
    }

    @Override
    public void attachDevice(DeviceHandle device) {
        SmmuMaster m = viommu.driver.master(device);
        if (m.smmu != viommu.parent.smmu) {
            throw ErrnoException.of(Errno.EINVAL, "nested domain's vIOMMU is on %s, device %s is behind %s",
                    viommu.parent.smmu.name, device.function().address(), m.smmu.name);
        }
        m.attachNested(this);
    }

    @Override
    public void free() {
        // nothing of its own: the STE it produced is replaced before the core frees it
    }
}
