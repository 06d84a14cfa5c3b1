package dev.iommufd.smmuv3;

import static dev.iommufd.smmuv3.layout.SmmuRegisters.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.Command;

/**
 * The driver's side of the SMMU command queue ({@code arm_smmu_cmdq}): a ring of 16-byte commands in physical
 * memory, published by writing CMDQ_PROD. Commands are added with {@link #add}; {@link #sync} adds a CMD_SYNC,
 * publishes, and waits until the SMMU has consumed it.
 *
 * <h2>Batching ({@code arm_smmu_cmdq_issue_cmdlist})</h2>
 * Added commands are staged in {@link #staged} and written into the ring together (one bulk memory write per
 * contiguous run) when the batch is published, with one write of CMDQ_PROD for the batch. The driver keeps its
 * own copy of CMDQ_CONS ({@link #cons}, Linux's {@code llq}) and reads the register only when that copy says the
 * ring has no room.
 *
 * <p>Completion: with MSIs and a coherent SMMU, CMD_SYNC uses Linux's "MSI polling" (CS=IRQ, MSIAddr = the
 * CMD_SYNC's own slot, MSIData = 0; the driver watches the slot's first word become 0); otherwise CS=SEV and
 * the driver watches CMDQ_CONS pass the CMD_SYNC.
 *
 * <p>Errors ({@code arm_smmu_cmdq_skip_err}): an erroneous command stops the SMMU's consumption before any later
 * CMD_SYNC, so errors are looked for only while a CMD_SYNC has not completed (and when the ring stays full):
 * when GERROR.CMDQ_ERR is active the driver reads CMDQ_CONS.ERR, replaces the offending command with a CMD_SYNC
 * (for CERROR_ILL and CERROR_ABT), acknowledges GERRORN, and the SMMU continues. The count of such errors is
 * {@link #errors()}.
 *
 * <p>Locking: every method synchronises on this queue (Linux uses a lock-free protocol; one lock has the same
 * observable order). Callers batch commands by holding the queue's monitor across {@code add}s and
 * {@code sync}.
 */
final class CommandQueue {
    private static final int MAX_POLLS = 1 << 16;
    /** Commands staged before they are written into the ring (a full stage is written without publishing). */
    private static final int STAGE_COMMANDS = 64;

    private final MmioBus mmio;
    private final long regs;
    private final PhysicalMemory memory;
    private final long base;
    private final int order;
    private final int shift;
    private final boolean msiPolling;
    /** Next free slot (index + wrap) of the ring, including the staged commands. */
    private int prod;
    /** PROD as far as the ring's memory holds the commands (staged commands lie between it and {@link #prod}). */
    private int written;
    /** The last CMDQ_CONS read (without the ERR field). */
    private int cons;
    /** Staged commands, two dwords each; {@link #stagedCount} of them. */
    private final long[] staged = new long[2 * STAGE_COMMANDS];
    private int stagedCount;
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
    synchronized void program() {
        mmio.write64(regs + CMDQ_BASE, Q_BASE_RWA | base | shift);
        mmio.write32(regs + CMDQ_PROD, 0);
        mmio.write32(regs + CMDQ_CONS, 0);
        prod = 0;
        written = 0;
        cons = 0;
        stagedCount = 0;
    }

    long base() {
        return base;
    }

    private int readCons() {
        cons = mmio.read32(regs + CMDQ_CONS) & ~(CMDQ_CONS_ERR_MASK << CMDQ_CONS_ERR_SHIFT);
        return cons;
    }

    /** Free slots of the ring after {@link #written}, by the last CONS read. */
    private int space() {
        int m = (2 << shift) - 1;
        return (1 << shift) - ((written - cons) & m);
    }

    /** Adds one command to the batch. */
    synchronized void add(long c0, long c1) {
        if (stagedCount == STAGE_COMMANDS) {
            writeStaged();
        }
        staged[2 * stagedCount] = c0;
        staged[2 * stagedCount + 1] = c1;
        stagedCount++;
        prod = queueIncrement(prod, shift);
        commandsIssued++;
    }

    /** Adds a command built into {@code c}. */
    synchronized void add(long[] c) {
        add(c[0], c[1]);
    }

    /**
     * Writes the staged commands into the ring (not publishing them), waiting for room: when the ring is full by
     * the cached CONS, CONS is read again; when it is still full, what the ring holds is published.
     */
    private void writeStaged() {
        int done = 0;
        int polls = 0;
        while (done < stagedCount) {
            int room = space();
            if (room == 0) {
                room = (1 << shift) - ((written - readCons()) & ((2 << shift) - 1));
            }
            if (room == 0) {
                publish(written);
                if (++polls > MAX_POLLS) {
                    throw ErrnoException.of(Errno.ETIMEDOUT, "SMMU command queue did not drain");
                }
                continue;
            }
            int index = queueIndex(written, shift);
            int n = Math.min(Math.min(room, stagedCount - done), (1 << shift) - index);
            memory.write64s(base + (long) index * Command.SIZE, staged, 2 * done, 2 * n);
            for (int i = 0; i < n; i++) {
                written = queueIncrement(written, shift);
            }
            done += n;
        }
        stagedCount = 0;
    }

    private void publish(int p) {
        mmio.write32(regs + CMDQ_PROD, p);
        handleErrors();
    }

    /** Handles GERROR.CMDQ_ERR if active; returns whether it was. */
    private boolean handleErrors() {
        boolean any = false;
        for (int guard = 0; guard < MAX_POLLS; guard++) {
            int gerror = mmio.read32(regs + GERROR);
            int gerrorn = mmio.read32(regs + GERRORN);
            if (((gerror ^ gerrorn) & GERROR_CMDQ_ERR) == 0) {
                return any;
            }
            any = true;
            int c = mmio.read32(regs + CMDQ_CONS);
            int err = c >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK;
            errors++;
            lastError = err;
            if (err != CERROR_ATC_INV_SYNC) {
                long slot = base + (long) queueIndex(c, shift) * Command.SIZE;
                Command.sync(cmd, Command.SYNC_CS_NONE, 0, 0);
                memory.write64(slot, cmd[0]);
                memory.write64(slot + 8, cmd[1]);
            }
            mmio.write32(regs + GERRORN, gerrorn ^ GERROR_CMDQ_ERR);
        }
        throw ErrnoException.of(Errno.EIO, "SMMU command queue stuck in error");
    }

    /** Adds a CMD_SYNC, publishes the batch, and waits for the SMMU to complete everything before it. */
    synchronized void sync() {
        int syncIndex = prod;
        long slot = base + (long) queueIndex(prod, shift) * Command.SIZE;
        if (msiPolling) {
            Command.sync(cmd, Command.SYNC_CS_IRQ, slot, 0);
        } else {
            Command.sync(cmd, Command.SYNC_CS_SEV, 0, 0);
        }
        add(cmd[0], cmd[1]);
        writeStaged();
        mmio.write32(regs + CMDQ_PROD, written);
        syncs++;
        for (int polls = 0; polls < MAX_POLLS; polls++) {
            if (msiPolling ? memory.read32(slot) == 0 : consumed(readCons(), syncIndex)) {
                return;
            }
            // not complete: an erroneous command may have stopped the queue before the CMD_SYNC
            handleErrors();
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
