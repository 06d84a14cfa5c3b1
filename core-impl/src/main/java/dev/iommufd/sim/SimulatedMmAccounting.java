package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MmAccounting;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An address space's {@code mm->locked_vm} and {@code mm->pinned_vm}.
 *
 * <p>{@link #chargeLockedVm} is {@code __account_locked_vm(mm, npages, true, task, false)} (mm/util.c): under the
 * mmap write lock (here: this object's monitor), ENOMEM when {@code locked_vm + npages > limit}, else add. After
 * the process exited (iommufd's {@code mmget_not_zero()} fails) both charge directions fail with EINVAL.
 * {@code pinned_vm} is an {@code atomic64_t} in the kernel; here too (a volatile word updated by compare-and-set, no
 * monitor: every IOAS_MAP and IOAS_UNMAP adds to it).
 *
 * <p>Where the kernel only {@code WARN_ON_ONCE}s on an uncharge below zero (and the counter wraps), this model
 * refuses with EINVAL and changes nothing, so that an accounting bug in iommufd fails its test.
 */
final class SimulatedMmAccounting implements MmAccounting {

    private final int pid;
    /** Guarded by this. */
    private long lockedVm;
    /** {@code atomic64_t pinned_vm}: updated by compare-and-set through {@link #PINNED_VM}. */
    private volatile long pinnedVm;
    private static final VarHandle PINNED_VM;

    static {
        try {
            PINNED_VM = MethodHandles.lookup().findVarHandle(SimulatedMmAccounting.class, "pinnedVm", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    /** Guarded by this. */
    private boolean gone;

    SimulatedMmAccounting(int pid) {
        this.pid = pid;
    }

    @Override
    public synchronized long lockedVm() {
        return lockedVm;
    }

    @Override
    public long pinnedVm() {
        return pinnedVm;
    }

    @Override
    public synchronized void chargeLockedVm(long npages, long limitPages) {
        checkAlive();
        if (npages < 0) {
            throw ErrnoException.of(Errno.EINVAL, "mm of pid %d: charge of %d pages is negative", pid, npages);
        }
        long next = lockedVm + npages;
        if (next < lockedVm || next > limitPages) {
            throw ErrnoException.of(Errno.ENOMEM, "mm of pid %d: locked_vm %d + %d pages exceeds RLIMIT_MEMLOCK (%d pages)",
                    pid, lockedVm, npages, limitPages);
        }
        lockedVm = next;
    }

    @Override
    public synchronized void unchargeLockedVm(long npages) {
        checkAlive();
        if (npages < 0 || npages > lockedVm) {
            throw ErrnoException.of(Errno.EINVAL, "mm of pid %d: uncharge of %d pages with locked_vm %d", pid, npages, lockedVm);
        }
        lockedVm -= npages;
    }

    @Override
    public void addPinnedVm(long delta) {
        for (;;) {
            long cur = pinnedVm;
            long next = cur + delta;
            if (next < 0) {
                throw ErrnoException.of(Errno.EINVAL, "mm of pid %d: pinned_vm %d %+d would go below zero", pid, cur, delta);
            }
            if (PINNED_VM.weakCompareAndSet(this, cur, next)) {
                return;
            }
        }
    }

    /** The process exited: the mm can no longer be charged. */
    synchronized void release() {
        gone = true;
    }

    private void checkAlive() {
        if (gone) {
            throw ErrnoException.of(Errno.EINVAL, "mm of pid %d is gone (the process exited)", pid);
        }
    }

    @Override
    public synchronized String toString() {
        return "mm of pid " + pid + " locked_vm=" + lockedVm + " pinned_vm=" + pinnedVm;
    }
}
