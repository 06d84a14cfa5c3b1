package dev.iommufd.smmuv3.hw;

import static dev.iommufd.smmuv3.layout.SmmuRegisters.*;

import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.ContextDescriptor;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.smmuv3.layout.PageRequestRecord;
import dev.iommufd.smmuv3.layout.StreamTableDescriptor;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import dev.iommufd.smmuv3.layout.TranslationDescriptor;
import dev.iommufd.smmuv3.layout.TranslationGranule;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.RegisterMap;
import dev.iommufd.spi.hw.Translation;
import java.util.List;
import java.util.Objects;
import java.util.function.LongConsumer;

/**
 * One SMMUv3 (IHI0070): the register file, the command, event and PRI queues, the stream table walk, the
 * configuration cache, the TLB, and the translation of device transactions. It reads only physical memory and
 * its registers.
 *
 * <h2>Locking</h2>
 * One lock ({@link #lock}) guards every register, the configuration cache's writes, the TLB's invalidations and
 * the unit's walker: register accesses, command processing (synchronous with the write to CMDQ_PROD) and every
 * translation that faults or needs its configuration fetched are serialised. Interrupts (MSIs) raised while
 * holding it are collected in {@link #pendingIrqs} and signalled after the lock is released, so a handler may
 * access the registers.
 *
 * <h2>The lock-free fast path</h2>
 * {@link #translate} first tries without the lock: with SMMUEN set ({@link #translating}) and the
 * (StreamID, SubstreamID)'s configuration in the configuration cache ({@link ConfigurationCache#decoded}), it
 * looks the TLB up ({@link Smmuv3Tlb#lookup}, a seqlock per set); on a miss it walks the tables with the calling
 * thread's own walker ({@link #threadWalker}) reading only memory, and fills the TLB (lock-free too) unless an
 * invalidation command ran since the walk began ({@link Smmuv3Tlb#invalidationCount}). Anything else (no cached
 * configuration, a fault, a hardware-update race) is redone on the locked path, which fetches, decodes,
 * reports events and stalls exactly as before. So two StreamIDs translate in parallel, and a translation that
 * starts after a CMD_SYNC completed sees every invalidation before that CMD_SYNC.
 *
 * <h2>Model choices</h2>
 * CR0 and IRQ_CTRL writes take effect at once (CR0ACK/IRQ_CTRLACK follow immediately); GBPA updates complete
 * at once (UPDATE reads 0). Commands are consumed when CMDQ_PROD is written. A TLB hit whose permissions do
 * not allow the access is treated as a miss and walked again (the walk then faults or performs the HTTU
 * update). StreamID = PCI requester ID (an IORT ID mapping of identity). The TERM_MODEL=1 presets make
 * CD.A=0 ILLEGAL, so RAZ/WI termination never arises.
 */
final class Smmuv3Unit implements IommuUnitModel {
    /** Fault reason of a transaction terminated without an event (STE Config=abort, GBPA.ABORT). */
    static final int REASON_SILENT_ABORT = 0;

    private static final int IRQ_EVTQ = 1;
    private static final int IRQ_PRIQ = 2;
    private static final int IRQ_GERROR = 4;

    private final HardwareContext context;
    private final PhysicalMemory memory;
    private final String name;
    private final long mmioBase;
    private final IdRegisters id;
    /**
     * The unit's lock (see Locking). Its object also holds the TLB's invalidation count and CMDQ_PROD and
     * CMDQ_CONS, the words every command submission with a TLBI writes, so that a submission from another CPU than
     * the last one moves one cache line for the lock word, the count and both registers, instead of three.
     */
    private final CommandQueueIndexes lock = new CommandQueueIndexes();

    /**
     * CMDQ_PROD and CMDQ_CONS (guarded by the object itself, which is the unit's lock), after the TLB's invalidation
     * count, which TLBI commands advance under this lock: the monitor word, the count and both registers share the
     * object's first line.
     */
    private static final class CommandQueueIndexes extends InvalidationCount {
        int prod;
        int cons;
    }
    private final TranslationTableWalker walker;
    /**
     * Each translating thread's walker for the lock-free path (walk state is per transaction); bound to
     * {@link #memory} only during a walk, so a thread's idle walker keeps no machine alive.
     */
    private final ThreadLocal<TranslationTableWalker> threadWalker;
    /** CR0.SMMUEN, readable without the lock (written under it). */
    private volatile boolean translating;
    private final ConfigurationCache configCache = new ConfigurationCache(1024);
    private final Smmuv3Tlb tlb = new Smmuv3Tlb(4096, lock);
    /**
     * The walk cache (IHI0070 3.17): last-level table addresses per level-2 block of input address, tagged like the
     * TLB and sharing its invalidation epochs and count. Its size is IMPLEMENTATION DEFINED (nothing in the ID
     * registers reports it): 32768 entries cover 64 GiB of input address with 4 KiB pages.
     */
    private final Smmuv3Tlb walkCache = new Smmuv3Tlb(32768, tlb);
    private final long[] ste = new long[8];
    private final long[] cd = new long[8];
    /** The architected registers: the layout every MMIO access is decoded against. */
    private final RegisterMap registerMap;

    // ---- registers (guarded by lock)
    private int cr0;
    private int cr1;
    private int cr2;
    private int gbpa;
    private int irqCtrl;
    private int gerror;
    private int gerrorn;
    private long gerrorIrqCfg0;
    private int gerrorIrqCfg1;
    private int gerrorIrqCfg2;
    private long strtabBase;
    private int strtabBaseCfg;
    private long cmdqBase;
    private long eventqBase;
    private int eventqProd;
    private int eventqCons;
    private long eventqIrqCfg0;
    private int eventqIrqCfg1;
    private int eventqIrqCfg2;
    private long priqBase;
    private int priqProd;
    private int priqCons;
    private long priqIrqCfg0;
    private int priqIrqCfg1;
    private int priqIrqCfg2;

    private int pendingIrqs;
    /** Outstanding stalled transactions (StreamID, STAG), at most IDR5.STALL_MAX; guarded by lock. */
    private final int[] stalledSid = new int[64];
    private final int[] stalledTag = new int[64];
    private int stalledCount;
    private int nextStag;
    /** Stall fields of the event being recorded. */
    private boolean eventStall;
    private int eventStag;
    private int nextPrgIndex;
    private long eventsRecorded;
    private long eventsLost;

