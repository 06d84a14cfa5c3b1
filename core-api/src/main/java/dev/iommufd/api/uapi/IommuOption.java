package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_option} (include/uapi/linux/iommufd.h, v6.17 layout). Gets or sets a global (RLIMIT_MODE) or per-IOAS (HUGE_PAGES) option.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   option_id
 *     8..9      u16   op
 *    10..11     u16   __reserved
 *    12..15     u32   object_id
 *    16..23     u64   val64
 *  sizeof = 24, dispatcher min_size = 24 (offsetofend val64)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuOption {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_OPTION;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code option_id} (u32). */
    public static final int OFFSET_OPTION_ID = 4;
    /** Offset of {@code op} (u16). */
    public static final int OFFSET_OP = 8;
    /** Offset of {@code __reserved} (u16). */
    public static final int OFFSET_RESERVED = 10;
    /** Offset of {@code object_id} (u32). */
    public static final int OFFSET_OBJECT_ID = 12;
    /** Offset of {@code val64} (u64). */
    public static final int OFFSET_VAL64 = 16;
    /** {@code sizeof(struct iommu_option)} in the latest uAPI. */
    public static final int SIZE = 24;
    /** The dispatcher's min_size: offsetofend of {@code val64}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 24;
    /** IOMMU_OPTION_RLIMIT_MODE: global; 0 = per-user accounting, 1 = per-mm (VFIO) accounting; SET needs CAP_SYS_RESOURCE. */
    public static final int OPTION_RLIMIT_MODE = 0;
    /** IOMMU_OPTION_HUGE_PAGES: per IOAS; 1 (default) = map contiguous runs with large IOPTEs, 0 = PAGE_SIZE only. */
    public static final int OPTION_HUGE_PAGES = 1;
    /** IOMMU_OPTION_OP_SET. */
    public static final int OP_SET = 0;
    /** IOMMU_OPTION_OP_GET. */
    public static final int OP_GET = 1;

    private IommuOption() {
    }
}
