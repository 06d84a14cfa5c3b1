package dev.iommufd.platform;

/**
 * A simulated user process: an address space of mappings over frames of the machine's {@link PhysicalMemory},
 * credentials, RLIMIT_MEMLOCK, and memory counters.
 *
 * <h2>Memory</h2>
 * Pages are allocated on first touch (a read, a write or a pin); mapping alone costs no frame. A hugetlb
 * mapping is backed by naturally aligned 2 MiB or 1 GiB frames, so its physical addresses are contiguous
 * within each huge page.
 *
 * <h2>Pinning</h2>
 * {@link #pinPages} is {@code pin_user_pages(FOLL_LONGTERM)}: each page's pin count goes up by one, and a pinned
 * page never moves or is freed, even after {@code munmap} (it is freed when its last pin and mapping are gone).
 * Every pin must be released exactly once with {@link #unpinPages}; an unpin of a page that is not pinned fails
 * with EINVAL and changes nothing. Pinning does not charge any counter: callers (iommufd's pages) do the
 * accounting against {@link #user()} and {@link #mm()} as the kernel does.
 *
 * <p>Thread-safe: a read/write lock over the mappings (mmap/munmap write, accesses and pins read); per-frame
 * pin counts are atomic.
 */
public interface UserProcess {

    int pid();

    String name();

    /** The user this process runs as. */
    UserAccount user();

    /** This address space's counters. */
    MmAccounting mm();

    /** RLIMIT_MEMLOCK in bytes ({@code Long.MAX_VALUE} for RLIM_INFINITY). */
    long rlimitMemlock();

    void setRlimitMemlock(long bytes);

    boolean capable(ProcessCapability cap);

    void grant(ProcessCapability cap);

    void revoke(ProcessCapability cap);

    /**
     * Creates a mapping.
     *
     * @param addr a fixed address (aligned to the kind's page size), or 0 to let the process choose one aligned
     *        to the kind's page size
     * @param length bytes, a positive multiple of the kind's page size
     * @param prot {@link Prot} bits
     * @param kind anonymous, hugetlb or shared; for {@link MapKind#SHARED} use {@link #mmapFile}
     * @return the mapping's address
     * @throws dev.iommufd.api.ErrnoException EINVAL for bad length/alignment, EEXIST when a fixed range
     *         overlaps, ENOMEM when the address space or RAM is exhausted
     */
    long mmap(long addr, long length, int prot, MapKind kind);

    /** Maps {@code length} bytes of {@code file} from {@code offset} (MAP_SHARED). */
    long mmapFile(long addr, long length, int prot, MemFd file, long offset);