    Smmuv3Unit(HardwareContext context, String name, long mmioBase, IdRegisters id) {
        this.context = context;
        this.memory = context.memory();
        this.name = name;
        this.mmioBase = mmioBase;
        this.id = id;
        this.walker = new TranslationTableWalker(memory, id);
        this.threadWalker = ThreadLocal.withInitial(() -> new TranslationTableWalker(null, id));
        this.gbpa = 0; // bypass when disabled (Linux's disable_bypass=1 sets ABORT itself)
        this.registerMap = RegisterMap.builder(WINDOW_SIZE)
                .register(IDR0, "SMMU_IDR0", 32)
                .register(IDR1, "SMMU_IDR1", 32)
                .register(IDR2, "SMMU_IDR2", 32)
                .register(IDR3, "SMMU_IDR3", 32)
                .register(IDR4, "SMMU_IDR4", 32)
                .register(IDR5, "SMMU_IDR5", 32)
                .register(IIDR, "SMMU_IIDR", 32)
                .register(AIDR, "SMMU_AIDR", 32)
                .register(CR0, "SMMU_CR0", 32)
                .register(CR0ACK, "SMMU_CR0ACK", 32)
                .register(CR1, "SMMU_CR1", 32)
                .register(CR2, "SMMU_CR2", 32)
                .register(STATUSR, "SMMU_STATUSR", 32)
                .register(GBPA, "SMMU_GBPA", 32)
                .register(AGBPA, "SMMU_AGBPA", 32)
                .register(IRQ_CTRL, "SMMU_IRQ_CTRL", 32)
                .register(IRQ_CTRLACK, "SMMU_IRQ_CTRLACK", 32)
                .register(GERROR, "SMMU_GERROR", 32)
                .register(GERRORN, "SMMU_GERRORN", 32)
                .register(GERROR_IRQ_CFG0, "SMMU_GERROR_IRQ_CFG0", 64)
                .register(GERROR_IRQ_CFG1, "SMMU_GERROR_IRQ_CFG1", 32)
                .register(GERROR_IRQ_CFG2, "SMMU_GERROR_IRQ_CFG2", 32)
                .register(STRTAB_BASE, "SMMU_STRTAB_BASE", 64)
                .register(STRTAB_BASE_CFG, "SMMU_STRTAB_BASE_CFG", 32)
                .register(CMDQ_BASE, "SMMU_CMDQ_BASE", 64)
                .register(CMDQ_PROD, "SMMU_CMDQ_PROD", 32)
                .register(CMDQ_CONS, "SMMU_CMDQ_CONS", 32)
                .register(EVENTQ_BASE, "SMMU_EVENTQ_BASE", 64)
                .register(EVENTQ_IRQ_CFG0, "SMMU_EVENTQ_IRQ_CFG0", 64)
                .register(EVENTQ_IRQ_CFG1, "SMMU_EVENTQ_IRQ_CFG1", 32)
                .register(EVENTQ_IRQ_CFG2, "SMMU_EVENTQ_IRQ_CFG2", 32)
                .register(PRIQ_BASE, "SMMU_PRIQ_BASE", 64)
                .register(PRIQ_IRQ_CFG0, "SMMU_PRIQ_IRQ_CFG0", 64)
                .register(PRIQ_IRQ_CFG1, "SMMU_PRIQ_IRQ_CFG1", 32)
                .register(PRIQ_IRQ_CFG2, "SMMU_PRIQ_IRQ_CFG2", 32)
                .register(EVENTQ_PROD, "SMMU_EVENTQ_PROD", 32)
                .register(EVENTQ_CONS, "SMMU_EVENTQ_CONS", 32)
                .register(PRIQ_PROD, "SMMU_PRIQ_PROD", 32)
                .register(PRIQ_CONS, "SMMU_PRIQ_CONS", 32)
                .build();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String model() {
        return Smmuv3HardwareModelProvider.ID;
    }

    @Override
    public long mmioBase() {
        return mmioBase;
    }

    @Override
    public long size() {
        return WINDOW_SIZE;
    }

    @Override
    public List<RegisterInfo> registers() {
        return registerMap.registers();
    }

    @Override
    public long peekRegister(RegisterInfo register) {
        synchronized (lock) {
            return register.width() == 64 ? read64(register.offset()) : read32(register.offset()) & 0xffff_ffffL;
        }
    }

    // =====================================================================================================
    // MMIO
    // =====================================================================================================

    /**
     * The 32-bit registers a driver's command submission touches (CMDQ_PROD, CMDQ_CONS, GERROR, GERRORN): their
     * 32-bit accesses are decoded without the register map's search (the map would say {@code REG32}).
     */
    private static boolean submissionRegister(long offset, int width) {
        return width == 4 && (offset == CMDQ_PROD || offset == CMDQ_CONS || offset == GERROR || offset == GERRORN);
    }

    @Override
    public long read(long offset, int width) {
        synchronized (lock) {
            switch (submissionRegister(offset, width) ? RegisterMap.REG32 : registerMap.access(offset, width)) {
                case RegisterMap.REG64: return read64(offset);
                case RegisterMap.LOW32: return read64(offset) & 0xffff_ffffL;
                case RegisterMap.HIGH32: return read64(offset - 4) >>> 32;
                case RegisterMap.REG32: return read32(offset) & 0xffff_ffffL;
                default: break;
            }
        }
        throw busError(offset, width);
    }

    private BusErrorException busError(long offset, int width) {
        return new BusErrorException(mmioBase + offset, name + ": no " + width * 8 + "-bit SMMU register at offset 0x"
                + Long.toHexString(offset));
    }

    @Override
    public void write(long offset, int width, long value) {
        int irqs;
        synchronized (lock) {
            switch (submissionRegister(offset, width) ? RegisterMap.REG32 : registerMap.access(offset, width)) {
                case RegisterMap.REG64:
                    write64(offset, value);
                    break;
                case RegisterMap.LOW32:
                    write64(offset, read64(offset) & ~0xffff_ffffL | value & 0xffff_ffffL);
                    break;
                case RegisterMap.HIGH32:
                    write64(offset - 4, read64(offset - 4) & 0xffff_ffffL | (value & 0xffff_ffffL) << 32);
                    break;
                case RegisterMap.REG32:
                    write32(offset, (int) value);
                    break;
                default:
                    throw busError(offset, width);
            }
            irqs = pendingIrqs;
            if (irqs != 0) {
                pendingIrqs = 0; // written only when set: a CMDQ_PROD write leaves the field's line clean
            }
        }
        deliver(irqs);
    }

    private long read64(long offset) {
        switch ((int) offset) {
            case GERROR_IRQ_CFG0: return gerrorIrqCfg0;
            case STRTAB_BASE: return strtabBase;
            case CMDQ_BASE: return cmdqBase;
            case EVENTQ_BASE: return eventqBase;
            case EVENTQ_IRQ_CFG0: return eventqIrqCfg0;
            case PRIQ_BASE: return priqBase;
            case PRIQ_IRQ_CFG0: return priqIrqCfg0;
            default: throw new IllegalStateException("not a 64-bit register: " + offset);
        }
    }

    private int read32(long offset) {
        switch ((int) offset) {
            case IDR0: return id.idr0;
            case IDR1: return id.idr1;
            case IDR2: return id.idr2;
            case IDR3: return id.idr3;
            case IDR4: return id.idr4;
            case IDR5: return id.idr5;
            case IIDR: return id.iidr;
            case AIDR: return id.aidr;
            case CR0: return cr0;
            case CR0ACK: return cr0;
            case CR1: return cr1;
            case CR2: return cr2;
            case STATUSR: return 0;
            case GBPA: return gbpa;
            case AGBPA: return 0;
            case IRQ_CTRL: return irqCtrl;
            case IRQ_CTRLACK: return irqCtrl;
            case GERROR: return gerror;
            case GERRORN: return gerrorn;
            case GERROR_IRQ_CFG1: return gerrorIrqCfg1;
            case GERROR_IRQ_CFG2: return gerrorIrqCfg2;
            case STRTAB_BASE_CFG: return strtabBaseCfg;
            case CMDQ_PROD: return lock.prod;
            case CMDQ_CONS: return lock.cons;
            case EVENTQ_IRQ_CFG1: return eventqIrqCfg1;
            case EVENTQ_IRQ_CFG2: return eventqIrqCfg2;
            case PRIQ_IRQ_CFG1: return priqIrqCfg1;
            case PRIQ_IRQ_CFG2: return priqIrqCfg2;
            case EVENTQ_PROD: return eventqProd;
            case EVENTQ_CONS: return eventqCons;
            case PRIQ_PROD: return priqProd;
            case PRIQ_CONS: return priqCons;
            default: throw new IllegalStateException("not a 32-bit register: " + offset);
        }
    }

    private void write64(long offset, long value) {
        switch ((int) offset) {
            case GERROR_IRQ_CFG0: gerrorIrqCfg0 = value & IRQ_CFG0_ADDR_MASK; break;
            case STRTAB_BASE:
                if ((cr0 & CR0_SMMUEN) == 0) {
                    strtabBase = value & (STRTAB_BASE_RA | STRTAB_BASE_ADDR_MASK);
                }
                break;
            case CMDQ_BASE:
                if ((cr0 & CR0_CMDQEN) == 0) {
                    cmdqBase = value & (Q_BASE_RWA | Q_BASE_ADDR_MASK) | Math.min(value & Q_BASE_LOG2SIZE_MASK, id.cmdqs());
                }
                break;
            case EVENTQ_BASE:
                if ((cr0 & CR0_EVTQEN) == 0) {
                    eventqBase = value & (Q_BASE_RWA | Q_BASE_ADDR_MASK) | Math.min(value & Q_BASE_LOG2SIZE_MASK, id.eventqs());
                }
                break;
            case EVENTQ_IRQ_CFG0: eventqIrqCfg0 = value & IRQ_CFG0_ADDR_MASK; break;
            case PRIQ_BASE:
                if ((cr0 & CR0_PRIQEN) == 0 && id.pri()) {
                    priqBase = value & (Q_BASE_RWA | Q_BASE_ADDR_MASK) | Math.min(value & Q_BASE_LOG2SIZE_MASK, id.priqs());
                }
                break;
            case PRIQ_IRQ_CFG0: priqIrqCfg0 = value & IRQ_CFG0_ADDR_MASK; break;
            default: throw new IllegalStateException("not a 64-bit register: " + offset);
        }
    }

    private void write32(long offset, int value) {
        switch ((int) offset) {
            case CR0: {
                int old = cr0;
                cr0 = value & CR0_IMPLEMENTED;
                if (!id.pri()) {
                    cr0 &= ~CR0_PRIQEN;
                }
                translating = (cr0 & CR0_SMMUEN) != 0;
                if ((cr0 & CR0_CMDQEN) != 0 && (old & CR0_CMDQEN) == 0) {
                    processCommands();
                }
                break;
            }
            case CR1: cr1 = value & 0xfff; break;
            case CR2: cr2 = value & (CR2_E2H | CR2_RECINVSID | CR2_PTM) & ~(id.hyp() ? 0 : CR2_E2H); break;
            case GBPA:
                if ((value & GBPA_UPDATE) != 0) {
                    gbpa = value & ~GBPA_UPDATE;
                }
                break;
            case IRQ_CTRL: irqCtrl = value & 7; break;
            case GERRORN: {
                boolean wasCmdqErr = ((gerror ^ gerrorn) & GERROR_CMDQ_ERR) != 0;
                gerrorn = value & GERROR_MASK;
                if (wasCmdqErr && ((gerror ^ gerrorn) & GERROR_CMDQ_ERR) == 0) {
                    lock.cons &= ~(CMDQ_CONS_ERR_MASK << CMDQ_CONS_ERR_SHIFT);
                    processCommands();
                }
                break;
            }
            case GERROR_IRQ_CFG1: gerrorIrqCfg1 = value; break;
            case GERROR_IRQ_CFG2: gerrorIrqCfg2 = value & 0xff; break;
            case STRTAB_BASE_CFG:
                if ((cr0 & CR0_SMMUEN) == 0) {
                    strtabBaseCfg = value & (STRTAB_BASE_CFG_LOG2SIZE_MASK
                            | STRTAB_BASE_CFG_SPLIT_MASK << STRTAB_BASE_CFG_SPLIT_SHIFT | 3 << STRTAB_BASE_CFG_FMT_SHIFT);
                }
                break;
            case CMDQ_PROD:
                lock.prod = value & ((2 << log2size(cmdqBase)) - 1);
                processCommands();
                break;
            case CMDQ_CONS:
                if ((cr0 & CR0_CMDQEN) == 0) {
                    lock.cons = value & ((2 << log2size(cmdqBase)) - 1);
                }
                break;
            case EVENTQ_IRQ_CFG1: eventqIrqCfg1 = value; break;
            case EVENTQ_IRQ_CFG2: eventqIrqCfg2 = value & 0xff; break;
            case PRIQ_IRQ_CFG1: priqIrqCfg1 = value; break;
            case PRIQ_IRQ_CFG2: priqIrqCfg2 = value & 0xff; break;
            case EVENTQ_PROD:
                if ((cr0 & CR0_EVTQEN) == 0) {
                    eventqProd = value & (Q_OVERFLOW_FLAG | (2 << log2size(eventqBase)) - 1);
                }
                break;
            case EVENTQ_CONS: eventqCons = value & (Q_OVERFLOW_FLAG | (2 << log2size(eventqBase)) - 1); break;
            case PRIQ_PROD:
                if ((cr0 & CR0_PRIQEN) == 0) {
                    priqProd = value & (Q_OVERFLOW_FLAG | (2 << log2size(priqBase)) - 1);
                }
                break;
            case PRIQ_CONS: priqCons = value & (Q_OVERFLOW_FLAG | (2 << log2size(priqBase)) - 1); break;
            default:
                break; // read-only registers: writes ignored
        }
    }

    private static int log2size(long qbase) {
        return (int) (qbase & Q_BASE_LOG2SIZE_MASK);
    }

    private static long queueAddress(long qbase) {
        long addr = qbase & Q_BASE_ADDR_MASK;
        return addr;
    }

    private void raiseGerror(int bit) {
        if (((gerror ^ gerrorn) & bit) == 0) {
            gerror ^= bit;
            if ((irqCtrl & IRQ_CTRL_GERROR_IRQEN) != 0) {
                pendingIrqs |= IRQ_GERROR;
            }
        }
    }

    private void deliver(int irqs) {
        if ((irqs & IRQ_EVTQ) != 0 && eventqIrqCfg0 != 0) {
            context.interrupts().signal(eventqIrqCfg0, eventqIrqCfg1);
        }
        if ((irqs & IRQ_PRIQ) != 0 && priqIrqCfg0 != 0) {
            context.interrupts().signal(priqIrqCfg0, priqIrqCfg1);
        }
        if ((irqs & IRQ_GERROR) != 0 && gerrorIrqCfg0 != 0) {
            context.interrupts().signal(gerrorIrqCfg0, gerrorIrqCfg1);
        }
    }

    // =====================================================================================================
    // Command queue
    // =====================================================================================================

    /**
     * Consumes the queue from CMDQ_CONS up to CMDQ_PROD, as the SMMU consumes up to the producer index it sees:
     * whichever thread writes CMDQ_PROD (or acknowledges a command error, or enables the queue) runs the SMMU for
     * every command published up to that index, its own and other CPUs'. Stops at a command that cannot be
     * fetched (CERROR_ABT) or is illegal (CERROR_ILL), CONS left at it with CONS.ERR and GERROR.CMDQ_ERR. Each
     * command is read into locals: no scratch array shared by the threads that take turns as the consumer.
     * Caller holds {@link #lock}.
     */
    private void processCommands() {
        if ((cr0 & CR0_CMDQEN) == 0) {
            return;
        }
        int log2 = log2size(cmdqBase);
        long base = queueAddress(cmdqBase) & -Math.max(32L, (long) Command.SIZE << log2);
        CommandQueueIndexes q = lock;
        int prod = q.prod;
        int cons = q.cons;
        while (((gerror ^ gerrorn) & GERROR_CMDQ_ERR) == 0 && !queueEmpty(prod, cons, log2)) {
            long addr = base + (long) queueIndex(cons, log2) * Command.SIZE;
            int err;
            long c0 = 0;
            long c1 = 0;
            try {
                c0 = memory.read64(addr);
                c1 = memory.read64(addr + 8);
                err = CERROR_NONE;
            } catch (BusErrorException e) {
                err = CERROR_ABT; // the fetch aborted
            }
            if (err == CERROR_NONE) {
                err = execute(c0, c1);
            }
            if (err != CERROR_NONE) {
                q.cons = cons & ~(CMDQ_CONS_ERR_MASK << CMDQ_CONS_ERR_SHIFT) | err << CMDQ_CONS_ERR_SHIFT;
                raiseGerror(GERROR_CMDQ_ERR);
                return;
            }
            cons = queueIncrement(cons, log2);
        }
        if (cons != q.cons) {
            q.cons = cons; // once per run of commands
        }
    }

    /** Executes one command; returns a CERROR code. */
    private int execute(long c0, long c1) {
        int op = Command.opcode(c0);
        int sid = (int) BitField.extract(Command.SID, c0);
        switch (op) {
            case Command.OP_PREFETCH_CONFIG:
            case Command.OP_PREFETCH_ADDR:
                return CERROR_NONE; // prefetching is optional; this model does not prefetch
            case Command.OP_CFGI_STE:
                configCache.invalidateStream(sid);
                return CERROR_NONE;
            case Command.OP_CFGI_STE_RANGE: {
                int range = (int) BitField.extract(Command.CFGI_RANGE, c1);
                if (range == Command.CFGI_RANGE_ALL) {
                    configCache.invalidateAll();
                } else {
                    long count = 2L << range;
                    configCache.invalidateStreams((sid & 0xffff_ffffL) & -count, count);
                }
                return CERROR_NONE;
            }
            case Command.OP_CFGI_CD:
                configCache.invalidateCd(sid, (int) BitField.extract(Command.SSID, c0));
                return CERROR_NONE;
            case Command.OP_CFGI_CD_ALL:
                configCache.invalidateAllCds(sid);
                return CERROR_NONE;
            case Command.OP_TLBI_NH_ALL:
                tlb.invalidateVmid(commandVmid(c0));
                return CERROR_NONE;
            case Command.OP_TLBI_NH_ASID:
                tlb.invalidateAsid((int) BitField.extract(Command.TLBI_ASID, c0));
                return CERROR_NONE;
            case Command.OP_TLBI_NH_VA:
            case Command.OP_TLBI_NH_VAA:
            case Command.OP_TLBI_S2_IPA: {
                if (op == Command.OP_TLBI_S2_IPA && !id.s2p()) {
                    return CERROR_ILL;
                }
                long mask = op == Command.OP_TLBI_S2_IPA ? BitField.mask(Command.TLBI_IPA) : BitField.mask(Command.TLBI_ADDR);
                long address = c1 & mask;
                long length = 1;
                int maxShift = Smmuv3Tlb.ANY_SIZE;
                if (id.ril()) {
                    int tg = (int) BitField.extract(Command.TLBI_TG, c1);
                    int num = (int) BitField.extract(Command.TLBI_NUM, c0);
                    int scale = (int) BitField.extract(Command.TLBI_SCALE, c0);
                    int ttl = (int) BitField.extract(Command.TLBI_TTL, c1);
                    TranslationGranule g = TranslationGranule.fromTlbiTg(tg);
                    if (g != null) {
                        if (ttl == 1 && g == TranslationGranule.G16K) {
                            ttl = 0; // reserved without IDR5.DS (not implemented): treated as no hint (IHI0070 4.4.1.1)
                        }
                        if (num == 0 && scale == 0 && ttl == 0) {
                            return CERROR_ILL; // reserved combination (IHI0070 4.4.1.1)
                        }
                        length = (long) (num + 1) << scale << g.shift();
                        maxShift = levelHintShift(g, ttl);
                    }
                }
                if (op == Command.OP_TLBI_S2_IPA) {
                    tlb.invalidateIpa(commandVmid(c0), address, length, maxShift);
                } else {
                    tlb.invalidateVa(commandVmid(c0), (int) BitField.extract(Command.TLBI_ASID, c0),
                            op == Command.OP_TLBI_NH_VAA, address, length, maxShift);
                }
                // Leaf=0 also drops the walk-cache entries covering the range (a table there may have been freed);
                // Leaf=1 says only last-level entries changed, so the walk cache is kept (IHI0070 4.4.1, 3.17).
                // The level hint is not applied to the walk cache (over-invalidation: with Leaf=0 and TTL=2 the
                // architecture would allow keeping level-2 table entries)
                if (BitField.extract(Command.TLBI_LEAF, c1) == 0) {
                    if (op == Command.OP_TLBI_S2_IPA) {
                        walkCache.invalidateIpa(commandVmid(c0), address, length);
                    } else {
                        walkCache.invalidateVa(commandVmid(c0), (int) BitField.extract(Command.TLBI_ASID, c0),
                                op == Command.OP_TLBI_NH_VAA, address, length);
                    }
                }
                return CERROR_NONE;
            }
            case Command.OP_TLBI_S12_VMALL:
                if (!id.s2p()) {
                    return CERROR_ILL;
                }
                tlb.invalidateVmid(commandVmid(c0));
                return CERROR_NONE;
            case Command.OP_TLBI_NSNH_ALL:
                tlb.invalidateAll();
                return CERROR_NONE;
            case Command.OP_ATC_INV:
                if (!id.ats() || BitField.extract(Command.ATC_SIZE, c1) > Command.ATC_INV_SIZE_ALL) {
                    return CERROR_ILL;
                }
                return CERROR_NONE; // no device ATC is modelled: the invalidation completes at once
            case Command.OP_PRI_RESP:
                if (!id.pri() || BitField.extract(Command.PRI_RESP, c1) == 3) {
                    return CERROR_ILL;
                }
                return CERROR_NONE; // the device retries on its own; nothing is held in the SMMU
            case Command.OP_RESUME:
            case Command.OP_STALL_TERM: {
                if (id.stallModel() == IDR0_STALL_MODEL_TERMINATE) {
                    return CERROR_ILL; // IHI0070 4.7: no stall support
                }
                boolean all = op == Command.OP_STALL_TERM;
                int stag = (int) BitField.extract(Command.RESUME_STAG, c1);
                for (int i = stalledCount - 1; i >= 0; i--) {
                    if (stalledSid[i] == sid && (all || stalledTag[i] == stag)) {
                        stalledCount--;
                        stalledSid[i] = stalledSid[stalledCount];
                        stalledTag[i] = stalledTag[stalledCount];
                    }
                }
                return CERROR_NONE; // a RESUME matching no stalled transaction is ignored
            }
            case Command.OP_CMD_SYNC: {
                int cs = (int) BitField.extract(Command.SYNC_CS, c0);
                if (cs == 3) {
                    return CERROR_ILL;
                }
                if (cs == Command.SYNC_CS_IRQ) {
                    long msiAddr = c1 & BitField.mask(Command.SYNC_MSIADDR);
                    if (msiAddr != 0 && id.msi()) {
                        try {
                            memory.write32(msiAddr, (int) BitField.extract(Command.SYNC_MSIDATA, c0));
                        } catch (BusErrorException e) {
                            raiseGerror(GERROR_MSI_CMDQ_ABT_ERR);
                        }
                    }
                }
                return CERROR_NONE;
            }
            default:
                return CERROR_ILL; // unknown, EL2/EL3/secure TLBI, DPTI, IMPDEF
        }
    }

    /**
     * The largest TLB entry (log2 bytes) a leaf at the TLBI level hint {@code ttl} of granule {@code g} produces: the
     * level's block or page, times its contiguous set (a contiguous leaf is cached as one entry and is still an entry
     * of that level); {@link Smmuv3Tlb#ANY_SIZE} without a hint (TTL=0). Smaller entries of the range are removed
     * too: over-invalidation, which also covers combined stage-1+2 entries split by a smaller stage-2 page.
     */
    static int levelHintShift(TranslationGranule g, int ttl) {
        if (ttl == 0) {
            return Smmuv3Tlb.ANY_SIZE;
        }
        int contiguous = g.contiguousEntries(ttl);
        return g.levelShift(ttl) + (contiguous == 0 ? 0 : Integer.numberOfTrailingZeros(contiguous));
    }

    private int commandVmid(long c0) {
        return id.s2p() ? (int) BitField.extract(Command.TLBI_VMID, c0) : 0;
    }

    // =====================================================================================================
    // Event and PRI queues
    // =====================================================================================================

    private void recordEvent(int eventId, int sid, int ssid, long inputAddr, int access) {
        if ((cr0 & CR0_EVTQEN) == 0) {
            eventsLost++;
            return;
        }
        int log2 = log2size(eventqBase);
        if (queueFull(eventqProd, eventqCons, log2)) {
            if ((eventqProd & Q_OVERFLOW_FLAG) == (eventqCons & Q_OVERFLOW_FLAG)) {
                eventqProd ^= Q_OVERFLOW_FLAG;
            }
            eventsLost++;
            pendingIrqs |= (irqCtrl & IRQ_CTRL_EVTQ_IRQEN) != 0 ? IRQ_EVTQ : 0;
            return;
        }
        TranslationTableWalker w = walker;
        long e0 = eventId | (sid & 0xffff_ffffL) << 32;
        if (ssid != DmaAttributes.NO_PASID) {
            e0 |= BitField.mask(EventRecord.SSV) | (long) (ssid & 0xfffff) << 12;
        }
        boolean write = (access & Translation.ACCESS_WRITE) != 0;
        long e1 = (eventStall ? BitField.mask(EventRecord.STALL) | eventStag & 0xffff : 0)
                | (write ? 0 : BitField.mask(EventRecord.RNW))
                | (!write && (access & Translation.ACCESS_EXEC) != 0 ? BitField.mask(EventRecord.IND) : 0)
                | ((access & Translation.ACCESS_PRIV) != 0 ? BitField.mask(EventRecord.PNU) : 0);
        long e3 = 0;
        switch (eventId) {
            case EventRecord.F_TRANSLATION:
            case EventRecord.F_ADDR_SIZE:
            case EventRecord.F_ACCESS:
            case EventRecord.F_PERMISSION:
                e1 |= (long) w.faultS2 << 39 | (long) w.faultClass << 40;
                if (eventId == EventRecord.F_PERMISSION && w.faultS2 == 1 && w.faultClass == EventRecord.CLASS_TT) {
                    e1 |= (long) w.faultTtRnW << 44;
                }
                if (w.faultS2 == 1) {
                    e3 = w.faultIpa & BitField.mask(EventRecord.IPA);
                }
                break;
            case EventRecord.F_WALK_EABT:
                e1 |= (long) w.faultS2 << 39 | (long) w.faultClass << 40;
                e3 = w.faultFetchAddr & BitField.mask(EventRecord.FETCH_ADDR);
                break;
            case EventRecord.F_STE_FETCH:
            case EventRecord.F_CD_FETCH:
                e3 = w.faultFetchAddr & BitField.mask(EventRecord.FETCH_ADDR);
                break;
            default:
                break;
        }
        long addr = queueAddress(eventqBase) & -Math.max(32L, (long) EventRecord.SIZE << log2);
        addr += (long) queueIndex(eventqProd, log2) * EventRecord.SIZE;
        try {
            memory.write64(addr, e0);
            memory.write64(addr + 8, e1);
            memory.write64(addr + 16, inputAddr);
            memory.write64(addr + 24, e3);
        } catch (BusErrorException e) {
            raiseGerror(GERROR_EVTQ_ABT_ERR);
            cr0 &= ~CR0_EVTQEN;
            return;
        }
        eventqProd = queueIncrement(eventqProd, log2);
        eventsRecorded++;
        if ((irqCtrl & IRQ_CTRL_EVTQ_IRQEN) != 0) {
            pendingIrqs |= IRQ_EVTQ;
        }
    }

    /** Queues a page request; returns false when the PRI queue cannot take it. */
    private boolean recordPageRequest(int sid, int ssid, long address, int access) {
        if ((cr0 & CR0_PRIQEN) == 0) {
            return false;
        }
        int log2 = log2size(priqBase);
        if (queueFull(priqProd, priqCons, log2)) {
            if ((priqProd & Q_OVERFLOW_FLAG) == (priqCons & Q_OVERFLOW_FLAG)) {
                priqProd ^= Q_OVERFLOW_FLAG;
            }
            return false;
        }
        long p0 = (sid & 0xffff_ffffL) | BitField.mask(PageRequestRecord.LAST);
        if (ssid != DmaAttributes.NO_PASID) {
            p0 |= (long) (ssid & 0xfffff) << 32 | BitField.mask(PageRequestRecord.SSID_V);
        }
        if ((access & Translation.ACCESS_WRITE) != 0) {
            p0 |= BitField.mask(PageRequestRecord.PERM_WRITE);
        } else {
            p0 |= BitField.mask(PageRequestRecord.PERM_READ);
        }
        if ((access & Translation.ACCESS_EXEC) != 0) {
            p0 |= BitField.mask(PageRequestRecord.PERM_EXEC);
        }
        if ((access & Translation.ACCESS_PRIV) != 0) {
            p0 |= BitField.mask(PageRequestRecord.PERM_PRIV);
        }
        long p1 = address & BitField.mask(PageRequestRecord.ADDR) | nextPrgIndex;
        nextPrgIndex = (nextPrgIndex + 1) & 0x1ff;
        long addr = queueAddress(priqBase) & -Math.max(32L, (long) PageRequestRecord.SIZE << log2);
        addr += (long) queueIndex(priqProd, log2) * PageRequestRecord.SIZE;
        try {
            memory.write64(addr, p0);
            memory.write64(addr + 8, p1);
        } catch (BusErrorException e) {
            raiseGerror(GERROR_PRIQ_ABT_ERR);
            cr0 &= ~CR0_PRIQEN;
            return false;
        }
        priqProd = queueIncrement(priqProd, log2);
        if ((irqCtrl & IRQ_CTRL_PRIQ_IRQEN) != 0) {
            pendingIrqs |= IRQ_PRIQ;
        }
        return true;
    }

    // =====================================================================================================
    // Stream table and CD fetch
    // =====================================================================================================

    /** Locates and reads the STE of {@code sid} into {@link #ste}; returns 0 or an event ID. */
    private int fetchSte(int sid) {
        if (configCache.lookup(sid, ConfigurationCache.STE_KEY, ste)) {
            return 0;
        }
        int log2size = strtabBaseCfg & STRTAB_BASE_CFG_LOG2SIZE_MASK;
        int effective = Math.min(log2size, id.sidSize());
        if (effective < 32 && (sid >>> effective) != 0) {
            return EventRecord.C_BAD_STREAMID;
        }
        long base = strtabBase & STRTAB_BASE_ADDR_MASK;
        long steAddr;
        int fmt = strtabBaseCfg >>> STRTAB_BASE_CFG_FMT_SHIFT & 3;
        if (fmt == STRTAB_BASE_CFG_FMT_2LVL && id.twoLevelStreamTable()) {
            int split = strtabBaseCfg >>> STRTAB_BASE_CFG_SPLIT_SHIFT & STRTAB_BASE_CFG_SPLIT_MASK;
            if (split != 6 && split != 8 && split != 10) {
                split = 6;
            }
            long l1Size = Math.max(1L, 1L << Math.max(0, log2size - split)) * StreamTableDescriptor.SIZE;
            base &= -Math.max(64L, l1Size);
            long l1Addr = base + (long) ((sid & 0xffff_ffffL) >>> split) * StreamTableDescriptor.SIZE;
            long l1;
            try {
                l1 = memory.read64(l1Addr);
            } catch (BusErrorException e) {
                walker.faultFetchAddr = l1Addr;
                return EventRecord.F_STE_FETCH;
            }
            int span = StreamTableDescriptor.span(l1);
            int l2Index = sid & ((1 << split) - 1);
            if (span == 0 || span > StreamTableDescriptor.SPAN_MAX || span > split + 1 || l2Index >= 1 << (span - 1)) {
                return EventRecord.C_BAD_STREAMID;
            }
            steAddr = StreamTableDescriptor.l2Table(l1) + (long) l2Index * StreamTableEntry.SIZE;
        } else {
            base &= -((long) StreamTableEntry.SIZE << log2size);
            steAddr = base + (sid & 0xffff_ffffL) * StreamTableEntry.SIZE;
        }
        try {
            for (int i = 0; i < 8; i++) {
                ste[i] = memory.read64(steAddr + 8L * i);
            }
        } catch (BusErrorException e) {
            walker.faultFetchAddr = steAddr;
            return EventRecord.F_STE_FETCH;
        }
        return 0;
    }

    /**
     * Reads CD {@code index} of the current STE into {@link #cd}. With stage 2 enabled the CD table addresses
     * are IPAs translated by stage 2 (faults are stage-2 faults with CLASS=CD).
     */
    private int fetchCd(int sid, int index, boolean nested) {
        int key = index;
        if (configCache.lookup(sid, key, cd)) {
            return 0;
        }
        TranslationTableWalker w = walker;
        long cdIpa;
        if (w.s1Fmt == StreamTableEntry.S1FMT_LINEAR) {
            cdIpa = w.s1ContextPtr + (long) index * ContextDescriptor.SIZE;
        } else {
            int split = w.s1Fmt == StreamTableEntry.S1FMT_4K_L2 ? ContextDescriptor.SPLIT_4K : ContextDescriptor.SPLIT_64K;
            long l1Ipa = w.s1ContextPtr + (long) (index >>> split) * ContextDescriptor.L1_SIZE;
            long l1Pa = l1Ipa;
            if (nested) {
                int r = w.stage2(l1Ipa, false, false, EventRecord.CLASS_CD);
                if (r != 0) {
                    return r;
                }
                l1Pa = w.s2Output;
            }
            long l1;
            try {
                l1 = memory.read64(l1Pa);
            } catch (BusErrorException e) {
                w.faultFetchAddr = l1Pa;
                return EventRecord.F_CD_FETCH;
            }
            if ((l1 & ContextDescriptor.L1_V) == 0) {
                return EventRecord.C_BAD_SUBSTREAMID;
            }
            cdIpa = (l1 & ContextDescriptor.L1_L2PTR_MASK) + (long) (index & ((1 << split) - 1)) * ContextDescriptor.SIZE;
        }
        long cdPa = cdIpa;
        if (nested) {
            int r = w.stage2(cdIpa, false, false, EventRecord.CLASS_CD);
            if (r != 0) {
                return r;
            }
            cdPa = w.s2Output;
        }
        try {
            for (int i = 0; i < 8; i++) {
                cd[i] = memory.read64(cdPa + 8L * i);
            }
        } catch (BusErrorException e) {
            w.faultFetchAddr = cdPa;
            return EventRecord.F_CD_FETCH;
        }
        return 0;
    }

    // =====================================================================================================
    // Translation
    // =====================================================================================================

    @Override
    public Translation translate(int rid, int pasid, long iova, int access, Translation out) {
        if (translating) {
            DecodedConfiguration c = configCache.decoded(rid, pasid);
            if (c != null && translateUnlocked(c, iova, access, out)) {
                return out;
            }
        }
        int irqs;
        synchronized (lock) {
            for (int attempt = 0;; attempt++) {
                int r = translateLocked(rid, pasid, iova, access, out);
                if (r != TranslationTableWalker.RETRY || attempt > 16) {
                    break;
                }
            }
            irqs = pendingIrqs;
            pendingIrqs = 0;
        }
        deliver(irqs);
        return out;
    }

    /**
     * A window of outstanding requests, as an SMMU with hit-under-miss in its TBU and several concurrent table walks
     * in its TCU (e.g. MMU-600/700) serves them, in runs of up to {@link TranslationTableWalker#READ_AHEAD_MAX}:
     * <ol>
     *   <li>the configuration is looked up once and every request of the run looks the TLB up, as
     *       {@link #translateUnlocked}'s hit half does: a hit is its result;</li>
     *   <li>with two misses or more (stage-1-only or stage-2-only configurations), the descriptors their walks will
     *       read are read ahead, level by level across the misses ({@link TranslationTableWalker#readAhead}: reads
     *       only, nothing filled, updated or reported), so that their memory latencies overlap;</li>
     *   <li>each miss, in window order, goes through {@link #translate}: walk, fill, HTTU update, fault, event
     *       record, stall or page request exactly as alone (its reads now hit the CPU caches).</li>
     * </ol>
     * A hit in step 1 is what {@code translate} gives at that moment (a hit raises nothing); the misses are
     * translated by {@code translate} itself, one after the other in window order, so their results and event
     * records are those of one-by-one translation in window order. All requests of a window are outstanding at
     * once: a TLBI completed by a CMD_SYNC before the window began is seen by every one of them. Without SMMUEN
     * or a cached decoded configuration (bypass, abort, a configuration not yet fetched or one that faults), every
     * request takes {@code translate}.
     */
    @Override
    public int translateWindow(int rid, int pasid, int access, long[] iovas, int from, int count, long[] physOut,
            Translation scratch) {
        Objects.checkFromIndexSize(from, count, iovas.length);
        Objects.checkFromIndexSize(from, count, physOut.length);
        int done = 0;
        for (int at = from, end = from + count; at < end; at += TranslationTableWalker.READ_AHEAD_MAX) {
            done += translateRun(rid, pasid, access, iovas, at, Math.min(TranslationTableWalker.READ_AHEAD_MAX, end - at),
                    physOut, scratch);
        }
        return done;
    }

    /** {@link #translateWindow} of {@code n <= 64} requests from {@code at}. */
    private int translateRun(int rid, int pasid, int access, long[] iovas, int at, int n, long[] physOut,
            Translation scratch) {
        int done = 0;
        long missed; // bit k: request at + k still to translate
        DecodedConfiguration c = translating ? configCache.decoded(rid, pasid) : null;
        if (c == null) {
            missed = n == 64 ? -1L : (1L << n) - 1;
        } else {
            missed = 0;
            int need = TranslationTableWalker.requiredPermission(access);
            for (int k = 0; k < n; k++) {
                long iova = iovas[at + k];
                long d = tlb.lookup(c.kind, c.vmid, c.asid, iova, need);
                if (d != Smmuv3Tlb.MISS) {
                    int shift = Smmuv3Tlb.pageShift(d);
                    physOut[at + k] = Smmuv3Tlb.output(d) | (iova & ((1L << shift) - 1));
                    done++;
                } else {
                    missed |= 1L << k;
                }
            }
            if ((missed & missed - 1) != 0 && c.useS1 != c.s2) {
                readAhead(c, iovas, at, missed);
            }
        }
        for (long m = missed; m != 0; m &= m - 1) {
            int i = at + Long.numberOfTrailingZeros(m);
            done += IommuUnitModel.windowResult(translate(rid, pasid, iovas[i], access, scratch), physOut, i);
        }
        return done;
    }

    /** Step 2 of {@link #translateWindow}: the read-ahead of a run's misses with the thread's walker. */
    private void readAhead(DecodedConfiguration c, long[] iovas, int at, long missed) {
        TranslationTableWalker w = threadWalker.get();
        w.bindMemory(memory);
        // the sample does not matter: a read-ahead fills nothing
        w.useWalkCache(walkCache, c.kind, c.vmid, c.asid, tlb.invalidationCount());
        try {
            w.loadConfiguration(c.decoded);
            w.readAhead(iovas, at, missed, c.useS1);
        } finally {
            w.bindMemory(null);
        }
    }

    /**
     * The lock-free path (see the class comment): a TLB hit, or a walk with the thread's walker and a fill under the
     * lock. Returns false, having changed nothing but hardware-updated descriptors, when the locked path must
     * decide (a fault, a descriptor that changed under a hardware update).
     */
    private boolean translateUnlocked(DecodedConfiguration c, long iova, int access, Translation out) {
        int need = TranslationTableWalker.requiredPermission(access);
        long d = tlb.lookup(c.kind, c.vmid, c.asid, iova, need);
        if (d != Smmuv3Tlb.MISS) {
            int shift = Smmuv3Tlb.pageShift(d);
            out.ok(Smmuv3Tlb.output(d) | (iova & ((1L << shift) - 1)), 1L << shift);
            return true;
        }
        return walkUnlocked(c, iova, access, out);
    }

    /** The miss half of {@link #translateUnlocked} (kept apart so that the hit half stays small enough to inline). */
    private boolean walkUnlocked(DecodedConfiguration c, long iova, int access, Translation out) {
        if (!c.useS1 && (iova >>> id.iasBits()) != 0) {
            return false; // F_ADDR_SIZE: reported by the locked path
        }
        int sample = tlb.invalidationCount();
        TranslationTableWalker w = threadWalker.get();
        w.bindMemory(memory);
        w.useWalkCache(walkCache, c.kind, c.vmid, c.asid, sample);
        try {
            return walkUnlocked(w, c, iova, access, out, sample);
        } finally {
            w.bindMemory(null);
        }
    }

    private boolean walkUnlocked(TranslationTableWalker w, DecodedConfiguration c, long iova, int access,
            Translation out, int sample) {
        w.loadConfiguration(c.decoded);
        long ipa = iova;
        int shift = 63;
        int perm = 0xff;
        boolean global = false;
        if (c.useS1) {
            if (w.stage1(iova, access, c.s2) != 0) {
                return false;
            }
            ipa = w.s1Output;
            shift = w.s1Shift;
            perm = w.s1Perm;
            global = w.s1Global;
        }
        if (c.s2) {
            boolean write = (access & Translation.ACCESS_WRITE) != 0;
            if (w.stage2(ipa, write, !write && (access & Translation.ACCESS_EXEC) != 0, EventRecord.CLASS_IN) != 0) {
                return false;
            }
            shift = Math.min(shift, w.s2Shift);
            perm &= w.s2Perm;
            ipa = w.s2Output;
        }
        int kind = c.kind == Smmuv3Tlb.KIND_S1 && global ? Smmuv3Tlb.KIND_S1_GLOBAL : c.kind;
        // an invalidation since the walk began may have covered what it read: then it is used once, not cached
        tlb.fill(kind, c.vmid, c.asid, iova, ipa, shift, perm, sample);
        out.ok(ipa, 1L << shift);
        return true;
    }

    private int fault(Translation out, int eventId, int sid, int ssid, long iova, int access, boolean recordIt) {
        if (recordIt) {
            recordEvent(eventId, sid, ssid, iova, access);
        }
        out.fault(eventId);
        return eventId;
    }

    private int translateLocked(int rid, int ssid, long iova, int access, Translation out) {
        if ((cr0 & CR0_SMMUEN) == 0) {
            if ((gbpa & GBPA_ABORT) != 0 || (iova >>> id.oasBits()) != 0) {
                out.fault(REASON_SILENT_ABORT);
                return REASON_SILENT_ABORT;
            }
            out.ok(iova, PhysicalMemory.FRAME_SIZE);
            return 0;
        }
        int sid = rid;
        TranslationTableWalker w = walker;
        w.faultFetchAddr = 0;
        int r = fetchSte(sid);
        if (r != 0) {
            return fault(out, r, sid, ssid, iova, access, r != EventRecord.C_BAD_STREAMID || (cr2 & CR2_RECINVSID) != 0);
        }
        r = w.decodeSte(ste);
        if (r != 0) {
            return fault(out, r, sid, ssid, iova, access, true);
        }
        configCache.fill(sid, ConfigurationCache.STE_KEY, ste);
        int config = w.config;
        if (config == StreamTableEntry.CONFIG_ABORT) {
            out.fault(REASON_SILENT_ABORT);
            return REASON_SILENT_ABORT;
        }
        boolean s1 = StreamTableEntry.stage1Enabled(config);
        boolean s2 = StreamTableEntry.stage2Enabled(config);
        if (ssid != DmaAttributes.NO_PASID && (!s1 || w.s1CdMax == 0)) {
            return fault(out, EventRecord.C_BAD_SUBSTREAMID, sid, ssid, iova, access, true);
        }
        if (config == StreamTableEntry.CONFIG_BYPASS) {
            if ((iova >>> id.oasBits()) != 0) {
                w.faultS2 = 0;
                w.faultClass = EventRecord.CLASS_IN;
                return fault(out, EventRecord.F_ADDR_SIZE, sid, ssid, iova, access, true);
            }
            out.ok(iova, PhysicalMemory.FRAME_SIZE);
            return 0;
        }
        boolean useS1 = s1;
        int cdIndex = 0;
        if (s1 && w.s1CdMax != 0) {
            if (ssid == DmaAttributes.NO_PASID) {
                if (w.s1Dss == StreamTableEntry.S1DSS_TERMINATE) {
                    return fault(out, EventRecord.F_STREAM_DISABLED, sid, ssid, iova, access, true);
                }
                useS1 = w.s1Dss != StreamTableEntry.S1DSS_BYPASS;
            } else {
                if ((ssid >>> w.s1CdMax) != 0 || ssid == 0 && w.s1Dss == StreamTableEntry.S1DSS_SSID0) {
                    return fault(out, EventRecord.C_BAD_SUBSTREAMID, sid, ssid, iova, access, true);
                }
                cdIndex = ssid;
            }
        }
        if (useS1) {
            r = fetchCd(sid, cdIndex, s2);
            if (r != 0) {
                return fault(out, r, sid, ssid, iova, access, r < EventRecord.F_TRANSLATION || w.faultRecord);
            }
            r = w.decodeCd(cd, BitField.isSet(ste, StreamTableEntry.S1STALLD));
            if (r != 0) {
                return fault(out, r, sid, ssid, iova, access, true);
            }
            configCache.fill(sid, cdIndex, cd);
        } else if ((iova >>> (s2 ? id.iasBits() : id.oasBits())) != 0) {
            // stage 1 bypassed (Config=S2 or S1DSS=bypass): input beyond IAS (OAS without stage 2)
            w.faultS2 = 0;
            w.faultClass = EventRecord.CLASS_IN;
            return fault(out, EventRecord.F_ADDR_SIZE, sid, ssid, iova, access, true);
        }
        int kind = useS1 ? (s2 ? Smmuv3Tlb.KIND_NESTED : Smmuv3Tlb.KIND_S1) : Smmuv3Tlb.KIND_S2;
        if (!useS1 && !s2) {
            out.ok(iova, PhysicalMemory.FRAME_SIZE); // S1DSS=bypass without stage 2
            return 0;
        }
        int vmid = w.vmid;
        int asid = useS1 ? w.asid : 0;
        if (configCache.decoded(sid, ssid) == null) {
            TranslationTableWalker frozen = new TranslationTableWalker(null, id); // decoded fields only: never walks
            frozen.copyConfiguration(w);
            configCache.fillDecoded(new DecodedConfiguration(sid, ssid, kind, vmid, asid, useS1, s2, frozen));
        }
        int need = TranslationTableWalker.requiredPermission(access);
        long d = tlb.lookup(kind, vmid, asid, iova, need);
        if (d != Smmuv3Tlb.MISS) {
            int shift = Smmuv3Tlb.pageShift(d);
            out.ok(Smmuv3Tlb.output(d) | (iova & ((1L << shift) - 1)), 1L << shift);
            return 0;
        }
        long ipa = iova;
        int shift = 63;
        int perm = 0xff;
        boolean global = false;
        w.useWalkCache(walkCache, kind, vmid, asid, tlb.invalidationCount()); // no TLBI runs meanwhile: locked
        if (useS1) {
            r = w.stage1(iova, access, s2);
            if (r == TranslationTableWalker.RETRY) {
                return r;
            }
            if (r != 0) {
                if (w.faultS2 == 0 && priEligible(rid, r) && recordPageRequest(sid, ssid, iova, access)) {
                    out.pageRequest(r);
                    return r;
                }
                if (stallFault(r, w.faultS2 == 0 ? w.stall : w.s2Stall, sid, ssid, iova, access, out)) {
                    return r;
                }
                return fault(out, r, sid, ssid, iova, access, w.faultRecord);
            }
            ipa = w.s1Output;
            shift = w.s1Shift;
            perm = w.s1Perm;
            global = w.s1Global;
        }
        if (s2) {
            boolean write = (access & Translation.ACCESS_WRITE) != 0;
            r = w.stage2(ipa, write, !write && (access & Translation.ACCESS_EXEC) != 0, EventRecord.CLASS_IN);
            if (r == TranslationTableWalker.RETRY) {
                return r;
            }
            if (r != 0) {
                if (stallFault(r, w.s2Stall, sid, ssid, iova, access, out)) {
                    return r;
                }
                return fault(out, r, sid, ssid, iova, access, w.faultRecord);
            }
            shift = Math.min(shift, w.s2Shift);
            perm &= w.s2Perm;
            ipa = w.s2Output;
        }
        if (kind == Smmuv3Tlb.KIND_S1 && global) {
            kind = Smmuv3Tlb.KIND_S1_GLOBAL;
        }
        tlb.fill(kind, vmid, asid, iova, ipa, shift, perm, tlb.invalidationCount()); // no TLBI runs meanwhile: locked
        out.ok(ipa, 1L << shift);
        return 0;
    }

    /**
     * The stall model (IHI0070 3.12.2): a translation-related fault (F_TRANSLATION, F_ADDR_SIZE, F_ACCESS,
     * F_PERMISSION) of a stream configured to stall (CD.S / STE.S2S) is recorded with Stall=1 and a STAG and held
     * until CMD_RESUME or CMD_STALL_TERM; the device sees {@link Translation#PAGE_REQUEST} and retries after the
     * response. When IDR5.STALL_MAX transactions are already stalled the fault terminates instead.
     */
    private boolean stallFault(int eventId, boolean stalls, int sid, int ssid, long iova, int access, Translation out) {
        if (!stalls || eventId < EventRecord.F_TRANSLATION || eventId > EventRecord.F_PERMISSION) {
            return false;
        }
        int max = Math.min(stalledSid.length, Math.max(1, id.idr5 >>> IDR5_STALL_MAX_SHIFT & 0xffff));
        if (stalledCount >= max) {
            return false;
        }
        int stag = nextStag;
        nextStag = (nextStag + 1) & 0xffff;
        stalledSid[stalledCount] = sid;
        stalledTag[stalledCount] = stag;
        stalledCount++;
        eventStall = true;
        eventStag = stag;
        recordEvent(eventId, sid, ssid, iova, access);
        eventStall = false;
        out.pageRequest(eventId);
        return true;
    }

    int stalledTransactions() {
        synchronized (lock) {
            return stalledCount;
        }
    }

    /** PRI: a stage-1 translation fault of a PRI-capable function whose STE enables ATS becomes a page request. */
    private boolean priEligible(int rid, int eventId) {
        if (!id.pri() || (cr0 & CR0_PRIQEN) == 0 || walker.eats == StreamTableEntry.EATS_ABT
                || eventId != EventRecord.F_TRANSLATION && eventId != EventRecord.F_PERMISSION
                && eventId != EventRecord.F_ACCESS) {
            return false;
        }
        List<PciFunction> functions = context.pci().functions();
        for (int i = 0; i < functions.size(); i++) {
            PciFunction f = functions.get(i);
            if (f.rid() == rid && f.iommuUnit().equals(name)) {
                return f.priCapable();
            }
        }
        return false;
    }

    // =====================================================================================================
    // Frames
    // =====================================================================================================

    @Override
    public void visitStructureFrames(LongConsumer frame) {
        synchronized (lock) {
            visitQueue(cmdqBase, Command.SIZE, (cr0 & CR0_CMDQEN) != 0 || cmdqBase != 0, frame);
            visitQueue(eventqBase, EventRecord.SIZE, eventqBase != 0, frame);
            visitQueue(priqBase, PageRequestRecord.SIZE, priqBase != 0, frame);
            if ((strtabBase & STRTAB_BASE_ADDR_MASK) == 0) {
                return;
            }
            int log2size = Math.min(strtabBaseCfg & STRTAB_BASE_CFG_LOG2SIZE_MASK, id.sidSize());
            long base = strtabBase & STRTAB_BASE_ADDR_MASK;
            int fmt = strtabBaseCfg >>> STRTAB_BASE_CFG_FMT_SHIFT & 3;
            long[] steWords = new long[8];
            if (fmt == STRTAB_BASE_CFG_FMT_2LVL) {
                int split = strtabBaseCfg >>> STRTAB_BASE_CFG_SPLIT_SHIFT & STRTAB_BASE_CFG_SPLIT_MASK;
                long l1Count = 1L << Math.max(0, log2size - split);
                visitRange(base, l1Count * StreamTableDescriptor.SIZE, frame);
                for (long i = 0; i < l1Count; i++) {
                    long l1 = safeRead(base + i * 8);
                    int span = StreamTableDescriptor.span(l1);
                    if (span == 0 || span > StreamTableDescriptor.SPAN_MAX) {
                        continue;
                    }
                    long l2 = StreamTableDescriptor.l2Table(l1);
                    long count = 1L << (span - 1);
                    visitRange(l2, count * StreamTableEntry.SIZE, frame);
                    for (long j = 0; j < count; j++) {
                        visitSte(l2 + j * StreamTableEntry.SIZE, steWords, frame);
                    }
                }
            } else {
                long count = 1L << log2size;
                visitRange(base, count * StreamTableEntry.SIZE, frame);
                for (long j = 0; j < count; j++) {
                    visitSte(base + j * StreamTableEntry.SIZE, steWords, frame);
                }
            }
        }
    }

    private void visitQueue(long qbase, int entrySize, boolean present, LongConsumer frame) {
        if (present && (qbase & Q_BASE_ADDR_MASK) != 0) {
            visitRange(qbase & Q_BASE_ADDR_MASK, (long) entrySize << log2size(qbase), frame);
        }
    }

    private static void visitRange(long pa, long length, LongConsumer frame) {
        for (long f = pa & ~0xfffL; f < pa + length; f += PhysicalMemory.FRAME_SIZE) {
            frame.accept(f);
        }
    }

    private long safeRead(long pa) {
        try {
            return memory.read64(pa);
        } catch (BusErrorException e) {
            return 0;
        }
    }

    private void visitSte(long steAddr, long[] words, LongConsumer frame) {
        for (int i = 0; i < 8; i++) {
            words[i] = safeRead(steAddr + 8L * i);
        }
        TranslationTableWalker w = new TranslationTableWalker(memory, id);
        w.probeOnly = true;
        if (w.decodeSte(words) != 0) {
            return;
        }
        boolean s1 = StreamTableEntry.stage1Enabled(w.config);
        boolean s2 = StreamTableEntry.stage2Enabled(w.config);
        if (s2) {
            visitTable(null, w.s2Ttb, w.s2Granule, w.s2StartLevel, w.s2StartBits, frame);
        }
        if (!s1) {
            return;
        }
        // with stage 2 enabled, CD tables and stage-1 tables are IPAs: visited through the stage-2 walk
        TranslationTableWalker space = s2 ? w : null;
        long ctx = w.s1ContextPtr;
        long cdCount = 1L << w.s1CdMax;
        long[] cdWords = new long[8];
        if (w.s1Fmt == StreamTableEntry.S1FMT_LINEAR) {
            visitRange(space, ctx, cdCount * ContextDescriptor.SIZE, frame);
            for (long i = 0; i < cdCount; i++) {
                visitCd(space, ctx + i * ContextDescriptor.SIZE, cdWords, frame);
            }
        } else {
            int split = w.s1Fmt == StreamTableEntry.S1FMT_4K_L2 ? ContextDescriptor.SPLIT_4K : ContextDescriptor.SPLIT_64K;
            long l1Count = Math.max(1, cdCount >>> split);
            visitRange(space, ctx, l1Count * ContextDescriptor.L1_SIZE, frame);
            for (long i = 0; i < l1Count; i++) {
                long l1 = read(space, ctx + i * 8);
                if ((l1 & ContextDescriptor.L1_V) == 0) {
                    continue;
                }
                long leaf = l1 & ContextDescriptor.L1_L2PTR_MASK;
                visitRange(space, leaf, (long) ContextDescriptor.SIZE << split, frame);
                for (long j = 0; j < 1L << split; j++) {
                    visitCd(space, leaf + j * ContextDescriptor.SIZE, cdWords, frame);
                }
            }
        }
    }

    /** The PA of {@code address} in {@code space} (null: physical), or -1 when stage 2 does not map it. */
    private static long toPa(TranslationTableWalker space, long address) {
        if (space == null) {
            return address;
        }
        return space.stage2(address, false, false, EventRecord.CLASS_TT) == 0 ? space.s2Output : -1;
    }

    private long read(TranslationTableWalker space, long address) {
        long pa = toPa(space, address);
        return pa < 0 ? 0 : safeRead(pa);
    }

    private static void visitRange(TranslationTableWalker space, long address, long length, LongConsumer frame) {
        if (space == null) {
            visitRange(address, length, frame);
            return;
        }
        for (long a = address & ~0xfffL; a < address + length; a += PhysicalMemory.FRAME_SIZE) {
            long pa = toPa(space, a);
            if (pa >= 0) {
                frame.accept(pa & ~0xfffL);
            }
        }
    }

    private void visitCd(TranslationTableWalker space, long cdAddr, long[] words, LongConsumer frame) {
        for (int i = 0; i < 8; i++) {
            words[i] = read(space, cdAddr + 8L * i);
        }
        TranslationTableWalker w = new TranslationTableWalker(memory, id);
        w.probeOnly = true;
        if (w.decodeCd(words, false) != 0) {
            return;
        }
        for (int r = 0; r < 2; r++) {
            if (!w.epd[r]) {
                TranslationGranule g = w.granule[r];
                int inputBits = 64 - w.tsz[r];
                int level = g.startLevel(inputBits);
                visitTable(space, w.ttb[r], g, level, inputBits - g.levelShift(level), frame);
            }
        }
    }

    private void visitTable(TranslationTableWalker space, long table, TranslationGranule g, int level, int bits,
            LongConsumer frame) {
        long entries = 1L << bits;
        visitRange(space, table, entries * 8, frame);
        if (level == 3) {
            return;
        }
        for (long i = 0; i < entries; i++) {
            long desc = read(space, table + i * 8);
            if (TranslationDescriptor.isValid(desc) && TranslationDescriptor.isTable(desc, level)) {
                visitTable(space, TranslationDescriptor.outputAddress(desc, g, g.shift()), g, level + 1, g.stride(), frame);
            }
        }
    }

    // ---- statistics for tests
    int tlbLiveEntries() {
        synchronized (lock) {
            return tlb.liveEntries();
        }
    }

    /**
     * Walks of the calling thread (lock-free path) and of the unit's walker (locked path) that started from a
     * walk-cache entry: for tests that translate on one thread.
     */
    long walkCacheHits() {
        synchronized (lock) {
            return threadWalker.get().walkCacheHits + walker.walkCacheHits;
        }
    }

    /** The walk cache, for tests. */
    Smmuv3Tlb walkCache() {
        return walkCache;
    }

    /** The TLB, for tests that compare invalidations with a reference. */
    Smmuv3Tlb tlb() {
        return tlb;
    }

    /** Decoded configurations cached (for tests). */
    int decodedConfigurations() {
        synchronized (lock) {
            return configCache.decodedEntries();
        }
    }

    int configCacheLiveEntries() {
        synchronized (lock) {
            return configCache.liveEntries();
        }
    }

    long eventsRecorded() {
        synchronized (lock) {
            return eventsRecorded;
        }
    }

    long eventsLost() {
        synchronized (lock) {
            return eventsLost;
        }
    }
}
