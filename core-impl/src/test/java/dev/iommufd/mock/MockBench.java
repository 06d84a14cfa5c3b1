package dev.iommufd.mock;

import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.FaultSink;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.Viommu;
import dev.iommufd.spi.ViommuEventSink;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A q35 machine with one mock unit ({@code mock0}), the mock driver bound to it, and sinks that record what the
 * driver reports. Frames allocated before the driver bound are the leak baseline.
 */
final class MockBench implements AutoCloseable {
    /**
     * The unit's register window: in q35's PCI hole (the profile's default base for test models, 0x0a00_0000, is
     * RAM once a q35 machine has more than 160 MiB).
     */
    static final long MMIO_BASE = 0xfeb0_0000L;

    final SimulatedMachine machine;
    final PhysicalMemory memory;
    final long baselineFrames;
    final MockIommu driver;
    final List<DeviceHandle> faultDevices = new ArrayList<>();
    final List<IoPageFault> faults = new ArrayList<>();
    final List<Viommu> eventViommus = new ArrayList<>();
    final List<Integer> eventTypes = new ArrayList<>();
    final List<byte[]> events = new ArrayList<>();

    MockBench() {
        this(256L << 20);
    }

    MockBench(long ramSize) {
        machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(ramSize)
                .iommu(new IommuUnitConfig("mock0", "mock", MMIO_BASE, "default", Map.of())).build());
        memory = machine.memory();
        baselineFrames = memory.frames().allocatedFrames();
        FaultSink faultSink = (device, fault) -> {
            synchronized (faults) {
                faultDevices.add(device);
                faults.add(fault);
            }
        };
        ViommuEventSink eventSink = (viommu, type, data) -> {
            synchronized (events) {
                eventViommus.add(viommu);
                eventTypes.add(type);
                events.add(data.clone());
            }
        };
        DriverContext context = new DriverContext() {
            @Override
            public Machine machine() {
                return machine;
            }

            @Override
            public FaultSink faultSink() {
                return faultSink;
            }

            @Override
            public ViommuEventSink viommuEventSink() {
                return eventSink;
            }
        };
        driver = (MockIommu) new MockIommuProvider().bind(context);
    }

    /** Plugs in and probes a mock device. */
    MockDevice device(int flags) {
        return device(flags, false);
    }

    MockDevice device(int flags, boolean pri) {
        PciFunction f = MockIommu.createDevice(machine, null, flags, pri);
        return (MockDevice) driver.probeDevice(f);
    }

    /** A zeroed frame of "user" memory to map. */
    long dataFrame() {
        return memory.frames().allocateFrame();
    }

    long allocatedFrames() {
        return memory.frames().allocatedFrames();
    }

    @Override
    public void close() {
        driver.close();
        machine.close();
    }
}
