package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_hw_queue_alloc} (include/uapi/linux/iommufd.h, v6.17 layout). Allocates a hardware-accelerated queue of a vIOMMU (since 6.17).
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   viommu_id
 *    12..15     u32   type
 *    16..19     u32   index
 *    20..23     u32   out_hw_queue_id
 *    24..31     u64   nesting_parent_iova
 *    32..39     u64   length
 *  sizeof = 40, dispatcher min_size = 40 (offsetofend length)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuHwQueueAlloc {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_HW_QUEUE_ALLOC;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code viommu_id} (u32). */
    public static final int OFFSET_VIOMMU_ID = 8;
    /** Offset of {@code type} (u32). */
    public static final int OFFSET_TYPE = 12;
    /** Offset of {@code index} (u32). */
    public static final int OFFSET_INDEX = 16;
    /** Offset of {@code out_hw_queue_id} (u32). */
    public static final int OFFSET_OUT_HW_QUEUE_ID = 20;
    /** Offset of {@code nesting_parent_iova} (u64). */
    public static final int OFFSET_NESTING_PARENT_IOVA = 24;
    /** Offset of {@code length} (u64). */
    public static final int OFFSET_LENGTH = 32;
    /** {@code sizeof(struct iommu_hw_queue_alloc)} in the latest uAPI. */
    public static final int SIZE = 40;
    /** The dispatcher's min_size: offsetofend of {@code length}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 40;
    /** IOMMU_HW_QUEUE_TYPE_DEFAULT. */
    public static final int TYPE_DEFAULT = 0;
    /** IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV. */
    public static final int TYPE_TEGRA241_CMDQV = 1;

    private IommuHwQueueAlloc() {
    }
}
