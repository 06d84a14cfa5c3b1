package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.UserAccount;
import dev.iommufd.platform.UserProcess;
import java.util.ArrayList;
import java.util.List;

/**
 * The pages behind one IOAS_MAP / IOAS_MAP_FILE ({@code struct iopt_pages}): a logical array of {@link #npages()}
 * PAGE_SIZE pages of a user address range or a memfd range, the physical address of each page while it is
 * pinned, and the accounting of those pins. Shared by every area made from it (IOAS_COPY shares, never re-pins).
 *
 * <h2>Pinning invariant (the kernel's tiered storage, by coverage)</h2>
 * A page is pinned exactly once, and only while it is covered by a domain span (an area of these pages is
 * mapped into the domains of its IOAS) or an access span (an in-kernel access pinned it). Each page has two
 * coverage counters; a page whose counters are both 0 is unpinned, a page with either counter non-zero holds
 * exactly one long-term pin on its frame and its physical address is stored here. The kernel keeps
 * domain-only PFNs inside the domain and reads them back; this model keeps them in {@code pfns} so that unmaps
 * can be paired exactly with maps — the observable pin and accounting behaviour is the same.
 *
 * <h2>Accounting</h2>
 * Newly pinned pages are charged after they are pinned; if the charge fails (RLIMIT_MEMLOCK) they are unpinned
 * and the call fails with ENOMEM, leaving everything as it was. Unpinned pages are uncharged. USER mode charges
 * {@code user->locked_vm}, MM mode {@code mm->locked_vm}, NONE nothing; every mode adds to {@code mm->pinned_vm}.
 *
 * <h2>Storage</h2>
 * Per-page data lives in chunks of {@value #CHUNK_PAGES} pages ({@code long[]} physical addresses, {@code int[]}
 * coverage), allocated when a page of the chunk is first pinned: a large map that is never pinned costs only
 * the chunk directory. The last chunk is sized exactly to the pages it holds ({@link #chunkLength}), so an
 * object of fewer than {@value #CHUNK_PAGES} pages costs {@code 12 * npages} bytes of per-page storage, not a
 * full chunk (a one-page area costs two one-element arrays, B11). A page's slot is still
 * {@code index & (CHUNK_PAGES - 1)} in chunk {@code index >>> CHUNK_SHIFT}, so the hot path is unchanged and a
 * large map allocates only when a chunk is first pinned.
 *
 * <p>A chunk is {@value #CHUNK_PAGES} pages (512 MiB of user memory: a 1 MiB {@code long[]} and a 512 KiB
 * {@code int[]}) so that the chunks of a large map are humongous objects for G1 (at least half a heap region:
 * both arrays with the 1 MiB regions of heaps below 4 GiB, the {@code long[]} also with the 2 MiB regions of heaps
 * below 8 GiB): they are allocated outside the young generation and never copied. With 4 KiB chunks, a 64 GiB IOAS_MAP allocated 192 MiB of small arrays
 * that were live during the map, and G1's young collections that evacuated them paused the mapping thread for
 * 250-340 ms at a time (B5: -Xlog:gc, 2026-11-22). A chunk costs memory only when one of its pages is pinned,
 * so an access that pins a few pages of a huge area pays up to 1.5 MiB per chunk it touches.
 *
 * <h2>Small pages without an object</h2>
 * IOAS_MAP of user memory within {@value IoAreaTable#SMALL_PAGES} pages keeps this state in the area's slot of {@link IoAreaTable} instead (the
 * same pin, charge and unwind through {@link #pinInlinePages} / {@link #unpinInlinePages}); {@link #ofSinglePage}
 * and {@link #ofInlinePages} turn such a slot into an object when the pages become shared.
 *
 * <p>Lock: {@link #lock} ({@code pages->mutex}); taken after the io_pagetable lock.
 */
public final class IoPages {
    public static final long PAGE_SIZE = 4096;
    public static final int PAGE_SHIFT = 12;
    static final int CHUNK_SHIFT = 17;
    static final int CHUNK_PAGES = 1 << CHUNK_SHIFT;
    private static final int DOMAIN_ONE = 1;
    private static final int ACCESS_ONE = 1 << 16;

