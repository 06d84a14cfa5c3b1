package dev.iommufd.api.uapi;

/**
 * {@code struct iommufd_vevent_header} (include/uapi/linux/iommufd.h, v6.17 layout). Header of each vEVENT read from a vEVENTQ file descriptor.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   flags
 *     4..7      u32   sequence
 *  sizeof = 8
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommufdVeventHeader {
    /** Offset of {@code flags} (u32). */
    public static final int OFFSET_FLAGS = 0;
    /** Offset of {@code sequence} (u32). */
    public static final int OFFSET_SEQUENCE = 4;
    /** {@code sizeof(struct iommufd_vevent_header)} in the latest uAPI. */
    public static final int SIZE = 8;
    /** IOMMU_VEVENTQ_FLAG_LOST_EVENTS. */
    public static final int FLAG_LOST_EVENTS = 1 << 0;

    private IommufdVeventHeader() {
    }
}
