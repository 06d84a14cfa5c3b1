package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;

/**
 * Fault injection points of iommufd, in the spirit of the kernel's {@code /proc/self/task/<tid>/fail-nth}
 * (failslab, fail_page_alloc, {@code iommufd_should_fail}): a thread arms a countdown with {@link #arm}; the
 * N-th injection point that thread passes afterwards fails with ENOMEM, once; {@link #disarm} reports whether it
 * fired (the kernel's fail-nth reading back "0").
 *
 * <p>Points are one-line calls placed where the kernel allocates or calls out on a success path: object
 * allocation, pinning, domain allocation, map_pages, the anonymous file of an event queue. Each names itself
 * after the kernel function it stands for.
 *
 * <p>Per thread, like the kernel's per-task attribute. While no thread is armed, a check is one volatile read and
 * allocates nothing (hot paths call it).
 */
public final class FaultInjection {
    /** Threads currently armed (with a countdown not yet fired or disarmed). */
    private static final java.util.concurrent.atomic.AtomicInteger ARMED = new java.util.concurrent.atomic.AtomicInteger();
    private static final ThreadLocal<State> STATE = ThreadLocal.withInitial(State::new);

    private static final class State {
        int remaining;
        String fired;
        boolean counted;
    }

    private FaultInjection() {
    }

    /** Arms this thread: the {@code nth} (1-based) point passed from now on fails. 0 disarms. */
    public static void arm(int nth) {
        if (nth < 0) {
            throw new IllegalArgumentException("nth " + nth);
        }
        State s = STATE.get();
        s.remaining = nth;
        s.fired = null;
        setCounted(s, nth > 0);
    }

    /**
     * Disarms this thread.
     *
     * @return the name of the point that failed since {@link #arm}, or null when the countdown never reached it
     */
    public static String disarm() {
        State s = STATE.get();
        String fired = s.fired;
        s.remaining = 0;
        s.fired = null;
        setCounted(s, false);
        return fired;
    }

    /**
     * An injection point.
     *
     * @throws ErrnoException ENOMEM when this is the armed N-th point of the calling thread
     */
    public static void check(String point) {
        if (ARMED.get() == 0) {
            return;
        }
        State s = STATE.get();
        if (s.remaining == 0) {
            return;
        }
        if (--s.remaining == 0) {
            s.fired = point;
            setCounted(s, false);
            throw ErrnoException.of(Errno.ENOMEM, "fault injection: %s failed", point);
        }
    }

    private static void setCounted(State s, boolean armed) {
        if (armed != s.counted) {
            s.counted = armed;
            ARMED.addAndGet(armed ? 1 : -1);
        }
    }
}
