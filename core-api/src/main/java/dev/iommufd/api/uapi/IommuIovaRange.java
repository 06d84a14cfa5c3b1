package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_iova_range} (include/uapi/linux/iommufd.h, v6.17 layout). One IOVA range, {@code [start, last]} inclusive.
 *
 * <pre>
 *  byte offset  field
 *     0..7      u64   start
 *     8..15     u64   last
 *  sizeof = 16
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuIovaRange {
    /** Offset of {@code start} (u64). */
    public static final int OFFSET_START = 0;
    /** Offset of {@code last} (u64). */
    public static final int OFFSET_LAST = 8;
    /** {@code sizeof(struct iommu_iova_range)} in the latest uAPI. */
    public static final int SIZE = 16;

    private IommuIovaRange() {
    }
}
