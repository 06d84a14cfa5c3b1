package dev.iommufd.benchmarks;

import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.IommufdSubsystem;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.Map;

/**
 * The whole stack: a machine with one IOMMU unit of a {@link Format} and one endpoint, the iommufd core with the
 * format's driver bound, a process holding CAP_IPC_LOCK with an open iommufd, the device bound and attached to one
 * IOAS (so every IOAS_MAP fills a hardware domain). The typed API ({@link dev.iommufd.api.Iommufd}) is the
 * public path B5, B8, B9 and B11 (bytes per area) go through.
 */
public final class IommufdFixture implements AutoCloseable {
    public static final int RW = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE;
    public static final int RW_FIXED = RW | IommuIoasMap.FLAG_FIXED_IOVA;

    public final SimulatedMachine machine;
    public final UserProcess process;
    public final IommufdFd fd;
    public final PciFunction function;
    public final IommuUnitModel unit;
    public final int deviceId;
    public final int ioas;
    public final int hwpt;

    public IommufdFixture(Format format, long ramSize) {
        machine = SimulatedMachine.create(MachineConfig.builder(format.profile).ramSize(ramSize)
                .iommu(new IommuUnitConfig(format.unit, format.model, 0, format.preset, Map.of()))
                .device(PciFunctionSpec.endpoint("00:04.0", format.unit)).build());
        IommufdSubsystem subsystem = new IommufdSubsystem(machine);
        subsystem.iommu().bind(format.provider());
        process = machine.spawn("bench", 0);
        process.grant(ProcessCapability.CAP_IPC_LOCK);
        fd = subsystem.open(process);
        function = machine.pci().function(PciAddress.parse("00:04.0"));
        unit = machine.iommuUnit(format.unit);
        deviceId = fd.bindDevice(function);
        ioas = fd.ioasAlloc();
        hwpt = fd.deviceAttach(deviceId, 0, ioas);
    }

    @Override
    public void close() {
        fd.close();
        machine.close();
    }
}
