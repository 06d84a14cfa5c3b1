package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_ioas_unmap} (include/uapi/linux/iommufd.h, v6.17 layout). Unmaps every area inside {@code [iova, iova + length)}; {@code length} out = bytes unmapped. {@code iova = 0, length = U64_MAX} unmaps all.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   ioas_id
 *     8..15     u64   iova
 *    16..23     u64   length
 *  sizeof = 24, dispatcher min_size = 24 (offsetofend length)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuIoasUnmap {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_IOAS_UNMAP;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code ioas_id} (u32). */
    public static final int OFFSET_IOAS_ID = 4;
    /** Offset of {@code iova} (u64). */
    public static final int OFFSET_IOVA = 8;
    /** Offset of {@code length} (u64). */
    public static final int OFFSET_LENGTH = 16;
    /** {@code sizeof(struct iommu_ioas_unmap)} in the latest uAPI. */
    public static final int SIZE = 24;
    /** The dispatcher's min_size: offsetofend of {@code length}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 24;

    private IommuIoasUnmap() {
    }
}
