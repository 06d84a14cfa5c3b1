package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_vdevice_alloc} (include/uapi/linux/iommufd.h, v6.17 layout). Binds a device to a vIOMMU under a virtual device ID (since 6.13).
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   viommu_id
 *     8..11     u32   dev_id
 *    12..15     u32   out_vdevice_id
 *    16..23     u64   virt_id
 *  sizeof = 24, dispatcher min_size = 24 (offsetofend virt_id)
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuVdeviceAlloc {
    /** The command number (low byte of the ioctl request). */
    public static final int NR = IommufdCommands.NR_VDEVICE_ALLOC;
    /** The ioctl request, {@code _IO(';', NR)}. */
    public static final long REQUEST = IommufdCommands.request(NR);
    /** Offset of {@code size} (u32). */
    public static final int OFFSET_SIZE = 0;
    /** Offset of {@code viommu_id} (u32). */
    public static final int OFFSET_VIOMMU_ID = 4;
    /** Offset of {@code dev_id} (u32). */
    public static final int OFFSET_DEV_ID = 8;
    /** Offset of {@code out_vdevice_id} (u32). */
    public static final int OFFSET_OUT_VDEVICE_ID = 12;
    /** Offset of {@code virt_id} (u64). */
    public static final int OFFSET_VIRT_ID = 16;
    /** {@code sizeof(struct iommu_vdevice_alloc)} in the latest uAPI. */
    public static final int SIZE = 24;
    /** The dispatcher's min_size: offsetofend of {@code virt_id}; a smaller {@code size} is EINVAL. */
    public static final int MIN_SIZE = 24;

    private IommuVdeviceAlloc() {
    }
}
