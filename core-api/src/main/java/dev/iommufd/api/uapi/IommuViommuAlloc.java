package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_viommu_alloc} (include/uapi/linux/iommufd.h, v6.17 layout). Allocates a vIOMMU over a nest-parent HWPT (since 6.13; data_len/data_uptr since 6.16).
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   type
 *    12..15     u32   dev_id
 *    16..19     u32   hwpt_id
 *    20..23     u32   out_viommu_id
 *    24..27     u32   data_len
 *    28..31     u32   __reserved
 *    32..39     u64   data_uptr
 *  sizeof = 40, dispatcher min_size = 24 (offsetofend out_viommu_id)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuViommuAlloc {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_VIOMMU_ALLOC;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code type} (u32). */
    public static final int OFFSET_TYPE = 8;
    /** Offset of {@code dev_id} (u32). */
    public static final int OFFSET_DEV_ID = 12;
    /** Offset of {@code hwpt_id} (u32). */
    public static final int OFFSET_HWPT_ID = 16;
    /** Offset of {@code out_viommu_id} (u32). */
    public static final int OFFSET_OUT_VIOMMU_ID = 20;
    /** Offset of {@code data_len} (u32). */
    public static final int OFFSET_DATA_LEN = 24;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 28;
    /** Offset of {@code data_uptr} (u64). */
    public static final int OFFSET_DATA_UPTR = 32;
    /** {@code sizeof(struct iommu_viommu_alloc)} in the latest uAPI. */
    public static final int SIZE = 40;
    /** The dispatcher's min_size: offsetofend of {@code out_viommu_id}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 24;
    /** IOMMU_VIOMMU_TYPE_DEFAULT (reserved). */
    public static final int TYPE_DEFAULT = 0;
    /** IOMMU_VIOMMU_TYPE_ARM_SMMUV3. */
    public static final int TYPE_ARM_SMMUV3 = 1;
    /** IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV. */
    public static final int TYPE_TEGRA241_CMDQV = 2;

    private IommuViommuAlloc() {
    }
}
