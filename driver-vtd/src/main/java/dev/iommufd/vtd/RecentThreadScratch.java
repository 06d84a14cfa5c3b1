package dev.iommufd.vtd;

/**
 * The per-thread scratch of one structure (a page table, a queue), found first through the last two threads that
 * used the structure, then through a {@link ThreadLocal}: a hit is two loads and a compare with the current thread,
 * where a {@code ThreadLocal} look-up is a hash probe. The slots are written only when a third thread comes, so two
 * threads working on one structure at once do not pass a written line between them.
 *
 * <h2>Concurrency</h2>
 * The slots are plain fields, racy but safe: a scratch is only ever handed to its {@link Owned#owner}, a final field
 * that every reader sees initialised, and a stale or lost slot write only sends a thread to the {@code ThreadLocal}
 * again. Nothing is allocated after a thread's first use.
 *
 * @param <T> the scratch type
 */
final class RecentThreadScratch<T extends RecentThreadScratch.Owned> {
    /** A scratch object: the thread it belongs to is the one that created it. */
    abstract static class Owned {
        /** The thread it belongs to (final: a racy reader of the slots sees it). */
        final Thread owner = Thread.currentThread();
    }

    /** Every thread's scratch, shared by all the structures of one kind. */
    private final ThreadLocal<T> perThread;
    private T recent0;
    private T recent1;
    /** Which of the two a miss replaces next. */
    private boolean replaceRecent1;

    RecentThreadScratch(ThreadLocal<T> perThread) {
        this.perThread = perThread;
    }

    /** The calling thread's scratch. */
    T get() {
        Thread t = Thread.currentThread();
        T s = recent0;
        if (s != null && s.owner == t) {
            return s;
        }
        s = recent1;
        if (s != null && s.owner == t) {
            return s;
        }
        s = perThread.get();
        if (replaceRecent1) {
            recent1 = s;
        } else {
            recent0 = s;
        }
        replaceRecent1 = !replaceRecent1;
        return s;
    }
}