    /** Where the pages come from ({@code IOPT_ADDRESS_USER / IOPT_ADDRESS_FILE}). */
    public enum Origin { USER, FILE }

    private final Origin origin;
    /** Page-aligned user VA of page 0 (USER) or page-aligned file offset of page 0 (FILE). */
    private final long base;
    private final MemFd file;
    private final long npages;
    private final boolean writable;
    /** {@code pages->mutex}: the object's own monitor (no separate lock object per pages). */
    final Object lock = this;

    // Guarded by lock.
    private AccountMode accountMode;
    private UserProcess sourceProcess;
    private UserAccount sourceUser;
    private long[][] pfns;
    /** Per page: low 16 bits domain coverage, high 16 bits access coverage. */
    private int[][] cover;
    private long npinned;
    /** Access spans alive; null while there are none (most pages never have one). */
    private List<AccessSpan> accessSpans;

    /** An access interval ({@code struct iopt_pages_access}): identical [first, last] requests share one. */
    static final class AccessSpan {
        final long first;
        final long last;
        int users;

        AccessSpan(long first, long last) {
            this.first = first;
            this.last = last;
        }
    }

    private IoPages(Origin origin, long base, MemFd file, long npages, boolean writable, UserProcess source, AccountMode mode) {
        this.origin = origin;
        this.base = base;
        this.file = file;
        this.npages = npages;
        this.writable = writable;
        this.sourceProcess = source;
        this.sourceUser = source.user();
        this.accountMode = mode;
        long chunks = (npages + CHUNK_PAGES - 1) >>> CHUNK_SHIFT;
        if (chunks > Integer.MAX_VALUE - 8) {
            throw ErrnoException.of(Errno.ENOMEM, "length of %d pages is too large", npages);
        }
        this.pfns = new long[(int) chunks][];
        this.cover = new int[(int) chunks][];
    }

    /**
     * {@code iopt_alloc_user_pages}: pages for {@code [uptr, uptr + length)} of {@code current}; pins nothing.
     *
     * @throws ErrnoException EOVERFLOW when the range wraps; EINVAL for length 0 or too large
     */
    static IoPages ofUser(UserProcess current, long uptr, long length, boolean writable) {
        checkUserRange(uptr, length);
        return create(Origin.USER, current, null, uptr, length, writable);
    }

    /** {@link #ofUser}'s range checks: EOVERFLOW when {@code [uptr, uptr + length)} wraps (first). */
    static void checkUserRange(long uptr, long length) {
        if (Long.compareUnsigned(uptr + length, uptr) < 0) {
            throw ErrnoException.of(Errno.EOVERFLOW, "user_va %#x + length %#x overflows", uptr, length);
        }
    }

    /** {@code iopt_alloc_file_pages}: pages for {@code [start, start + length)} of {@code file}; pins nothing. */
    static IoPages ofFile(UserProcess current, MemFd file, long start, long length, boolean writable) {
        if (Long.compareUnsigned(start + length, start) < 0) {
            throw ErrnoException.of(Errno.EOVERFLOW, "start %#x + length %#x overflows", start, length);
        }
        return create(Origin.FILE, current, file, start, length, writable);
    }

    /**
     * The number of pages {@code [addr, addr + length)} touches.
     *
     * @throws ErrnoException EINVAL for length 0 or too large
     */
    static long pageCount(long addr, long length) {
        if (length == 0 || Long.compareUnsigned(length, -1L - PAGE_SIZE) > 0) {
            throw ErrnoException.of(Errno.EINVAL, "length %#x is 0 or too large", length);
        }
        long offset = addr & (PAGE_SIZE - 1);
        return Long.divideUnsigned(length + offset + PAGE_SIZE - 1, PAGE_SIZE);
    }

    private static IoPages create(Origin origin, UserProcess current, MemFd file, long addr, long length, boolean writable) {
        long npages = pageCount(addr, length);
        long offset = addr & (PAGE_SIZE - 1);
        return new IoPages(origin, addr - offset, file, npages, writable, current, initialAccountMode(current));
    }

    public Origin origin() {
        return origin;
    }

    /** Page-aligned start of page 0 in the origin (user VA or file offset). */
    public long base() {
        return base;
    }

    public long npages() {
        return npages;
    }

