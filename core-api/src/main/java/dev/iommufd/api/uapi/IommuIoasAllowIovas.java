package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_ioas_allow_iovas} (include/uapi/linux/iommufd.h, v6.17 layout). Replaces the IOAS allow list with {@code num_iovas} {@link IommuIovaRange} entries at the user pointer {@code allowed_iovas}.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   ioas_id
 *     8..11     u32   num_iovas
 *    12..15     u32   __reserved
 *    16..23     u64   allowed_iovas
 *  sizeof = 24, dispatcher min_size = 24 (offsetofend allowed_iovas)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuIoasAllowIovas {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_IOAS_ALLOW_IOVAS;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code ioas_id} (u32). */
    public static final int OFFSET_IOAS_ID = 4;
    /** Offset of {@code num_iovas} (u32). */
    public static final int OFFSET_NUM_IOVAS = 8;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 12;
    /** Offset of {@code allowed_iovas} (u64). */
    public static final int OFFSET_ALLOWED_IOVAS = 16;
    /** {@code sizeof(struct iommu_ioas_allow_iovas)} in the latest uAPI. */
    public static final int SIZE = 24;
    /** The dispatcher's min_size: offsetofend of {@code allowed_iovas}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 24;

    private IommuIoasAllowIovas() {
    }
}
