package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_vfio_ioas} (include/uapi/linux/iommufd.h, v6.17 layout). Gets, sets or clears the IOAS used by the VFIO container compatibility layer.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   ioas_id
 *     8..9      u16   op
 *    10..11     u16   __reserved
 *  sizeof = 12, dispatcher min_size = 12 (offsetofend __reserved)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuVfioIoas {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_VFIO_IOAS;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code ioas_id} (u32). */
    public static final int OFFSET_IOAS_ID = 4;
    /** Offset of {@code op} (u16). */
    public static final int OFFSET_OP = 8;
    /** Offset of {@code __reserved} (u16). */
    public static final int OFFSET_RESERVED = 10;
    /** {@code sizeof(struct iommu_vfio_ioas)} in the latest uAPI. */
    public static final int SIZE = 12;
    /** The dispatcher's min_size: offsetofend of {@code __reserved}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 12;
    /** IOMMU_VFIO_IOAS_GET. */
    public static final int OP_GET = 0;
    /** IOMMU_VFIO_IOAS_SET. */
    public static final int OP_SET = 1;
    /** IOMMU_VFIO_IOAS_CLEAR. */
    public static final int OP_CLEAR = 2;

    private IommuVfioIoas() {
    }
}
