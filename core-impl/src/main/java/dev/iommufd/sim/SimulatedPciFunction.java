package dev.iommufd.sim;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.IommuGroup;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import java.util.Objects;

/**
 * A PCI function and its DMA engine.
 *
 * <h2>DMA path</h2>
 * A request of {@code length} bytes at {@code iova} is cut at translation boundaries: the unit translates the
 * current address ({@link IommuUnitModel#translate}), the engine moves {@code min(remaining, remainingInPage)}
 * bytes to or from physical memory, and continues at the next address. The first failure ends the request:
 * <pre>
 *   Translation.FAULT         → DmaStatus.FAULT
 *   Translation.PAGE_REQUEST  → DmaStatus.PAGE_REQUEST
 *   translated PA not RAM     → DmaStatus.BUS_ERROR
 * </pre>
 * Bytes before the failing chunk have been transferred. The {@link Translation} is a per-thread reusable object,
 * so a request whose translations hit allocates nothing. Thread-safe (no state of its own is mutated).
 */
final class SimulatedPciFunction implements PciFunction {

    private static final ThreadLocal<Translation> TRANSLATION = ThreadLocal.withInitial(Translation::new);

    private final PciFunctionSpec spec;
    private final IommuUnitModel unit;
    private final SimulatedIommuGroup group;
    private final PhysicalMemory memory;
    private final int rid;

    SimulatedPciFunction(PciFunctionSpec spec, IommuUnitModel unit, SimulatedIommuGroup group, PhysicalMemory memory) {
        this.spec = spec;
        this.unit = unit;
        this.group = group;
        this.memory = memory;
        this.rid = spec.address().rid();
    }

    PciFunctionSpec spec() {
        return spec;
    }

    SimulatedIommuGroup simGroup() {
        return group;
    }

    @Override
    public PciAddress address() {
        return spec.address();
    }

    @Override
    public int rid() {
        return rid;
    }

    @Override
    public int pasidBits() {
        return spec.pasidBits();
    }

    @Override
    public boolean atsCapable() {
        return spec.ats();
    }

    @Override
    public boolean priCapable() {
        return spec.pri();
    }

    @Override
    public String iommuUnit() {
        return spec.iommuUnit();
    }

    @Override
    public IommuGroup group() {
        return group;
    }

    @Override
    public DmaStatus dmaRead(DmaAttributes attrs, long iova, byte[] dst, int offset, int length) {
        return transfer(attrs, iova, dst, offset, length, false);
    }

    @Override
    public DmaStatus dmaWrite(DmaAttributes attrs, long iova, byte[] src, int offset, int length) {
        return transfer(attrs, iova, src, offset, length, true);
    }

    private DmaStatus transfer(DmaAttributes attrs, long iova, byte[] buf, int offset, int length, boolean write) {
        Objects.requireNonNull(attrs, "attrs");
        Objects.checkFromIndexSize(offset, length, buf.length);
        int access = (write ? Translation.ACCESS_WRITE : Translation.ACCESS_READ)
                | (attrs.execute() ? Translation.ACCESS_EXEC : 0)
                | (attrs.privileged() ? Translation.ACCESS_PRIV : 0);
        Translation t = TRANSLATION.get();
        long addr = iova;
        int off = offset;
        int remaining = length;
        while (remaining > 0) {
            unit.translate(rid, attrs.pasid(), addr, access, t);
            if (t.status() == Translation.PAGE_REQUEST) {
                return DmaStatus.PAGE_REQUEST;
            }
            if (!t.isOk()) {
                return DmaStatus.FAULT;
            }
            long inPage = t.remainingInPage();
            if (inPage <= 0) {
                throw new IllegalStateException(String.format("IOMMU unit %s returned an empty page (size %d) for iova %#x",
                        unit.name(), t.pageSize(), addr));
            }
            int n = (int) Math.min(remaining, inPage);
            long pa = t.physicalAddress();
            if (!memory.isRam(pa, n)) {
                return DmaStatus.BUS_ERROR;
            }
            if (write) {
                memory.writeBytes(pa, buf, off, n);
            } else {
                memory.readBytes(pa, buf, off, n);
            }
            addr += n;
            off += n;
            remaining -= n;
        }
        return DmaStatus.OK;
    }

    @Override
    public String toString() {
        return spec.address() + " behind " + spec.iommuUnit();
    }
}
