package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_hwpt_pgfault} (include/uapi/linux/iommufd.h, v6.17 layout). One I/O page fault record read from a FAULT file descriptor.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   flags
 *     4..7      u32   dev_id
 *     8..11     u32   pasid
 *    12..15     u32   grpid
 *    16..19     u32   perm
 *    20..23     u32   __reserved
 *    24..31     u64   addr
 *    32..35     u32   length
 *    36..39     u32   cookie
 *  sizeof = 40
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuHwptPgfault {
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 0;
    /** Offset of {@code dev_id} (u32). */
    public static final int OFFSET_DEV_ID = 4;
    /** Offset of {@code pasid} (u32). */
    public static final int OFFSET_PASID = 8;
    /** Offset of {@code grpid} (u32). */
    public static final int OFFSET_GRPID = 12;
    /** Offset of {@code perm} (u32). */
    public static final int OFFSET_PERM = 16;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 20;
    /** Offset of {@code addr} (u64). */
    public static final int OFFSET_ADDR = 24;
    /** Offset of {@code length} (u32). */
    public static final int OFFSET_LENGTH = 32;
    /** Offset of {@code cookie} (u32). */
    public static final int OFFSET_COOKIE = 36;
    /** {@code sizeof(struct iommu_hwpt_pgfault)} in the latest uAPI. */
    public static final int SIZE = 40;
    /** IOMMU_PGFAULT_FLAGS_PASID_VALID. */
    public static final int FLAG_PASID_VALID = 1 << 0;
    /** IOMMU_PGFAULT_FLAGS_LAST_PAGE. */
    public static final int FLAG_LAST_PAGE = 1 << 1;
    /** IOMMU_PGFAULT_PERM_READ. */
    public static final int PERM_READ = 1 << 0;
    /** IOMMU_PGFAULT_PERM_WRITE. */
    public static final int PERM_WRITE = 1 << 1;
    /** IOMMU_PGFAULT_PERM_EXEC. */
    public static final int PERM_EXEC = 1 << 2;
    /** IOMMU_PGFAULT_PERM_PRIV. */
    public static final int PERM_PRIV = 1 << 3;

    private IommuHwptPgfault() {
    }
}
