package dev.iommufd.spi;

import dev.iommufd.api.ErrnoException;

/**
 * An I/O address space as a driver implements it: the kernel's {@code struct iommu_domain} with its
 * {@code iommu_domain_ops} and {@code iommu_dirty_ops}.
 *
 * <h2>General contract</h2>
 * <ul>
 *   <li>Every method a domain type does not support throws {@link ErrnoException} with {@code EOPNOTSUPP}
 *       (the default implementations do exactly that); a capability the driver declares must work.
 *   <li>A method that throws leaves the domain as it was, except where partial progress is documented.
 *   <li>{@link #mapPages}, {@link #unmapPages}, {@link #iovaToPhys} and {@link #iotlbSync} are hot paths: they
 *       must not allocate Java objects in steady state (table pages come from the machine's frame allocator).
 *   <li>Map and unmap on disjoint IOVA ranges may run concurrently from several threads (the kernel's
 *       io-pgtable guarantee); calls on overlapping ranges are serialised by the core.
 *   <li>Unmapped IOVA must stop translating once the gather has been synced: the driver invalidates the
 *       hardware's IOTLB (and device TLBs) in {@link #iotlbSync} and only then frees emptied table pages.
 * </ul>
 */
public interface IommuDomain {

    /** {@link #iovaToPhys} result for an IOVA with no translation. */
    long NO_TRANSLATION = -1L;

    DomainType type();

    /** The driver that allocated the domain. */
    IommuDriver driver();

    /** The paging geometry; for non-paging domains, EOPNOTSUPP. */
    default DomainGeometry geometry() {
        throw ErrnoException.notSupported(type() + " domain geometry");
    }

    /** The {@link DomainAllocFlags} the domain was allocated with. */
    default int allocFlags() {
        return 0;
    }

    /**
     * {@code map_pages}: maps {@code pgcount} pages of size {@code pgsize} from {@code iova} to {@code paddr}.
     *
     * <p>Preconditions (the core guarantees them): {@code pgsize} is one of {@link DomainGeometry#pgsizeBitmap()};
     * {@code iova} and {@code paddr} are aligned to it; the range lies in an aperture and is currently unmapped.
     *
     * @param prot {@link IoProt} bits; at least READ or WRITE
     * @return bytes mapped: {@code pgsize * pgcount}
     * @throws ErrnoException ENOMEM when table pages cannot be allocated, with {@link ErrnoException#progress()}
     *         the bytes mapped before the failure (the core unmaps them); EINVAL when a precondition is broken
     *         (and nothing is mapped); EEXIST when the range is already mapped
     */
    default long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
        throw ErrnoException.notSupported(type() + " domain map_pages");
    }

    /**
     * {@code unmap_pages}: unmaps {@code pgcount} pages of size {@code pgsize} from {@code iova} and adds the range
     * (and emptied table pages) to {@code gather}. Never allocates, never fails: returns the bytes unmapped, which
     * is less than asked only when it reaches a hole (0 when {@code iova} itself is unmapped). Unmapping part of a
     * larger page is not allowed (the core pairs every unmap with its map); a driver returns 0 for it.
     */
    default long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
        throw ErrnoException.notSupported(type() + " domain unmap_pages");
    }

    /** {@code iotlb_sync}: invalidates the gathered range, then frees the gathered table pages; resets nothing. */
    default void iotlbSync(IotlbGather gather) {
        throw ErrnoException.notSupported(type() + " domain iotlb_sync");
    }

    /** {@code iotlb_sync_map}: called after a map, for hardware that caches non-present entries (caching mode). */
    default void iotlbSyncMap(long iova, long size) {
    }

    /** {@code flush_iotlb_all}: invalidates every cached translation of the domain. */
    default void flushIotlbAll() {
        throw ErrnoException.notSupported(type() + " domain flush_iotlb_all");
    }

    /**
     * {@code iova_to_phys}: the physical address {@code iova} translates to, or {@link #NO_TRANSLATION}
     * (the kernel returns 0, but 0 is valid RAM on x86 and POWER).
     */
    default long iovaToPhys(long iova) {
        throw ErrnoException.notSupported(type() + " domain iova_to_phys");
    }

    /**
     * {@code enforce_cache_coherency}: makes every DMA through the domain snoop CPU caches (blocks no-snoop).
     * Called right after allocation, before any mapping.
     *
     * @return whether the domain now enforces coherency
     */
    default boolean enforceCacheCoherency() {
        return false;
    }

    /** {@code set_dirty_tracking}: starts or stops hardware dirty logging; EOPNOTSUPP unless allocated with DIRTY_TRACKING. */
    default void setDirtyTracking(boolean enable) {
        throw ErrnoException.notSupported(type() + " domain dirty tracking");
    }

    /**
     * {@code read_and_clear_dirty}: reports every dirty leaf entry intersecting {@code [iova, iova + size)} to
     * {@code dirty} (whole leaf ranges), clearing the hardware dirty bits unless {@code flags} has
     * {@link #DIRTY_NO_CLEAR}. Holes are skipped.
     */
    default void readAndClearDirty(long iova, long size, int flags, DirtyRecorder dirty) {
        throw ErrnoException.notSupported(type() + " domain read_and_clear_dirty");
    }

    /** IOMMU_DIRTY_NO_CLEAR. */
    int DIRTY_NO_CLEAR = 1;

    /**
     * {@code cache_invalidate_user}: NESTED domains only. Handles entries in order.
     *
     * @return the number of entries handled (all of them on success)
     * @throws ErrnoException on the first bad entry, with {@link ErrnoException#progress()} the entries handled
     *         before it
     */
    default int cacheInvalidateUser(UserDataArray entries) {
        throw ErrnoException.notSupported(type() + " domain cache_invalidate_user");
    }

    /**
     * {@code attach_dev}: makes the device's untagged (no-PASID) DMA use this domain, replacing what it used
     * (atomically: no window where DMA is blocked or uses a mix).
     *
     * @throws ErrnoException EINVAL when domain and device are incompatible (iommufd then tries another domain),
     *         ENOMEM, ENOSPC (e.g. out of domain IDs), EBUSY, ENODEV; on failure the old attachment stays
     */
    void attachDevice(DeviceHandle device);

    /**
     * {@code set_dev_pasid}: makes DMA tagged with {@code pasid} use this domain. {@code old} is the domain the
     * PASID used before (the blocked domain when none). The blocked domain's {@code setDevicePasid} removes a
     * PASID attachment. On failure the PASID keeps its old domain.
     */
    default void setDevicePasid(DeviceHandle device, int pasid, IommuDomain old) {
        throw ErrnoException.notSupported(type() + " domain set_dev_pasid");
    }

    /** Frees the domain. The core guarantees no device is attached and (for paging domains) nothing is mapped. */
    void free();
}
