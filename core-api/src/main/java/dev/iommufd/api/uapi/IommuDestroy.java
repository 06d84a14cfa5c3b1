package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_destroy} (include/uapi/linux/iommufd.h, v6.17 layout). Destroys any user-destroyable object by ID (IOMMU_DESTROY).
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   id
 *  sizeof = 8, dispatcher min_size = 8 (offsetofend id)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuDestroy {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_DESTROY;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code id} (u32). */
    public static final int OFFSET_ID = 4;
    /** {@code sizeof(struct iommu_destroy)} in the latest uAPI. */
    public static final int SIZE = 8;
    /** The dispatcher's min_size: offsetofend of {@code id}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 8;

    private IommuDestroy() {
    }
}
