package dev.iommufd.smmuv3;

import static dev.iommufd.smmuv3.layout.SmmuRegisters.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.InterruptController;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.MsiVector;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.smmuv3.layout.PageRequestRecord;
import dev.iommufd.spi.IoPageFault;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One SMMU as the driver sees it ({@code struct arm_smmu_device}): its registers (through the MMIO bus only),
 * the stream table, the command, event and PRI queues, the ASID and VMID spaces, and its masters by StreamID.
 *
 * <h2>Bring-up</h2>
 * {@link #reset()} follows {@code arm_smmu_device_reset}: disable (CR0=0, wait for CR0ACK); GBPA.ABORT;
 * CR1 = WB/ISH for tables and queues; CR2 = PTM | RECINVSID; stream table; command queue, enable it;
 * CFGI_ALL + TLBI_NSNH_ALL + CMD_SYNC; event queue (and PRI queue), enable them; IRQs (MSIs) and IRQ_CTRL;
 * finally SMMUEN.
 *
 * <h2>Locking</h2>
 * {@link #masters} and the ID allocators are guarded by {@code this}; the command queue has its own lock;
 * event draining runs on the signalling thread and synchronises on {@link #eventLog}.
 */
final class SmmuInstance {
    /** How many decoded events are kept for inspection. */
    static final int EVENT_LOG_SIZE = 256;

    final String name;
    final long regs;
    final MmioBus mmio;
    final PhysicalMemory memory;
    final SmmuFeatures features;
    final StreamTable streamTable;
    final CommandQueue cmdq;
    private final Smmuv3Driver driver;
    private final InterruptController interrupts;
    private final long evtqBase;
    private final int evtqOrder;
    private final long priqBase;
    private final Map<Integer, SmmuMaster> masters = new HashMap<>();
    private final BitSet asids = new BitSet();
    private final BitSet vmids = new BitSet();
    private MsiVector evtqVector;
    private MsiVector gerrorVector;
    private MsiVector priqVector;
    private int evtqCons;
    private int priqCons;
    /** Raw events (4 dwords each) most recently drained, oldest first; guarded by itself. */
    final List<long[]> eventLog = new ArrayList<>();
    private final java.util.concurrent.atomic.AtomicLong gerrorInterrupts = new java.util.concurrent.atomic.AtomicLong();

    SmmuInstance(Smmuv3Driver driver, String name, long regs, MmioBus mmio, PhysicalMemory memory,
            InterruptController interrupts) {
        this.driver = driver;
        this.name = name;
        this.regs = regs;
        this.mmio = mmio;
        this.memory = memory;
        this.interrupts = interrupts;
        int[] idr = new int[6];
        for (int i = 0; i < 6; i++) {
            idr[i] = mmio.read32(regs + IDR0 + 4L * i);
        }
        this.features = new SmmuFeatures(idr, mmio.read32(regs + IIDR), mmio.read32(regs + AIDR));
        if (!features.stage1 && !features.stage2) {
            throw ErrnoException.of(Errno.ENXIO, "SMMU %s has no AArch64 translation stage", name);
        }
        if (features.pgsizeBitmap == 0) {
            throw ErrnoException.of(Errno.ENXIO, "SMMU %s advertises no granule", name);
        }
        this.streamTable = new StreamTable(memory, features);
        this.cmdq = new CommandQueue(mmio, regs, memory, features.cmdqShift, features.msi && features.coherent);
        this.evtqOrder = 0;
        this.evtqBase = memory.frames().allocate(evtqOrder);
        this.priqBase = features.pri ? memory.frames().allocate(0) : 0;
        asids.set(0); // ASID 0 is reserved (Linux allocates from 1)
        vmids.set(0); // VMID 0 tags stage-1-only streams
    }

    private void writeCr0(int value) {
        mmio.write32(regs + CR0, value);
        for (int polls = 0; mmio.read32(regs + CR0ACK) != value; polls++) {
            if (polls > 1000) {
                throw ErrnoException.of(Errno.ETIMEDOUT, "SMMU %s CR0ACK did not follow CR0=%#x", name, value);
            }
        }
    }

    void reset() {
        writeCr0(0);
        mmio.write32(regs + GBPA, GBPA_UPDATE | GBPA_ABORT);
        int cr1 = CR1_CACHE_WB << CR1_QUEUE_IC_SHIFT | CR1_CACHE_WB << CR1_QUEUE_OC_SHIFT | CR1_SH_ISH << CR1_QUEUE_SH_SHIFT
                | CR1_CACHE_WB << CR1_TABLE_IC_SHIFT | CR1_CACHE_WB << CR1_TABLE_OC_SHIFT | CR1_SH_ISH << CR1_TABLE_SH_SHIFT;
        mmio.write32(regs + CR1, cr1);
        mmio.write32(regs + CR2, CR2_PTM | CR2_RECINVSID);
        streamTable.program(mmio, regs);
        cmdq.program();
        int enables = CR0_CMDQEN;
        writeCr0(enables);
        long[] c = new long[2];
        Command.cfgiAll(c);
        cmdq.add(c);
        Command.tlbiNsnhAll(c);
        cmdq.add(c);
        cmdq.sync();
        // event queue: 4 KiB = 128 records
        mmio.write64(regs + EVENTQ_BASE, Q_BASE_RWA | evtqBase | features.evtqShift);
        mmio.write32(regs + EVENTQ_PROD, 0);
        mmio.write32(regs + EVENTQ_CONS, 0);
        evtqCons = 0;
        enables |= CR0_EVTQEN;
        writeCr0(enables);
        if (features.pri) {
            mmio.write64(regs + PRIQ_BASE, Q_BASE_RWA | priqBase | features.priqShift);
            mmio.write32(regs + PRIQ_PROD, 0);
            mmio.write32(regs + PRIQ_CONS, 0);
            priqCons = 0;
            enables |= CR0_PRIQEN;
            writeCr0(enables);
        }
        // interrupts: MSIs programmed into the *_IRQ_CFG registers
        mmio.write32(regs + IRQ_CTRL, 0);
        int irqEnables = 0;
        if (features.msi) {
            evtqVector = interrupts.allocate(name + "-evtq", this::drainEventQueue);
            mmio.write64(regs + EVENTQ_IRQ_CFG0, evtqVector.address());
            mmio.write32(regs + EVENTQ_IRQ_CFG1, evtqVector.data());
            mmio.write32(regs + EVENTQ_IRQ_CFG2, 1); // MemAttr Device-nGnRE
            gerrorVector = interrupts.allocate(name + "-gerror", this::handleGerror);
            mmio.write64(regs + GERROR_IRQ_CFG0, gerrorVector.address());
            mmio.write32(regs + GERROR_IRQ_CFG1, gerrorVector.data());
            irqEnables = IRQ_CTRL_EVTQ_IRQEN | IRQ_CTRL_GERROR_IRQEN;
            if (features.pri) {
                priqVector = interrupts.allocate(name + "-priq", this::drainPriQueue);
                mmio.write64(regs + PRIQ_IRQ_CFG0, priqVector.address());
                mmio.write32(regs + PRIQ_IRQ_CFG1, priqVector.data());
                irqEnables |= IRQ_CTRL_PRIQ_IRQEN;
            }
        }
        mmio.write32(regs + IRQ_CTRL, irqEnables);
        for (int polls = 0; mmio.read32(regs + IRQ_CTRLACK) != irqEnables; polls++) {
            if (polls > 1000) {
                throw ErrnoException.of(Errno.ETIMEDOUT, "SMMU %s IRQ_CTRLACK did not follow", name);
            }
        }
        if (features.ats) {
            enables |= CR0_ATSCHK;
        }
        writeCr0(enables | CR0_SMMUEN);
    }

    /** Disables the SMMU and frees its memory and vectors ({@code arm_smmu_device_shutdown} + teardown). */
    void shutdown() {
        writeCr0(0);
        mmio.write32(regs + IRQ_CTRL, 0);
        for (MsiVector v : new MsiVector[] {evtqVector, gerrorVector, priqVector}) {
            if (v != null) {
                interrupts.free(v);
            }
        }
        streamTable.free();
        cmdq.free();
        memory.frames().free(evtqBase, evtqOrder);
        if (priqBase != 0) {
            memory.frames().free(priqBase, 0);
        }
    }

    // ---- ID spaces

    synchronized int allocAsid() {
        int id = asids.nextClearBit(1);
        if (id >= 1 << features.asidBits) {
            throw ErrnoException.of(Errno.ENOSPC, "SMMU %s is out of ASIDs", name);
        }
        asids.set(id);
        return id;
    }

    synchronized void freeAsid(int asid) {
        asids.clear(asid);
    }

    synchronized int allocVmid() {
        int id = vmids.nextClearBit(1);
        if (id >= 1 << features.vmidBits) {
            throw ErrnoException.of(Errno.ENOSPC, "SMMU %s is out of VMIDs", name);
        }
        vmids.set(id);
        return id;
    }

    synchronized void freeVmid(int vmid) {
        vmids.clear(vmid);
    }

    // ---- masters

    synchronized void addMaster(SmmuMaster master) {
        if (masters.putIfAbsent(master.sid, master) != null) {
            throw ErrnoException.of(Errno.EEXIST, "StreamID %#x is already probed on %s", master.sid, name);
        }
    }

    synchronized void removeMaster(SmmuMaster master) {
        masters.remove(master.sid, master);
    }

    synchronized SmmuMaster master(int sid) {
        return masters.get(sid);
    }

    // ---- event queue

    /** The GERROR interrupt: counted only (command errors are handled synchronously by the command queue). */
    private void handleGerror() {
        gerrorInterrupts.incrementAndGet();
    }

    long gerrorInterrupts() {
        return gerrorInterrupts.get();
    }

    /** The EVTQ interrupt handler ({@code arm_smmu_evtq_thread}): drains records and dispatches them. */
    void drainEventQueue() {
        int shift = features.evtqShift;
        List<long[]> drained = new ArrayList<>();
        synchronized (eventLog) {
            int prod = mmio.read32(regs + EVENTQ_PROD);
            while (!queueEmpty(prod, evtqCons, shift)) {
                long slot = evtqBase + (long) queueIndex(evtqCons, shift) * EventRecord.SIZE;
                long[] evt = new long[4];
                for (int i = 0; i < 4; i++) {
                    evt[i] = memory.read64(slot + 8L * i);
                }
                evtqCons = queueIncrement(evtqCons, shift);
                if (eventLog.size() == EVENT_LOG_SIZE) {
                    eventLog.remove(0);
                }
                eventLog.add(evt);
                drained.add(evt);
                prod = mmio.read32(regs + EVENTQ_PROD);
            }
            // acknowledge overflow by copying OVFLG into OVACKFLG
            evtqCons = evtqCons & ~Q_OVERFLOW_FLAG | prod & Q_OVERFLOW_FLAG;
            mmio.write32(regs + EVENTQ_CONS, evtqCons);
        }
        // dispatched without the queue lock: reporting takes master locks, which may be held by a thread that is
        // waiting for the command queue
        for (long[] evt : drained) {
            dispatchEvent(evt);
        }
        reportStalls();
    }

    /** Stalled faults found by {@link #dispatchEvent}, reported by {@link #reportStalls}; guarded by eventLog. */
    private final List<Object[]> stalled = new ArrayList<>();

    private void dispatchEvent(long[] evt) {
        int id = (int) BitField.extract(EventRecord.ID, evt[0]);
        int sid = (int) BitField.extract(EventRecord.SID, evt[0]);
        SmmuMaster master = master(sid);
        if ((evt[1] & BitField.mask(EventRecord.STALL)) != 0) {
            synchronized (eventLog) {
                stalled.add(new Object[] {master, evt});
            }
            return;
        }
        if (master != null && EventRecord.forwardedToVeventq(id)) {
            master.reportToViommu(evt);
        }
    }

    /**
     * {@code arm_smmu_handle_evt} for a stalled transaction: an I/O page fault (grpid = STAG) for a master that
     * stalls, otherwise CMD_RESUME with abort at once.
     */
    private void reportStalls() {
        List<Object[]> todo;
        synchronized (eventLog) {
            if (stalled.isEmpty()) {
                return;
            }
            todo = new ArrayList<>(stalled);
            stalled.clear();
        }
        for (Object[] s : todo) {
            SmmuMaster m = (SmmuMaster) s[0];
            long[] evt = (long[]) s[1];
            int sid = (int) BitField.extract(EventRecord.SID, evt[0]);
            int stag = (int) BitField.extract(EventRecord.STAG, evt[1]);
            if (m == null || !m.stallEnabled) {
                resume(sid, stag, Command.RESUME_ABORT);
                continue;
            }
            int flags = IoPageFault.FLAG_LAST_PAGE;
            int pasid = 0;
            if ((evt[0] & BitField.mask(EventRecord.SSV)) != 0) {
                flags |= IoPageFault.FLAG_PASID_VALID;
                pasid = (int) BitField.extract(EventRecord.SSID, evt[0]);
            }
            int perm = (evt[1] & BitField.mask(EventRecord.RNW)) != 0 ? IoPageFault.PERM_READ : IoPageFault.PERM_WRITE;
            perm |= (evt[1] & BitField.mask(EventRecord.IND)) != 0 ? IoPageFault.PERM_EXEC : 0;
            perm |= (evt[1] & BitField.mask(EventRecord.PNU)) != 0 ? IoPageFault.PERM_PRIV : 0;
            driver.context().faultSink().reportPageFault(m, new IoPageFault(flags, pasid, stag, perm, evt[2], 0, 0));
        }
    }

    /** CMD_RESUME + CMD_SYNC ({@code arm_smmu_page_response} for stalls). */
    void resume(int sid, int stag, int resp) {
        long[] c = new long[2];
        Command.resume(c, sid, stag, resp);
        cmdq.issueWithSync(c);
    }

    /** The PRIQ interrupt handler ({@code arm_smmu_priq_thread}): page requests go to the core's fault queue. */
    void drainPriQueue() {
        int shift = features.priqShift;
        List<Object[]> toReport = new ArrayList<>();
        synchronized (eventLog) {
            int prod = mmio.read32(regs + PRIQ_PROD);
            while (!queueEmpty(prod, priqCons, shift)) {
                long slot = priqBase + (long) queueIndex(priqCons, shift) * PageRequestRecord.SIZE;
                long p0 = memory.read64(slot);
                long p1 = memory.read64(slot + 8);
                priqCons = queueIncrement(priqCons, shift);
                int sid = (int) BitField.extract(PageRequestRecord.SID, p0);
                SmmuMaster master = master(sid);
                if (master != null) {
                    toReport.add(new Object[] {master, pageFault(p0, p1)});
                }
                prod = mmio.read32(regs + PRIQ_PROD);
            }
            priqCons = priqCons & ~Q_OVERFLOW_FLAG | prod & Q_OVERFLOW_FLAG;
            mmio.write32(regs + PRIQ_CONS, priqCons);
        }
        for (Object[] r : toReport) {
            SmmuMaster m = (SmmuMaster) r[0];
            IoPageFault f = (IoPageFault) r[1];
            if (m.iopfEnabled()) {
                driver.context().faultSink().reportPageFault(m, f);
            } else if (f.lastPage()) {
                // arm_smmu_handle_ppr for a master without IOPF: answer the group with DENY at once
                respond(m.sid, f.pasidValid(), f.pasid(), f.grpid(), Command.PRI_RESP_DENY);
            }
        }
    }

    /** Issues CMD_PRI_RESP + CMD_SYNC. */
    void respond(int sid, boolean ssv, int ssid, int grpid, int resp) {
        long[] c = new long[2];
        Command.priResp(c, sid, ssid, ssv, grpid, resp);
        cmdq.issueWithSync(c);
    }

    /** {@code arm_smmu_handle_ppr}: a PRIQ record as an {@link IoPageFault}. */
    static IoPageFault pageFault(long p0, long p1) {
        int flags = 0;
        int pasid = 0;
        if ((p0 & BitField.mask(PageRequestRecord.SSID_V)) != 0) {
            flags |= IoPageFault.FLAG_PASID_VALID;
            pasid = (int) BitField.extract(PageRequestRecord.SSID, p0);
        }
        if ((p0 & BitField.mask(PageRequestRecord.LAST)) != 0) {
            flags |= IoPageFault.FLAG_LAST_PAGE;
        }
        int perm = 0;
        perm |= (p0 & BitField.mask(PageRequestRecord.PERM_READ)) != 0 ? IoPageFault.PERM_READ : 0;
        perm |= (p0 & BitField.mask(PageRequestRecord.PERM_WRITE)) != 0 ? IoPageFault.PERM_WRITE : 0;
        perm |= (p0 & BitField.mask(PageRequestRecord.PERM_EXEC)) != 0 ? IoPageFault.PERM_EXEC : 0;
        perm |= (p0 & BitField.mask(PageRequestRecord.PERM_PRIV)) != 0 ? IoPageFault.PERM_PRIV : 0;
        int grpid = (int) BitField.extract(PageRequestRecord.PRG_INDEX, p1);
        long addr = p1 & BitField.mask(PageRequestRecord.ADDR);
        return new IoPageFault(flags, pasid, grpid, perm, addr, 0, 0);
    }

    /** A copy of the event log (raw records). */
    List<long[]> events() {
        synchronized (eventLog) {
            return new ArrayList<>(eventLog);
        }
    }
}
