package dev.iommufd.vtd;

import static dev.iommufd.vtd.layout.VtdRegisters.FSTS_ICE;
import static dev.iommufd.vtd.layout.VtdRegisters.FSTS_IQE;
import static dev.iommufd.vtd.layout.VtdRegisters.FSTS_ITE;
import static dev.iommufd.vtd.layout.VtdRegisters.FSTS_REG;
import static dev.iommufd.vtd.layout.VtdRegisters.IQA_DW_256;
import static dev.iommufd.vtd.layout.VtdRegisters.IQA_REG;
import static dev.iommufd.vtd.layout.VtdRegisters.IQH_REG;
import static dev.iommufd.vtd.layout.VtdRegisters.IQT_REG;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The driver's side of one unit's invalidation queue (Linux {@code struct q_inval} and {@code qi_submit_sync}):
 * a ring of {@link #LENGTH} descriptors in memory, published by writing IQT, and one status word per slot that
 * the wait descriptor of a submission writes.
 *
 * <h2>Submission ({@code qi_submit_sync})</h2>
 * <ol>
 *   <li>Under the queue lock ({@link #lock}, Linux {@code q_lock}): wait for room (the hardware head, IQH, is read
 *       only when the cached head says the ring is too full), copy the descriptors and a wait descriptor into the
 *       slots from {@link #freeHead} (one bulk write), the wait descriptor writing this submission's status value
 *       ({@link #seq}) to the status word of its own slot; advance {@link #freeHead} and write IQT with it, still
 *       holding the lock, as Linux does ({@code writel(QI_TAIL)} inside {@code q_lock}): the IQT values the
 *       hardware sees only move forward, one submission at a time. The hardware model executes the descriptors up
 *       to the new tail inside that write, so the lock is held for the execution too; it is a spin lock: a waiter
 *       must never park (a parked thread costs microseconds, far more than the section).
 *   <li>After releasing the lock, poll the own slot's status word until it holds this submission's status value
 *       or a later one ({@link #done}); FSTS is checked for queue errors while it does not (Linux polls holding
 *       {@code q_lock} and drops it around each {@code cpu_relax}; here the status is normally written before
 *       the IQT write returns, and a submitter that meets IQE needs the lock to repair the queue).
 * </ol>
 *
 * <h2>Status words</h2>
 * Slot {@code i}'s status word is at {@code status + i * STATUS_STRIDE} (one cache line each, so waiters poll
 * different lines). Status values are the submissions' sequence numbers, increasing in queue order (assigned
 * under the lock), never 0 (the words' initial content). The hardware executes in order, so a status word
 * holding a later submission's value (the slot was reused after this submission's wait executed) means this
 * submission is complete too: the test is {@code (int) (word - mine) >= 0}.
 *
 * <h2>Errors ({@code qi_check_fault})</h2>
 * An invalid descriptor stops the hardware with FSTS.IQE and IQH at the descriptor. The submitter whose
 * descriptor it is (IQH within its non-wait descriptors) copies its wait descriptor over it (as Linux does),
 * clears IQE (the hardware resumes) and fails with EINVAL once its wait completed; other submitters leave the
 * error to it and keep waiting. ITE and ICE are cleared by whoever sees them.
 *
 * <h2>Locks</h2>
 * {@link #lock} guards {@link #freeHead}, {@link #cachedHead}, {@link #seq}, the slots
 * between the hardware head and {@link #freeHead} and the IQT register writes. Status words are written by the
 * hardware, read by anyone.
 */
final class InvalidationQueue {
    /** Linux QI_LENGTH: descriptors in the queue. */
    static final int LENGTH = 256;
    /** Bytes between two slots' status words: one cache line. */
    static final int STATUS_STRIDE = 64;
    /** Spins (status polls, lock attempts) before a waiter yields its CPU at each further attempt. */
    private static final int SPINS_BEFORE_YIELD = 64;
    /**
     * Status-word polls between two FSTS reads: a register read takes the unit's lock, which the thread executing
     * this submission's descriptors may hold, so a waiter reads it only when the wait has been long.
     */
    private static final int POLLS_PER_FSTS = 1024;
    /** How long a submission waits for its wait descriptor before failing with ETIMEDOUT. */
    private static final long TIMEOUT_NANOS = 10_000_000_000L;

    private static final VarHandle LOCK;
    /**
     * Per thread: a submission's descriptors and its wait descriptor, before they are copied into the ring with one
     * bulk write (per thread, so that submitters taking turns do not pass a written line between them).
     */
    private static final ThreadLocal<Staging> STAGING = ThreadLocal.withInitial(Staging::new);

    /** A thread's staging words ({@link #STAGING}). */
    private static final class Staging extends RecentThreadScratch.Owned {
        final long[] words = new long[LENGTH * 4];
    }

    static {
        try {
            LOCK = MethodHandles.lookup().findVarHandle(InvalidationQueue.class, "lock", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String name;
    private final MmioBus mmio;
    private final long regs;
    private final PhysicalMemory mem;
    /** The ring (IQA.IQA). */
    final long ring;
    /** log2 of the descriptor size: 4 (128-bit) or 5 (256-bit, IQA.DW). */
    final int shift;
    /** 64-bit words per descriptor. */
    private final int words;
    /** The status words, {@link #STATUS_STRIDE} apart, one per slot. */
    private final long status;
    private final int ringOrder;
    private final int statusOrder;

    // ---- written by submitters
    /** The queue lock (Linux q_lock): 0 free, 1 held. */
    private volatile int lock;
    /** The slot the next descriptor goes to (Linux free_head). Guarded by {@link #lock}. */
    private int freeHead;
    /** IQH as last read, as a slot index. Guarded by {@link #lock}. */
    private int cachedHead;
    /** The status value of the last submission. Guarded by {@link #lock}. */
    private int seq;
    /** The staging of the last two threads that submitted, before {@link #STAGING}. Used under {@link #lock}. */
    private final RecentThreadScratch<Staging> recentStaging = new RecentThreadScratch<>(STAGING);

    InvalidationQueue(String name, MmioBus mmio, long regs, PhysicalMemory mem, boolean wide) {
        this.name = name;
        this.mmio = mmio;
        this.regs = regs;
        this.mem = mem;
        this.shift = wide ? 5 : 4;
        this.words = wide ? 4 : 2;
        this.ringOrder = wide ? 1 : 0;
        this.ring = mem.frames().allocate(ringOrder);
        int statusFrames = LENGTH * STATUS_STRIDE / PhysicalMemory.FRAME_SIZE;
        this.statusOrder = Integer.numberOfTrailingZeros(statusFrames);
        this.status = mem.frames().allocate(statusOrder);
    }

    /** Programs IQT = 0 and IQA (queued invalidation still disabled). */
    void program() {
        mmio.write64(regs + IQT_REG, 0);
        mmio.write64(regs + IQA_REG, ring | (shift == 5 ? IQA_DW_256 | 1 : 0));
    }

    void free() {
        mem.frames().free(ring, ringOrder);
        mem.frames().free(status, statusOrder);
    }

    /** Submits one descriptor (upper qwords zero for 128-bit slots) and waits for it: the hot path. */
    void submitSync(long q0, long q1, long q2, long q3) {
        int first;
        int waitIndex;
        int mine;
        lock();
        try {
            reserve(2);
            mine = nextStatus();
            first = freeHead;
            waitIndex = (first + 1) & (LENGTH - 1);
            long[] p = staging();
            p[0] = q0;
            p[1] = q1;
            if (words == 4) {
                p[2] = q2;
                p[3] = q3;
            }
            stageWait(p, words, waitIndex, mine);
            copyIntoRing(p, first, 2);
            publish((first + 2) & (LENGTH - 1));
        } finally {
            unlock();
        }
        waitFor(first, waitIndex, mine);
    }

    /**
     * Submits {@code count} descriptors, {@code 4} words each in {@code descriptors} (words 2 and 3 are ignored in
     * 128-bit slots), followed by one wait descriptor, and waits for them (Linux qi_submit_sync with a count).
     */
    void submitSync(long[] descriptors, int count) {
        if (count < 1 || count > LENGTH - 2) {
            throw ErrnoException.of(Errno.EINVAL, "%s: %d descriptors in one submission (1 to %d)", name, count, LENGTH - 2);
        }
        int first;
        int waitIndex;
        int mine;
        lock();
        try {
            reserve(count + 1);
            mine = nextStatus();
            first = freeHead;
            waitIndex = (first + count) & (LENGTH - 1);
            long[] p = staging();
            for (int i = 0; i < count; i++) {
                System.arraycopy(descriptors, 4 * i, p, words * i, words);
            }
            stageWait(p, words * count, waitIndex, mine);
            copyIntoRing(p, first, count + 1);
            publish((first + count + 1) & (LENGTH - 1));
        } finally {
            unlock();
        }
        waitFor(first, waitIndex, mine);
    }

    /** The calling thread's staging words. Lock held. */
    private long[] staging() {
        return recentStaging.get().words;
    }

    /** The next status value, never 0. Lock held. */
    private int nextStatus() {
        int mine = seq + 1 == 0 ? 1 : seq + 1;
        seq = mine;
        return mine;
    }

    /**
     * Stages, at word {@code at} of {@code p}, the wait descriptor of slot {@code index}: a status write of
     * {@code mine} to that slot's status word. Lock held.
     */
    private void stageWait(long[] p, int at, int index, int mine) {
        p[at] = InvalidationDescriptor.waitLo(false, true, false, mine);
        p[at + 1] = status + (long) index * STATUS_STRIDE;
        if (words == 4) {
            p[at + 2] = 0;
            p[at + 3] = 0;
        }
    }

    /** Copies the {@code n} descriptors staged in {@code p} into the slots from {@code first} (wrapping at the end). Lock held. */
    private void copyIntoRing(long[] p, int first, int n) {
        int tillEnd = Math.min(n, LENGTH - first);
        mem.write64s(ring + ((long) first << shift), p, 0, tillEnd * words);
        if (n > tillEnd) {
            mem.write64s(ring, p, tillEnd * words, (n - tillEnd) * words);
        }
    }

    /**
     * Advances {@link #freeHead} past the written slots and writes it to IQT (Linux {@code writel} of QI_TAIL under
     * {@code q_lock}): the hardware executes up to it. Lock held.
     */
    private void publish(int next) {
        freeHead = next;
        mmio.write64(regs + IQT_REG, (long) next << shift);
    }

    /** Waits (lock held, released while spinning) until {@code n} slots are free by the hardware head. */
    private void reserve(int n) {
        long deadline = 0;
        while (LENGTH - 1 - ((freeHead - cachedHead) & (LENGTH - 1)) < n) {
            cachedHead = (int) (mmio.read64(regs + IQH_REG) >>> shift) & (LENGTH - 1);
            if (LENGTH - 1 - ((freeHead - cachedHead) & (LENGTH - 1)) >= n) {
                return;
            }
            if (deadline == 0) {
                deadline = System.nanoTime() + TIMEOUT_NANOS;
            } else if (System.nanoTime() - deadline > 0) {
                throw ErrnoException.of(Errno.ETIMEDOUT, "%s: the invalidation queue never drained", name);
            }
            unlock(); // Linux drops q_lock while the hardware frees slots
            Thread.onSpinWait();
            lock();
        }
    }

    /** Whether the status word of {@code waitIndex} says the submission with status {@code mine} completed. */
    private boolean done(int waitIndex, int mine) {
        return mem.read32(status + (long) waitIndex * STATUS_STRIDE) - mine >= 0;
    }

    /** Polls the submission's status word; checks FSTS while it is not written (Linux qi_check_fault). */
    private void waitFor(int first, int waitIndex, int mine) {
        if (done(waitIndex, mine)) {
            return;
        }
        boolean error = false;
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        for (int i = 1; !done(waitIndex, mine); i++) {
            if (i % POLLS_PER_FSTS == 0) {
                error |= checkFault(first, waitIndex);
                if (System.nanoTime() - deadline > 0) {
                    throw ErrnoException.of(Errno.ETIMEDOUT, "%s: invalidation wait descriptor never completed", name);
                }
            }
            if (i > SPINS_BEFORE_YIELD) {
                Thread.yield(); // the thread executing the descriptors may have been descheduled
            } else {
                Thread.onSpinWait();
            }
        }
        if (error) {
            throw ErrnoException.of(Errno.EINVAL, "%s: the invalidation queue rejected a descriptor (IQE)", name);
        }
    }

    /**
     * Linux qi_check_fault: on IQE at one of this submission's descriptors (before its wait descriptor), copies
     * the wait descriptor over it and clears IQE; returns whether it did. Clears ITE and ICE.
     */
    private boolean checkFault(int first, int waitIndex) {
        int fsts = mmio.read32(regs + FSTS_REG);
        boolean mineFailed = false;
        if ((fsts & FSTS_IQE) != 0) {
            lock();
            try {
                int head = (int) (mmio.read64(regs + IQH_REG) >>> shift) & (LENGTH - 1);
                int span = (waitIndex - first) & (LENGTH - 1);
                if ((mmio.read32(regs + FSTS_REG) & FSTS_IQE) != 0 && ((head - first) & (LENGTH - 1)) < span) {
                    long bad = ring + ((long) head << shift);
                    long wait = ring + ((long) waitIndex << shift);
                    for (int k = 0; k < words; k++) {
                        mem.write64(bad + 8L * k, mem.read64(wait + 8L * k));
                    }
                    mineFailed = true;
                    mmio.write32(regs + FSTS_REG, FSTS_IQE);
                }
            } finally {
                unlock();
            }
        }
        if ((fsts & (FSTS_ITE | FSTS_ICE)) != 0) {
            mmio.write32(regs + FSTS_REG, fsts & (FSTS_ITE | FSTS_ICE));
        }
        return mineFailed;
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
