package dev.iommufd.vtd.selftest;

import dev.iommufd.core.selftest.SelftestDomainProvider;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.vtd.VtdDriverProvider;
import java.util.List;
import java.util.Map;

/**
 * VT-d as the selftests' domain provider: one DMAR unit on q35 at QEMU's base. The geometry is what the VT-d spec
 * and intel-iommu give for the preset's capability registers:
 * <ul>
 * <li>"server" (scalable mode, ECAP.FLTS, CAP.FL5LP, MGAW 57): a paging domain is first stage, 5-level, its
 * aperture the lower canonical half [0, 2^56 - 1] (intel-iommu: aperture_end = __DOMAIN_MAX_ADDR(gaw - 1));
 * smallest page 4 KiB; dirty tracking on second-stage domains (ECAP.SSADS).</li>
 * <li>"qemu" (legacy mode, SAGAW 39/48, MGAW 48): second stage, 4-level, aperture [0, 2^48 - 1], 4 KiB.</li>
 * </ul>
 * Every device has the x86 interrupt window [0xfee0_0000, 0xfeef_ffff] reserved (IOAPIC_RANGE_START/END,
 * intel_iommu_get_resv_regions). IOMMU_HW_INFO_TYPE_INTEL_VTD is 1 (include/uapi/linux/iommufd.h).
 */
public final class VtdSelftestDomainProvider implements SelftestDomainProvider {
    public static final VtdSelftestDomainProvider SERVER = new VtdSelftestDomainProvider("server", (1L << 56) - 1, true);
    public static final VtdSelftestDomainProvider LEGACY = new VtdSelftestDomainProvider("qemu", (1L << 48) - 1, false);

    private final String preset;
    private final long apertureLast;
    private final boolean scalable;

    private VtdSelftestDomainProvider(String preset, long apertureLast, boolean scalable) {
        this.preset = preset;
        this.apertureLast = apertureLast;
        this.scalable = scalable;
    }

    @Override
    public String name() {
        return "vtd-" + preset;
    }

    @Override
    public MachineConfig machineConfig(long ramSize) {
        return MachineConfig.builder(MachineProfile.Q35).ramSize(ramSize)
                .iommu(new IommuUnitConfig(unit(), "vtd", 0, preset, Map.of())).build();
    }

    @Override
    public String unit() {
        return "dmar0";
    }

    @Override
    public IommuDriverProvider driver() {
        return new VtdDriverProvider();
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
        return apertureLast;
    }

    @Override
    public int hwInfoType() {
        return 1; // IOMMU_HW_INFO_TYPE_INTEL_VTD
    }

    @Override
    public List<long[]> reservedIovas() {
        return List.of(new long[] {0xfee0_0000L, 0xfeef_ffffL});
    }

    @Override
    public boolean supports(Feature feature) {
        // the "server" preset is scalable with ECAP.NEST, SSADS and PASID; legacy mode has none of them
        return (feature == Feature.DIRTY_TRACKING || feature == Feature.NEST_PARENT || feature == Feature.PASID) && scalable;
    }

    @Override
    public String toString() {
        return name();
    }
}
