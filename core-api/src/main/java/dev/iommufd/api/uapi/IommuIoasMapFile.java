package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_ioas_map_file} (include/uapi/linux/iommufd.h, v6.17 layout). Maps {@code length} bytes of the memfd {@code fd} from byte offset {@code start} (since 6.13). Flags as {@link IommuIoasMap}.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   ioas_id
 *    12..15     s32   fd
 *    16..23     u64   start
 *    24..31     u64   length
 *    32..39     u64   iova
 *  sizeof = 40, dispatcher min_size = 40 (offsetofend iova)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuIoasMapFile {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_IOAS_MAP_FILE;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code ioas_id} (u32). */
    public static final int OFFSET_IOAS_ID = 8;
    /** Offset of {@code fd} (s32). */
    public static final int OFFSET_FD = 12;
    /** Offset of {@code start} (u64). */
    public static final int OFFSET_START = 16;
    /** Offset of {@code length} (u64). */
    public static final int OFFSET_LENGTH = 24;
    /** Offset of {@code iova} (u64). */
    public static final int OFFSET_IOVA = 32;
    /** {@code sizeof(struct iommu_ioas_map_file)} in the latest uAPI. */
    public static final int SIZE = 40;
    /** The dispatcher's min_size: offsetofend of {@code iova}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 40;

    private IommuIoasMapFile() {
    }
}
