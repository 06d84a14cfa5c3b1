package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_ioas_copy} (include/uapi/linux/iommufd.h, v6.17 layout). Maps the pages behind {@code [src_iova, src_iova + length)} of one IOAS into another (or the same) IOAS without pinning again. Flags: {@link IommuIoasMap#FLAG_FIXED_IOVA} etc.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   dst_ioas_id
 *    12..15     u32   src_ioas_id
 *    16..23     u64   length
 *    24..31     u64   dst_iova
 *    32..39     u64   src_iova
 *  sizeof = 40, dispatcher min_size = 40 (offsetofend src_iova)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuIoasCopy {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_IOAS_COPY;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code dst_ioas_id} (u32). */
    public static final int OFFSET_DST_IOAS_ID = 8;
    /** Offset of {@code src_ioas_id} (u32). */
    public static final int OFFSET_SRC_IOAS_ID = 12;
    /** Offset of {@code length} (u64). */
    public static final int OFFSET_LENGTH = 16;
    /** Offset of {@code dst_iova} (u64). */
    public static final int OFFSET_DST_IOVA = 24;
    /** Offset of {@code src_iova} (u64). */
    public static final int OFFSET_SRC_IOVA = 32;
    /** {@code sizeof(struct iommu_ioas_copy)} in the latest uAPI. */
    public static final int SIZE = 40;
    /** The dispatcher's min_size: offsetofend of {@code src_iova}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 40;

    private IommuIoasCopy() {
    }
}
