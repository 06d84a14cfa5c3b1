package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_hw_info} (include/uapi/linux/iommufd.h, v6.17 layout). Reports a device's IOMMU hardware information. {@code data_type} is the union {@code in_data_type / out_data_type}.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   dev_id
 *    12..15     u32   data_len
 *    16..23     u64   data_uptr
 *    24..27     u32   data_type
 *    28..28     u8    out_max_pasid_log2
 *    29..31     u8[3] __reserved
 *    32..39     u64   out_capabilities
 *  sizeof = 40, dispatcher min_size = 32 (offsetofend __reserved)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuHwInfo {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_GET_HW_INFO;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code dev_id} (u32). */
    public static final int OFFSET_DEV_ID = 8;
    /** Offset of {@code data_len} (u32). */
    public static final int OFFSET_DATA_LEN = 12;
    /** Offset of {@code data_uptr} (u64). */
    public static final int OFFSET_DATA_UPTR = 16;
    /** Offset of {@code data_type} (u32). */
    public static final int OFFSET_DATA_TYPE = 24;
    /** Offset of {@code out_max_pasid_log2} (u8). */
    public static final int OFFSET_OUT_MAX_PASID_LOG2 = 28;
    /** Offset of {@code __reserved} (u8[3]). */
    public static final int OFFSET_RESERVED = 29;
    /** Offset of {@code out_capabilities} (u64). */
    public static final int OFFSET_OUT_CAPABILITIES = 32;
    /** {@code sizeof(struct iommu_hw_info)} in the latest uAPI. */
    public static final int SIZE = 40;
    /** The dispatcher's min_size: offsetofend of {@code __reserved}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 32;
    /** IOMMU_HW_INFO_FLAG_INPUT_TYPE (6.17). */
    public static final int FLAG_INPUT_TYPE = 1 << 0;
    /** IOMMU_HW_INFO_TYPE_NONE (also DEFAULT as input). */
    public static final int TYPE_NONE = 0;
    /** IOMMU_HW_INFO_TYPE_INTEL_VTD. */
    public static final int TYPE_INTEL_VTD = 1;
    /** IOMMU_HW_INFO_TYPE_ARM_SMMUV3. */
    public static final int TYPE_ARM_SMMUV3 = 2;
    /** IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV. */
    public static final int TYPE_TEGRA241_CMDQV = 3;
    /** IOMMU_HW_CAP_DIRTY_TRACKING. */
    public static final int CAP_DIRTY_TRACKING = 1 << 0;
    /** IOMMU_HW_CAP_PCI_PASID_EXEC. */
    public static final int CAP_PCI_PASID_EXEC = 1 << 1;
    /** IOMMU_HW_CAP_PCI_PASID_PRIV. */
    public static final int CAP_PCI_PASID_PRIV = 1 << 2;

    private IommuHwInfo() {
    }
}
