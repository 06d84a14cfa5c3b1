package dev.iommufd.vtd.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * How many invalidation operations the caches a lock-free walk depends on have run (the unit's context cache,
 * IOTLB and paging-structure caches share one count; a cache built alone has its own), and translation-mode
 * changes of the unit.
 *
 * <p>A translation that walks without the unit's lock {@link #sample samples} the count before it reads anything
 * (the context entry included), and its fill compares the sample with the count while holding the IOTLB set it
 * writes ({@link Iotlb#fill(int, int, long, int, int, long, long)}): the fill is dropped when they differ. Every
 * invalidation {@link #advance advances} the count with a volatile store before it changes anything, and a set is
 * taken with a compare-and-set: so either the invalidation sees the fill (it reads the set after the fill released
 * it) or the fill sees the new count. No translation read before an invalidation is cached after it.
 *
 * <p>Written only by invalidations. The count is the object's first field, on the line of its header (HotSpot: a
 * 12-byte header, then the long at offset 16), so that a unit that uses this object's monitor as its lock
 * ({@code VtdUnit}) writes one line per invalidation for the lock and the count; the padding after it keeps the
 * objects allocated next from sharing that line (the unit allocates this object first, after its own read-only
 * fields).
 */
final class InvalidationCount {
    private static final VarHandle COUNT;

    static {
        try {
            COUNT = MethodHandles.lookup().findVarHandle(InvalidationCount.class, "count", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Invalidations so far (atomic adds by {@link #advance}, acquire loads by {@link #sample}). */
    private long count;
    @SuppressWarnings("unused")
    private long q0, q1, q2, q3, q4, q5, q6;

    /** The current count, read with acquire semantics (reads that follow it in program order stay after it). */
    long sample() {
        return (long) COUNT.getAcquire(this);
    }

    /**
     * Counts one invalidation: an atomic add (volatile: a full fence), so that the caller's following reads of the
     * caches' sets and level hints happen after it in the synchronization order. Atomic, so that the count moves
     * even if two invalidations ever ran at once.
     */
    void advance() {
        long before = (long) COUNT.getAndAdd(this, 1L); // typed exactly: the VarHandle links without adaptation
    }

    /**
     * Counts one invalidation with a release store, no fence: only for a caller that takes a set by compare-and-set
     * (a full fence) before it reads any set or level hint, so that the count is visible before those reads as
     * {@link #advance} makes it. Invalidations are serialised by the unit's lock: a single writer.
     */
    void advanceBeforeLocking() {
        COUNT.setRelease(this, count + 1);
    }
}
