package dev.iommufd.platform;

/** The kind of memory an {@code mmap} creates in a {@link UserProcess}. */
public enum MapKind {
    /** Private anonymous memory, 4 KiB pages, allocated on first touch. */
    ANONYMOUS(PhysicalMemory.FRAME_SHIFT),
    /** hugetlbfs-backed anonymous memory in 2 MiB pages (MAP_HUGETLB | MAP_HUGE_2MB). */
    HUGETLB_2M(21),
    /** hugetlbfs-backed anonymous memory in 1 GiB pages (MAP_HUGETLB | MAP_HUGE_1GB). */
    HUGETLB_1G(30),
    /** A shared mapping of a {@link MemFd} (MAP_SHARED); pages belong to the file. */
    SHARED(PhysicalMemory.FRAME_SHIFT),
    /**
     * A private mapping of a {@link MemFd} (MAP_PRIVATE), made with
     * {@link UserProcess#mmapFile(long, long, int, MemFd, long, MapKind)}: copy-on-write. Reads see the file's
     * pages until the first write to a page (or a long-term pin of it, see {@link UserProcess#pinPages}) replaces it,
     * in this mapping only, by a private anonymous copy. The page size is the file's.
     */
    PRIVATE_FILE(PhysicalMemory.FRAME_SHIFT),
    /**
     * Physical pages mapped by a driver's mmap ({@code io_remap_pfn_range}: VM_IO | VM_PFNMAP), made with
     * {@link UserProcess#mmapPhysical}: no struct page behind it, so it cannot be pinned.
     */
    PFN_MAP(PhysicalMemory.FRAME_SHIFT);

    private final int pageShift;

    MapKind(int pageShift) {
        this.pageShift = pageShift;
    }

    /** log2 of the page size. */
    public int pageShift() {
        return pageShift;
    }

    public long pageSize() {
        return 1L << pageShift;
    }
}
