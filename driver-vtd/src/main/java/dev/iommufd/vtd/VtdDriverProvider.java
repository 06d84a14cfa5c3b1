package dev.iommufd.vtd;

import com.google.auto.service.AutoService;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import dev.iommufd.spi.UnitProbe;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.vtd.layout.VtdRegisters;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The Intel VT-d driver ({@code vtd}). Which capabilities a device gets depends on its unit's CAP/ECAP (see
 * {@link IommuDriver#deviceCapable}); the set here is what the driver implements.
 */
@AutoService(IommuDriverProvider.class)
public final class VtdDriverProvider implements IommuDriverProvider {

    private static final Set<Capability> CAPABILITIES = EnumSet.of(Capability.PAGING, Capability.BLOCKED_DOMAIN,
            Capability.IDENTITY_DOMAIN, Capability.ENFORCE_CACHE_COHERENCY, Capability.NESTING, Capability.DIRTY_TRACKING,
            Capability.PASID, Capability.IOPF, Capability.HW_INFO);

    @Override
    public String id() {
        return "vtd";
    }

    @Override
    public String description() {
        return "Intel VT-d DMA remapping (legacy and scalable mode)";
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
        return CAPABILITIES;
    }

    /**
     * A q35 machine with one "server" unit (scalable mode, every feature the driver implements) at QEMU's base,
     * two plain isolated endpoints, a function with a 20-bit PASID capability, and one with PASID, ATS and PRI.
     */
    @Override
    public Optional<MachineConfig> referenceMachine() {
        return Optional.of(MachineConfig.builder(MachineProfile.Q35).ramSize(1L << 30)
                .iommu(new IommuUnitConfig("dmar0", "vtd", 0, "server", Map.of()))
                .device(PciFunctionSpec.endpoint("0000:00:04.0", "dmar0"))
                .device(PciFunctionSpec.endpoint("0000:00:05.0", "dmar0"))
                .device(PciFunctionSpec.endpoint("0000:00:06.0", "dmar0").withPasid(20))
                .device(PciFunctionSpec.endpoint("0000:00:07.0", "dmar0").withPasid(20).withPri())
                .build());
    }

    @Override
    public Availability probe(Machine machine) {
        return UnitProbe.firstUnit(machine, hardwareModels(), VtdDriverProvider::unusableBecause,
                "vtd: the machine has no VT-d unit", "vtd: cannot read the unit's registers");
    }

    private static String unusableBecause(Machine machine, IommuUnitModel unit) {
        int ver = machine.mmio().read32(unit.mmioBase() + VtdRegisters.VER_REG);
        return (ver >>> 4 & 0xf) == 0 ? String.format("vtd: %s reports VER %#x", unit.name(), ver) : null;
    }

    @Override
    public IommuDriver bind(DriverContext context) {
        return new VtdDriver(this, context);
    }
}
