package dev.iommufd.smmuv3.selftest;

import dev.iommufd.core.selftest.SelftestDomainProvider;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.smmuv3.Smmuv3DriverProvider;
import dev.iommufd.spi.IommuDriverProvider;
import java.util.List;
import java.util.Map;

/**
 * SMMUv3 as the selftests' domain provider: one "server" SMMU on virt. A paging domain is stage 1 with the 4 KiB
 * granule (arm-smmu-v3: ias 48 without FEAT_VAX, aperture [0, 2^48 - 1], smallest page 4 KiB); dirty tracking by
 * HTTU (HA/HD) on stage 1. Every device has the software MSI window [MSI_IOVA_BASE 0x0800_0000, + MSI_IOVA_LENGTH
 * 0x10_0000) reserved (arm_smmu_get_resv_regions). IOMMU_HW_INFO_TYPE_ARM_SMMUV3 is 2 (include/uapi/linux/iommufd.h).
 */
public final class Smmuv3SelftestDomainProvider implements SelftestDomainProvider {
    public static final Smmuv3SelftestDomainProvider SERVER = new Smmuv3SelftestDomainProvider();

    @Override
    public String name() {
        return "smmuv3-server";
    }

    @Override
    public MachineConfig machineConfig(long ramSize) {
        return MachineConfig.builder(MachineProfile.VIRT).ramSize(ramSize)
                .iommu(new IommuUnitConfig(unit(), "smmuv3", 0, "server", Map.of())).build();
    }

    @Override
    public String unit() {
        return "smmu0";
    }

    @Override
    public IommuDriverProvider driver() {
        return new Smmuv3DriverProvider();
    }

    @Override
    public PciFunction createDevice(Machine machine, int mockFlags) {
        return SelftestDomainProvider.plugForMockFlags(machine, unit(), name(), mockFlags);
    }

    @Override
    public long ioPageSize() {
        return 4096;
    }

    @Override
    public long apertureStart() {
        return 0;
    }

    @Override
    public long apertureLast() {
        return (1L << 48) - 1;
    }

    @Override
    public int hwInfoType() {
        return 2; // IOMMU_HW_INFO_TYPE_ARM_SMMUV3
    }

    @Override
    public List<long[]> reservedIovas() {
        return List.of(new long[] {0x0800_0000L, 0x0800_0000L + 0x10_0000L - 1});
    }

    @Override
    public boolean supports(Feature feature) {
        // HTTU; both stages; substreams (SSIDs) for PASIDs
        return feature == Feature.DIRTY_TRACKING || feature == Feature.NEST_PARENT || feature == Feature.PASID;
    }

    @Override
    public String toString() {
        return name();
    }
}
