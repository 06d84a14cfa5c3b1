package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_hwpt_set_dirty_tracking} (include/uapi/linux/iommufd.h, v6.17 layout). Starts ({@link #FLAG_ENABLE}) or stops dirty tracking on a HWPT.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   hwpt_id
 *    12..15     u32   __reserved
 *  sizeof = 16, dispatcher min_size = 16 (offsetofend __reserved)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuHwptSetDirtyTracking {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_HWPT_SET_DIRTY_TRACKING;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code hwpt_id} (u32). */
    public static final int OFFSET_HWPT_ID = 8;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 12;
    /** {@code sizeof(struct iommu_hwpt_set_dirty_tracking)} in the latest uAPI. */
    public static final int SIZE = 16;
    /** The dispatcher's min_size: offsetofend of {@code __reserved}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 16;
    /** IOMMU_HWPT_DIRTY_TRACKING_ENABLE. */
    public static final int FLAG_ENABLE = 1 << 0;

    private IommuHwptSetDirtyTracking() {
    }
}
