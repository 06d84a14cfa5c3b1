package dev.iommufd.platform;

/**
 * A memfd-like file: pages that exist independently of any mapping, shared by every process that maps it and
 * usable directly by {@code IOMMU_IOAS_MAP_FILE}. Pages are allocated on first touch.
 */
public interface MemFd extends AutoCloseable {

    /** A file descriptor number in the creating process. */
    int fd();

    String name();

    /** Size in bytes (a multiple of the page size). */
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

    /** Closes the descriptor; pages live on while mapped or pinned. */
    @Override
    void close();
}
