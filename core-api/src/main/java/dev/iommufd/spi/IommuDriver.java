package dev.iommufd.spi;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.PciFunction;
import java.util.List;
import java.util.Set;

/**
 * A driver bound to one machine: the kernel's {@code iommu_ops} over every IOMMU unit of its hardware model on
 * that machine. Created by {@link IommuDriverProvider#bind}.
 *
 * <p>A driver meets its hardware only through MMIO registers and physical memory (see
 * {@link dev.iommufd.spi.hw}); it must never call into its hardware model's Java objects.
 *
 * <p>Thread-safety: all methods may be called concurrently; the driver documents its locks.
 */
public interface IommuDriver extends AutoCloseable {

    IommuDriverProvider provider();

    /** Shorthand for {@code provider().capabilities()}. */
    default Set<Capability> capabilities() {
        return provider().capabilities();
    }

    /** The names of the units this driver initialised on the machine. */
    List<String> units();

    /**
     * {@code probe_device}: takes ownership of a function behind one of this driver's units.
     *
     * @throws ErrnoException ENODEV when the function is not behind one of this driver's units
     */
    DeviceHandle probeDevice(PciFunction function);

    /** {@code release_device}: the device is leaving; it is attached to the blocked domain or nothing. */
    void releaseDevice(DeviceHandle device);

    /** {@code capable(dev, IOMMU_CAP_ENFORCE_CACHE_COHERENCY / DIRTY_TRACKING / ...)} for one device. */
    default boolean deviceCapable(DeviceHandle device, Capability capability) {
        return capabilities().contains(capability);
    }

    /**
     * {@code hw_info}: the vendor structure for {@code IOMMU_GET_HW_INFO}.
     *
     * @param requestedType the type the user asked for with {@code IOMMU_HW_INFO_FLAG_INPUT_TYPE}, or 0 (default)
     * @throws ErrnoException EOPNOTSUPP when the requested type is not this driver's
     */
    default HwInfo hwInfo(DeviceHandle device, int requestedType) {
        if (requestedType != 0) {
            throw ErrnoException.of(dev.iommufd.api.Errno.EOPNOTSUPP, "hw_info type %d is not supported", requestedType);
        }
        return new HwInfo(0, new byte[0], 0, device.maxPasidLog2());
    }

    /** {@code get_resv_regions}: the device's reserved IOVA ranges (MSI windows, RMRRs, ...). */
    List<ReservedRegion> reservedRegions(DeviceHandle device);

    /**
     * {@code domain_alloc_paging_flags}: a paging domain suitable for {@code device}.
     *
     * @param flags {@link DomainAllocFlags} (without FAULT_ID_VALID)
     * @param data vendor data, or {@code null} (iommufd passes none for paging domains today)
     * @throws ErrnoException EOPNOTSUPP for a flag whose capability is not declared or the device cannot honour;
     *         ENOMEM, ENOSPC
     */
    IommuDomain allocPagingDomain(DeviceHandle device, int flags, UserData data);

    /**
     * {@code domain_alloc_nested}: a NESTED domain from vendor data over a NEST_PARENT paging domain.
     *
     * @throws ErrnoException EOPNOTSUPP without {@link Capability#NESTING} or for an unknown data type; EINVAL for
     *         a parent that is not a NEST_PARENT domain of this driver; the vendor's errno for bad data
     */
    default IommuDomain allocNestedDomain(DeviceHandle device, IommuDomain parent, int flags, UserData data) {
        throw ErrnoException.notSupported("nested domains");
    }

    /** The blocked domain ({@code ops->blocked_domain}); EOPNOTSUPP without {@link Capability#BLOCKED_DOMAIN}. */
    default IommuDomain blockedDomain() {
        throw ErrnoException.notSupported("the blocked domain");
    }

    /** The identity domain ({@code ops->identity_domain}); EOPNOTSUPP without {@link Capability#IDENTITY_DOMAIN}. */
    default IommuDomain identityDomain() {
        throw ErrnoException.notSupported("the identity domain");
    }

    /** {@code page_response}: answers a page request group reported through {@link FaultSink}. */
    default void pageResponse(DeviceHandle device, PageResponse response) {
        throw ErrnoException.notSupported("page responses");
    }

    /**
     * {@code viommu_init}: a vIOMMU of vendor {@code type} over the nest-parent domain {@code parent}.
     *
     * @throws ErrnoException EOPNOTSUPP without {@link Capability#VIOMMU} or for another type
     */
    default Viommu allocViommu(DeviceHandle device, IommuDomain parent, int type, UserData data) {
        throw ErrnoException.notSupported("vIOMMU");
    }

    /**
     * {@code iommu_ops->user_pasid_table}: the guest owns the PASID table, so a page request with a PASID that has
     * no attachment of its own goes to the NESTED domain attached to the device's RID.
     */
    default boolean userPasidTable() {
        return false;
    }

    /** Releases every unit (disables translation) and all driver memory. */
    @Override
    void close();
}
