package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_hwpt_get_dirty_bitmap} (include/uapi/linux/iommufd.h, v6.17 layout). Reads (and by default clears) the dirty bits of {@code [iova, iova + length)} into the user bitmap {@code data}; bit k is {@code iova + k * page_size}.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   hwpt_id
 *     8..11     u32   flags
 *    12..15     u32   __reserved
 *    16..23     u64   iova
 *    24..31     u64   length
 *    32..39     u64   page_size
 *    40..47     u64   data
 *  sizeof = 48, dispatcher min_size = 48 (offsetofend data)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuHwptGetDirtyBitmap {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_HWPT_GET_DIRTY_BITMAP;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code hwpt_id} (u32). */
    public static final int OFFSET_HWPT_ID = 4;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 8;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 12;
    /** Offset of {@code iova} (u64). */
    public static final int OFFSET_IOVA = 16;
    /** Offset of {@code length} (u64). */
    public static final int OFFSET_LENGTH = 24;
    /** Offset of {@code page_size} (u64). */
    public static final int OFFSET_PAGE_SIZE = 32;
    /** Offset of {@code data} (u64). */
    public static final int OFFSET_DATA = 40;
    /** {@code sizeof(struct iommu_hwpt_get_dirty_bitmap)} in the latest uAPI. */
    public static final int SIZE = 48;
    /** The dispatcher's min_size: offsetofend of {@code data}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 48;
    /** IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR. */
    public static final int FLAG_NO_CLEAR = 1 << 0;

    private IommuHwptGetDirtyBitmap() {
    }
}
