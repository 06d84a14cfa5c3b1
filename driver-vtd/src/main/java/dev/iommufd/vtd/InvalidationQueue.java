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
 *   <li>Under the queue lock ({@code state[LOCK]}, Linux {@code q_lock}): wait for room (the hardware head, IQH,
 *       is read only when the cached head says the ring is too full), copy the descriptors and a wait descriptor
 *       into the slots from {@code state[FREE_HEAD]}, the wait descriptor writing this submission's status value
 *       ({@code state[SEQ]}) to the status word of its own slot; advance the free head and publish it in
 *       {@code state[INSERTED]}. The lock is a spin lock: its critical section is a few memory writes, and a waiter
 *       must never park (a parked thread costs microseconds, far more than the section).
 *   <li>Ring the doorbell ({@link #ring}): the thread that owns the doorbell writes IQT with the newest
 *       {@code state[INSERTED]} value, again and again while other threads keep inserting, so one IQT write can
 *       publish the descriptors of several threads (Linux holds {@code q_lock} across its IQT write, which is a
 *       posted MMIO write; the hardware model here executes descriptors inside the IQT write, so the doorbell is
 *       rung outside the insertion lock, by one thread at a time, with values that only move forward and only past
 *       fully written descriptors: the sequence of IQT values the hardware sees is one Linux could produce).
 *   <li>Without any lock, poll the own slot's status word until it holds this submission's status value or a
 *       later one ({@link #done}); FSTS is checked for queue errors while it does not.
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
 * The queue lock ({@code state[LOCK]}) guards {@code state[FREE_HEAD]}, {@code state[CACHED_HEAD]},
 * {@code state[SEQ]}, {@link #staging} and the slots between the hardware head and {@code state[FREE_HEAD]}. The
 * doorbell ({@code state[DOORBELL]}) guards the IQT register writes and {@code state[RUNG]}. Status words are
 * written by the hardware, read by anyone.
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

    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);

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

    // ---- written by submitters: the words of {@link #state}
    /**
     * The submitters' shared words, at {@code state[LOCK ... RUNG]}, with 64 bytes of unused words before and after
     * them, so that they share a cache line with nothing else (HotSpot lays out an array's elements from 16 bytes
     * into the object): a waiter polling its status word reads only this object's final fields, on lines nobody
     * writes, and two submitters pass this one line between them. Each word is one of the fields listed here.
     */
    private final int[] state = new int[STATE_WORDS];
    /** {@code state[LOCK]}: the queue lock (Linux q_lock): 0 free, 1 held (compare-and-set, release stores). */
    private static final int LOCK = 16;
    /** {@code state[FREE_HEAD]}: the slot the next descriptor goes to (Linux free_head). Guarded by the lock. */
    private static final int FREE_HEAD = 17;
    /** {@code state[CACHED_HEAD]}: IQH as last read, as a slot index. Guarded by the lock. */
    private static final int CACHED_HEAD = 18;
    /** {@code state[SEQ]}: the status value of the last submission. Guarded by the lock. */
    private static final int SEQ = 19;
    /**
     * {@code state[INSERTED]}: the free head as of the last completed insertion: every slot before it holds a
     * written descriptor (release stores, acquire loads).
     */
    private static final int INSERTED = 20;
    /** {@code state[DOORBELL]}: 1 while a thread writes IQT (compare-and-set, volatile stores). */
    private static final int DOORBELL = 21;
    /** {@code state[RUNG]}: the slot index last written to IQT. Guarded by the doorbell. */
    private static final int RUNG = 22;
    private static final int STATE_WORDS = RUNG + 1 + 16;
    /** A multi-descriptor submission's descriptors, before they are copied into the ring. Guarded by the queue lock. */
    private final long[] staging = new long[LENGTH * 4];

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
            first = state[FREE_HEAD];
            waitIndex = (first + 1) & (LENGTH - 1);
            // written word by word, straight into the slots (no staging array shared between submitters)
            long a = ring + ((long) first << shift);
            mem.write64(a, q0);
            mem.write64(a + 8, q1);
            if (words == 4) {
                mem.write64(a + 16, q2);
                mem.write64(a + 24, q3);
            }
            writeWait(waitIndex, mine);
            publish((first + 2) & (LENGTH - 1));
        } finally {
            unlock();
        }
        ring();
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
            first = state[FREE_HEAD];
            waitIndex = (first + count) & (LENGTH - 1);
            long[] p = staging;
            for (int i = 0; i < count; i++) {
                System.arraycopy(descriptors, 4 * i, p, words * i, words);
            }
            int tillEnd = Math.min(count, LENGTH - first);
            mem.write64s(ring + ((long) first << shift), p, 0, tillEnd * words);
            if (count > tillEnd) {
                mem.write64s(ring, p, tillEnd * words, (count - tillEnd) * words);
            }
            writeWait(waitIndex, mine);
            publish((first + count + 1) & (LENGTH - 1));
        } finally {
            unlock();
        }
        ring();
        waitFor(first, waitIndex, mine);
    }

    /** The next status value, never 0. Lock held. */
    private int nextStatus() {
        int mine = state[SEQ] + 1 == 0 ? 1 : state[SEQ] + 1;
        state[SEQ] = mine;
        return mine;
    }

    /** Writes the wait descriptor (status write of {@code mine} to the slot's status word) into slot {@code index}. Lock held. */
    private void writeWait(int index, int mine) {
        long a = ring + ((long) index << shift);
        mem.write64(a, InvalidationDescriptor.waitLo(false, true, false, mine));
        mem.write64(a + 8, status + (long) index * STATUS_STRIDE);
        if (words == 4) {
            mem.write64(a + 16, 0);
            mem.write64(a + 24, 0);
        }
    }

    /** Advances {@code state[FREE_HEAD]} past the written slots and publishes it. Lock held. */
    private void publish(int next) {
        state[FREE_HEAD] = next;
        INTS.setRelease(state, INSERTED, next);
    }

    /** Waits (lock held, released while spinning) until {@code n} slots are free by the hardware head. */
    private void reserve(int n) {
        long deadline = 0;
        int[] st = state;
        while (LENGTH - 1 - ((st[FREE_HEAD] - st[CACHED_HEAD]) & (LENGTH - 1)) < n) {
            st[CACHED_HEAD] = (int) (mmio.read64(regs + IQH_REG) >>> shift) & (LENGTH - 1);
            if (LENGTH - 1 - ((st[FREE_HEAD] - st[CACHED_HEAD]) & (LENGTH - 1)) >= n) {
                return;
            }
            if (deadline == 0) {
                deadline = System.nanoTime() + TIMEOUT_NANOS;
            } else if (System.nanoTime() - deadline > 0) {
                throw ErrnoException.of(Errno.ETIMEDOUT, "%s: the invalidation queue never drained", name);
            }
            unlock(); // Linux drops q_lock while the hardware frees slots
            ring();
            Thread.onSpinWait();
            lock();
        }
    }

    /**
     * Writes IQT with the newest {@code state[INSERTED]} value, repeatedly while other threads insert; returns at once
     * when another thread holds the doorbell (it publishes what this thread inserted before it lets go).
     */
    private void ring() {
        int[] st = state;
        while (INTS.compareAndSet(st, DOORBELL, 0, 1)) {
            try {
                int t;
                while ((t = (int) INTS.getAcquire(st, INSERTED)) != st[RUNG]) {
                    st[RUNG] = t;
                    mmio.write64(regs + IQT_REG, (long) t << shift);
                }
            } finally {
                // a volatile store (a full fence), ordered before the load of inserted below: an inserter stores
                // inserted before its compare-and-set of the doorbell (a full fence too), so either that CAS
                // succeeds or this load sees its insertion (no insertion is left unrung)
                INTS.setVolatile(st, DOORBELL, 0);
            }
            if ((int) INTS.getAcquire(st, INSERTED) == st[RUNG]) {
                return; // nothing inserted since the last write; a later insertion rings for itself
            }
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
                ring(); // a doorbell owner that was descheduled: publish in its place
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
        while (!INTS.compareAndSet(state, LOCK, 0, 1)) {
            do {
                if (++spins > SPINS_BEFORE_YIELD) {
                    Thread.yield(); // the holder may have been descheduled: let it run
                } else {
                    Thread.onSpinWait();
                }
            } while ((int) INTS.getVolatile(state, LOCK) != 0);
        }
    }

    private void unlock() {
        INTS.setRelease(state, LOCK, 0);
    }
}
