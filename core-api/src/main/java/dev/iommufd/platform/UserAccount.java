package dev.iommufd.platform;

/**
 * A Linux user (a {@code struct user_struct}): the per-UID {@code locked_vm} counter that iommufd's default
 * accounting mode charges, shared by every process of that user.
 */
public interface UserAccount {

    int uid();

    /** Pages currently charged to {@code user->locked_vm}. */
    long lockedVm();

    /**
     * Atomically adds {@code npages} to {@code locked_vm} unless the new total exceeds {@code limitPages}
     * ({@code RLIMIT_MEMLOCK >> PAGE_SHIFT}).
     *
     * @throws dev.iommufd.api.ErrnoException ENOMEM when the limit would be exceeded (nothing changes)
     */
    void chargeLockedVm(long npages, long limitPages);

    /** Subtracts {@code npages}; EINVAL (state unchanged) if that would go below zero. */
    void unchargeLockedVm(long npages);
}
