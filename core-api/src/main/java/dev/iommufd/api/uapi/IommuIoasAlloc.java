package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_ioas_alloc} (include/uapi/linux/iommufd.h, v6.17 layout). Allocates an IOAS (IOMMU_IOAS_ALLOC); {@code flags} must be 0.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   out_ioas_id
 *  sizeof = 12, dispatcher min_size = 12 (offsetofend out_ioas_id)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuIoasAlloc {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_IOAS_ALLOC;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code out_ioas_id} (u32). */
    public static final int OFFSET_OUT_IOAS_ID = 8;
    /** {@code sizeof(struct iommu_ioas_alloc)} in the latest uAPI. */
    public static final int SIZE = 12;
    /** The dispatcher's min_size: offsetofend of {@code out_ioas_id}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 12;

    private IommuIoasAlloc() {
    }
}