    /** Whether the pages are pinned for writing (the first map asked WRITEABLE); fixed at creation. */
    public boolean writable() {
        return writable;
    }

    public AccountMode accountMode() {
        synchronized (lock) {
            return accountMode;
        }
    }

    /** {@code iopt_map_common}: a context in MM mode moves USER pages to MM (before anything is pinned). */
    void upgradeToMm() {
        synchronized (lock) {
            if (accountMode == AccountMode.USER) {
                if (npinned != 0) {
                    throw new IllegalStateException("account mode changed with pages pinned");
                }
                accountMode = AccountMode.MM;
            }
        }
    }

    public UserProcess sourceProcess() {
        synchronized (lock) {
            return sourceProcess;
        }
    }

    /** Pages currently pinned (and charged). */
    public long npinned() {
        synchronized (lock) {
            return npinned;
        }
    }

    /** The physical address of pinned page {@code index}; the caller holds a span covering it. */
    long pa(long index) {
        long[] chunk = pfns[(int) (index >>> CHUNK_SHIFT)];
        return chunk[(int) (index & (CHUNK_PAGES - 1))];
    }

    /**
     * The last index of the physically contiguous run of pinned pages that starts at {@code index} (page
     * {@code index + k} at {@code pa(index) + k * PAGE_SIZE}), at most {@code lastIndex}: one loop over each chunk's
     * array rather than a chunk lookup per page (the domain fill's run scan, {@code batch_to_domain}). The caller
     * holds a span covering {@code [index, lastIndex]}.
     */
    long contiguousRunEnd(long index, long lastIndex) {
        long expect = pa(index) + PAGE_SIZE;
        long next = index + 1;
        while (next <= lastIndex) {
            long[] chunk = pfns[(int) (next >>> CHUNK_SHIFT)];
            long chunkBase = next & ~(long) (CHUNK_PAGES - 1);
            int k = (int) (next - chunkBase);
            int to = (int) (Math.min(lastIndex, chunkBase + CHUNK_PAGES - 1) - chunkBase);
            while (k <= to && chunk[k] == expect) {
                k++;
                expect += PAGE_SIZE;
            }
            next = chunkBase + k;
            if (k <= to) {
                break;
            }
        }
        return next - 1;
    }

    /** Whether page {@code index} is pinned. */
    public boolean isPinned(long index) {
        synchronized (lock) {
            return coverOf(index) != 0;
        }
    }

    /** The physical address of a pinned page (for tests and invariants), or -1. */
    public long physicalAddress(long index) {
        synchronized (lock) {
            return coverOf(index) != 0 ? pa(index) : -1L;
        }
    }

    private int coverOf(long index) {
        int[] c = cover[(int) (index >>> CHUNK_SHIFT)];
        return c == null ? 0 : c[(int) (index & (CHUNK_PAGES - 1))];
    }

    /** Adds a domain span over {@code [first, last]} (page indexes), pinning what is not yet pinned. */
    void addDomainSpan(long first, long last) {
        synchronized (lock) {
            acquire(first, last, DOMAIN_ONE);
        }
    }

    /** Removes a domain span; pages no longer covered are unpinned. The domains must already be unmapped. */
    void removeDomainSpan(long first, long last) {
        synchronized (lock) {
            release(first, last, DOMAIN_ONE);
        }
    }

    /**
     * {@code iopt_area_add_access}'s pages half: an access span over {@code [first, last]}; an identical span
     * gains a user, otherwise a new span pins what is not yet pinned.
     *
     * @throws ErrnoException EPERM for a write pin of read-only pages; pin errors; ENOMEM over RLIMIT
     */
    void addAccessSpan(long first, long last, boolean write) {
        synchronized (lock) {
            if (write && !writable) {
                throw ErrnoException.of(Errno.EPERM, "pages were mapped read-only; cannot pin for write");
            }
            int k = indexOfSpan(first, last);
            if (k >= 0) {
                accessSpans.get(k).users++;
                return;
            }
            acquire(first, last, ACCESS_ONE);
            AccessSpan s = new AccessSpan(first, last);
            s.users = 1;
            if (accessSpans == null) {
                accessSpans = new ArrayList<>(1);
            }
            accessSpans.add(s);
        }
    }

