package dev.iommufd.smmuv3.hw;

import static dev.iommufd.smmuv3.layout.SmmuRegisters.*;

import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.spi.hw.Translation;
import java.util.Map;

/**
 * A test bench that programs an SMMUv3 model by hand (no driver): it writes registers over the machine's MMIO
 * bus and structures into physical memory exactly as a test author computed them.
 */
final class ModelBench implements AutoCloseable {
    static final String UNIT = "smmu0";
    static final int QSHIFT = 4; // 16-entry queues

    final SimulatedMachine machine;
    final Smmuv3Unit unit;
    final PhysicalMemory memory;
    final MmioBus mmio;
    final long regs;
    final long cmdq;
    final long evtq;
    final long priq;
    private int cmdqProd;
    private int evtqCons;

    ModelBench(String preset, Map<String, Long> overrides, PciFunctionSpec... devices) {
        MachineConfig.Builder b = MachineConfig.builder(MachineProfile.VIRT)
                .iommu(new IommuUnitConfig(UNIT, "smmuv3", 0, preset, overrides));
        for (PciFunctionSpec d : devices) {
            b.device(d);
        }
        machine = SimulatedMachine.create(b.build());
        unit = (Smmuv3Unit) machine.iommuUnit(UNIT);
        memory = machine.memory();
        mmio = machine.mmio();
        regs = unit.mmioBase();
        cmdq = alloc(0);
        evtq = alloc(0);
        priq = alloc(0);
    }

    static PciFunctionSpec device(String bdf) {
        return PciFunctionSpec.endpoint(bdf, UNIT);
    }

    long alloc(int order) {
        return memory.frames().allocate(order);
    }

    /** Programs the queues and a stream table, then enables everything. */
    void enable(long strtabBase, int strtabCfg) {
        mmio.write64(regs + CMDQ_BASE, cmdq | QSHIFT);
        mmio.write32(regs + CMDQ_PROD, 0);
        mmio.write32(regs + CMDQ_CONS, 0);
        mmio.write64(regs + EVENTQ_BASE, evtq | QSHIFT);
        mmio.write32(regs + EVENTQ_PROD, 0);
        mmio.write32(regs + EVENTQ_CONS, 0);
        mmio.write64(regs + STRTAB_BASE, strtabBase);
        mmio.write32(regs + STRTAB_BASE_CFG, strtabCfg);
        mmio.write32(regs + CR2, CR2_RECINVSID);
        int cr0 = CR0_CMDQEN | CR0_EVTQEN | CR0_SMMUEN;
        if ((mmio.read32(regs + IDR0) & IDR0_PRI) != 0) {
            mmio.write64(regs + PRIQ_BASE, priq | QSHIFT);
            cr0 |= CR0_PRIQEN;
        }
        mmio.write32(regs + CR0, cr0);
    }

    /** A linear stream table of {@code 2^log2} STEs; returns its base. */
    long linearStreamTable(int log2) {
        int order = Math.max(0, log2 + 6 - 12);
        long base = alloc(order);
        enable(base, log2);
        return base;
    }

    long steAddress(long linearBase, int sid) {
        return linearBase + sid * 64L;
    }

    void writeStruct(long pa, long... words) {
        for (int i = 0; i < words.length; i++) {
            memory.write64(pa + 8L * i, words[i]);
        }
    }

    /** Queues one command and rings the doorbell; returns CMDQ_CONS afterwards. */
    int command(long c0, long c1) {
        long slot = cmdq + (long) queueIndex(cmdqProd, QSHIFT) * Command.SIZE;
        memory.write64(slot, c0);
        memory.write64(slot + 8, c1);
        cmdqProd = queueIncrement(cmdqProd, QSHIFT);
        mmio.write32(regs + CMDQ_PROD, cmdqProd);
        return mmio.read32(regs + CMDQ_CONS);
    }

    int command(long[] c) {
        return command(c[0], c[1]);
    }

    /** The next event record, or null. */
    long[] nextEvent() {
        int prod = mmio.read32(regs + EVENTQ_PROD);
        if (queueEmpty(prod, evtqCons, QSHIFT)) {
            return null;
        }
        long slot = evtq + (long) queueIndex(evtqCons, QSHIFT) * EventRecord.SIZE;
        long[] e = new long[4];
        for (int i = 0; i < 4; i++) {
            e[i] = memory.read64(slot + 8L * i);
        }
        evtqCons = queueIncrement(evtqCons, QSHIFT);
        mmio.write32(regs + EVENTQ_CONS, evtqCons | prod & Q_OVERFLOW_FLAG);
        return e;
    }

    Translation translate(int rid, int pasid, long iova, int access) {
        return unit.translate(rid, pasid, iova, access, new Translation());
    }

    PciFunction function(String bdf) {
        return machine.pci().function(dev.iommufd.platform.PciAddress.parse(bdf));
    }

    @Override
    public void close() {
        machine.close();
    }
}
