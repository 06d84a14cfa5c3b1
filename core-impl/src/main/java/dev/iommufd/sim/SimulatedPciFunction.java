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
 * Bytes before the failing chunk have been transferred.
 *
 * <h2>x86 interrupt window</h2>
 * On x86 an untagged (no PASID) request to {@code 0xFEE0_0000-0xFEEF_FFFF} is not DMA: the IOMMU does not
 * translate it (VT-d: requests to the interrupt address range are interrupt requests; AMD-Vi: the range goes to
 * interrupt remapping, not the page tables). A naturally aligned 4-byte write there is an MSI and is delivered to the interrupt controller
 * (compatibility format, data little-endian); any other request to the window (a read, another size, a request
 * straddling it) completes with {@link DmaStatus#FAULT}. Interrupt remapping is not modelled: a message in the
 * remappable format reaches no handler and is dropped.
 *
 * <h2>MSI doorbells behind translation</h2>
 * On Arm and POWER an MSI is an ordinary DMA write that the IOMMU translates (iommufd maps the doorbell page into
 * the I/O address space). When a translated 4-byte write lands exactly on the interrupt controller's doorbell
 * ({@link SimulatedInterruptController#isDoorbell}), it is delivered as an MSI; any other access to a non-RAM
 * address is a {@link DmaStatus#BUS_ERROR}.
 *
 * <p>The {@link Translation} is a per-thread reusable object,
 * so a request whose translations hit allocates nothing. Thread-safe (no state of its own is mutated).
 */
final class SimulatedPciFunction implements PciFunction {

    private static final ThreadLocal<Translation> TRANSLATION = ThreadLocal.withInitial(Translation::new);

    private final PciFunctionSpec spec;
    private final IommuUnitModel unit;
    private final SimulatedIommuGroup group;
    /** First byte of the x86 interrupt address range. */
    static final long X86_INTERRUPT_WINDOW = 0xfee0_0000L;
    /** Last byte of the x86 interrupt address range. */
    static final long X86_INTERRUPT_WINDOW_LAST = 0xfeef_ffffL;

    private final PhysicalMemory memory;
    private final SimulatedInterruptController interrupts;
    /** Whether untagged requests to the x86 interrupt window are interrupt requests (q35). */
    private final boolean x86InterruptWindow;
    private final int rid;

    SimulatedPciFunction(PciFunctionSpec spec, IommuUnitModel unit, SimulatedIommuGroup group, PhysicalMemory memory,
            SimulatedInterruptController interrupts, boolean x86InterruptWindow) {
        this.spec = spec;
        this.unit = unit;
        this.group = group;
        this.memory = memory;
        this.interrupts = interrupts;
        this.x86InterruptWindow = x86InterruptWindow;
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
    public boolean virtualFunction() {
        return spec.virtualFunction();
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
        if (x86InterruptWindow && !attrs.hasPasid() && length > 0 && iova <= X86_INTERRUPT_WINDOW_LAST
                && iova + length - 1 >= X86_INTERRUPT_WINDOW) {
            return interruptRequest(iova, buf, offset, length, write);
        }
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
                if (write && length == 4 && interrupts.isDoorbell(pa)) {
                    interrupts.signal(pa, littleEndianInt(buf, off));
                    return DmaStatus.OK;
                }
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

    /** A request touching the x86 interrupt window: an MSI when it is an aligned 4-byte write inside it. */
    private DmaStatus interruptRequest(long iova, byte[] buf, int offset, int length, boolean write) {
        if (!write || length != 4 || (iova & 3) != 0 || iova < X86_INTERRUPT_WINDOW) {
            return DmaStatus.FAULT;
        }
        interrupts.signal(iova, littleEndianInt(buf, offset));
        return DmaStatus.OK;
    }

    private static int littleEndianInt(byte[] b, int i) {
        return (b[i] & 0xff) | (b[i + 1] & 0xff) << 8 | (b[i + 2] & 0xff) << 16 | (b[i + 3] & 0xff) << 24;
    }

    @Override
    public String toString() {
        return spec.address() + " behind " + spec.iommuUnit();
    }
}