    /** The index of the access span over exactly {@code [first, last]}, or -1. */
    private int indexOfSpan(long first, long last) {
        if (accessSpans == null) {
            return -1;
        }
        for (int i = 0; i < accessSpans.size(); i++) {
            AccessSpan s = accessSpans.get(i);
            if (s.first == first && s.last == last) {
                return i;
            }
        }
        return -1;
    }

    /** {@code iopt_area_remove_access}'s pages half: drops one user of the exact span {@code [first, last]}. */
    void removeAccessSpan(long first, long last) {
        synchronized (lock) {
            int i = indexOfSpan(first, last);
            if (i >= 0) {
                AccessSpan s = accessSpans.get(i);
                if (--s.users == 0) {
                    accessSpans.remove(i);
                    release(first, last, ACCESS_ONE);
                }
                return;
            }
            throw new IllegalStateException(String.format("no access span [%d, %d] to remove", first, last));
        }
    }

    /** Whether an access span over exactly {@code [first, last]} exists. */
    boolean hasAccessSpan(long first, long last) {
        synchronized (lock) {
            return indexOfSpan(first, last) >= 0;
        }
    }

    /** Access spans alive (for invariants). */
    int accessSpanCount() {
        synchronized (lock) {
            return accessSpans == null ? 0 : accessSpans.size();
        }
    }

    /**
     * Pins every page of {@code [first, last]} that is not pinned yet, charges them, then adds one unit of
     * coverage ({@code one}) to every page of the range. All or nothing.
     *
     * <p>Bulk, in one pass per chunk: the uncovered pages of the chunk are found by a scan of its coverage array
     * and pinned as whole runs (one {@link #pinRun} per run of at most {@value #CHUNK_PAGES} pages, which the
     * process pins VMA by VMA), then the chunk's coverage is added while it is still in cache; the charge is one
     * call for the whole range. Unwind: the pages this call pinned are exactly those whose coverage drops back
     * to 0 when {@code one} is taken off again (and, in the chunk being pinned, the uncovered ones before the failed
     * run).
     */
    private void acquire(long first, long last, int one) {
        checkRange(first, last);
        long newly = 0;
        long i = first; // chunks below i are pinned and covered
        long failedRun = -1;
        try {
            while (i <= last) {
                long chunkBase = i & ~(long) (CHUNK_PAGES - 1);
                int[] c = cover[(int) (i >>> CHUNK_SHIFT)];
                int k0 = (int) (i - chunkBase);
                int end = (int) (Math.min(last, chunkBase + CHUNK_PAGES - 1) - chunkBase); // inclusive
                int k = k0;
                while (k <= end) {
                    if (c != null && c[k] != 0) {
                        k++;
                        continue;
                    }
                    int runStart = k;
                    k = uncoveredRunEnd(c, k, end);
                    failedRun = chunkBase + runStart;
                    pinRun(failedRun, k - runStart);
                    failedRun = -1;
                    newly += k - runStart;
                }
                if (c == null) {
                    c = coverChunk(i);
                }
                for (int j = k0; j <= end; j++) {
                    c[j] += one;
                }
                i = chunkBase + end + 1;
            }
            // Account (pins first, accounting after, as pfn_reader_user_update_pinned).
            charge(newly);
        } catch (RuntimeException e) {
            if (failedRun >= 0) {
                // The chunk being pinned has no coverage added yet: its pages pinned by this call are uncovered.
                unpinUncovered(i, failedRun - 1);
            }
            dropCoverage(first, i - 1, one, false);
            throw e;
        }
        npinned += newly;
    }

    /**
     * The end (exclusive, at most {@code end + 1}) of the run of uncovered pages that starts at slot {@code k} of a
     * chunk whose coverage is {@code c} (null: a chunk no page of which is covered).
     */
    private static int uncoveredRunEnd(int[] c, int k, int end) {
        if (c == null) {
            return end + 1;
        }
        while (k <= end && c[k] == 0) {
            k++;
        }
        return k;
    }

