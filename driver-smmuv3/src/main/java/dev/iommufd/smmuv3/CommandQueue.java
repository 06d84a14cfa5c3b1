package dev.iommufd.smmuv3;

import static dev.iommufd.smmuv3.layout.SmmuRegisters.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.Command;

/**
 * The driver's side of the SMMU command queue ({@code arm_smmu_cmdq}): a ring of 16-byte commands in physical
 * memory, published by writing CMDQ_PROD. Commands are added to the ring with {@link #add}; {@link #sync} adds a
 * CMD_SYNC, publishes, and waits until the SMMU has consumed it.
 *
 * <p>Completion: with MSIs and a coherent SMMU, CMD_SYNC uses Linux's "MSI polling" (CS=IRQ, MSIAddr = the
 * CMD_SYNC's own slot, MSIData = 0; the driver watches the slot's first word become 0); otherwise CS=SEV and
 * the driver watches CMDQ_CONS pass the CMD_SYNC.
 *
 * <p>Errors ({@code arm_smmu_cmdq_skip_err}): when GERROR.CMDQ_ERR becomes active the driver reads
 * CMDQ_CONS.ERR, replaces the offending command with a CMD_SYNC (for CERROR_ILL and CERROR_ABT), acknowledges
 * GERRORN, and the SMMU continues. The count of such errors is {@link #errors()}.
 *
 * <p>Locking: every method synchronises on this queue (Linux uses a lock-free protocol; one lock has the same
 * observable order). Callers batch commands by holding the queue's monitor across {@code add}s and
 * {@code sync}.
 */
final class CommandQueue {
    private static final int MAX_POLLS = 1 << 16;

    private final MmioBus mmio;
    private final long regs;
    private final PhysicalMemory memory;
    private final long base;
    private final int order;
    private final int shift;
    private final boolean msiPolling;
    private int prod;
    private long errors;
    private int lastError;
    private long commandsIssued;
    private long syncs;
    private final long[] cmd = new long[2];

    CommandQueue(MmioBus mmio, long regs, PhysicalMemory memory, int shift, boolean msiPolling) {
        this.mmio = mmio;
        this.regs = regs;
        this.memory = memory;
        this.shift = shift;
        this.msiPolling = msiPolling;
        long bytes = (long) Command.SIZE << shift;
        int o = 0;
        while ((PhysicalMemory.FRAME_SIZE << o) < bytes) {
            o++;
        }
        this.order = o;
        this.base = memory.frames().allocate(o);
    }

    /** Programs CMDQ_BASE and PROD/CONS = 0 (the queue must be disabled). */
    void program() {
        mmio.write64(regs + CMDQ_BASE, Q_BASE_RWA | base | shift);
        mmio.write32(regs + CMDQ_PROD, 0);
        mmio.write32(regs + CMDQ_CONS, 0);
        prod = 0;
    }

    long base() {
        return base;
    }

    private int readCons() {
        return mmio.read32(regs + CMDQ_CONS);
    }

    /** Adds one command to the ring (publishing and waiting for space when full). */
    synchronized void add(long c0, long c1) {
        int polls = 0;
        while (queueFull(prod, readCons() & ~(CMDQ_CONS_ERR_MASK << CMDQ_CONS_ERR_SHIFT), shift)) {
            publish();
            if (++polls > MAX_POLLS) {
                throw ErrnoException.of(Errno.ETIMEDOUT, "SMMU command queue did not drain");
            }
        }
        long slot = base + (long) queueIndex(prod, shift) * Command.SIZE;
        memory.write64(slot, c0);
        memory.write64(slot + 8, c1);
        prod = queueIncrement(prod, shift);
        commandsIssued++;
    }

    /** Adds a command built into {@code c}. */
    synchronized void add(long[] c) {
        add(c[0], c[1]);
    }

    private void publish() {
        mmio.write32(regs + CMDQ_PROD, prod);
        handleErrors();
    }

    private void handleErrors() {
        for (int guard = 0; guard < MAX_POLLS; guard++) {
            int gerror = mmio.read32(regs + GERROR);
            int gerrorn = mmio.read32(regs + GERRORN);
            if (((gerror ^ gerrorn) & GERROR_CMDQ_ERR) == 0) {
                return;
            }
            int cons = readCons();
            int err = cons >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK;
            errors++;
            lastError = err;
            if (err != CERROR_ATC_INV_SYNC) {
                long slot = base + (long) queueIndex(cons, shift) * Command.SIZE;
                Command.sync(cmd, Command.SYNC_CS_NONE, 0, 0);
                memory.write64(slot, cmd[0]);
                memory.write64(slot + 8, cmd[1]);
            }
            mmio.write32(regs + GERRORN, gerrorn ^ GERROR_CMDQ_ERR);
        }
        throw ErrnoException.of(Errno.EIO, "SMMU command queue stuck in error");
    }

    /** Adds a CMD_SYNC, publishes the ring, and waits for the SMMU to complete everything before it. */
    synchronized void sync() {
        int syncIndex = prod;
        long slot = base + (long) queueIndex(prod, shift) * Command.SIZE;
        if (msiPolling) {
            Command.sync(cmd, Command.SYNC_CS_IRQ, slot, 0);
        } else {
            Command.sync(cmd, Command.SYNC_CS_SEV, 0, 0);
        }
        add(cmd[0], cmd[1]);
        publish();
        syncs++;
        for (int polls = 0; polls < MAX_POLLS; polls++) {
            if (msiPolling ? memory.read32(slot) == 0 : consumed(readCons(), syncIndex)) {
                return;
            }
            publish();
        }
        throw ErrnoException.of(Errno.ETIMEDOUT, "CMD_SYNC did not complete");
    }

    /** Linux {@code queue_consumed}: whether CONS has moved past {@code index}. */
    private boolean consumed(int cons, int index) {
        int c = cons & ((2 << shift) - 1);
        boolean sameWrap = queueWrap(c, shift) == queueWrap(index, shift);
        return sameWrap ? queueIndex(c, shift) > queueIndex(index, shift) : queueIndex(c, shift) <= queueIndex(index, shift);
    }

    /** Adds one command and syncs ({@code arm_smmu_cmdq_issue_cmd_with_sync}). */
    synchronized void issueWithSync(long[] c) {
        add(c[0], c[1]);
        sync();
    }

    synchronized long errors() {
        return errors;
    }

    synchronized int lastError() {
        return lastError;
    }

    synchronized long commandsIssued() {
        return commandsIssued;
    }

    synchronized long syncs() {
        return syncs;
    }

    void free() {
        memory.frames().free(base, order);
    }
}
