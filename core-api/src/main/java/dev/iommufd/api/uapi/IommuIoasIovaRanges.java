package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_ioas_iova_ranges} (include/uapi/linux/iommufd.h, v6.17 layout). Reports the usable IOVA ranges (holes of the reserved set) and the IOVA alignment. {@code num_iovas} is the array capacity in, the total count out; EMSGSIZE when the array was too small.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   ioas_id
 *     8..11     u32   num_iovas
 *    12..15     u32   __reserved
 *    16..23     u64   allowed_iovas
 *    24..31     u64   out_iova_alignment
 *  sizeof = 32, dispatcher min_size = 32 (offsetofend out_iova_alignment)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuIoasIovaRanges {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_IOAS_IOVA_RANGES;
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
    /** Offset of {@code out_iova_alignment} (u64). */
    public static final int OFFSET_OUT_IOVA_ALIGNMENT = 24;
    /** {@code sizeof(struct iommu_ioas_iova_ranges)} in the latest uAPI. */
    public static final int SIZE = 32;
    /** The dispatcher's min_size: offsetofend of {@code out_iova_alignment}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 32;

    private IommuIoasIovaRanges() {
    }
}