    /**
     * Maps {@code length} bytes of {@code file} from {@code offset}, shared ({@link MapKind#SHARED}, as
     * {@link #mmapFile(long, long, int, MemFd, long)}) or private ({@link MapKind#PRIVATE_FILE}: MAP_PRIVATE,
     * copy-on-write).
     *
     * <p>A private mapping is a COW mapping whatever its prot (the kernel sets VM_MAYWRITE on every MAP_PRIVATE
     * mapping): a read, or a translation, of a page never written sees the file's page (and so later writes to the
     * file through shared mappings); the first write to a page copies it to a private anonymous page of this mapping
     * (breaking COW), which from then on backs the address. A long-term pin ({@link #pinPages}), even without
     * FOLL_WRITE, also breaks COW first, as GUP does since Linux 6.2 (gup_must_unshare: a R/O FOLL_LONGTERM pin of a
     * page-cache page in a COW mapping triggers FAULT_FLAG_UNSHARE): the pin is on the private copy, so what the
     * pinner sees stays coherent with what the process later reads and writes. munmap frees the private copies
     * (pinned ones live on until unpinned).
     *
     * <p>Added (additively) for selftest {@code iommufd_mock_domain.ro_unshare}; the default supports only
     * {@link MapKind#SHARED}.
     *
     * @throws dev.iommufd.api.ErrnoException EINVAL for another kind, bad length/alignment or offset; EOPNOTSUPP when
     *         the implementation has no private file mappings
     */
    default long mmapFile(long addr, long length, int prot, MemFd file, long offset, MapKind kind) {
        if (kind == MapKind.SHARED) {
            return mmapFile(addr, length, prot, file, offset);
        }
        if (kind == MapKind.PRIVATE_FILE) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EOPNOTSUPP,
                    "pid %d: not implemented: MAP_PRIVATE file mappings", pid());
        }
        throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EINVAL, "pid %d: %s is not a file mapping kind", pid(), kind);
    }

    /**
     * A driver's mmap of physical (MMIO-like) pages into this process: {@code [pa, pa + length)} mapped at
     * {@code addr} (0: the process chooses) as a VM_IO | VM_PFNMAP mapping ({@code io_remap_pfn_range}). Reads and
     * writes go to those physical addresses; nothing is allocated or freed by the mapping. Such a mapping cannot be
     * pinned: {@link #pinPages} fails with EFAULT (GUP refuses VM_IO / VM_PFNMAP), so IOMMU_IOAS_MAP of it fails.
     *
     * <p>{@code onClose} plays the VMA's {@code vm_ops->close}: it runs once, when the last part of the mapping is
     * unmapped (munmap or exit), after the process's mmap lock is released.
     *
     * <p>Added (additively) for mmap on the iommufd (Linux 6.17, vIOMMU MMIO regions).
     *
     * @throws dev.iommufd.api.ErrnoException EINVAL for bad length/alignment or a misaligned {@code pa}; as
     *         {@link #mmap} for the address; EOPNOTSUPP when not implemented
     */
    default long mmapPhysical(long addr, long length, int prot, long pa, Runnable onClose) {
        throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EOPNOTSUPP,
                "pid %d: not implemented: PFN-map mappings of physical pages", pid());
    }

    /**
     * Removes mappings in {@code [addr, addr + length)} (partial mappings are split). Pinned pages stay
     * allocated until unpinned. EINVAL for a misaligned range.
     */
    void munmap(long addr, long length);

    /** Creates a memfd of {@code size} bytes with 4 KiB pages ({@code hugePageShift} 0) or huge pages (21, 30). */
    MemFd memfdCreate(String name, long size, int hugePageShift);

    /**
     * The memfd open as descriptor {@code fd} in this process (what {@code fget(fd)} finds for IOMMU_IOAS_MAP_FILE).
     * Added for iommufd's MAP_FILE; implementations that keep a descriptor table override it.
     *
     * @throws dev.iommufd.api.ErrnoException EBADF when {@code fd} is not an open memfd of this process
     */
    default MemFd memfd(int fd) {
        throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EBADF, "fd %d is not an open memfd of process %d", fd, pid());
    }

    /** Reads user memory; EFAULT when a byte is not mapped readable. */
    void read(long va, byte[] dst, int offset, int length);

    /** Writes user memory; EFAULT when a byte is not mapped writable. */
    void write(long va, byte[] src, int offset, int length);

    long read64(long va);

    void write64(long va, long value);

    /**
     * {@code pin_user_pages_remote(FOLL_LONGTERM [| FOLL_WRITE])}: pins {@code npages} 4 KiB pages starting at
     * the page-aligned {@code va} and writes each page's physical address to {@code out[outOffset + i]}.
     *
     * @param write whether the pin is for writing (FOLL_WRITE); a read-only mapping then faults. In a
     *        {@link MapKind#PRIVATE_FILE} mapping every pin (this is FOLL_LONGTERM) breaks COW first and pins the
     *        private copy
     * @return the number of pages pinned (all of them on success)
     * @throws dev.iommufd.api.ErrnoException EFAULT when the first page is not mapped (or is read-only for a
     *         write pin), EINVAL for a misaligned va; when a later page fails, the pages before it stay pinned
     *         and their count is returned
     */
    int pinPages(long va, int npages, boolean write, long[] out, int outOffset);

    /**
     * Releases one pin on each of {@code npages} pages, given by physical address.
     *
     * @param dirty mark the pages dirty (pages pinned for writing)
     * @throws dev.iommufd.api.ErrnoException EINVAL when a page is not pinned; then nothing is unpinned
     */
    void unpinPages(long[] pas, int offset, int npages, boolean dirty);

    /** {@link #pinPagesRun}'s result: the low 32 bits are the pages pinned. */
    static int pinnedOf(long pinResult) {
        return (int) pinResult;
    }

    /** {@link #pinPagesRun}'s result: the high 32 bits are the pages of the leading physically contiguous run. */
    static int runOf(long pinResult) {
        return (int) (pinResult >>> 32);
    }

    /**
     * {@link #pinPages}, also reporting the leading physically contiguous run of what it pinned: the number of pages
     * from {@code out[outOffset]} whose physical addresses advance by 4 KiB each ({@code out[outOffset + k] ==
     * out[outOffset] + k * 4096}); 0 when nothing is pinned. The kernel's iommufd turns the pinned pages into runs
     * of PFNs ({@code batch_from_pages} into a {@code struct pfn_batch}) to map each run with one {@code iommu_map};
     * an implementation that finds the pages in order may count the run while it looks them up, instead of the
     * caller reading the addresses again. Pins, errors and short counts are exactly those of {@link #pinPages}.
     *
     * <p>Added (additively) so that IOAS_MAP of a small buffer reads its pages' addresses once. The default calls
     * {@link #pinPages} and counts the run from {@code out}.
     *
     * @return pages pinned ({@link #pinnedOf}) | the leading run ({@link #runOf}) &lt;&lt; 32
     */
    default long pinPagesRun(long va, int npages, boolean write, long[] out, int outOffset) {
        int got = pinPages(va, npages, write, out, outOffset);
        int run = got > 0 ? 1 : 0;
        while (run < got && out[outOffset + run] == out[outOffset] + ((long) run << PhysicalMemory.FRAME_SHIFT)) {
            run++;
        }
        return got | ((long) run << 32);
    }

    /**
     * {@link #unpinPages} of {@code npages} physically consecutive 4 KiB pages: {@code pa}, {@code pa + 4096}, ...
     * (a run {@link #pinPagesRun} reported). Same checks and all-or-nothing behaviour as {@link #unpinPages}.
     *
     * <p>Added (additively) with {@link #pinPagesRun}: the unpin of a run needs no per-page address array. The
     * default builds that array and calls {@link #unpinPages}.
     *
     * @throws dev.iommufd.api.ErrnoException EINVAL when a page is not pinned or {@code npages} is negative; then
     *         nothing is unpinned
     */
    default void unpinRun(long pa, int npages, boolean dirty) {
        if (npages < 0) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EINVAL, "pid %d: unpin of %d pages", pid(), npages);
        }
        long[] pas = new long[npages];
        for (int k = 0; k < npages; k++) {
            pas[k] = pa + ((long) k << PhysicalMemory.FRAME_SHIFT);
        }
        unpinPages(pas, 0, npages, dirty);
    }

    /** The long-term pin count of the page at physical address {@code pa} (0 when none). */
    int pinCount(long pa);

    /** Translates a user VA to the physical address currently backing it, touching the page; EFAULT if unmapped. */
    long translate(long va);

    /** Whether the process (and so its mm) still exists. */
    boolean alive();

    /** Ends the process: unmaps everything (pinned pages live on until unpinned). */
    void exit();
}
