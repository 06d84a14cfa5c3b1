package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRange;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.Aperture;
import dev.iommufd.spi.DomainGeometry;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.ReservedRegion;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The IOVA map of an IOAS ({@code struct io_pagetable}): areas, allowed ranges, reserved ranges with owners,
 * the IOVA allocator, and the list of domains that mirror every area.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>Areas are disjoint, never intersect a reserved range, and each is mapped in every domain of the table
 *       (or, with no domain, in none and pinned by nothing but access spans).
 *   <li>Allowed ranges never intersect reserved ranges (reservations and allow-list updates check it).
 *   <li>{@code iovaAlignment} = max(1, PAGE_SIZE if large pages are disabled, each domain's smallest page size,
 *       each pin-capable access's PAGE_SIZE); every area's IOVA, length and page offset are multiples of it.
 * </ul>
 *
 * <h2>Areas</h2>
 * The areas live in {@link IoAreaTable} (struct of arrays, no object per area; the column layout is documented
 * there): an area is named by its index while the lock is held and nothing is inserted or removed. IOAS_MAP of user
 * memory within {@value IoAreaTable#SMALL_PAGES} pages ({@link #mapUserPages}) keeps its {@code struct iopt_pages} in
 * the area's slot; every other map, and a slot whose pages become shared, uses an {@link IoPages} object.
 *
 * <h2>Lock</h2>
 * {@link #lock} stands for the kernel's {@code domains_rwsem} + {@code iova_rwsem}: it guards every field here, the
 * area arrays and the small pages held in area slots; {@link IoPages#lock} nests inside it. It is released while
 * accesses are asked to unpin during an unmap.
 */
public final class IoPageTable {
    public static final long PAGE_SIZE = IoPages.PAGE_SIZE;
    /** HPAGE_SIZE with THP (x86-64 and arm64 4K granule): the cap on auto-IOVA alignment. */
    public static final long HPAGE_SIZE = 2L << 20;
    /** ULONG_MAX on a 64-bit kernel. */
    public static final long ULONG_MAX = -1L;
    /** Notifications of one area that release nothing before IOAS_UNMAP gives up with EDEADLOCK. */
    static final int MAX_UNMAP_TRIES = 100;

    final ReentrantLock lock = new ReentrantLock();
    private final PhysicalMemory memory;
    private final IoAreaTable areas = new IoAreaTable();
    private final IovaIntervals allowed = new IovaIntervals();
    /** Reserved ranges, possibly overlapping, each with its owner. */
    private final List<Reservation> reserved = new ArrayList<>();
    /** The union of {@link #reserved}, disjoint, for lookups and the allocator. */
    private final IovaIntervals reservedUnion = new IovaIntervals();
    private IommuDomain[] domains = new IommuDomain[2];
    private long[] domainPgsizes = new long[2];
    private int ndomains;
    private final List<Access> accesses = new ArrayList<>();
    private long iovaAlignment = 1;
    private boolean disableLargePages;
    private final IotlbGather gather = new IotlbGather();

    private record Reservation(long start, long last, Object owner) {
    }

    /** One slice of pages to map ({@code struct iopt_pages_list}). */
    record PagesSlice(IoPages pages, long startByte, long length) {
    }

    IoPageTable(PhysicalMemory memory) {
        this.memory = memory;
    }

    // ---------------------------------------------------------------- queries

    /** {@code iova_alignment}. */
    public long iovaAlignment() {
        lock.lock();
        try {
            return iovaAlignment;
        } finally {
            lock.unlock();
        }
    }

    public boolean largePagesDisabled() {
        lock.lock();
        try {
            return disableLargePages;
        } finally {
            lock.unlock();
        }
    }

    /** The domains, in the table's (dense, reorderable) index order. */
    public List<IommuDomain> domains() {
        lock.lock();
        try {
            return List.of(Arrays.copyOf(domains, ndomains));
        } finally {
            lock.unlock();
        }
    }

    /** Number of areas. */
    public int areaCount() {
        lock.lock();
        try {
            return areas.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether the pages of the area holding {@code iova} are small pages held in the area's slot rather than an
     * {@link IoPages} object ({@link IoAreaTable}); false when no area holds it. For tests and invariants.
     */
    boolean pagesHeldInSlot(long iova) {
        lock.lock();
        try {
            int i = areas.indexOf(iova);
            return i >= 0 && areas.isInline(i);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether an area intersects {@code [start, last]} (1) or not (0); the caller holds {@link #lock}. A binary
     * search over primitive arrays: allocates nothing.
     */
    int areasIntersecting(long start, long last) {
        return areas.firstIntersecting(start, last) >= 0 ? 1 : 0;
    }

    /** The areas as IOVA ranges, ascending (for tests and VFIO compat). */
    public List<IovaRange> areaRanges() {
        lock.lock();
        try {
            List<IovaRange> out = new ArrayList<>(areas.size());
            for (int i = 0; i < areas.size(); i++) {
                out.add(new IovaRange(areas.start(i), areas.last(i)));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The IOVA-to-physical runs of this table's areas as iommufd's state has them (the PFNs pinned for each area,
     * not a walk of any IO page table): one {@link PinnedRun} per maximal run in which the IOVA and the physical
     * address advance together with the same {@link dev.iommufd.spi.IoProt} bits, ascending by IOVA. Pages that
     * are not pinned (an area no domain or access covers) are left out. Read-only; for snapshots.
     */
    public List<PinnedRun> pinnedRuns() {
        lock.lock();
        try {
            List<PinnedRun> out = new ArrayList<>();
            long runIova = 0;
            long runPa = -1;
            long runLen = 0;
            int runProt = 0;
            for (int i = 0; i < areas.size(); i++) {
                long iova = areas.start(i);
                long remaining = areas.length(i);
                int prot = areas.prot(i);
                while (remaining != 0) {
                    long byteInPages = areas.startByte(i, iova);
                    long index = byteInPages >>> IoPages.PAGE_SHIFT;
                    long inPage = byteInPages & (PAGE_SIZE - 1);
                    long chunk = Long.compareUnsigned(PAGE_SIZE - inPage, remaining) < 0 ? PAGE_SIZE - inPage : remaining;
                    long frame = areas.physicalAddress(i, index);
                    if (frame >= 0) {
                        long pa = frame + inPage;
                        if (runPa >= 0 && runIova + runLen == iova && runPa + runLen == pa && runProt == prot) {
                            runLen += chunk;
                        } else {
                            if (runPa >= 0) {
                                out.add(new PinnedRun(runIova, runPa, runLen, runProt));
                            }
                            runIova = iova;
                            runPa = pa;
                            runLen = chunk;
                            runProt = prot;
                        }
                    }
                    iova += chunk;
                    remaining -= chunk;
                }
            }
            if (runPa >= 0) {
                out.add(new PinnedRun(runIova, runPa, runLen, runProt));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Every distinct {@link IoPages} referenced by an area (for IOAS_CHANGE_PROCESS and accounting checks); small
     * pages held in an area slot are materialized as objects first ({@link IoAreaTable#materialize}).
     */
    List<IoPages> pagesInUse() {
        lock.lock();
        try {
            List<IoPages> out = new ArrayList<>();
            for (int i = 0; i < areas.size(); i++) {
                IoPages p = areas.materialize(i);
                if (!containsIdentity(out, p)) {
                    out.add(p);
                }
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    private static boolean containsIdentity(List<?> list, Object o) {
        for (Object x : list) {
            if (x == o) {
                return true;
            }
        }
        return false;
    }

    /** {@code iopt_get_iova_ranges} / IOAS_IOVA_RANGES: the holes of the reserved set over [0, ULONG_MAX]. */
    public List<IovaRange> iovaRanges() {
        lock.lock();
        try {
            List<IovaRange> out = new ArrayList<>();
            long cur = 0;
            boolean more = true;
            for (int i = 0; i < reservedUnion.size() && more; i++) {
                long s = reservedUnion.start(i);
                long l = reservedUnion.last(i);
                if (Long.compareUnsigned(s, cur) > 0) {
                    out.add(new IovaRange(cur, s - 1));
                }
                if (l == ULONG_MAX) {
                    more = false;
                } else {
                    cur = l + 1;
                }
            }
            if (more) {
                out.add(new IovaRange(cur, ULONG_MAX));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** The reserved ranges (merged), ascending. */
    public List<IovaRange> reservedRanges() {
        lock.lock();
        try {
            List<IovaRange> out = new ArrayList<>();
            for (int i = 0; i < reservedUnion.size(); i++) {
                out.add(new IovaRange(reservedUnion.start(i), reservedUnion.last(i)));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- allow list and reservations

    /**
     * {@code iopt_set_allow_iova}: replaces the allow list atomically. The caller validated the entries (sorted
     * here; start < last; no overlap).
     *
     * @throws ErrnoException EADDRINUSE when a new allowed range intersects a reserved range (list unchanged)
     */
    void setAllowed(long[] starts, long[] lasts) {
        lock.lock();
        try {
            for (int i = 0; i < starts.length; i++) {
                if (reservedUnion.firstIntersecting(starts[i], lasts[i]) >= 0) {
                    throw ErrnoException.of(Errno.EADDRINUSE, "allowed range [%#x, %#x] intersects a reserved range",
                            starts[i], lasts[i]);
                }
            }
            allowed.clear();
            for (int i = 0; i < starts.length; i++) {
                allowed.insert(starts[i], lasts[i]);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iopt_reserve_iova}: reserves {@code [start, last]} for {@code owner} (ranges of different or equal
     * owners may overlap).
     *
     * @throws ErrnoException EADDRINUSE when an area or an allowed range intersects it
     */
    public void reserve(Object owner, long start, long last) {
        lock.lock();
        try {
            reserveLocked(owner, start, last);
        } finally {
            lock.unlock();
        }
    }

    private void reserveLocked(Object owner, long start, long last) {
        if (Long.compareUnsigned(start, last) > 0) {
            throw ErrnoException.of(Errno.EINVAL, "reserved range start %#x > last %#x", start, last);
        }
        if (areas.firstIntersecting(start, last) >= 0) {
            throw ErrnoException.of(Errno.EADDRINUSE, "reserved range [%#x, %#x] intersects a mapped area", start, last);
        }
        if (allowed.firstIntersecting(start, last) >= 0) {
            throw ErrnoException.of(Errno.EADDRINUSE, "reserved range [%#x, %#x] intersects an allowed range", start, last);
        }
        reserved.add(new Reservation(start, last, owner));
        rebuildReservedUnion();
    }

    /** {@code iopt_remove_reserved_iova}: removes every reservation of {@code owner}. */
    public void unreserveOwner(Object owner) {
        lock.lock();
        try {
            if (reserved.removeIf(r -> r.owner == owner)) {
                rebuildReservedUnion();
            }
        } finally {
            lock.unlock();
        }
    }

    private void rebuildReservedUnion() {
        reservedUnion.clear();
        List<Reservation> sorted = new ArrayList<>(reserved);
        sorted.sort((a, b) -> Long.compareUnsigned(a.start, b.start));
        long curStart = 0;
        long curLast = 0;
        boolean open = false;
        for (Reservation r : sorted) {
            if (open && (curLast == ULONG_MAX || Long.compareUnsigned(r.start, curLast + 1) <= 0)) {
                if (Long.compareUnsigned(r.last, curLast) > 0) {
                    curLast = r.last;
                }
            } else {
                if (open) {
                    reservedUnion.insert(curStart, curLast);
                }
                curStart = r.start;
                curLast = r.last;
                open = true;
            }
        }
        if (open) {
            reservedUnion.insert(curStart, curLast);
        }
    }

    /**
     * {@code iopt_table_enforce_dev_resv_regions}: reserves a device's reserved regions (all but
     * DIRECT_RELAXABLE) with {@code owner}; on failure removes every reservation of {@code owner}.
     *
     * @return the start of the device's SW_MSI window, or -1 when it has none
     * @throws ErrnoException EADDRINUSE when a region intersects an area or an allowed range; EINVAL for both a
     *         hardware MSI and a SW_MSI region, or two SW_MSI regions
     */
    public long enforceDeviceReservedRegions(Object owner, List<ReservedRegion> regions) {
        lock.lock();
        try {
            long swMsiStart = -1;
            int numHwMsi = 0;
            int numSwMsi = 0;
            try {
                for (ReservedRegion r : regions) {
                    if (r.type() == ReservedRegion.Type.DIRECT_RELAXABLE) {
                        continue;
                    }
                    if (r.type() == ReservedRegion.Type.SW_MSI) {
                        numSwMsi++;
                        swMsiStart = r.start();
                    } else if (r.type() == ReservedRegion.Type.MSI) {
                        numHwMsi++;
                    }
                    reserveLocked(owner, r.start(), r.last());
                }
                if ((numHwMsi != 0 && numSwMsi != 0) || numSwMsi > 1) {
                    throw ErrnoException.of(Errno.EINVAL, "device has %d MSI and %d SW_MSI reserved regions", numHwMsi, numSwMsi);
                }
            } catch (RuntimeException e) {
                if (reserved.removeIf(x -> x.owner == owner)) {
                    rebuildReservedUnion();
                }
                throw e;
            }
            return swMsiStart;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- IOVA allocation

    /**
     * {@code iopt_alloc_iova}: the lowest IOVA, within the allowed ranges (or [PAGE_SIZE, ULONG_MAX - PAGE_SIZE]
     * when there are none), in a hole of reserved ranges and areas, aligned to
     * min(roundup_pow_of_two(length), lowest set bit of addr) capped at HPAGE_SIZE, keeping addr's page offset.
     * Reserves nothing: the caller inserts an area at the result before it releases the lock (IOAS_MAP does).
     *
     * <p>Contract: the caller holds {@link #lock} (checked: IllegalStateException otherwise). Allocates nothing and
     * never visits the areas one by one: O(log n + {@value IovaIntervals#BLOCK}) per hole of the allowed ranges'
     * and reservations' sets tried ({@link IovaIntervals#firstHole}). Deterministic for a given table state.
     *
     * @param addr the user address (or file offset) being mapped: its lowest set bit limits the alignment and its
     *        page offset is kept
     * @param length bytes to allocate
     * @return the IOVA
     * @throws ErrnoException EOVERFLOW (length 0 or >= ULONG_MAX / 2); EINVAL when that alignment is below
     *         {@code iova_alignment}; ENOSPC when nothing fits
     */
    long allocIova(long addr, long length) {
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("allocIova without the io_pagetable lock");
        }
        long pageOffset = addr & (PAGE_SIZE - 1);
        if (length == 0 || Long.compareUnsigned(length, ULONG_MAX >>> 1) >= 0) {
            throw ErrnoException.of(Errno.EOVERFLOW, "length %#x is 0 or too large for IOVA allocation", length);
        }
        long align = length == 1 ? 1 : Long.highestOneBit(length - 1) << 1;
        if (addr != 0 && Long.compareUnsigned(Long.lowestOneBit(addr), align) < 0) {
            align = Long.lowestOneBit(addr);
        }
        if (Long.compareUnsigned(align, HPAGE_SIZE) > 0) {
            align = HPAGE_SIZE;
        }
        if (align < iovaAlignment) {
            throw ErrnoException.of(Errno.EINVAL, "address %#x / length %#x only allow IOVA alignment %#x, below the IOAS alignment %#x",
                    addr, length, align, iovaAlignment);
        }
        long lo = PAGE_SIZE;
        long hi = ULONG_MAX - PAGE_SIZE;
        if (allowed.isEmpty()) {
            long r = allocInSpan(lo, hi, length, align, pageOffset);
            if (found) {
                return r;
            }
        } else {
            for (int i = allowed.lowerBound(lo); i < allowed.size(); i++) {
                long s = allowed.start(i);
                long l = allowed.last(i);
                if (Long.compareUnsigned(s, hi) > 0) {
                    break;
                }
                if (Long.compareUnsigned(s, lo) < 0) {
                    s = lo;
                }
                if (Long.compareUnsigned(l, hi) > 0) {
                    l = hi;
                }
                long r = allocInSpan(s, l, length, align, pageOffset);
                if (found) {
                    return r;
                }
            }
        }
        throw ErrnoException.of(Errno.ENOSPC, "no free IOVA range of length %#x (alignment %#x)", length, align);
    }

    private static final long NOT_FOUND_MARK = 0;
    /** Result flag of {@link #allocInSpan} (guarded by lock). */
    private boolean found;

    /**
     * The lowest fit in the holes of (reserved ∪ areas) within {@code [spanStart, spanLast]}, the holes tried
     * lowest first exactly as {@code iopt_alloc_iova}'s interval-tree walk does. Sublinear: a hole of the union
     * lies inside one hole of the areas and one hole of the reservations, each at least {@code length} long,
     * so the walk leapfrogs between {@link IovaIntervals#firstHole} of the two sets (each a max-gap summary
     * query), skipping every hole shorter than {@code length} without visiting it. Allocates nothing.
     */
    private long allocInSpan(long spanStart, long spanLast, long length, long align, long pageOffset) {
        found = false;
        // __alloc_iova_check_used: the span itself must be able to hold the length.
        if (checkRange(spanStart, spanLast, length, align, pageOffset) == NO_FIT) {
            return NOT_FOUND_MARK;
        }
        long x = spanStart;
        int from = 0; // every area below it ends before x
        for (;;) {
            if (!areas.firstHole(x, length, from)) {
                return NOT_FOUND_MARK;
            }
            long aStart = areas.holeStart();
            long aLast = areas.holeLast();
            from = areas.holeIndex(); // the areas below end before aStart, and x only grows from here
            if (Long.compareUnsigned(aStart, spanLast) > 0 || !reservedUnion.firstHole(aStart, length)) {
                return NOT_FOUND_MARK;
            }
            long rStart = reservedUnion.holeStart();
            long rLast = reservedUnion.holeLast();
            if (Long.compareUnsigned(rStart, spanLast) > 0) {
                return NOT_FOUND_MARK;
            }
            if (Long.compareUnsigned(rStart, aLast) > 0) {
                x = rStart; // no long-enough reserved hole meets this area hole
                continue;
            }
            // The union hole [rStart, uLast]: rStart >= aStart is where both sets are free.
            long uLast = Long.compareUnsigned(aLast, rLast) <= 0 ? aLast : rLast;
            long blockerLast = uLast;
            if (Long.compareUnsigned(uLast, spanLast) > 0) {
                uLast = spanLast;
            }
            long r = checkRange(rStart, uLast, length, align, pageOffset);
            if (fitFlag) {
                found = true;
                return r;
            }
            if (uLast == spanLast || blockerLast == ULONG_MAX) {
                return NOT_FOUND_MARK;
            }
            x = blockerLast + 1;
        }
    }

    private static final long NO_FIT = 0;
    private boolean fitFlag;

    /** {@code __alloc_iova_check_range}: the aligned start in {@code [start, last]} or {@link #NO_FIT}. */
    private long checkRange(long start, long last, long length, long align, long pageOffset) {
        fitFlag = false;
        long aligned = start + (align - 1);
        if (Long.compareUnsigned(aligned, start) < 0) {
            return NO_FIT;
        }
        aligned &= ~(align - 1);
        aligned |= pageOffset;
        if (Long.compareUnsigned(aligned, last) >= 0 || Long.compareUnsigned(last - aligned, length - 1) < 0) {
            return NO_FIT;
        }
        fitFlag = true;
        return aligned;
    }

    /**
     * {@code iopt_check_iova}: validation of a FIXED_IOVA range.
     *
     * @return the index where an area at {@code iova} goes (for {@link IoAreaTable#insert} as {@code from})
     * @throws ErrnoException EINVAL (misaligned, or reserved), EOVERFLOW, EEXIST (an area is there)
     */
    private int checkIova(long iova, long length) {
        if ((iova & (iovaAlignment - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "iova %#x is not a multiple of the IOAS alignment %#x", iova, iovaAlignment);
        }
        long last = iova + length - 1;
        if (Long.compareUnsigned(last, iova) < 0) {
            throw ErrnoException.of(Errno.EOVERFLOW, "iova %#x + length %#x overflows", iova, length);
        }
        if (reservedUnion.firstIntersecting(iova, last) >= 0) {
            throw ErrnoException.of(Errno.EINVAL, "iova range [%#x, %#x] intersects a reserved range", iova, last);
        }
        int i = areas.lowerBound(iova);
        if (i < areas.size() && Long.compareUnsigned(areas.start(i), last) <= 0) {
            throw ErrnoException.of(Errno.EEXIST, "iova range [%#x, %#x] is already mapped", iova, last);
        }
        return i; // where the area goes: every area below it ends before iova
    }

    // ---------------------------------------------------------------- map / copy

    /**
     * {@code iopt_map_pages}'s length check: non-zero and a multiple of {@code iova_alignment} (a power of two, as
     * every alignment here: the kernel tests with masks too).
     */
    private void checkMapLength(long length) {
        if (length == 0 || (length & (iovaAlignment - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "length %#x is 0 or not a multiple of the IOAS alignment %#x", length, iovaAlignment);
        }
    }

    /** {@code iopt_insert_area}'s checks for one slice at {@code cur}; returns the slice's last IOVA. */
    private long checkSlice(boolean pagesWritable, long startByte, long cur, long length, int prot) {
        if ((prot & IoProt.WRITE) != 0 && !pagesWritable) {
            throw ErrnoException.of(Errno.EPERM, "cannot map writeable: the source pages were mapped read-only");
        }
        if ((startByte & (PAGE_SIZE - 1) & (iovaAlignment - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "page offset %#x is not a multiple of the IOAS alignment %#x",
                    startByte & (PAGE_SIZE - 1), iovaAlignment);
        }
        long last = cur + length - 1;
        if (Long.compareUnsigned(last, cur) < 0) {
            throw ErrnoException.of(Errno.EOVERFLOW, "iova %#x + length %#x overflows", cur, length);
        }
        return last;
    }

    /**
     * {@code iopt_map_user_pages} (IOAS_MAP): maps {@code [uptr, uptr + length)} of {@code current} at {@code iova}
     * (or an allocated IOVA), filling every domain. All or nothing. A map within {@value IoAreaTable#SMALL_PAGES} user
     * pages keeps its pages in the area's slot ({@link IoAreaTable}: no {@link IoPages} object, nothing allocated); a
     * larger one creates an {@link IoPages}.
     *
     * @param prot {@link IoProt} bits
     * @param writable whether the pages are pinned for writing (IOMMU_IOAS_MAP_WRITEABLE)
     * @param mmAccounting whether the context charges {@code mm->locked_vm} (IOMMU_OPTION_RLIMIT_MODE 1)
     * @return the IOVA
     * @throws ErrnoException EOVERFLOW when the user range wraps; EINVAL for length 0 or too large; the errors of
     *         {@link #mapPages}
     */
    long mapUserPages(UserProcess current, long uptr, long length, long iova, int prot, boolean writable, boolean mmAccounting,
            boolean allocate) {
        IoPages.checkUserRange(uptr, length);
        if (IoPages.pageCount(uptr, length) > IoAreaTable.SMALL_PAGES) {
            IoPages pages = IoPages.ofUser(current, uptr, length, writable);
            if (mmAccounting) {
                pages.upgradeToMm();
            }
            return mapPages(pages, uptr - pages.base(), length, iova, prot, allocate);
        }
        AccountMode mode = IoPages.initialAccountMode(current);
        if (mmAccounting && mode == AccountMode.USER) {
            mode = AccountMode.MM;
        }
        lock.lock();
        try {
            checkMapLength(length);
            int at;
            if (allocate) {
                iova = allocIova(uptr, length);
                at = areas.holeIndex();
            } else {
                at = checkIova(iova, length);
            }
            long last = checkSlice(writable, uptr, iova, length, prot);
            FaultInjection.check("iopt_alloc_area");
            fillNewAreas(areas.insertInline(iova, last, current, uptr, writable, mode, prot, at), 1);
            return iova;
        } finally {
            lock.unlock();
        }
    }

    /** {@link #mapPages(List, long, long, int, boolean)} of one slice: all of {@code length} from {@code startByte}. */
    long mapPages(IoPages pages, long startByte, long length, long iova, int prot, boolean allocate) {
        lock.lock();
        try {
            checkMapLength(length);
            int at;
            if (allocate) {
                iova = allocIova(startByte + pages.base(), length);
                at = areas.holeIndex();
            } else {
                at = checkIova(iova, length);
            }
            long last = checkSlice(pages.writable(), startByte, iova, length, prot);
            FaultInjection.check("iopt_alloc_area");
            fillNewAreas(areas.insert(iova, last, pages, startByte, prot, at), 1);
            return iova;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iopt_map_pages}: maps the slices consecutively at {@code iova} (or an allocated IOVA), filling every
     * domain. All or nothing.
     *
     * @param prot {@link IoProt} bits
     * @return the IOVA of the first slice
     */
    long mapPages(List<PagesSlice> slices, long length, long iova, int prot, boolean allocate) {
        lock.lock();
        try {
            checkMapLength(length);
            int at;
            if (allocate) {
                PagesSlice first = slices.get(0);
                iova = allocIova(first.startByte() + first.pages().base(), length);
                at = areas.holeIndex();
            } else {
                at = checkIova(iova, length);
            }
            // iopt_insert_area checks, for every slice before anything is inserted.
            long cur = iova;
            for (PagesSlice s : slices) {
                cur = checkSlice(s.pages().writable(), s.startByte(), cur, s.length(), prot) + 1;
            }
            FaultInjection.check("iopt_alloc_area");
            cur = iova;
            int first = -1;
            for (PagesSlice s : slices) {
                at = areas.insert(cur, cur + s.length() - 1, s.pages(), s.startByte(), prot, at) + 1;
                first = first < 0 ? at - 1 : first;
                cur += s.length();
            }
            fillNewAreas(first, slices.size());
            return iova;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iopt_fill_domains_pages} for {@code n} areas just inserted consecutively from index {@code first}; on
     * failure unfills the ones filled and removes all {@code n}, then rethrows.
     */
    private void fillNewAreas(int first, int n) {
        int filled = 0;
        try {
            for (; filled < n; filled++) {
                fillDomains(first + filled);
            }
        } catch (RuntimeException e) {
            for (int k = 0; k < filled; k++) {
                unfillDomains(first + k);
            }
            for (int k = n - 1; k >= 0; k--) {
                areas.remove(first + k);
            }
            throw e;
        }
    }

    /**
     * {@code iopt_get_pages}: the pages behind {@code [iova, iova + length)}, one slice per area touched (one-page
     * pages held in an area slot become {@link IoPages} objects, which the area then shares).
     *
     * @throws ErrnoException EINVAL for length 0; EOVERFLOW; ENOENT for a hole
     */
    List<PagesSlice> getPages(long iova, long length) {
        if (length == 0) {
            throw ErrnoException.of(Errno.EINVAL, "length is 0");
        }
        long last = iova + length - 1;
        if (Long.compareUnsigned(last, iova) < 0) {
            throw ErrnoException.of(Errno.EOVERFLOW, "iova %#x + length %#x overflows", iova, length);
        }
        lock.lock();
        try {
            // Check first that the range is fully mapped, so that a failing call materializes nothing.
            long cur = iova;
            int first = areas.indexOf(cur);
            int i = first;
            int n = 0;
            boolean covered = false;
            while (i >= 0) {
                long sliceLast = Long.compareUnsigned(areas.last(i), last) < 0 ? areas.last(i) : last;
                n++;
                if (sliceLast == last) {
                    covered = true;
                    break;
                }
                cur = sliceLast + 1;
                i++;
                if (i >= areas.size() || areas.start(i) != cur) {
                    break;
                }
            }
            if (!covered) {
                throw ErrnoException.of(Errno.ENOENT, "iova range [%#x, %#x] is not fully mapped", iova, last);
            }
            List<PagesSlice> out = new ArrayList<>(n);
            cur = iova;
            for (int k = first; k < first + n; k++) {
                long sliceLast = Long.compareUnsigned(areas.last(k), last) < 0 ? areas.last(k) : last;
                out.add(new PagesSlice(areas.materialize(k), areas.startByte(k, cur), sliceLast - cur + 1));
                cur = sliceLast + 1;
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- unmap

    /**
     * {@code iopt_unmap_iova}.
     *
     * @return bytes unmapped (0 when nothing was in range)
     * @throws ErrnoException EINVAL for length 0, EOVERFLOW, and the errors of {@link #unmapRange}
     */
    long unmapIova(long iova, long length) {
        if (length == 0) {
            throw ErrnoException.of(Errno.EINVAL, "length is 0");
        }
        long last = iova + length - 1;
        if (Long.compareUnsigned(last, iova) < 0) {
            throw ErrnoException.of(Errno.EOVERFLOW, "iova %#x + length %#x overflows", iova, length);
        }
        return unmapRange(iova, last);
    }

    /** {@code iopt_unmap_all}: every area; 0 bytes on an empty table is success. */
    long unmapAll() {
        return unmapRange(0, ULONG_MAX);
    }

    /**
     * {@code iopt_unmap_iova_range}: removes every area inside {@code [start, last]}, lowest first. Not atomic: on
     * failure the areas removed so far stay removed and the exception's progress counts their bytes.
     *
     * @throws ErrnoException ENOENT when an area straddles the range; EDEADLOCK when accesses do not release
     *         their pins after {@value #MAX_UNMAP_TRIES} notifications
     */
    long unmapRange(long start, long last) {
        long unmapped = 0;
        int tries = 0;
        for (;;) {
            long notifyIova;
            long notifyLast;
            lock.lock();
            try {
                int i = areas.lowerBound(start); // the areas after a removed one shift down to i
                for (;;) {
                    if (i >= areas.size() || Long.compareUnsigned(areas.start(i), last) > 0) {
                        return unmapped;
                    }
                    long aIova = areas.start(i);
                    long aLast = areas.last(i);
                    if (Long.compareUnsigned(aIova, start) < 0 || Long.compareUnsigned(aLast, last) > 0) {
                        throw new ErrnoException(Errno.ENOENT, String.format(
                                "area [%#x, %#x] is not fully inside the unmap range [%#x, %#x]", aIova, aLast, start, last),
                                unmapped, null);
                    }
                    if (areas.numLocks(i) > 0) {
                        throw new ErrnoException(Errno.EBUSY, String.format(
                                "area [%#x, %#x] is pinned by an internal access (HW queue)", aIova, aLast), unmapped, null);
                    }
                    if (aIova != start) {
                        tries = 0;
                    }
                    if (areas.numAccesses(i) > 0) {
                        start = aIova;
                        areas.setPreventAccess(i);
                        notifyIova = aIova;
                        notifyLast = aLast;
                        break;
                    }
                    unfillDomains(i);
                    areas.remove(i);
                    unmapped += aLast - aIova + 1;
                }
            } finally {
                lock.unlock();
            }
            notifyUnmap(notifyIova, notifyLast - notifyIova + 1);
            if (++tries > MAX_UNMAP_TRIES) {
                throw new ErrnoException(Errno.EDEADLK, String.format(
                        "accesses did not unpin area [%#x, %#x] after %d notifications", notifyIova, notifyLast, MAX_UNMAP_TRIES),
                        unmapped, null);
            }
        }
    }

    /** {@code iommufd_access_notify_unmap}: calls every attached access's unmap op; no lock held. */
    private void notifyUnmap(long iova, long length) {
        List<Access> snapshot;
        lock.lock();
        try {
            snapshot = new ArrayList<>(accesses);
        } finally {
            lock.unlock();
        }
        for (Access a : snapshot) {
            a.notifyUnmap(iova, length);
        }
    }

    /**
     * {@code iopt_cut_iova}: splits the areas holding each IOVA so that the IOVA becomes the last byte of the left
     * part (VFIO type1 v1 unmap semantics; native IOAS_UNMAP never splits). An IOVA in no area, or at an area's
     * first or last byte, is skipped. Stops at the first failure (earlier splits stay).
     *
     * @throws ErrnoException EBUSY (area being unmapped); EINVAL (split point misaligned, access pins in the area,
     *         or the area is mapped in a domain while huge pages are enabled)
     */
    public void cutIova(long[] iovas) {
        lock.lock();
        try {
            for (long iova : iovas) {
                int idx = areas.indexOf(iova);
                if (idx < 0) {
                    continue;
                }
                long aIova = areas.start(idx);
                long aLast = areas.last(idx);
                if (iova == aIova || iova == aLast) {
                    continue;
                }
                if (areas.preventAccess(idx)) {
                    throw ErrnoException.of(Errno.EBUSY, "area [%#x, %#x] is being unmapped", aIova, aLast);
                }
                long newStart = iova + 1;
                if ((newStart & (iovaAlignment - 1)) != 0 || (areas.startByte(idx, newStart) & (iovaAlignment - 1)) != 0) {
                    throw ErrnoException.of(Errno.EINVAL, "split point %#x is not aligned to %#x", newStart, iovaAlignment);
                }
                if (areas.numAccesses(idx) != 0) {
                    throw ErrnoException.of(Errno.EINVAL, "area [%#x, %#x] has access pins", aIova, aLast);
                }
                boolean filled = areas.domainFilled(idx);
                if (filled && !disableLargePages) {
                    throw ErrnoException.of(Errno.EINVAL, "area [%#x, %#x] may be mapped with huge pages", aIova, aLast);
                }
                // The halves share the pages: small pages held in the slot become an object first.
                IoPages pages = areas.materialize(idx);
                long startByte = areas.startByte(idx);
                long rightStartByte = areas.startByte(idx, newStart);
                int prot = areas.prot(idx);
                if (filled) {
                    // Same coverage, two spans: add the halves before dropping the whole (no pin changes hands).
                    pages.addDomainSpan(startByte >>> IoPages.PAGE_SHIFT, areas.startByte(idx, iova) >>> IoPages.PAGE_SHIFT);
                    pages.addDomainSpan(rightStartByte >>> IoPages.PAGE_SHIFT, areas.startByte(idx, aLast) >>> IoPages.PAGE_SHIFT);
                    pages.removeDomainSpan(areas.firstIndex(idx), areas.lastIndex(idx));
                }
                areas.removeAt(idx);
                int left = areas.insert(aIova, iova, pages, startByte, prot, idx);
                int right = areas.insert(newStart, aLast, pages, rightStartByte, prot, left + 1);
                if (filled) {
                    areas.setDomainFilled(left, true);
                    areas.setDomainFilled(right, true);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- domains

    /**
     * {@code iopt_table_add_domain}: adds a paging domain, reserving what its apertures exclude and mapping every
     * existing area into it. All or nothing.
     *
     * @throws ErrnoException EEXIST (already added); EINVAL when its smallest page is larger than PAGE_SIZE;
     *         EADDRINUSE when existing areas are misaligned for it or lie outside its apertures (or an allowed
     *         range does); the driver's map errors; pin errors
     */
    public void addDomain(IommuDomain domain) {
        lock.lock();
        try {
            for (int i = 0; i < ndomains; i++) {
                if (domains[i] == domain) {
                    throw ErrnoException.of(Errno.EEXIST, "domain is already in this IOAS");
                }
            }
            DomainGeometry g = domain.geometry();
            long minPage = g.minPageSize();
            long newAlign = Math.max(minPage, iovaAlignment);
            if (newAlign > PAGE_SIZE) {
                throw ErrnoException.of(Errno.EINVAL, "domain's smallest page size %#x is larger than PAGE_SIZE", minPage);
            }
            if (newAlign > iovaAlignment) {
                checkAreasAligned(newAlign);
            }
            try {
                long cur = 0;
                boolean tail = true;
                for (Aperture ap : g.apertures()) {
                    if (Long.compareUnsigned(ap.start(), cur) > 0) {
                        reserveLocked(domain, cur, ap.start() - 1);
                    }
                    if (ap.last() == ULONG_MAX) {
                        tail = false;
                        break;
                    }
                    cur = ap.last() + 1;
                }
                if (tail) {
                    reserveLocked(domain, cur, ULONG_MAX);
                }
                fillDomain(domain, g.pgsizeBitmap());
            } catch (RuntimeException e) {
                if (reserved.removeIf(r -> r.owner == domain)) {
                    rebuildReservedUnion();
                }
                throw e;
            }
            iovaAlignment = newAlign;
            if (ndomains == domains.length) {
                domains = Arrays.copyOf(domains, ndomains * 2);
                domainPgsizes = Arrays.copyOf(domainPgsizes, ndomains * 2);
            }
            domains[ndomains] = domain;
            domainPgsizes[ndomains] = g.pgsizeBitmap();
            ndomains++;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iopt_table_remove_domain}: unmaps every area from the domain (unpinning when it was the last one),
     * drops its aperture reservations and recomputes the alignment (which may shrink). Never fails.
     */
    public void removeDomain(IommuDomain domain) {
        lock.lock();
        try {
            int idx = -1;
            for (int i = 0; i < ndomains; i++) {
                if (domains[i] == domain) {
                    idx = i;
                }
            }
            if (idx < 0) {
                throw new IllegalStateException("domain is not in this IOAS");
            }
            long bitmap = domainPgsizes[idx];
            // Keep the array dense: the tail entry moves into the freed index.
            domains[idx] = domains[ndomains - 1];
            domainPgsizes[idx] = domainPgsizes[ndomains - 1];
            domains[ndomains - 1] = null;
            ndomains--;
            for (int i = 0; i < areas.size(); i++) {
                if (!areas.domainFilled(i)) {
                    continue;
                }
                unmapAreaFromDomain(i, domain, bitmap);
                if (ndomains == 0) {
                    areas.removeDomainSpan(i);
                    areas.setDomainFilled(i, false);
                }
            }
            if (reserved.removeIf(r -> r.owner == domain)) {
                rebuildReservedUnion();
            }
            recalculateAlignment();
        } finally {
            lock.unlock();
        }
    }

    private void fillDomain(IommuDomain domain, long bitmap) {
        int done = 0;
        boolean[] pinnedHere = new boolean[areas.size()];
        try {
            for (int i = 0; i < areas.size(); i++) {
                if (!areas.domainFilled(i)) {
                    areas.addDomainSpan(i);
                    pinnedHere[i] = true;
                }
                try {
                    mapAreaIntoDomain(i, domain, bitmap);
                } catch (RuntimeException e) {
                    if (pinnedHere[i]) {
                        areas.removeDomainSpan(i);
                        pinnedHere[i] = false;
                    }
                    throw e;
                }
                done++;
            }
        } catch (RuntimeException e) {
            for (int i = 0; i < done; i++) {
                unmapAreaFromDomain(i, domain, bitmap);
                if (pinnedHere[i]) {
                    areas.removeDomainSpan(i);
                }
            }
            throw e;
        }
        for (int i = 0; i < areas.size(); i++) {
            areas.setDomainFilled(i, true);
        }
    }

    /** {@code iopt_area_fill_domains}: a new area, mapped into every domain (nothing pinned when there is none). */
    private void fillDomains(int i) {
        if (ndomains == 0) {
            return;
        }
        areas.addDomainSpan(i);
        int done = 0;
        try {
            for (; done < ndomains; done++) {
                mapAreaIntoDomain(i, domains[done], domainPgsizes[done]);
            }
        } catch (RuntimeException e) {
            for (int d = 0; d < done; d++) {
                unmapAreaFromDomain(i, domains[d], domainPgsizes[d]);
            }
            areas.removeDomainSpan(i);
            throw e;
        }
        areas.setDomainFilled(i, true);
    }

    /** {@code iopt_area_unfill_domains}: unmap from every domain first, then unpin (never unpin what is mapped). */
    private void unfillDomains(int i) {
        if (!areas.domainFilled(i)) {
            return;
        }
        for (int d = 0; d < ndomains; d++) {
            unmapAreaFromDomain(i, domains[d], domainPgsizes[d]);
        }
        areas.removeDomainSpan(i);
        areas.setDomainFilled(i, false);
    }

    /**
     * {@code batch_to_domain}: maps the area run by run, one iommu_map per physically contiguous run (huge-page
     * coalescing), or one per page with large pages disabled. On failure unmaps what it mapped. No allocation.
     */
    private void mapAreaIntoDomain(int i, IommuDomain domain, long bitmap) {
        startRuns(i);
        long failedAt = areas.start(i);
        int prot = areas.prot(i) | IoProt.CACHE;
        try {
            while (nextRun(i)) {
                failedAt = runIova;
                FaultInjection.check("iommu_map");
                IommuMapping.map(domain, bitmap, runIova, runPa, runSize, prot, gather);
            }
        } catch (RuntimeException e) {
            unmapRuns(i, domain, bitmap, failedAt, false);
            throw e;
        }
    }

    private void unmapAreaFromDomain(int i, IommuDomain domain, long bitmap) {
        unmapRuns(i, domain, bitmap, 0, true);
    }

    /**
     * Unmaps the area's runs that start below {@code stopIova} (all of them when {@code all}), gathering them into
     * one IOTLB sync at the end (before the caller unpins).
     */
    private void unmapRuns(int i, IommuDomain domain, long bitmap, long stopIova, boolean all) {
        startRuns(i);
        try {
            while (nextRun(i)) {
                if (!all && Long.compareUnsigned(runIova, stopIova) >= 0) {
                    break;
                }
                IommuMapping.unmap(domain, bitmap, runIova, runPa, runSize, gather, false);
            }
        } finally {
            IommuMapping.sync(domain, gather);
        }
    }

    // Run cursor over one area (guarded by lock; no allocation): the next page index, the run found by nextRun, and
    // the area's bounds, read once by startRuns.
    private long runIdx;
    private long runIova;
    private long runPa;
    private long runSize;
    private long runLastIdx;
    private long runAreaStart;
    private long runAreaStartByte;
    private long runAreaEndByte;

    private void startRuns(int i) {
        long startByte = areas.startByte(i);
        long length = areas.length(i);
        runIdx = startByte >>> IoPages.PAGE_SHIFT;
        runLastIdx = (startByte + length - 1) >>> IoPages.PAGE_SHIFT;
        runAreaStart = areas.start(i);
        runAreaStartByte = startByte;
        runAreaEndByte = startByte + length;
    }

    /**
     * Advances to the area's next physically contiguous run, clipped to the area: sets {@code runIova},
     * {@code runPa}, {@code runSize}. With large pages disabled every page is its own run.
     */
    private boolean nextRun(int i) {
        long lastIdx = runLastIdx;
        long idx = runIdx;
        if (idx > lastIdx) {
            return false;
        }
        long startPa = areas.pa(i, idx);
        long end = idx;
        if (!disableLargePages && end < lastIdx) {
            end = areas.contiguousRunEnd(i, idx, lastIdx);
        }
        long startByte = Math.max(idx << IoPages.PAGE_SHIFT, runAreaStartByte);
        long endByte = Math.min((end + 1) << IoPages.PAGE_SHIFT, runAreaEndByte);
        runIova = runAreaStart + (startByte - runAreaStartByte);
        runPa = startPa + (startByte - (idx << IoPages.PAGE_SHIFT));
        runSize = endByte - startByte;
        runIdx = end + 1;
        return true;
    }

    // ---------------------------------------------------------------- dirty tracking (added for HWPT dirty ioctls)

    /**
     * {@code iopt_set_dirty_tracking}: for enable, first clears every dirty bit the domain holds for this table's
     * areas (a clean snapshot) and flushes, then switches the domain's tracking.
     *
     * @throws ErrnoException EOPNOTSUPP when the domain was not allocated with DIRTY_TRACKING; driver errors
     */
    public void setDirtyTracking(IommuDomain domain, boolean enable) {
        lock.lock();
        try {
            if ((domain.allocFlags() & dev.iommufd.spi.DomainAllocFlags.DIRTY_TRACKING) == 0) {
                throw ErrnoException.of(Errno.EOPNOTSUPP, "the domain was not allocated with DIRTY_TRACKING");
            }
            if (enable) {
                IovaBitmap clear = IovaBitmap.clearOnly();
                for (int i = 0; i < areas.size(); i++) {
                    if (areas.domainFilled(i)) {
                        domain.readAndClearDirty(areas.start(i), areas.length(i), 0, clear);
                    }
                }
                domain.iotlbSync(clear.gather());
                clear.gather().reset();
            }
            domain.setDirtyTracking(enable);
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iopt_read_and_clear_dirty_data}: validates the range ({@code iommufd_check_iova_range}), then reports
     * the dirty IOPTEs of every area slice covering {@code [iova, iova + length)} into {@code bitmap}, clearing them
     * unless {@code flags} has NO_CLEAR (then the IOTLB is flushed for the cleared ranges). A hole stops the report
     * silently (the kernel's discarded {@code iova_bitmap_for_each} result).
     *
     * @throws ErrnoException EOVERFLOW; EINVAL for a range not aligned to the IOAS alignment or to
     *         {@code pageSize}, or a zero page size; EOPNOTSUPP when the domain has no dirty tracking
     */
    public void readAndClearDirty(IommuDomain domain, int flags, long iova, long length, long pageSize, IovaBitmap bitmap) {
        long last = iova + length - 1;
        if (Long.compareUnsigned(last, iova) < 0 && !(iova == 0 && length == 0)) {
            throw ErrnoException.of(Errno.EOVERFLOW, "iova %#x + length %#x overflows", iova, length);
        }
        lock.lock();
        try {
            if (((iova | (last + 1)) & (iovaAlignment - 1)) != 0) {
                throw ErrnoException.of(Errno.EINVAL, "range [%#x, +%#x) is not aligned to the IOAS alignment %#x", iova,
                        length, iovaAlignment);
            }
            if (pageSize == 0) {
                throw ErrnoException.of(Errno.EINVAL, "page_size is 0");
            }
            if (((iova | (last + 1)) & (pageSize - 1)) != 0) { // the kernel's mask test: page_size is a power of two
                throw ErrnoException.of(Errno.EINVAL, "range [%#x, +%#x) is not aligned to page_size %#x", iova, length, pageSize);
            }
            if ((domain.allocFlags() & dev.iommufd.spi.DomainAllocFlags.DIRTY_TRACKING) == 0) {
                throw ErrnoException.of(Errno.EOPNOTSUPP, "the domain was not allocated with DIRTY_TRACKING");
            }
            if (length == 0) {
                return;
            }
            long cur = iova;
            int i = areas.indexOf(cur);
            while (i >= 0 && !bitmap.faulted()) {
                long sliceLast = Long.compareUnsigned(areas.last(i), last) < 0 ? areas.last(i) : last;
                domain.readAndClearDirty(cur, sliceLast - cur + 1, flags, bitmap);
                if (sliceLast == last) {
                    break;
                }
                cur = sliceLast + 1;
                i++;
                if (i >= areas.size() || areas.start(i) != cur) {
                    break; // a hole: reporting stops, the call still succeeds
                }
            }
            if ((flags & IommuDomain.DIRTY_NO_CLEAR) == 0) {
                domain.iotlbSync(bitmap.gather());
                bitmap.gather().reset();
            }
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- alignment and large pages

    /** {@code iopt_check_iova_alignment}: every area's IOVA, length and page offset are multiples of align. */
    private void checkAreasAligned(long align) {
        for (int i = 0; i < areas.size(); i++) {
            if (((areas.start(i) | areas.length(i) | areas.pageOffset(i)) & (align - 1)) != 0) {
                throw ErrnoException.of(Errno.EADDRINUSE, "area [%#x, %#x] is not aligned to %#x", areas.start(i), areas.last(i), align);
            }
        }
    }

    /** {@code iopt_calculate_iova_alignment}: may shrink; EADDRINUSE (unchanged) if it grows past an area. */
    private void recalculateAlignment() {
        long align = disableLargePages ? PAGE_SIZE : 1;
        for (int i = 0; i < ndomains; i++) {
            align = Math.max(align, Long.lowestOneBit(domainPgsizes[i]));
        }
        for (Access a : accesses) {
            align = Math.max(align, a.iovaAlignment());
        }
        if (align > iovaAlignment) {
            checkAreasAligned(align);
        }
        iovaAlignment = align;
    }

    /** {@code iopt_enable_large_pages}. */
    void enableLargePages() {
        lock.lock();
        try {
            disableLargePages = false;
            recalculateAlignment();
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iopt_disable_large_pages}.
     *
     * @throws ErrnoException EINVAL when the table has both a domain and an area; EADDRINUSE when an area is not
     *         page aligned (unchanged)
     */
    void disableLargePages() {
        lock.lock();
        try {
            if (disableLargePages) {
                return;
            }
            if (ndomains != 0 && !areas.isEmpty()) {
                throw ErrnoException.of(Errno.EINVAL, "cannot disable huge pages with a domain attached and areas mapped");
            }
            disableLargePages = true;
            try {
                recalculateAlignment();
            } catch (RuntimeException e) {
                disableLargePages = false;
                throw e;
            }
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- accesses

    /**
     * {@code iopt_add_access}.
     *
     * @throws ErrnoException EBUSY at 65536 accesses; EADDRINUSE when areas violate the access's alignment
     */
    void addAccess(Access access) {
        lock.lock();
        try {
            if (accesses.size() >= 1 << 16) {
                throw ErrnoException.of(Errno.EBUSY, "IOAS already has 65536 accesses");
            }
            accesses.add(access);
            try {
                recalculateAlignment();
            } catch (RuntimeException e) {
                accesses.remove(access);
                throw e;
            }
        } finally {
            lock.unlock();
        }
    }

    void removeAccess(Access access) {
        lock.lock();
        try {
            accesses.remove(access);
            recalculateAlignment();
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iommufd_access_pin_pages} over this table (the caller checked length and attachment).
     *
     * @return physical address of each page
     */
    long[] accessPin(long iova, long length, boolean write) {
        long last = iova + length - 1;
        lock.lock();
        try {
            FaultInjection.check("iopt_area_add_access");
            long npages = ((last >>> IoPages.PAGE_SHIFT) - (iova >>> IoPages.PAGE_SHIFT)) + 1;
            long[] out = new long[(int) npages];
            int first = areas.indexOf(iova);
            int pinned = 0; // areas first .. first + pinned - 1 hold an access span of this call
            int outPos = 0;
            try {
                long cur = iova;
                int i = first;
                while (i >= 0) {
                    long aLast = areas.last(i);
                    long sliceLast = Long.compareUnsigned(aLast, last) < 0 ? aLast : last;
                    boolean done = sliceLast == last;
                    if (areas.preventAccess(i)) {
                        throw ErrnoException.of(Errno.EINVAL, "area [%#x, %#x] is being unmapped", areas.start(i), aLast);
                    }
                    if ((areas.startByte(i, cur) & (PAGE_SIZE - 1)) != 0
                            || (!done && (areas.startByte(i, aLast) & (PAGE_SIZE - 1)) != PAGE_SIZE - 1)) {
                        throw ErrnoException.of(Errno.EINVAL, "iova %#x is not page aligned in its area", cur);
                    }
                    int prot = areas.prot(i);
                    if (write ? (prot & IoProt.WRITE) == 0 : (prot & IoProt.READ) == 0) {
                        throw ErrnoException.of(Errno.EPERM, "area [%#x, %#x] is not %s", areas.start(i), aLast,
                                write ? "writeable" : "readable");
                    }
                    long firstIdx = areas.startByte(i, cur) >>> IoPages.PAGE_SHIFT;
                    long lastIdx = areas.startByte(i, sliceLast) >>> IoPages.PAGE_SHIFT;
                    areas.addAccess(i, firstIdx, lastIdx, write);
                    pinned++;
                    for (long k = firstIdx; k <= lastIdx; k++) {
                        out[outPos++] = areas.physicalAddress(i, k);
                    }
                    if (done) {
                        return out;
                    }
                    cur = sliceLast + 1;
                    i++;
                    if (i >= areas.size() || areas.start(i) != cur) {
                        break;
                    }
                }
                throw ErrnoException.of(Errno.ENOENT, "iova range [%#x, %#x] is not fully mapped", iova, last);
            } catch (RuntimeException e) {
                long cur = iova;
                for (int i = first; i < first + pinned; i++) {
                    long sliceLast = Long.compareUnsigned(areas.last(i), last) < 0 ? areas.last(i) : last;
                    areas.removeAccess(i, areas.startByte(i, cur) >>> IoPages.PAGE_SHIFT,
                            areas.startByte(i, sliceLast) >>> IoPages.PAGE_SHIFT);
                    cur = sliceLast + 1;
                }
                throw e;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Pins for an internal access ({@code iommufd_access_create_internal}, used by HW queues): {@link #accessPin}
     * for reading, and every area of the range counts a lock so that IOAS_UNMAP fails with EBUSY instead of
     * notifying (core3). Undo with {@link #internalUnpin}.
     */
    long[] internalPin(long iova, long length) {
        lock.lock();
        try {
            long[] pa = accessPin(iova, length, false);
            for (int i = areas.firstIntersecting(iova, iova + length - 1); i >= 0 && i < areas.size()
                    && Long.compareUnsigned(areas.start(i), iova + length - 1) <= 0; i++) {
                areas.addLocks(i, 1);
            }
            return pa;
        } finally {
            lock.unlock();
        }
    }

    /** Releases {@link #internalPin}. */
    void internalUnpin(long iova, long length) {
        lock.lock();
        try {
            for (int i = areas.firstIntersecting(iova, iova + length - 1); i >= 0 && i < areas.size()
                    && Long.compareUnsigned(areas.start(i), iova + length - 1) <= 0; i++) {
                areas.addLocks(i, -1);
            }
            accessUnpin(iova, length);
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iommufd_access_unpin_pages}: releases a range pinned by {@link #accessPin} with the same iova/length.
     *
     * @throws ErrnoException EINVAL (nothing changed) when the range does not match pins exactly
     */
    void accessUnpin(long iova, long length) {
        long last = iova + length - 1;
        lock.lock();
        try {
            long cur = iova;
            int first = areas.indexOf(cur);
            int i = first;
            int n = 0;
            boolean done = false;
            while (i >= 0) {
                long sliceLast = Long.compareUnsigned(areas.last(i), last) < 0 ? areas.last(i) : last;
                n++;
                if (sliceLast == last) {
                    done = true;
                    break;
                }
                cur = sliceLast + 1;
                i++;
                if (i >= areas.size() || areas.start(i) != cur) {
                    break;
                }
            }
            if (!done) {
                throw ErrnoException.of(Errno.EINVAL, "unpin range [%#x, %#x] is not fully mapped", iova, last);
            }
            // Areas first .. first + n - 1, slice k from cur: check all, then release all.
            for (int pass = 0; pass < 2; pass++) {
                cur = iova;
                for (i = first; i < first + n; i++) {
                    long sliceLast = Long.compareUnsigned(areas.last(i), last) < 0 ? areas.last(i) : last;
                    long firstIdx = areas.startByte(i, cur) >>> IoPages.PAGE_SHIFT;
                    long lastIdx = areas.startByte(i, sliceLast) >>> IoPages.PAGE_SHIFT;
                    if (pass == 0) {
                        if (areas.numAccesses(i) <= 0 || !areas.hasAccessSpan(i, firstIdx, lastIdx)) {
                            throw ErrnoException.of(Errno.EINVAL, "unpin range [%#x, %#x] does not match a pinned range", iova, last);
                        }
                    } else {
                        areas.removeAccess(i, firstIdx, lastIdx);
                    }
                    cur = sliceLast + 1;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iommufd_access_rw} over this table (the caller checked length and attachment). Copies area by area;
     * on a failure the covered prefix has been copied.
     *
     * @param current the calling process: user pages of current (or any user pages, for a kthread) are copied
     *        through the mapping's address space (copy_to/from_user); others through temporarily pinned pages
     */
    void accessRw(long iova, byte[] data, int offset, int length, boolean write, UserProcess current, boolean kthread) {
        long last = iova + length - 1;
        lock.lock();
        try {
            long cur = iova;
            int i = areas.indexOf(cur);
            while (i >= 0) {
                long aIova = areas.start(i);
                long aLast = areas.last(i);
                long sliceLast = Long.compareUnsigned(aLast, last) < 0 ? aLast : last;
                if (areas.preventAccess(i)) {
                    throw ErrnoException.of(Errno.EINVAL, "area [%#x, %#x] is being unmapped", aIova, aLast);
                }
                int prot = areas.prot(i);
                if (write ? (prot & IoProt.WRITE) == 0 : (prot & IoProt.READ) == 0) {
                    throw ErrnoException.of(Errno.EPERM, "area [%#x, %#x] is not %s", aIova, aLast, write ? "writeable" : "readable");
                }
                if (write && !areas.pagesWritable(i)) {
                    throw ErrnoException.of(Errno.EPERM, "pages of area [%#x, %#x] were mapped read-only", aIova, aLast);
                }
                int n = (int) (sliceLast - cur + 1);
                int dataOff = offset + (int) (cur - iova);
                long startByte = areas.startByte(i, cur);
                UserProcess source = areas.sourceProcess(i);
                boolean fast = areas.origin(i) == IoPages.Origin.USER && (kthread || source == current);
                if (fast) {
                    long va = areas.pagesBase(i) + startByte;
                    if (write) {
                        source.write(va, data, dataOff, n);
                    } else {
                        source.read(va, data, dataOff, n);
                    }
                } else {
                    rwSlow(i, startByte, data, dataOff, n, write);
                }
                if (sliceLast == last) {
                    return;
                }
                cur = sliceLast + 1;
                i++;
                if (i >= areas.size() || areas.start(i) != cur) {
                    break;
                }
            }
            throw ErrnoException.of(Errno.ENOENT, "iova range [%#x, %#x] is not fully mapped", iova, last);
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code iopt_pages_rw_slow}: pins the pages of area {@code i} temporarily (an access span for the duration of
     * the copy, under the table lock) and copies through physical memory.
     */
    private void rwSlow(int i, long startByte, byte[] data, int off, int n, boolean write) {
        long first = startByte >>> IoPages.PAGE_SHIFT;
        long lastIdx = (startByte + n - 1) >>> IoPages.PAGE_SHIFT;
        areas.addAccess(i, first, lastIdx, false);
        try {
            long b = startByte;
            int done = 0;
            while (done < n) {
                long idx = b >>> IoPages.PAGE_SHIFT;
                int inPage = (int) Math.min(n - done, PAGE_SIZE - (b & (PAGE_SIZE - 1)));
                long pa = areas.physicalAddress(i, idx) + (b & (PAGE_SIZE - 1));
                if (write) {
                    memory.writeBytes(pa, data, off + done, inPage);
                } else {
                    memory.readBytes(pa, data, off + done, inPage);
                }
                done += inPage;
                b += inPage;
            }
        } finally {
            areas.removeAccess(i, first, lastIdx);
        }
    }

    // ---------------------------------------------------------------- teardown

    /** Whether any area still has access pins (for invariants). */
    boolean hasAccessPins() {
        lock.lock();
        try {
            for (int i = 0; i < areas.size(); i++) {
                if (areas.numAccesses(i) != 0) {
                    return true;
                }
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Why the final unmap of {@link #destroy} failed (a misbehaving access), or null. */
    volatile ErrnoException destroyFailure;

    /** {@code iopt_destroy_table} after an unmap of everything: the table must hold no domain and no access. */
    void destroy() {
        lock.lock();
        try {
            if (ndomains != 0 || !accesses.isEmpty()) {
                throw new IllegalStateException("IOAS destroyed with " + ndomains + " domains and " + accesses.size() + " accesses");
            }
        } finally {
            lock.unlock();
        }
        try {
            unmapAll();
        } catch (ErrnoException e) {
            // The kernel WARNs (an access did not release its pins) and goes on; the pins stay leaked.
            destroyFailure = e;
        }
        lock.lock();
        try {
            allowed.clear();
            reserved.clear();
            reservedUnion.clear();
        } finally {
            lock.unlock();
        }
    }
}
