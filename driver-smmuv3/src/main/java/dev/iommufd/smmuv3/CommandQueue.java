package dev.iommufd.smmuv3;

import static dev.iommufd.smmuv3.layout.SmmuRegisters.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.Command;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The driver's side of the SMMU command queue ({@code arm_smmu_cmdq}): a ring of 16-byte commands in physical
 * memory, published by writing CMDQ_PROD.
 *
 * <h2>Batches ({@code arm_smmu_cmdq_batch})</h2>
 * A thread builds its commands in its own {@link Batch} ({@link #batch()}; {@link #add} appends to the calling
 * thread's batch), as Linux builds a {@code struct arm_smmu_cmdq_batch} on the stack; a full batch (64 commands)
 * is issued without a CMD_SYNC. {@link #sync} appends a CMD_SYNC, issues the batch and waits for it.
 *
 * <h2>Issuing ({@code arm_smmu_cmdq_issue_cmdlist})</h2>
 * <ol>
 *   <li>Under the insertion lock ({@link #lock}, a spin lock over a few memory writes; Linux reserves the slots
 *       with a cmpxchg on the producer index instead): reserve the slots (the cached CONS, {@link #cons}, is read
 *       again from CMDQ_CONS only when the ring looks full), write the commands, the CMD_SYNC last with its
 *       MSI address set to its own slot when MSI polling is used, advance {@link #prod} and publish it in
 *       {@link #inserted}.
 *   <li>Ring the doorbell ({@link #ring}): as Linux's owner CPU writes CMDQ_PROD once for the commands of every
 *       CPU that reserved slots while it gathered, the thread holding the doorbell writes CMDQ_PROD with the
 *       newest {@link #inserted} value, again while others keep inserting; a thread that finds the doorbell held
 *       leaves the write to its holder, who looks again after letting go. The values only move forward and cover
 *       only written commands.
 *   <li>A CMD_SYNC is waited for without any lock: with MSI polling (CS=IRQ, MSIAddr = the CMD_SYNC's own
 *       slot, MSIData = 0; Linux {@code __arm_smmu_cmdq_poll_until_msi}) until the slot's first word is 0,
 *       otherwise (CS=SEV) until CMDQ_CONS passes the CMD_SYNC ({@code queue_consumed}).
 * </ol>
 *
 * <h2>Cache lines</h2>
 * A submission writes {@link #issued}, {@link #syncs}, {@link #lock}, {@link #prod} and {@link #inserted}, and
 * the thread that rings {@link #doorbell} and {@link #rung}: fields declared so that they lie side by side (40
 * bytes; the configuration around them is never written), so that the words two submitting threads pass between
 * them are one or two lines of this object, besides the ring slot line their commands share. When one thread
 * rings while the other inserts, the ringer executes both threads' commands with one CMDQ_PROD write: one pass of
 * the SMMU's lock, registers and TLB lines for both.
 *
 * <h2>Slot reuse</h2>
 * {@link #consumed} counts the commands the SMMU consumed (CONS unwrapped, updated under the lock whenever CONS
 * is read) and {@link #issued} the commands inserted. A slot is reused only when CONS has passed it, so a
 * CMD_SYNC whose slot was reused (after it completed) is recognised by {@code consumed > its sequence number}
 * (Linux keeps slots from being reused under a polling CMD_SYNC with the queue's shared lock).
 *
 * <h2>Errors ({@code arm_smmu_cmdq_skip_err})</h2>
 * An erroneous command stops the SMMU's consumption before any later CMD_SYNC, so errors are looked for only
 * while a CMD_SYNC has not completed (and when the ring stays full): when GERROR.CMDQ_ERR is active, the thread
 * that sees it (under the insertion lock) reads CMDQ_CONS.ERR, replaces the offending command with a CMD_SYNC
 * (for CERROR_ILL and CERROR_ABT), and acknowledges GERRORN; the SMMU continues. Counted in {@link #errors()}.
 *
 * <h2>Locks</h2>
 * {@link #lock} guards {@link #prod}, {@link #cons}, {@link #issued}, the counters, the slots between CONS and
 * {@link #prod}, and error handling; {@link #doorbell} guards the CMDQ_PROD writes. Waiting takes no lock.
 */
final class CommandQueue {
    /** Linux CMDQ_BATCH_ENTRIES. */
    static final int BATCH_COMMANDS = 64;
    /** How long a submission waits (ring space, CMD_SYNC) before failing with ETIMEDOUT. */
    private static final long TIMEOUT_NANOS = 10_000_000_000L;
    /** Spins (CMD_SYNC polls, lock attempts) before a waiter yields its CPU at each further attempt. */
    private static final int SPINS_BEFORE_YIELD = 64;
    /**
     * CMD_SYNC polls between two GERROR checks: a register read takes the SMMU's lock, which the thread consuming
     * this CMD_SYNC may hold, so a waiter reads it only when the wait has been long.
     */
    private static final int POLLS_PER_CHECK = 1024;

    private static final VarHandle LOCK;
    private static final VarHandle DOORBELL;
    private static final VarHandle INSERTED;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            LOCK = l.findVarHandle(CommandQueue.class, "lock", int.class);
            DOORBELL = l.findVarHandle(CommandQueue.class, "doorbell", int.class);
            INSERTED = l.findVarHandle(CommandQueue.class, "inserted", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** One thread's commands before they are issued ({@code struct arm_smmu_cmdq_batch}), and a scratch command. */
    static final class Batch {
        /** A command being built ({@code Command.*(cmd, ...)}), then {@link #add(long[])}ed. */
        final long[] cmd = new long[2];
        final long[] commands = new long[2 * (BATCH_COMMANDS + 1)];
        int count;
        private final CommandQueue queue;

        private Batch(CommandQueue queue) {
            this.queue = queue;
        }

        /** Appends one command ({@code arm_smmu_cmdq_batch_add}); a full batch is issued first, without a CMD_SYNC. */
        void add(long c0, long c1) {
            if (count == BATCH_COMMANDS) {
                queue.issue(this, false);
            }
            commands[2 * count] = c0;
            commands[2 * count + 1] = c1;
            count++;
        }

        void add(long[] c) {
            add(c[0], c[1]);
        }

        /** Issues the batch with a CMD_SYNC and waits for it ({@code arm_smmu_cmdq_batch_submit}). */
        void sync() {
            queue.issue(this, true);
        }
    }

    // Declaration order is layout here: HotSpot places the long fields first, in declaration order, then the int
    // fields (the first one in the gap after the header), so the words submissions write (issued, syncs, lock, prod,
    // inserted, doorbell, rung) end up side by side (see "Cache lines").
    private final MmioBus mmio;
    private final long regs;
    private final PhysicalMemory memory;
    private final long base;
    /** Commands the SMMU consumed as far as the last CONS read tells (unwrapped {@link #cons}); written under the lock. */
    private volatile long consumed;
    private long errors;
    /** Commands inserted (unwrapped {@link #prod}; never reset). Guarded by {@link #lock}. */
    private long issued;
    private long syncs;
    private final int order;
    /** The insertion lock: 0 free, 1 held. */
    private volatile int lock;
    /** Next free slot (index + wrap) of the ring. Guarded by {@link #lock}. */
    private int prod;
    /** {@link #prod} as of the last completed insertion: every slot before it holds a written command. */
    @SuppressWarnings("unused") // through INSERTED: release stores, acquire loads
    private int inserted;
    /** The doorbell: 1 while a thread writes CMDQ_PROD. */
    private volatile int doorbell;
    /** The last value written to CMDQ_PROD. Guarded by {@link #doorbell}. */
    private int rung;
    private final int shift;
    /** The last CMDQ_CONS read (without the ERR field). Guarded by {@link #lock}. */
    private int cons;
    private int lastError;
    private final boolean msiPolling;
    private final ThreadLocal<Batch> batches;
    /** The batches of the last two threads that asked (see {@link #batch}). */
    private final RecentBatches recent = new RecentBatches();
    /** Scratch for error handling. Guarded by {@link #lock}. */
    private final long[] skip = new long[2];

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
        this.batches = ThreadLocal.withInitial(() -> new Batch(this));
    }

    /** Programs CMDQ_BASE and PROD/CONS = 0 (the queue must be disabled and idle). */
    void program() {
        lock();
        try {
            mmio.write64(regs + CMDQ_BASE, Q_BASE_RWA | base | shift);
            mmio.write32(regs + CMDQ_PROD, 0);
            mmio.write32(regs + CMDQ_CONS, 0);
            prod = 0;
            cons = 0;
            consumed = issued; // the queue is idle: everything issued was consumed
            INSERTED.setRelease(this, 0);
            rung = 0;
        } finally {
            unlock();
        }
    }

    long base() {
        return base;
    }

    /**
     * The calling thread's batch (Linux builds it on the stack). The batches of the last two threads that asked are
     * kept as (thread, batch) pairs in {@link #recent}, read without writing anything while the same two threads
     * keep asking (a hit costs two loads; a {@link ThreadLocal} lookup costs a hash probe); a third thread's request
     * goes to the {@link ThreadLocal} and replaces one pair. A pair is one immutable object, so a reader sees a
     * thread with its own batch or not at all.
     */
    Batch batch() {
        Thread t = Thread.currentThread();
        RecentBatches r = recent;
        OwnedBatch o = r.first;
        if (o != null && o.thread == t) {
            return o.batch;
        }
        o = r.second;
        if (o != null && o.thread == t) {
            return o.batch;
        }
        Batch b = batches.get();
        o = new OwnedBatch(t, b); // only when this thread is not one of the last two
        if (r.first == null || r.second != null && r.nextIsFirst) {
            r.first = o;
        } else {
            r.second = o;
        }
        r.nextIsFirst = !r.nextIsFirst;
        return b;
    }

    /** A thread and its batch. */
    private static final class OwnedBatch {
        final Thread thread;
        final Batch batch;

        OwnedBatch(Thread thread, Batch batch) {
            this.thread = thread;
            this.batch = batch;
        }
    }

    /**
     * The pairs {@link #batch} remembers, in an object of their own: read by every submission, written only when a
     * thread other than the last two asks, so it is not on the line the submissions write. Plain fields: a racing
     * replacement at worst makes a thread miss and look its batch up again (a stale pair still names its own thread's
     * batch). Holds at most two threads' batches alive after those threads end.
     */
    private static final class RecentBatches {
        /**
         * Padding: HotSpot lays these out first (longs before references), so the fields read on every submission
         * start 64 bytes into the object and never share a line with the object allocated before it (this queue,
         * whose lock word a submission writes).
         */
        @SuppressWarnings("unused")
        private long p0, p1, p2, p3, p4, p5, p6, p7;
        OwnedBatch first;
        OwnedBatch second;
        boolean nextIsFirst;
    }

    /** Adds one command to the calling thread's batch. */
    void add(long c0, long c1) {
        batch().add(c0, c1);
    }

    /** Adds a command built into {@code c} to the calling thread's batch. */
    void add(long[] c) {
        batch().add(c[0], c[1]);
    }

    /** Adds a CMD_SYNC to the calling thread's batch, issues it, and waits for the SMMU to complete it. */
    void sync() {
        issue(batch(), true);
    }

    /** Adds one command and syncs ({@code arm_smmu_cmdq_issue_cmd_with_sync}). */
    void issueWithSync(long[] c) {
        Batch b = batch();
        b.add(c[0], c[1]);
        issue(b, true);
    }

    /** Issues {@code b}'s commands (and a CMD_SYNC when {@code sync}), empties it, and waits for the CMD_SYNC. */
    private void issue(Batch b, boolean sync) {
        int n = b.count + (sync ? 1 : 0);
        if (n == 0) {
            return;
        }
        long syncSeq;
        int syncSlot;
        lock();
        try {
            reserve(n);
            int first = prod;
            syncSeq = issued + n - 1;
            syncSlot = queueIndex(queueAdd(first, n - 1), shift);
            if (sync) {
                long[] c = b.commands;
                int w = 2 * b.count;
                if (msiPolling) {
                    Command.sync(b.cmd, Command.SYNC_CS_IRQ, base + (long) syncSlot * Command.SIZE, 0);
                } else {
                    Command.sync(b.cmd, Command.SYNC_CS_SEV, 0, 0);
                }
                c[w] = b.cmd[0];
                c[w + 1] = b.cmd[1];
                syncs++;
            }
            int index = queueIndex(first, shift);
            int tillEnd = Math.min(n, (1 << shift) - index);
            memory.write64s(base + (long) index * Command.SIZE, b.commands, 0, 2 * tillEnd);
            if (n > tillEnd) {
                memory.write64s(base, b.commands, 2 * tillEnd, 2 * (n - tillEnd));
            }
            prod = queueAdd(first, n);
            issued += n;
            INSERTED.setRelease(this, prod);
        } finally {
            unlock();
        }
        b.count = 0;
        ring();
        if (sync) {
            waitForSync(syncSeq, syncSlot);
        }
    }

    /** {@code pointer} advanced by {@code n} slots (index + wrap bit). */
    private int queueAdd(int pointer, int n) {
        return (pointer + n) & ((2 << shift) - 1);
    }

    /** Free slots after {@link #prod} by {@link #cons}. */
    private int space() {
        return (1 << shift) - ((prod - cons) & ((2 << shift) - 1));
    }

    /** Reads CMDQ_CONS into {@link #cons} and {@link #consumed}. Lock held. */
    private void readCons() {
        int c = mmio.read32(regs + CMDQ_CONS) & ((2 << shift) - 1);
        consumed += (c - cons) & ((2 << shift) - 1);
        cons = c;
    }

    /** Waits (lock held, released while spinning) for {@code n} free slots ({@code arm_smmu_cmdq_poll_until_not_full}). */
    private void reserve(int n) {
        long deadline = 0;
        while (space() < n) {
            readCons();
            if (space() >= n) {
                return;
            }
            handleErrors();
            if (deadline == 0) {
                deadline = System.nanoTime() + TIMEOUT_NANOS;
            } else if (System.nanoTime() - deadline > 0) {
                throw ErrnoException.of(Errno.ETIMEDOUT, "SMMU command queue did not drain");
            }
            unlock();
            ring();
            Thread.onSpinWait();
            lock();
        }
    }

    /**
     * Writes CMDQ_PROD with the newest {@link #inserted} value, again while other threads insert; returns at once
     * when another thread holds the doorbell (it publishes what this thread inserted before it lets go).
     */
    private void ring() {
        while (DOORBELL.compareAndSet(this, 0, 1)) {
            try {
                int t;
                while ((t = (int) INSERTED.getAcquire(this)) != rung) {
                    rung = t;
                    mmio.write32(regs + CMDQ_PROD, t);
                }
            } finally {
                // a volatile store (a full fence), ordered before the load of inserted below: an inserter stores
                // inserted before its compare-and-set of the doorbell (a full fence too), so either that CAS
                // succeeds or this load sees its insertion (no insertion is left unrung)
                doorbell = 0;
            }
            if ((int) INSERTED.getAcquire(this) == rung) {
                return;
            }
        }
    }

    /** Whether the CMD_SYNC with sequence number {@code seq} in slot {@code slot} completed. */
    private boolean syncDone(long seq, int slot) {
        if (msiPolling) {
            // the slot first (acquire): if it was reused, consumed was raised before the new command was written
            return memory.read32(base + (long) slot * Command.SIZE) == 0 || consumed > seq;
        }
        if (consumed > seq) {
            return true;
        }
        lock();
        try {
            readCons();
            return consumed > seq;
        } finally {
            unlock();
        }
    }

    private void waitForSync(long seq, int slot) {
        if (syncDone(seq, slot)) {
            return;
        }
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        for (int polls = 1; !syncDone(seq, slot); polls++) {
            if (polls % POLLS_PER_CHECK == 0) {
                // not complete: an erroneous command may have stopped the queue before the CMD_SYNC
                lock();
                try {
                    handleErrors();
                } finally {
                    unlock();
                }
                ring();
                if (System.nanoTime() - deadline > 0) {
                    throw ErrnoException.of(Errno.ETIMEDOUT, "CMD_SYNC did not complete");
                }
            }
            if (polls > SPINS_BEFORE_YIELD) {
                Thread.yield(); // the thread consuming the commands may have been descheduled
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /** Handles GERROR.CMDQ_ERR if active ({@code arm_smmu_cmdq_skip_err}). Lock held. */
    private void handleErrors() {
        for (int guard = 0; guard < 1 << 16; guard++) {
            int gerror = mmio.read32(regs + GERROR);
            int gerrorn = mmio.read32(regs + GERRORN);
            if (((gerror ^ gerrorn) & GERROR_CMDQ_ERR) == 0) {
                return;
            }
            int c = mmio.read32(regs + CMDQ_CONS);
            int err = c >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK;
            errors++;
            lastError = err;
            if (err != CERROR_ATC_INV_SYNC) {
                long slot = base + (long) queueIndex(c, shift) * Command.SIZE;
                Command.sync(skip, Command.SYNC_CS_NONE, 0, 0);
                memory.write64(slot, skip[0]);
                memory.write64(slot + 8, skip[1]);
            }
            mmio.write32(regs + GERRORN, gerrorn ^ GERROR_CMDQ_ERR);
        }
        throw ErrnoException.of(Errno.EIO, "SMMU command queue stuck in error");
    }

    long errors() {
        lock();
        try {
            return errors;
        } finally {
            unlock();
        }
    }

    int lastError() {
        lock();
        try {
            return lastError;
        } finally {
            unlock();
        }
    }

    long commandsIssued() {
        lock();
        try {
            return issued;
        } finally {
            unlock();
        }
    }

    long syncs() {
        lock();
        try {
            return syncs;
        } finally {
            unlock();
        }
    }

    void free() {
        memory.frames().free(base, order);
    }

    private void lock() {
        int spins = 0;
        while (!LOCK.compareAndSet(this, 0, 1)) {
            do {
                if (++spins > SPINS_BEFORE_YIELD) {
                    Thread.yield(); // the holder may have been descheduled: let it run
                } else {
                    Thread.onSpinWait();
                }
            } while (lock != 0);
        }
    }

    private void unlock() {
        LOCK.setRelease(this, 0);
    }
}
