package dev.iommufd.spi;

import dev.iommufd.api.ErrnoException;

/**
 * A virtual IOMMU instance (the kernel's {@code struct iommufd_viommu} driver part): the slice of a physical
 * IOMMU that a guest owns, over a nest-parent domain.
 */
public interface Viommu {

    /** {@code enum iommu_viommu_type}. */
    int type();

    /** A nested domain allocated through the vIOMMU (IOMMU_HWPT_ALLOC with pt_id = vIOMMU). */
    IommuDomain allocNestedDomain(DeviceHandle device, int flags, UserData data);

    /**
     * Invalidation through the vIOMMU (IOMMU_HWPT_INVALIDATE with hwpt_id = vIOMMU).
     *
     * @return entries handled; on failure {@link ErrnoException#progress()} carries the count
     */
    default int cacheInvalidate(UserDataArray entries) {
        throw ErrnoException.notSupported("vIOMMU cache invalidation");
    }

    /**
     * A device's virtual ID in the guest (a virtual StreamID, a virtual RID).
     *
     * @throws ErrnoException EINVAL when the ID is out of range for the vendor
     */
    default VDevice allocVDevice(DeviceHandle device, long virtualId) {
        throw ErrnoException.notSupported("vDEVICE");
    }

    /**
     * The vendor structure to copy back to {@code data_uptr} after {@code viommu_init} (the kernel driver calls
     * {@code iommu_copy_struct_to_user} itself), or null for none. The core writes {@code min(data_len, length)}
     * bytes.
     */
    default byte[] userDataOut() {
        return null;
    }

    /**
     * Length in bytes (a positive multiple of 4 KiB) of an MMIO region this vIOMMU exposes to user space through mmap
     * on the iommufd (the driver's {@code iommufd_viommu_alloc_mmap} in {@code viommu_init}, Linux 6.17), or 0 for
     * none. Read once by the core right after allocation; the core registers the region and removes it when the
     * vIOMMU is destroyed (a live mapping holds the vIOMMU: IOMMU_DESTROY answers EBUSY until munmap). Added
     * additively.
     */
    default long mmapLength() {
        return 0;
    }

    /** The physical address (4 KiB aligned) of the region of {@link #mmapLength()}; unused when that is 0. */
    default long mmapPhysicalAddress() {
        return 0;
    }

    /**
     * {@link #userDataOut()} with the file offset the core registered the {@link #mmapLength() mmap region} at, which
     * the vendor structure reports (e.g. {@code out_mmap_offset}); called instead of {@link #userDataOut()} when the
     * vIOMMU has a region. Added additively.
     */
    default byte[] outputStruct(long mmapOffset) {
        return userDataOut();
    }

    /**
     * {@code get_hw_queue_size}: non-zero when the vIOMMU supports hardware queues of {@code type}
     * ({@code enum iommu_hw_queue_type}); 0 makes IOMMU_HW_QUEUE_ALLOC fail with EOPNOTSUPP.
     */
    default int hwQueueSize(int type) {
        return 0;
    }

    /**
     * {@code hw_queue_init_phys}: a hardware queue of {@code type} at {@code index} whose memory starts at
     * {@code baseIova} of the parent domain, physically contiguous at {@code basePa}, {@code length} bytes. The core
     * pinned the memory and keeps it pinned until {@link HwQueue#destroy}.
     *
     * @throws ErrnoException the vendor's errno (index order, EEXIST, EFAULT for a base that does not translate)
     */
    default HwQueue initHwQueue(int type, int index, long baseIova, long basePa, long length) {
        throw ErrnoException.notSupported("hardware queues");
    }

    /** Frees the vIOMMU; the core guarantees no vDevice or nested domain remains. */
    void destroy();

    /** A hardware queue (the kernel's {@code struct iommufd_hw_queue} driver part). */
    interface HwQueue {
        /**
         * {@code iommufd_hw_queue_depend}: the queue this one depends on (the core then refuses to destroy that
         * one first, EBUSY), or null.
         */
        default HwQueue dependsOn() {
            return null;
        }

        void destroy();
    }

    /** A vDevice (the kernel's {@code struct iommufd_vdevice} driver part). */
    interface VDevice {
        DeviceHandle device();

        long virtualId();

        void destroy();
    }
}
