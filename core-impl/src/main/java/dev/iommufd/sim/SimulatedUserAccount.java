package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.UserAccount;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@code struct user_struct}: the per-UID {@code locked_vm}, shared by every process of the user.
 *
 * <p>{@link #chargeLockedVm} is iommufd's {@code incr_user_locked_vm()} (drivers/iommu/iommufd/pages.c): a
 * compare-and-exchange loop that adds {@code npages} unless the new total exceeds the limit, in which case it fails
 * with ENOMEM and changes nothing. Lock-free (an {@link AtomicLong}), like the kernel's {@code atomic_long_t}.
 * The kernel's {@code decr_user_locked_vm()} subtracts unchecked; here an uncharge below zero is refused (EINVAL,
 * nothing changed), as {@link UserAccount#unchargeLockedVm} specifies, so an accounting bug fails its test.
 */
final class SimulatedUserAccount implements UserAccount {

    private final int uid;
    private final AtomicLong lockedVm = new AtomicLong();

    SimulatedUserAccount(int uid) {
        this.uid = uid;
    }

    @Override
    public int uid() {
        return uid;
    }

    @Override
    public long lockedVm() {
        return lockedVm.get();
    }

    @Override
    public void chargeLockedVm(long npages, long limitPages) {
        if (npages < 0) {
            throw ErrnoException.of(Errno.EINVAL, "uid %d: charge of %d pages is negative", uid, npages);
        }
        for (;;) {
            long cur = lockedVm.get();
            long next = cur + npages;
            if (next < cur || next > limitPages) {
                throw ErrnoException.of(Errno.ENOMEM, "uid %d: locked_vm %d + %d pages exceeds RLIMIT_MEMLOCK (%d pages)",
                        uid, cur, npages, limitPages);
            }
            if (lockedVm.compareAndSet(cur, next)) {
                return;
            }
        }
    }

    @Override
    public void unchargeLockedVm(long npages) {
        if (npages < 0) {
            throw ErrnoException.of(Errno.EINVAL, "uid %d: uncharge of %d pages is negative", uid, npages);
        }
        for (;;) {
            long cur = lockedVm.get();
            if (npages > cur) {
                throw ErrnoException.of(Errno.EINVAL, "uid %d: uncharge of %d pages exceeds locked_vm %d", uid, npages, cur);
            }
            if (lockedVm.compareAndSet(cur, cur - npages)) {
                return;
            }
        }
    }

    @Override
    public String toString() {
        return "user " + uid + " locked_vm=" + lockedVm.get();
    }
}
