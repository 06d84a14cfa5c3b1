package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_hwpt_invalidate} (include/uapi/linux/iommufd.h, v6.17 layout). Invalidates caches of a nested HWPT or a vIOMMU from an array of vendor entries; {@code entry_num} out = entries handled.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   hwpt_id
 *     8..15     u64   data_uptr
 *    16..19     u32   data_type
 *    20..23     u32   entry_len
 *    24..27     u32   entry_num
 *    28..31     u32   __reserved
 *  sizeof = 32, dispatcher min_size = 32 (offsetofend __reserved)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuHwptInvalidate {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_HWPT_INVALIDATE;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code hwpt_id} (u32). */
    public static final int OFFSET_HWPT_ID = 4;
    /** Offset of {@code data_uptr} (u64). */
    public static final int OFFSET_DATA_UPTR = 8;
    /** Offset of {@code data_type} (u32). */
    public static final int OFFSET_DATA_TYPE = 16;
    /** Offset of {@code entry_len} (u32). */
    public static final int OFFSET_ENTRY_LEN = 20;
    /** Offset of {@code entry_num} (u32). */
    public static final int OFFSET_ENTRY_NUM = 24;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 28;
    /** {@code sizeof(struct iommu_hwpt_invalidate)} in the latest uAPI. */
    public static final int SIZE = 32;
    /** The dispatcher's min_size: offsetofend of {@code __reserved}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 32;
    /** IOMMU_HWPT_INVALIDATE_DATA_VTD_S1. */
    public static final int DATA_VTD_S1 = 0;
    /** IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3. */
    public static final int DATA_VIOMMU_ARM_SMMUV3 = 1;

    private IommuHwptInvalidate() {
    }
}
