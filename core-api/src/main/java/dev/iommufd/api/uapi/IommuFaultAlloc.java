package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_fault_alloc} (include/uapi/linux/iommufd.h, v6.17 layout). Allocates a FAULT object and its file descriptor (since 6.11).
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   flags
 *     8..11     u32   out_fault_id
 *    12..15     u32   out_fault_fd
 *  sizeof = 16, dispatcher min_size = 16 (offsetofend out_fault_fd)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuFaultAlloc {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_FAULT_QUEUE_ALLOC;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 4;
    /** Offset of {@code out_fault_id} (u32). */
    public static final int OFFSET_OUT_FAULT_ID = 8;
    /** Offset of {@code out_fault_fd} (u32). */
    public static final int OFFSET_OUT_FAULT_FD = 12;
    /** {@code sizeof(struct iommu_fault_alloc)} in the latest uAPI. */
    public static final int SIZE = 16;
    /** The dispatcher's min_size: offsetofend of {@code out_fault_fd}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 16;

    private IommuFaultAlloc() {
    }
}
