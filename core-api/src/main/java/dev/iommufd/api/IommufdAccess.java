package dev.iommufd.api;

/**
 * An in-kernel user of an IOAS ({@code struct iommufd_access}): an emulated or mediated device driver that reads
 * and writes IOVA through the CPU, or pins the pages behind IOVA. It is an object of its context (type ACCESS)
 * with an ID that userspace cannot destroy (IOMMU_DESTROY answers EBUSY); {@link #close} destroys it.
 *
 * <p>Thread-safe.
 */
public interface IommufdAccess extends AutoCloseable {

    /** {@code IOMMUFD_ACCESS_RW_READ}: copy from IOVA into the buffer. */
    int RW_READ = 0;
    /** {@code IOMMUFD_ACCESS_RW_WRITE}: copy from the buffer to IOVA (for pins: pin for writing). */
    int RW_WRITE = 1 << 0;
    /** {@code IOMMUFD_ACCESS_RW_KTHREAD}: the caller is a kernel thread (uses the mapping's process memory). */
    int RW_KTHREAD = 1 << 1;

    /** The object ID in the context. */
    int id();

    /** The IOAS it is attached to, 0 when none. */
    int ioasId();

    /**
     * {@code iommufd_access_attach}.
     *
     * @throws ErrnoException EINVAL when already attached; ENOENT for an unknown IOAS; EADDRINUSE when the access
     *         needs PAGE_SIZE alignment and existing areas are not page aligned
     */
    void attach(int ioasId);

    /**
     * {@code iommufd_access_replace}: attaches to another IOAS, then asks the user to drop every pin of the old one
     * ({@link AccessOps#unmap} over the whole address space).
     *
     * @throws ErrnoException ENOENT when not attached or for an unknown IOAS
     */
    void replace(int ioasId);

    /** {@code iommufd_access_detach}: notifies an unmap of everything, then leaves the IOAS. */
    void detach();

    /**
     * {@code iommufd_access_pin_pages}: pins the pages behind {@code [iova, iova + length)}.
     *
     * @param flags {@link #RW_WRITE} to pin for writing
     * @return the physical address of each page of the range, one per PAGE_SIZE page
     * @throws ErrnoException EINVAL (length 0, not page aligned, area being unmapped, access without
     *         {@link AccessOps#needsPinPages}); EOVERFLOW; ENOENT (not attached, or a hole); EPERM (permission);
     *         EFAULT/ENOMEM from pinning; all or nothing
     */
    long[] pinPages(long iova, long length, int flags);

    /** {@code iommufd_access_unpin_pages}: releases exactly a range earlier pinned. */
    void unpinPages(long iova, long length);

    /**
     * {@code iommufd_access_rw}: copies between {@code data[offset, offset + length)} and IOVA.
     *
     * @param flags {@link #RW_WRITE} for buffer → IOVA, {@link #RW_KTHREAD}
     * @throws ErrnoException EINVAL (length 0, area being unmapped), EOVERFLOW, ENOENT (not attached or a hole,
     *         after copying the covered prefix), EPERM, EFAULT
     */
    void rw(long iova, byte[] data, int offset, int length, int flags);

    /** {@code iommufd_access_destroy}: detaches if attached and destroys the object. */
    @Override
    void close();
}
