package dev.iommufd.spi;

/**
 * Where {@link IommuDomain#readAndClearDirty} reports dirty IOVA (the kernel's {@code iommu_dirty_bitmap}).
 * {@link #record} sets every bit of the user's bitmap that the range touches and adds the range to
 * {@link #gather()} so that the core flushes the IOTLB after dirty bits were cleared.
 */
public interface DirtyRecorder {

    /** {@code iommu_dirty_bitmap_record(dirty, iova, length)}: a whole IOPTE's range is dirty. */
    void record(long iova, long length);

    /** The gather the cleared ranges go into; never null. */
    IotlbGather gather();

    /**
     * Whether the core wants the dirty ranges reported into a bitmap. False when it only clears the dirty bits (the
     * kernel's {@code iommu_dirty_bitmap} with a NULL bitmap, used by {@code iopt_set_dirty_tracking} before
     * enabling): a driver must not refuse that call because tracking is still off. {@link #record} must still be
     * called for every dirty leaf (it feeds the gather).
     */
    default boolean hasBitmap() {
        return true;
    }
}
