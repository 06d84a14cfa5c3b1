package dev.iommufd.smmuv3;

import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.FaultSink;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.ViommuEventSink;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A virt machine with one SMMUv3 unit and the driver bound to it. */
final class DriverBench implements AutoCloseable, DriverContext {
    static final String UNIT = "smmu0";

    final SimulatedMachine machine;
    final Smmuv3Driver driver;
    final List<IoPageFault> faults = new ArrayList<>();
    final List<byte[]> vevents = new ArrayList<>();

    DriverBench(String preset, Map<String, Long> overrides, PciFunctionSpec... devices) {
        MachineConfig.Builder b = MachineConfig.builder(MachineProfile.VIRT)
                .iommu(new IommuUnitConfig(UNIT, "smmuv3", 0, preset, overrides));
        for (PciFunctionSpec d : devices) {
            b.device(d);
        }
        machine = SimulatedMachine.create(b.build());
        driver = (Smmuv3Driver) new Smmuv3DriverProvider().bind(this);
    }

    static PciFunctionSpec device(String bdf) {
        return PciFunctionSpec.endpoint(bdf, UNIT);
    }

    PciFunction function(String bdf) {
        return machine.pci().function(PciAddress.parse(bdf));
    }

    SmmuInstance smmu() {
        return driver.instance(UNIT);
    }

    @Override
    public Machine machine() {
        return machine;
    }

    @Override
    public FaultSink faultSink() {
        return (DeviceHandle device, IoPageFault fault) -> {
            synchronized (faults) {
                faults.add(fault);
            }
        };
    }

    @Override
    public ViommuEventSink viommuEventSink() {
        return (viommu, type, data) -> vevents.add(data);
    }

    @Override
    public void close() {
        driver.close();
        machine.close();
    }
}