    /** Pins {@code n} pages from {@code index} (within one chunk) into the PFN storage; all or nothing. */
    private void pinRun(long index, int n) {
        long[] chunk = pfnChunk(index);
        int off = (int) (index & (CHUNK_PAGES - 1));
        int done = 0;
        try {
            while (done < n) {
                long addr = base + ((index + done) << PAGE_SHIFT);
                FaultInjection.check("pin_user_pages");
                int got;
                if (origin == Origin.USER) {
                    if (!sourceProcess.alive()) {
                        throw ErrnoException.of(Errno.EFAULT, "the process that mapped user VA %#x has exited", addr);
                    }
                    got = sourceProcess.pinPages(addr, n - done, writable, chunk, off + done);
                } else {
                    got = file.pinPages(addr, n - done, chunk, off + done);
                    if (got <= 0) {
                        throw ErrnoException.of(Errno.EINVAL, "file offset %#x is beyond the end of memfd %s", addr, file.name());
                    }
                }
                if (got <= 0) {
                    throw ErrnoException.of(Errno.EFAULT, "could not pin user page at %#x", addr);
                }
                done += got;
            }
        } catch (RuntimeException e) {
            if (done > 0) {
                sourceProcess.unpinPages(chunk, off, done, false);
            }
            throw e;
        }
    }

    /** Unwind of {@link #acquire}: unpins the pages of {@code [first, last]} that have no coverage, run by run. */
    private void unpinUncovered(long first, long last) {
        for (long i = first; i <= last; ) {
            long chunkBase = i & ~(long) (CHUNK_PAGES - 1);
            int ci = (int) (i >>> CHUNK_SHIFT);
            int[] c = cover[ci];
            long[] p = pfns[ci];
            int k = (int) (i - chunkBase);
            int end = (int) (Math.min(last, chunkBase + CHUNK_PAGES - 1) - chunkBase);
            while (k <= end) {
                if (c != null && c[k] != 0) {
                    k++;
                    continue;
                }
                int runStart = k;
                k = uncoveredRunEnd(c, k, end);
                sourceProcess.unpinPages(p, runStart, k - runStart, false);
            }
            i = chunkBase + end + 1;
        }
    }

    /**
     * Removes one unit of coverage ({@code one}) from every page of {@code [first, last]}; the pages left with none
     * are unpinned, run by run (one unpin per run of at most {@value #CHUNK_PAGES} pages), and uncharged in one call.
     */
    private void release(long first, long last, int one) {
        checkRange(first, last);
        long freed = dropCoverage(first, last, one, writable);
        npinned -= freed;
        uncharge(freed);
    }

    /**
     * Takes {@code one} off the coverage of every page of {@code [first, last]} (empty when {@code last < first})
     * and unpins the pages left uncovered, run by run. Accounting is the caller's.
     *
     * @return the pages unpinned
     */
    private long dropCoverage(long first, long last, int one, boolean dirty) {
        int mask = one == DOMAIN_ONE ? 0xffff : 0xffff0000;
        long freed = 0;
        for (long i = first; i <= last; ) {
            int[] c = cover[(int) (i >>> CHUNK_SHIFT)];
            long[] p = pfns[(int) (i >>> CHUNK_SHIFT)];
            int off = (int) (i & (CHUNK_PAGES - 1));
            long end = Math.min(last, i | (CHUNK_PAGES - 1));
            int to = off + (int) (end - i);
            if (c == null) {
                throw new IllegalStateException("release of an uncovered page " + i);
            }
            int runStart = -1;
            for (int k = off; k <= to; k++) {
                int v = c[k];
                if ((v & mask) == 0) {
                    throw new IllegalStateException("release of an uncovered page " + ((i - off) + k));
                }
                v -= one;
                c[k] = v;
                if (v == 0) {
                    if (runStart < 0) {
                        runStart = k;
                    }
                } else if (runStart >= 0) {
                    sourceProcess.unpinPages(p, runStart, k - runStart, dirty);
                    freed += k - runStart;
                    runStart = -1;
                }
            }
            if (runStart >= 0) {
                sourceProcess.unpinPages(p, runStart, to + 1 - runStart, dirty);
                freed += to + 1 - runStart;
            }
            i = end + 1;
        }
        return freed;
    }

    private void charge(long n) {
        charge(sourceProcess, sourceUser, accountMode, n);
    }

    private void uncharge(long n) {
        uncharge(sourceProcess, sourceUser, accountMode, n);
    }

