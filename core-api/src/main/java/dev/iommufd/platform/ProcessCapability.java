package dev.iommufd.platform;

/** The POSIX capabilities iommufd consults. */
public enum ProcessCapability {
    /** Exempts pinning from RLIMIT_MEMLOCK accounting. */
    CAP_IPC_LOCK,
    /** Needed for IOMMU_OPTION_RLIMIT_MODE. */
    CAP_SYS_RESOURCE,
    /** Needed for privileged vIOMMU and test paths. */
    CAP_SYS_ADMIN,
    /** Needed for identity (pass-through) use by some paths. */
    CAP_SYS_RAWIO
}
