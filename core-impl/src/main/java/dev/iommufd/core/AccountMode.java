package dev.iommufd.core;

/** {@code enum iopt_pages_account_mode}: who pinned pages are charged to. */
public enum AccountMode {
    /** Not charged against any RLIMIT (the mapping process had CAP_IPC_LOCK); pinned_vm still counts. */
    NONE,
    /** Charged to {@code user->locked_vm} (default for /dev/iommu, IOMMU_OPTION_RLIMIT_MODE = 0). */
    USER,
    /** Charged to {@code mm->locked_vm} (VFIO compatible, IOMMU_OPTION_RLIMIT_MODE = 1). */
    MM
}
