package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_hwpt_alloc} (include/uapi/linux/iommufd.h, v6.17 layout). Allocates a paging HWPT (pt_id = IOAS) or a nested HWPT (pt_id = nest-parent HWPT or vIOMMU).
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   dev_id
 *    12..15     u32   pt_id
 *    16..19     u32   out_hwpt_id
 *    20..23     u32   __reserved
 *    24..27     u32   data_type
 *    28..31     u32   data_len
 *    32..39     u64   data_uptr
 *    40..43     u32   fault_id
 *    44..47     u32   __reserved2
 *  sizeof = 48, dispatcher min_size = 24 (offsetofend __reserved)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuHwptAlloc {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_HWPT_ALLOC;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code dev_id} (u32). */
    public static final int OFFSET_DEV_ID = 8;
    /** Offset of {@code pt_id} (u32). */
    public static final int OFFSET_PT_ID = 12;
    /** Offset of {@code out_hwpt_id} (u32). */
    public static final int OFFSET_OUT_HWPT_ID = 16;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 20;
    /** Offset of {@code data_type} (u32). */
    public static final int OFFSET_DATA_TYPE = 24;
    /** Offset of {@code data_len} (u32). */
    public static final int OFFSET_DATA_LEN = 28;
    /** Offset of {@code data_uptr} (u64). */
    public static final int OFFSET_DATA_UPTR = 32;
    /** Offset of {@code fault_id} (u32). */
    public static final int OFFSET_FAULT_ID = 40;
    /** Offset of {@code __reserved2} (u32). */
    public static final int OFFSET_RESERVED2 = 44;
    /** {@code sizeof(struct iommu_hwpt_alloc)} in the latest uAPI. */
    public static final int SIZE = 48;
    /** The dispatcher's min_size: offsetofend of {@code __reserved}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 24;
    /** IOMMU_HWPT_ALLOC_NEST_PARENT. */
    public static final int FLAG_NEST_PARENT = 1 << 0;
    /** IOMMU_HWPT_ALLOC_DIRTY_TRACKING. */
    public static final int FLAG_DIRTY_TRACKING = 1 << 1;
    /** IOMMU_HWPT_FAULT_ID_VALID. */
    public static final int FLAG_FAULT_ID_VALID = 1 << 2;
    /** IOMMU_HWPT_ALLOC_PASID. */
    public static final int FLAG_PASID = 1 << 3;
    /** IOMMU_HWPT_DATA_NONE. */
    public static final int DATA_NONE = 0;
    /** IOMMU_HWPT_DATA_VTD_S1. */
    public static final int DATA_VTD_S1 = 1;
    /** IOMMU_HWPT_DATA_ARM_SMMUV3. */
    public static final int DATA_ARM_SMMUV3 = 2;

    private IommuHwptAlloc() {
    }
}
