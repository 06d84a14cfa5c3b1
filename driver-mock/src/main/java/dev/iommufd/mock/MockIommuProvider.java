package dev.iommufd.mock;

import com.google.auto.service.AutoService;
import dev.iommufd.mock.hw.MockHardwareModelProvider;
import dev.iommufd.mock.hw.MockRegisters;
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
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * The mock IOMMU driver provider (id {@code mock}): the kernel's iommufd selftest mock domain as a driver over the
 * {@code mock} hardware model. Test support; not a product driver.
 */
@AutoService(IommuDriverProvider.class)
public final class MockIommuProvider implements IommuDriverProvider {
    /** The provider id. */
    public static final String ID = "mock";

    private static final Set<Capability> CAPABILITIES = java.util.Collections.unmodifiableSet(EnumSet.of(
            Capability.PAGING, Capability.BLOCKED_DOMAIN, Capability.IDENTITY_DOMAIN,
            Capability.ENFORCE_CACHE_COHERENCY, Capability.NESTING, Capability.DIRTY_TRACKING, Capability.PASID,
            Capability.IOPF, Capability.VIOMMU, Capability.HW_INFO));

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "mock IOMMU (the kernel's iommufd selftest mock domain)";
    }

    @Override
    public String version() {
        return "1.0";
    }

    @Override
    public int spiVersion() {
        return SpiVersion.CURRENT;
    }

    @Override
    public Set<Capability> capabilities() {
        return CAPABILITIES;
    }

    @Override
    public Set<String> hardwareModels() {
        return Set.of(MockHardwareModelProvider.ID);
    }

    @Override
    public Availability probe(Machine machine) {
        return UnitProbe.everyUnit(machine, hardwareModels(), MockIommuProvider::unusableBecause,
                "the machine has no mock IOMMU unit", "reading the mock unit's registers failed");
    }

    private static String unusableBecause(Machine machine, IommuUnitModel unit) {
        int version = machine.mmio().read32(unit.mmioBase() + MockRegisters.VERSION);
        if ((version >>> MockRegisters.VERSION_MAJOR_SHIFT) != 1) {
            return String.format("mock unit %s reports version %#x; this driver supports 1.x", unit.name(), version);
        }
        return null;
    }

    /**
     * A q35 machine with one mock unit ({@code mock0}, preset {@code default}) and four functions behind it: two
     * plain endpoints, one with 8 PASID bits (so that PASIDs past max_pasids exist), one with 20 PASID bits, ATS and PRI.
     */
    @Override
    public Optional<MachineConfig> referenceMachine() {
        return Optional.of(MachineConfig.builder(MachineProfile.Q35)
                .ramSize(MachineConfig.DEFAULT_RAM_SIZE) // 1 GiB: the mock unit sits at MachineProfile.testModelBase(), above RAM
                .iommu(IommuUnitConfig.of("mock0", MockHardwareModelProvider.ID, MockHardwareModelProvider.PRESET_DEFAULT))
                .device(PciFunctionSpec.endpoint("0000:00:03.0", "mock0"))
                .device(PciFunctionSpec.endpoint("0000:00:04.0", "mock0"))
                .device(PciFunctionSpec.endpoint("0000:00:05.0", "mock0").withPasid(8))
                .device(PciFunctionSpec.endpoint("0000:00:06.0", "mock0").withPasid(MockSelftestUapi.MOCK_PASID_WIDTH).withPri())
                .build());
    }

    @Override
    public IommuDriver bind(DriverContext context) {
        return new MockIommu(this, context);
    }
}