    /** {@code iopt_pages_update_pinned} for {@code n} newly pinned pages of {@code process}, charged per {@code mode}. */
    private static void charge(UserProcess process, UserAccount user, AccountMode mode, long n) {
        if (n == 0) {
            return;
        }
        FaultInjection.check("iopt_pages_update_pinned");
        long limitPages = process.rlimitMemlock() >>> PAGE_SHIFT;
        switch (mode) {
            case USER -> user.chargeLockedVm(n, limitPages);
            case MM -> process.mm().chargeLockedVm(n, limitPages);
            case NONE -> { }
        }
        process.mm().addPinnedVm(n);
    }

    private static void uncharge(UserProcess process, UserAccount user, AccountMode mode, long n) {
        if (n == 0) {
            return;
        }
        switch (mode) {
            case USER -> user.unchargeLockedVm(n);
            case MM -> process.mm().unchargeLockedVm(n);
            case NONE -> { }
        }
        process.mm().addPinnedVm(-n);
    }

    // ---------------------------------------------------------------- small pages held by an area slot

    /**
     * The account mode of new pages mapped by {@code current} ({@code iopt_alloc_pages}: NONE with CAP_IPC_LOCK,
     * else USER; {@link #upgradeToMm} later for an MM-mode context).
     */
    static AccountMode initialAccountMode(UserProcess current) {
        return current.capable(dev.iommufd.platform.ProcessCapability.CAP_IPC_LOCK) ? AccountMode.NONE : AccountMode.USER;
    }

    /**
     * Pins and charges the {@code n} pages (at most one chunk) of a small USER pages object whose state an
     * {@link IoAreaTable} slot holds, all uncovered and gaining their first span: the same steps, fault points and
     * unwind as {@link #acquire} over one uncovered run ({@link #pinRun}: one {@code pin_user_pages} fault point per
     * GUP call, the process pinning VMA by VMA; then the charge, an uncharged pin being released). All or nothing.
     *
     * @param out where the physical addresses go, {@code out[off .. off + n)} (the caller's storage: no allocation)
     * @return whether the {@code n} pages are physically contiguous, in order ({@link UserProcess#pinPagesRun}
     *         reports the run as it pins, so the addresses are not compared again here)
     */
    static boolean pinInlinePages(UserProcess source, long pageVa, int n, boolean writable, AccountMode mode, long[] out, int off) {
        int done = 0;
        boolean contiguous = true;
        try {
            while (done < n) {
                long addr = pageVa + ((long) done << PAGE_SHIFT);
                FaultInjection.check("pin_user_pages");
                if (!source.alive()) {
                    throw ErrnoException.of(Errno.EFAULT, "the process that mapped user VA %#x has exited", addr);
                }
                long r = source.pinPagesRun(addr, n - done, writable, out, off + done);
                int got = UserProcess.pinnedOf(r);
                if (got <= 0) {
                    throw ErrnoException.of(Errno.EFAULT, "could not pin user page at %#x", addr);
                }
                // contiguous so far: this call's pages continue the run and form one run themselves
                contiguous &= UserProcess.runOf(r) == got
                        && (done == 0 || out[off + done] == out[off] + ((long) done << PAGE_SHIFT));
                done += got;
            }
            charge(source, source.user(), mode, n);
        } catch (RuntimeException e) {
            if (done > 0) {
                source.unpinPages(out, off, done, false);
            }
            throw e;
        }
        return contiguous;
    }

    /**
     * Unpins (dirtying when {@code writable}, as {@link #release}) and uncharges the {@code n} pages pinned by
     * {@link #pinInlinePages} at {@code pas[off .. off + n)} (their last span went away).
     */
    static void unpinInlinePages(UserProcess source, int n, boolean writable, AccountMode mode, long[] pas, int off) {
        source.unpinPages(pas, off, n, writable);
        uncharge(source, source.user(), mode, n);
    }

    /**
     * {@link #unpinInlinePages} of {@code n} pages that {@link #pinInlinePages} found physically contiguous from
     * {@code pa} ({@link UserProcess#unpinRun}: no per-page addresses to read).
     */
    static void unpinInlineRun(UserProcess source, int n, boolean writable, AccountMode mode, long pa) {
        source.unpinRun(pa, n, writable);
        uncharge(source, source.user(), mode, n);
    }

