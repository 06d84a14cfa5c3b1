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

    /** Frees the vIOMMU; the core guarantees no vDevice or nested domain remains. */
    void destroy();

    /** A vDevice (the kernel's {@code struct iommufd_vdevice} driver part). */
    interface VDevice {
        DeviceHandle device();

        long virtualId();

        void destroy();
    }
}
