package dev.iommufd.tck.broken;

import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunctionSpec;
import java.util.Optional;

/**
 * Defect (in the hardware model, not the driver): the mock driver on a reference machine whose unit is
 * {@link WindowStopsAtFaultModelProvider}'s, which stops translating a window at its first fault.
 */
public final class WindowStopsAtFaultProvider extends WrappingProvider {
    public static final String ID = "broken-window";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "its unit's translateWindow stops at the first fault of a window";
    }

    @Override
    public Optional<MachineConfig> referenceMachine() {
        return Optional.of(MachineConfig.builder(MachineProfile.Q35).ramSize(MachineConfig.DEFAULT_RAM_SIZE)
                .iommu(IommuUnitConfig.of("mock0", WindowStopsAtFaultModelProvider.ID, "default"))
                .device(PciFunctionSpec.endpoint("0000:00:03.0", "mock0"))
                .build());
    }
}
