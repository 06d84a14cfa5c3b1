package dev.iommufd.platform;

/**
 * A memfd-like file: pages that exist independently of any mapping, shared by every process that maps it and
 * usable directly by {@code IOMMU_IOAS_MAP_FILE}. Pages are allocated on first touch.
 */
public interface MemFd extends AutoCloseable {

    /** A file descriptor number in the creating process. */
    int fd();

    String name();

    /** Size in bytes: a multiple of the page size at creation; any byte count after {@link #truncate}. */
    long size();

    /** 4 KiB, or 2 MiB / 1 GiB for a hugetlb memfd. */
    long pageSize();

    /**
     * Pins {@code npages} base (4 KiB) pages from byte offset {@code offset} (page aligned) long-term and writes
     * their physical addresses to {@code out}. Pages are allocated if absent.
     *
     * @return the number pinned; fewer than asked only at end of file
     */
    int pinPages(long offset, int npages, long[] out, int outOffset);

    /**
     * {@code ftruncate(fd, length)}: sets the file's size. Shrinking removes the pages wholly beyond the new end from
     * the file (a pinned one lives on, unowned, until its last unpin, as a page-cache page removed from a shmem file
     * does) and zeroes the tail of a partly cut page; from then on an access through a mapping to a page beyond the
     * end faults (SIGBUS, EFAULT here), also in a private mapping whose page was copied, and a pin of it fails.
     * Growing adds holes that read as zero.
     *
     * <p>Added (additively) for selftest {@code iommufd_mock_domain.basic} (file variants). The default has no
     * truncate.
     *
     * @throws dev.iommufd.api.ErrnoException EINVAL for a negative length or (hugetlb) a length that is not a
     *         multiple of the huge page size; EBADF when closed; EOPNOTSUPP when not implemented (or, in the simulated
     *         platform, when growing beyond the size the memfd was created with)
     */
    default void truncate(long length) {
        throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EOPNOTSUPP, "memfd %s: not implemented: ftruncate", name());
    }

    /** Closes the descriptor; pages live on while mapped or pinned. */
    @Override
    void close();
}