    /**
     * A USER pages object of {@code n} (2..{@value #CHUNK_PAGES}) pages with the state an {@link IoAreaTable} slot
     * held (the slot's pages become shared or gain a partial span): when {@code domainSpan}, every page pinned, at
     * {@code pas[off + k]}, and covered by one domain span; otherwise nothing pinned. Pins and charges nothing.
     */
    static IoPages ofInlinePages(UserProcess source, long pageVa, int n, boolean writable, AccountMode mode, long[] pas, int off,
            boolean domainSpan) {
        IoPages p = new IoPages(Origin.USER, pageVa, null, n, writable, source, mode);
        if (domainSpan) {
            System.arraycopy(pas, off, p.pfnChunk(0), 0, n);
            java.util.Arrays.fill(p.coverChunk(0), DOMAIN_ONE);
            p.npinned = n;
        }
        return p;
    }

    /**
     * A one-page USER pages object with the state an {@link IoAreaTable} slot held (the slot's pages become
     * shared: IOAS_COPY, a cut, a change of process): the page pinned at {@code pa} when covered by a domain span
     * and/or an access span {@code [0, 0]} of {@code accessUsers} users. Pins and charges nothing (the slot did).
     */
    static IoPages ofSinglePage(UserProcess source, long pageVa, boolean writable, AccountMode mode, long pa,
            boolean domainSpan, int accessUsers) {
        IoPages p = new IoPages(Origin.USER, pageVa, null, 1, writable, source, mode);
        if (domainSpan || accessUsers > 0) {
            p.pfnChunk(0)[0] = pa;
            p.coverChunk(0)[0] = (domainSpan ? DOMAIN_ONE : 0) + (accessUsers > 0 ? ACCESS_ONE : 0);
            p.npinned = 1;
            if (accessUsers > 0) {
                AccessSpan s = new AccessSpan(0, 0);
                s.users = accessUsers;
                p.accessSpans = new ArrayList<>(1);
                p.accessSpans.add(s);
            }
        }
        return p;
    }

    /**
     * IOAS_CHANGE_PROCESS, first half: charges this object's pinned pages to {@code target} (if its owner
     * differs in the way the mode cares about).
     *
     * @return whether a charge was made (and {@link #commitChangeProcess} must uncharge the old owner)
     */
    boolean needsChargeMove(UserProcess target) {
        synchronized (lock) {
            return switch (accountMode) {
                case NONE -> false;
                case MM -> sourceProcess != target;
                case USER -> sourceUser != target.user() || sourceProcess != target;
            };
        }
    }

    /** IOAS_CHANGE_PROCESS, second half: uncharges the old owner (when {@code moved}) and makes target the owner. */
    void commitChangeProcess(UserProcess target, boolean moved) {
        synchronized (lock) {
            if (moved) {
                uncharge(npinned);
            }
            // Kernel quirk kept: pages that need no charge move (NONE mode) switch owner without moving pinned_vm.
            sourceProcess = target;
            sourceUser = target.user();
        }
    }

    /** Slots of chunk {@code ci}: {@value #CHUNK_PAGES}, or what is left of the pages for the last chunk. */
    int chunkLength(int ci) {
        return (int) Math.min(CHUNK_PAGES, npages - ((long) ci << CHUNK_SHIFT));
    }

    private long[] pfnChunk(long index) {
        int ci = (int) (index >>> CHUNK_SHIFT);
        long[] c = pfns[ci];
        if (c == null) {
            c = new long[chunkLength(ci)];
            pfns[ci] = c;
        }
        return c;
    }

    private int[] coverChunk(long index) {
        int ci = (int) (index >>> CHUNK_SHIFT);
        int[] c = cover[ci];
        if (c == null) {
            c = new int[chunkLength(ci)];
            cover[ci] = c;
        }
        return c;
    }

    private void checkRange(long first, long last) {
        if (first < 0 || last < first || last >= npages) {
            throw new IllegalStateException(String.format("page range [%d, %d] outside [0, %d)", first, last, npages));
        }
    }

    @Override
    public String toString() {
        return "IoPages[" + origin + " base=" + Long.toHexString(base) + " npages=" + npages + "]";
    }
}
