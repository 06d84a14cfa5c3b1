package dev.iommufd.platform;

/**
 * A process address space's memory counters ({@code mm->locked_vm} and {@code mm->pinned_vm}).
 *
 * <p>{@code pinned_vm} is informational (every long-term pin by iommufd adds to it, in every accounting mode);
 * {@code locked_vm} is what the MM accounting mode (VFIO compatibility) charges against RLIMIT_MEMLOCK.
 */
public interface MmAccounting {

    long lockedVm();

    long pinnedVm();

    /**
     * {@code __account_locked_vm(mm, npages, inc=true, bypass_rlim=false)}: adds {@code npages} to locked_vm
     * unless the total would exceed {@code limitPages}.
     *
     * @throws dev.iommufd.api.ErrnoException ENOMEM over the limit (nothing changes); EINVAL when the mm is gone
     */
    void chargeLockedVm(long npages, long limitPages);

    void unchargeLockedVm(long npages);

    /** Adds (or, negative, subtracts) pages to pinned_vm. */
    void addPinnedVm(long delta);
}
