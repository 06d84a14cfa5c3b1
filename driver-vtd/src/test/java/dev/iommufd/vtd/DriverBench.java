package dev.iommufd.vtd;

import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.FaultSink;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.ViommuEventSink;
import dev.iommufd.vtd.layout.VtdRegisters;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A q35 machine with one VT-d unit, the driver bound to it, and a fault sink that records page requests. */
final class DriverBench implements AutoCloseable, DriverContext {
    static final long UNIT_BASE = 0xfed9_0000L;
    final SimulatedMachine machine;
    final List<IoPageFault> faults = new ArrayList<>();
    final List<DeviceHandle> faultDevices = new ArrayList<>();
    final VtdDriver driver;
    final PhysicalMemory mem;
    final IotlbGather gather = new IotlbGather();

    DriverBench(String preset, PciFunctionSpec... devices) {
        this(preset, Map.of(), devices);
    }

    DriverBench(String preset, Map<String, Long> overrides, PciFunctionSpec... devices) {
        MachineConfig.Builder b = MachineConfig.builder(MachineProfile.Q35).ramSize(2L << 30)
                .iommu(new IommuUnitConfig("dmar0", "vtd", 0, preset, overrides));
        for (PciFunctionSpec d : devices) {
            b.device(d);
        }
        machine = SimulatedMachine.create(b.build());
        mem = machine.memory();
        driver = (VtdDriver) new VtdDriverProvider().bind(this);
    }

    @Override
    public Machine machine() {
        return machine;
    }

    @Override
    public FaultSink faultSink() {
        return (device, fault) -> {
            faults.add(fault);
            faultDevices.add(device);
        };
    }

    @Override
    public ViommuEventSink viommuEventSink() {
        return (viommu, type, data) -> {
        };
    }

    PciFunction fn(String bdf) {
        return machine.pci().function(PciAddress.parse(bdf));
    }

    VtdDevice probe(String bdf) {
        return (VtdDevice) driver.probeDevice(fn(bdf));
    }

    long reg64(int off) {
        return machine.mmio().read64(UNIT_BASE + off);
    }

    int reg32(int off) {
        return machine.mmio().read32(UNIT_BASE + off);
    }

    /** Every descriptor in the invalidation queue memory whose type is {@code type}: {qw0, qw1} pairs. */
    List<long[]> queued(int type) {
        long iqa = reg64(VtdRegisters.IQA_REG);
        int shift = (iqa & VtdRegisters.IQA_DW_256) != 0 ? 5 : 4;
        long q = iqa & VtdRegisters.IQA_ADDR_MASK;
        List<long[]> l = new ArrayList<>();
        for (int i = 0; i < 256; i++) {
            long q0 = mem.read64(q + ((long) i << shift));
            if (dev.iommufd.vtd.layout.InvalidationDescriptor.type(q0) == type && q0 != 0) {
                l.add(new long[] {q0, mem.read64(q + ((long) i << shift) + 8)});
            }
        }
        return l;
    }

    void clearQueue() {
        long iqa = reg64(VtdRegisters.IQA_REG);
        mem.zero(iqa & VtdRegisters.IQA_ADDR_MASK, 4096L << (iqa & 7));
    }

    long frame() {
        return mem.frames().allocateFrame();
    }

    @Override
    public void close() {
        machine.close();
    }
}
