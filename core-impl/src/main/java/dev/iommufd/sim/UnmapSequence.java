package dev.iommufd.sim;

/**
 * The sequence count a process's lockless pin walk checks against munmap and exit: a seqcount in the kernel's sense
 * ({@code seqcount_t}, as {@code mm->write_protect_seq} is for fork in {@code gup_fast()}).
 *
 * <pre>
 *   value even : no munmap/exit is letting pages go
 *   value odd  : a munmap or exit is between {@link #writeBegin} and {@link #writeEnd}
 * </pre>
 * Writers run under the process's mmap lock (write), so there is one at a time and a plain volatile increment is
 * enough. A writer makes the value odd BEFORE it clears any page entry or lets any page go, and even again after.
 *
 * <p>Protocol of a reader (the lockless walk): {@link #readBegin} before it reads the mapping array or any page
 * entry (a volatile read: nothing it reads later can be older), giving up when a writer is active; then, under the
 * {@link LongTermPins} monitor, {@link #unchanged} before it takes any pin, and no pin when the value moved. A
 * writer lets a page go under that same monitor ({@link LongTermPins#release}) after {@link #writeBegin}: either
 * that release ran before the reader's monitor section, and then the reader sees the moved value, or it runs after
 * it and finds the reader's pin (the page becomes an orphan, kept until its last unpin). So a lockless pin never
 * lands on a page that its mapping let go of.
 */
final class UnmapSequence {
    /** Written by the one writer holding the mmap lock; read by lockless walks. */
    private volatile int value;

    UnmapSequence() {
        this(0);
    }

    /** A sequence starting at {@code initial} (even): for tests of the wrap. */
    UnmapSequence(int initial) {
        value = initial;
    }

    /** A munmap or exit starts letting pages go (caller holds the mmap lock for writing). */
    void writeBegin() {
        value = value + 1;
    }

    /** ... and is done (caller holds the mmap lock for writing). */
    void writeEnd() {
        value = value + 1;
    }

    /** A value {@link #readBegin} never returns for a quiet sequence: it is odd, as every value a writer leaves. */
    static final int WRITER_ACTIVE = -1;

    /**
     * {@code raw_seqcount_try_begin}: the current value (even, any sign: it wraps), or {@link #WRITER_ACTIVE} while a
     * writer is active.
     */
    int readBegin() {
        int v = value;
        return (v & 1) == 0 ? v : WRITER_ACTIVE;
    }

    /** {@code !read_seqcount_retry}: whether no writer began since {@link #readBegin} returned {@code start}. */
    boolean unchanged(int start) {
        return value == start;
    }
}
