package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_veventq_alloc} (include/uapi/linux/iommufd.h, v6.17 layout). Allocates a vEVENTQ for one (vIOMMU, type) (since 6.15).
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   viommu_id
 *    12..15     u32   type
 *    16..19     u32   veventq_depth
 *    20..23     u32   out_veventq_id
 *    24..27     u32   out_veventq_fd
 *    28..31     u32   __reserved
 *  sizeof = 32, dispatcher min_size = 28 (offsetofend out_veventq_fd)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuVeventqAlloc {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_VEVENTQ_ALLOC;
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
    /** Offset of {@code veventq_depth} (u32). */
    public static final int OFFSET_VEVENTQ_DEPTH = 16;
    /** Offset of {@code out_veventq_id} (u32). */
    public static final int OFFSET_OUT_VEVENTQ_ID = 20;
    /** Offset of {@code out_veventq_fd} (u32). */
    public static final int OFFSET_OUT_VEVENTQ_FD = 24;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 28;
    /** {@code sizeof(struct iommu_veventq_alloc)} in the latest uAPI. */
    public static final int SIZE = 32;
    /** The dispatcher's min_size: offsetofend of {@code out_veventq_fd}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 28;
    /** IOMMU_VEVENTQ_TYPE_DEFAULT. */
    public static final int TYPE_DEFAULT = 0;
    /** IOMMU_VEVENTQ_TYPE_ARM_SMMUV3. */
    public static final int TYPE_ARM_SMMUV3 = 1;
    /** IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV. */
    public static final int TYPE_TEGRA241_CMDQV = 2;

    private IommuVeventqAlloc() {
    }
}
