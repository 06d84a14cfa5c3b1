package dev.iommufd.api;

/**
 * The anonymous file iommufd hands out for an event queue object: {@code "[iommufd-pgfault]"} for a FAULT object
 * (IOMMU_FAULT_QUEUE_ALLOC) and {@code "[iommufd-viommu-event]"} for a vEVENTQ (IOMMU_VEVENTQ_ALLOC).
 *
 * <h2>Descriptor model</h2>
 * The kernel installs the file in the caller's descriptor table ({@code O_CLOEXEC}) and reports the number in
 * {@code out_fault_fd} / {@code out_veventq_fd}. The model keeps one descriptor table per iommufd context
 * ({@link Iommufd#eventQueueFile}), so the number is only meaningful together with the iommufd it came from. The
 * file holds a {@code users} reference on its object (IOMMU_DESTROY answers EBUSY until the file is closed) and a
 * reference on the iommufd file (the context outlives the iommufd descriptor while the file is open).
 *
 * <h2>Semantics</h2>
 * The file is not seekable: a read or write at a position other than 0 fails with ESPIPE. Reads never block: with
 * nothing pending they return 0. The user-memory variants copy to or from {@link Iommufd#process()}'s memory like
 * {@code read(2)}/{@code write(2)}; the byte-array variants are the same operation on a kernel-side buffer.
 *
 * <p>FAULT: reads return whole {@code struct iommu_hwpt_pgfault} records (never splitting a page request group;
 * {@code count} must be a multiple of the record size, else ESPIPE); writes take whole
 * {@code struct iommu_hwpt_page_response} records. vEVENTQ: reads return {@code struct iommufd_vevent_header}
 * + payload per event (never split); writes fail with EINVAL (the file has no write op).
 */
public interface EventQueueFile extends AutoCloseable {

    /** The descriptor number. */
    int fd();

    /** The ID of the event queue object behind the file. */
    int objectId();

    /**
     * {@code read(fd, buf, count)} at file position {@code pos} into the owning process's memory.
     *
     * @return bytes copied (0 when nothing fits or nothing is pending)
     * @throws ErrnoException ESPIPE (pos, record size), EFAULT (nothing copied and the buffer is not writable),
     *         EBADF (closed)
     */
    long read(long userBuf, long count, long pos);

    /** {@code read} into a new array of at most {@code count} bytes (same rules; EFAULT cannot happen). */
    byte[] read(int count);

    /**
     * {@code write(fd, buf, count)} at position {@code pos} from the owning process's memory.
     *
     * @return bytes consumed (responses before a failing record stay applied)
     * @throws ErrnoException ESPIPE, EINVAL (unknown cookie, bad code; vEVENTQ), EBADF
     */
    long write(long userBuf, long count, long pos);

    /** {@code write} of a kernel-side buffer (same rules). */
    long write(byte[] data);

    /** {@code poll}: EPOLLIN (something is pending). */
    boolean readable();

    /** {@code close(fd)}: drops the file's references. Idempotent. */
    @Override
    void close();
}
