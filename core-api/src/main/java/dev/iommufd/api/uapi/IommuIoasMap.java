package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_ioas_map} (include/uapi/linux/iommufd.h, v6.17 layout). Maps user memory {@code [user_va, user_va + length)} at {@code iova} (input with FIXED_IOVA, always output).
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   ioas_id
 *    12..15     u32   __reserved
 *    16..23     u64   user_va
 *    24..31     u64   length
 *    32..39     u64   iova
 *  sizeof = 40, dispatcher min_size = 40 (offsetofend iova)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuIoasMap {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_IOAS_MAP;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code ioas_id} (u32). */
    public static final int OFFSET_IOAS_ID = 8;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 12;
    /** Offset of {@code user_va} (u64). */
    public static final int OFFSET_USER_VA = 16;
    /** Offset of {@code length} (u64). */
    public static final int OFFSET_LENGTH = 24;
    /** Offset of {@code iova} (u64). */
    public static final int OFFSET_IOVA = 32;
    /** {@code sizeof(struct iommu_ioas_map)} in the latest uAPI. */
    public static final int SIZE = 40;
    /** The dispatcher's min_size: offsetofend of {@code iova}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 40;
    /** IOMMU_IOAS_MAP_FIXED_IOVA: {@code iova} is an input and must be unused. */
    public static final int FLAG_FIXED_IOVA = 1 << 0;
    /** IOMMU_IOAS_MAP_WRITEABLE: DMA may write. */
    public static final int FLAG_WRITEABLE = 1 << 1;
    /** IOMMU_IOAS_MAP_READABLE: DMA may read. */
    public static final int FLAG_READABLE = 1 << 2;
    /** Every flag IOAS_MAP, IOAS_MAP_FILE and IOAS_COPY understand. */
    public static final int VALID_FLAGS = FLAG_FIXED_IOVA | FLAG_WRITEABLE | FLAG_READABLE;

    private IommuIoasMap() {
    }
}
