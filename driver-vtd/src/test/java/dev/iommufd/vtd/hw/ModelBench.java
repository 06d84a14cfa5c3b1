package dev.iommufd.vtd.hw;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.IommuGroup;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.InterruptController;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MsiVector;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.PciTopology;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.sim.SparsePhysicalMemory;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.Translation;
import dev.iommufd.vtd.layout.VtdRegisters;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A VT-d unit on bare memory, programmed by tests through its registers and hand-written tables: the hardware
 * model's test bench (no driver involved). PCI functions are minimal stand-ins that only report their RID and
 * PRI capability.
 */
final class ModelBench implements HardwareContext {
    final PhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 256L << 20);
    final List<long[]> signals = new ArrayList<>();
    final List<PciFunction> functions = new ArrayList<>();
    final VtdUnit unit;
    final Translation out = new Translation();

    ModelBench(String preset) {
        this(preset, Map.of());
    }

    ModelBench(String preset, Map<String, Long> overrides) {
        unit = (VtdUnit) new VtdHardwareModelProvider().create(this,
                new IommuUnitConfig("dmar0", "vtd", 0, preset, overrides));
    }

    @Override
    public PhysicalMemory memory() {
        return mem;
    }

    @Override
    public InterruptController interrupts() {
        return new InterruptController() {
            @Override
            public MsiVector allocate(String name, Runnable handler) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void free(MsiVector vector) {
            }

            @Override
            public boolean signal(long address, int data) {
                signals.add(new long[] {address, data});
                return true;
            }
        };
    }

    @Override
    public PciTopology pci() {
        return new PciTopology() {
            @Override
            public PciFunction add(PciFunctionSpec spec) {
                throw new UnsupportedOperationException();
            }

            @Override
            public PciFunction function(PciAddress address) {
                throw new UnsupportedOperationException();
            }

            @Override
            public List<PciFunction> functions() {
                return functions;
            }

            @Override
            public List<IommuGroup> groups() {
                return List.of();
            }
        };
    }

    @Override
    public String profile() {
        return "q35";
    }

    /** Adds a stand-in function with PRI. */
    void addPriFunction(int rid) {
        PciAddress a = new PciAddress(0, rid >>> 8, (rid >>> 3) & 0x1f, rid & 7);
        functions.add(new PciFunction() {
            @Override
            public PciAddress address() {
                return a;
            }

            @Override
            public int pasidBits() {
                return 20;
            }

            @Override
            public boolean atsCapable() {
                return true;
            }

            @Override
            public boolean priCapable() {
                return true;
            }

            @Override
            public String iommuUnit() {
                return "dmar0";
            }

            @Override
            public IommuGroup group() {
                throw new UnsupportedOperationException();
            }

            @Override
            public DmaStatus dmaRead(DmaAttributes attrs, long iova, byte[] dst, int offset, int length) {
                throw new UnsupportedOperationException();
            }

            @Override
            public DmaStatus dmaWrite(DmaAttributes attrs, long iova, byte[] src, int offset, int length) {
                throw new UnsupportedOperationException();
            }
        });
    }

    long frame() {
        return mem.frames().allocateFrame();
    }

    long frames(int order) {
        return mem.frames().allocate(order);
    }

    long r64(int off) {
        return unit.read(off, 8);
    }

    int r32(int off) {
        return (int) unit.read(off, 4);
    }

    void w64(int off, long v) {
        unit.write(off, 8, v);
    }

    void w32(int off, int v) {
        unit.write(off, 4, v & 0xffff_ffffL);
    }

    /** Latches a root table (legacy or scalable) and enables translation. */
    void enable(long rootTable, boolean scalable) {
        w64(VtdRegisters.RTADDR_REG, rootTable | (scalable ? VtdRegisters.RTADDR_SMT : 0));
        w32(VtdRegisters.GCMD_REG, VtdRegisters.GCMD_SRTP);
        w32(VtdRegisters.GCMD_REG, VtdRegisters.GCMD_TE | (r32(VtdRegisters.GSTS_REG) & VtdRegisters.GSTS_QIES));
    }

    Translation read(int rid, long iova) {
        return unit.translate(rid, DmaAttributes.NO_PASID, iova, Translation.ACCESS_READ, out);
    }

    Translation write(int rid, long iova) {
        return unit.translate(rid, DmaAttributes.NO_PASID, iova, Translation.ACCESS_WRITE, out);
    }

    Translation access(int rid, int pasid, long iova, int access) {
        return unit.translate(rid, pasid, iova, access, out);
    }

    int fro() {
        return (int) ((r64(VtdRegisters.CAP_REG) >>> 24) & 0x3ff) * 16;
    }

    int iro() {
        return (int) ((r64(VtdRegisters.ECAP_REG) >>> 8) & 0x3ff) * 16;
    }

    /** Fault record {@code i}'s high qword. */
    long frcdHi(int i) {
        return r64(fro() + i * 16 + 8);
    }

    long frcdLo(int i) {
        return r64(fro() + i * 16);
    }

    void clearFrcd(int i) {
        w32(fro() + i * 16 + 12, 1 << 31);
    }

    /** Sets up a queued-invalidation queue of one page (128-bit) or two (256-bit) and enables it. */
    long enableQueue(boolean wide) {
        long q = frames(wide ? 1 : 0);
        w64(VtdRegisters.IQT_REG, 0);
        w64(VtdRegisters.IQA_REG, q | (wide ? VtdRegisters.IQA_DW_256 | 1 : 0));
        // GCMD is written whole: keep TE as Linux keeps its shadow copy
        w32(VtdRegisters.GCMD_REG, (r32(VtdRegisters.GSTS_REG) & VtdRegisters.GSTS_TES) | VtdRegisters.GCMD_QIE);
        return q;
    }

    private int tail;

    /** Appends descriptors (2 or 4 qwords each) to the queue and rings the tail doorbell. */
    void submit(long queue, boolean wide, long... qwords) {
        int step = wide ? 4 : 2;
        int size = wide ? 32 : 16;
        int entries = 256;
        for (int i = 0; i < qwords.length; i += step) {
            for (int j = 0; j < step; j++) {
                mem.write64(queue + (long) tail * size + j * 8L, qwords[i + j]);
            }
            tail = (tail + 1) % entries;
        }
        w64(VtdRegisters.IQT_REG, (long) tail * size);
    }
}
