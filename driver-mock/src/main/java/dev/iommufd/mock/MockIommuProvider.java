package dev.iommufd.mock;

import com.google.auto.service.AutoService;
import dev.iommufd.mock.hw.MockHardwareModelProvider;
import dev.iommufd.mock.hw.MockRegisters;
import dev.iommufd.platform.Machine;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.EnumSet;
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
        try {
            boolean found = false;
            for (IommuUnitModel unit : machine.iommuUnits()) {
                if (!unit.model().equals(MockHardwareModelProvider.ID)) {
                    continue;
                }
                int version = machine.mmio().read32(unit.mmioBase() + MockRegisters.VERSION);
                if ((version >>> MockRegisters.VERSION_MAJOR_SHIFT) != 1) {
                    return Availability.no(String.format("mock unit %s reports version %#x; this driver supports 1.x",
                            unit.name(), version));
                }
                found = true;
            }
            return found ? Availability.yes() : Availability.no("the machine has no mock IOMMU unit");
        } catch (RuntimeException e) {
            return Availability.no("reading the mock unit's registers failed: " + e.getMessage(), e);
        }
    }

    @Override
    public IommuDriver bind(DriverContext context) {
        return new MockIommu(this, context);
    }
}
