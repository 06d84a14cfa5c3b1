package dev.iommufd.smmuv3.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * How many invalidation commands the unit's TLB and walk cache have executed (they share one count; a TLB built
 * alone has its own): the guard of the lock-free fill (see {@link Smmuv3Tlb}, "Concurrency"). A translation that
 * walks without the unit's lock {@link #sample samples} it before it reads any table, and its fill compares the
 * sample with the count while holding the set it writes; every invalidation {@link #advance advances} it with a
 * full fence before it looks at any set.
 *
 * <p>Written only by invalidations, which run under the unit's lock. The count is this object's only field, in
 * the gap after the header (HotSpot: a 12-byte header, then a 4-byte field), so that a unit whose lock is the
 * monitor of this object ({@code Smmuv3Unit}'s lock extends it) writes one line per invalidation for the lock and
 * the count.
 */
class InvalidationCount {
    private static final VarHandle COUNT;

    static {
        try {
            COUNT = MethodHandles.lookup().findVarHandle(InvalidationCount.class, "count", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Invalidations so far (wraps: only compared for equality). */
    private int count;

    /** The current count, read with acquire semantics (the table reads that follow stay after it). */
    final int sample() {
        return (int) COUNT.getAcquire(this);
    }

    /** Counts one invalidation: a volatile store (a full fence), so that the set reads that follow come after it. */
    final void advance() {
        COUNT.setVolatile(this, count + 1);
    }
}
