package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_ioas_change_process} (include/uapi/linux/iommufd.h, v6.17 layout). Moves the pinned-memory accounting of every (file-backed) map of the context to the calling process (since 6.14).
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   __reserved
 *  sizeof = 8, dispatcher min_size = 8 (offsetofend __reserved)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuIoasChangeProcess {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_IOAS_CHANGE_PROCESS;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code __reserved} (u32). */
    public static final int OFFSET_RESERVED = 4;
    /** {@code sizeof(struct iommu_ioas_change_process)} in the latest uAPI. */
    public static final int SIZE = 8;
    /** The dispatcher's min_size: offsetofend of {@code __reserved}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 8;

    private IommuIoasChangeProcess() {
    }
}
