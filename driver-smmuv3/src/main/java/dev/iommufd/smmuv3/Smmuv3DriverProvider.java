package dev.iommufd.smmuv3;

import com.google.auto.service.AutoService;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import dev.iommufd.spi.UnitProbe;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The Arm SMMUv3 driver ({@code drivers/iommu/arm/arm-smmu-v3}). Capabilities are what works on every SMMU the
 * model can present: paging (stage 1, or stage 2 when stage 1 is absent), blocking and identity domains,
 * cache-coherency enforcement (COHACC), PASIDs through CD tables, nesting through vIOMMUs
 * (NEST_PARENT stage-2 domains, vDEVICEs, guest invalidation commands, vEVENTQ events), dirty tracking (HTTU with DBM; per device through
 * {@code deviceCapable}, as the kernel's {@code arm_smmu_capable}) and the ARM_SMMUV3 hw_info structure.
 */
@AutoService(IommuDriverProvider.class)
public final class Smmuv3DriverProvider implements IommuDriverProvider {
    public static final String ID = "smmuv3";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "Arm SMMUv3 (arm-smmu-v3)";
    }

    @Override
    public String version() {
        return "0.1.0";
    }

    @Override
    public int spiVersion() {
        return SpiVersion.CURRENT;
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.of(Capability.PAGING, Capability.BLOCKED_DOMAIN, Capability.IDENTITY_DOMAIN,
                Capability.ENFORCE_CACHE_COHERENCY, Capability.DIRTY_TRACKING, Capability.PASID,
                Capability.NESTING, Capability.VIOMMU, Capability.IOPF, Capability.HW_INFO);
    }

    /**
     * A virt machine with one "server" SMMUv3 (both stages, HTTU, ATS/PRI, substreams): two plain endpoints, one
     * with a 20-bit PASID capability, one with ATS and PRI.
     */
    @Override
    public Optional<MachineConfig> referenceMachine() {
        return Optional.of(MachineConfig.builder(MachineProfile.VIRT).ramSize(1L << 30)
                .iommu(new IommuUnitConfig("smmu0", ID, 0, "server", Map.of()))
                .device(PciFunctionSpec.endpoint("0000:00:01.0", "smmu0"))
                .device(PciFunctionSpec.endpoint("0000:00:02.0", "smmu0"))
                .device(PciFunctionSpec.endpoint("0000:00:03.0", "smmu0").withPasid(20))
                .device(PciFunctionSpec.endpoint("0000:00:04.0", "smmu0").withPasid(20).withPri())
                .build());
    }

    @Override
    public Availability probe(Machine machine) {
        return UnitProbe.firstUnit(machine, hardwareModels(), Smmuv3DriverProvider::unusableBecause,
                "the machine has no smmuv3 unit", "probing the smmuv3 registers failed");
    }

    private static String unusableBecause(Machine machine, IommuUnitModel unit) {
        int aidr = machine.mmio().read32(unit.mmioBase() + SmmuRegisters.AIDR);
        if ((aidr >>> 4 & 0xf) != 0) {
            return String.format("unit %s reports SMMU architecture major revision %d, not 3", unit.name(),
                    aidr >>> 4 & 0xf);
        }
        int idr0 = machine.mmio().read32(unit.mmioBase() + SmmuRegisters.IDR0);
        if ((idr0 >>> SmmuRegisters.IDR0_TTF_SHIFT & 2) == 0) {
            return "unit " + unit.name() + " has no AArch64 table format";
        }
        return null;
    }

    @Override
    public IommuDriver bind(DriverContext context) {
        return new Smmuv3Driver(this, context);
    }
}
