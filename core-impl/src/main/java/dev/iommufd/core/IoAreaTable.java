package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.UserProcess;
import java.util.Arrays;

/**
 * The areas of one {@link IoPageTable} ({@code struct iopt_area} in the kernel's {@code area_itree}), as a
 * struct of arrays: an area is an index into parallel primitive columns, kept sorted by IOVA together with the
 * interval arrays of {@link IovaIntervals} (an insert or remove below an area shifts its index; nothing holds an
 * index across a change of the table). No Java object per area.
 *
 * <h2>Layout (one row per area, index {@code i}, sorted by {@code start})</h2>
 * <pre>
 *  column        type      pages object (IoPages)                 small pages in the slot (INLINE)
 *  -----------   -------   ------------------------------------   -------------------------------------------
 *  starts[i]     long      first IOVA ({@code node.start})        same
 *  lasts[i]      long      last IOVA ({@code node.last})          same
 *  startByte[i]  long      byte of the pages that starts[i]       user VA that starts[i] maps (page base | offset)
 *                          maps ({@code page_offset} + index)
 *  pfn[i]        long      unused (0)                             one page: its physical address while pinned;
 *                                                                 2..{@value #SMALL_PAGES} pages: index of its block
 *                                                                 in {@code blockPfns} while pinned (0 otherwise)
 *  pages[i]      Object    the {@link IoPages} ({@code pages})    the source {@link UserProcess} ({@code source_task})
 *  flags[i]      int       FLAGS below                            FLAGS below
 *  accesses[i]   int       {@code num_accesses}                   {@code num_accesses} = users of the access span [0, 0]
 * </pre>
 * 44 bytes per area (8 + 8 + 8 + 8 + 4 + 4 + 4 with compressed references), at most 49.5 with the growth reserve of
 * {@link IovaIntervals} (one eighth), plus 1 byte of its hole summary. {@code num_locks} (pins of
 * internal accesses, HW queues only) is kept sparse, keyed by the area's first IOVA: an area with locks has access
 * pins and can be neither removed nor cut, so its first IOVA names it until its locks are gone.
 * <pre>
 *  FLAGS   31          16  15  14  13 12   11   10    9     8    7          0
 *         +--------------+----+------+----+----+----+-----+-----+------------+
 *         |      0       | CT | ACCT | DS | WR | IN | PRV | DOM |    PROT    |
 *         +--------------+----+------+----+----+----+-----+-----+------------+
 *   PROT  {@link dev.iommufd.spi.IoProt} bits of the area (immutable)
 *   DOM   {@link #DOMAIN_FILLED}: mapped in every domain of the table ({@code storage_domain != NULL})
 *   PRV   {@link #PREVENT_ACCESS}: an unmap is asking accesses to let go; new access pins fail EINVAL
 *   IN    {@link #INLINE}: the pages are 1..{@value #SMALL_PAGES} user pages mapped by this area alone, held in the slot
 *   WR    {@link #INLINE_WRITABLE}: INLINE pages pinned for writing ({@code pages->writable})
 *   DS    {@link #INLINE_DOMAIN_SPAN}: INLINE pages covered by the area's domain span
 *   ACCT  INLINE pages' {@link AccountMode} ordinal ({@code pages->account_mode})
 *   CT    {@link #INLINE_CONTIGUOUS}: pinned 2..{@value #SMALL_PAGES}-page INLINE pages whose frames are physically
 *         contiguous, in order (reported by the pin, {@code UserProcess.pinPagesRun}: the domain map and unmap then
 *         take one run, and the unpin releases the run, {@code UserProcess.unpinRun})
 * </pre>
 *
 * <h2>Small pages in the slot</h2>
 * IOAS_MAP of user memory within {@value #SMALL_PAGES} pages (the common small map: a packet buffer, a descriptor
 * ring) keeps its {@code struct iopt_pages} in the area's slot rather than in an {@link IoPages} object, the same
 * pin, charge, fault points and unwind as {@link IoPages} ({@link IoPages#pinInlinePages}):
 * <ul>
 *   <li>One page: pinned exactly while the domain span (DS) or an access span (accesses[i] &gt; 0) covers it; its
 *       physical address is {@code pfn[i]}.
 *   <li>2..{@value #SMALL_PAGES} pages: every page is pinned exactly while the domain span (DS) covers the area, in
 *       one bulk pin; the physical addresses live in a block of {@value #SMALL_PAGES} longs of {@code blockPfns}
 *       (block {@code pfn[i]}, taken when the pages are pinned, returned when they are unpinned; free blocks are a
 *       stack, so a map/unmap churn reuses one block and allocates nothing). Such an area never has access spans in
 *       the slot: an access pin (which may cover a part of the pages) first materializes the pages.
 * </ul>
 * When such pages must be shared (IOAS_COPY from the area, a cut, a change of process) or carry partial spans (an
 * access pin of 2+ pages), {@link #materialize} moves the state into an equivalent {@link IoPages} object without
 * pinning or charging anything; observable pins and accounting never differ from an {@link IoPages} of the same
 * pages.
 *
 * <h2>Lock</h2>
 * Guarded by the owning table's {@link IoPageTable#lock} (every column, the sparse lock counts, and the state of
 * INLINE pages: they are referenced by this table alone). {@link IoPages} objects have their own lock, taken inside.
 */
final class IoAreaTable extends IovaIntervals {
    static final int PROT_MASK = 0xff;
    static final int DOMAIN_FILLED = 1 << 8;
    static final int PREVENT_ACCESS = 1 << 9;
    static final int INLINE = 1 << 10;
    static final int INLINE_WRITABLE = 1 << 11;
    static final int INLINE_DOMAIN_SPAN = 1 << 12;
    static final int INLINE_ACCOUNT_SHIFT = 13;
    static final int INLINE_ACCOUNT_MASK = 3 << INLINE_ACCOUNT_SHIFT;
    static final int INLINE_CONTIGUOUS = 1 << 15;
    private static final AccountMode[] ACCOUNT_MODES = AccountMode.values();
    private static final long PAGE_MASK = IoPages.PAGE_SIZE - 1;
    /** Most pages an INLINE area holds (64 KiB: a NIC buffer); larger maps use an {@link IoPages} object. */
    static final int SMALL_PAGES = 16;
    private static final int BLOCK_SHIFT = 4;

    private long[] startByte;
    private long[] pfn;
    private Object[] pages;
    private int[] flags;
    private int[] accesses;

    /** Sparse {@code num_locks}: first IOVA of each area with locks, and its count; {@code nlocked} used. */
    private long[] lockedStarts = new long[0];
    private int[] lockCounts = new int[0];
    private int nlocked;

    /** Scratch for single-page pins (guarded by the table lock). */
    private final long[] scratch = new long[1];

    /**
     * PFN blocks of pinned 2..{@value #SMALL_PAGES}-page INLINE areas: block {@code b} is
     * {@code blockPfns[b * SMALL_PAGES .. (b + 1) * SMALL_PAGES)}. Blocks {@code 0 .. nblocks - 1} exist; the free ones
     * are {@code freeBlocks[0 .. nfree - 1]} (a stack: the last freed is reused first). Grown by doubling, never shrunk.
     */
    private long[] blockPfns = new long[0];
    private int[] freeBlocks = new int[0];
    private int nblocks;
    private int nfree;

    IoAreaTable() {
        super(MIN_GROWTH);
        int n = capacity();
        startByte = new long[n];
        pfn = new long[n];
        pages = new Object[n];
        flags = new int[n];
        accesses = new int[n];
    }

    @Override
    void moveColumns(int from, int to, int n) {
        System.arraycopy(startByte, from, startByte, to, n);
        System.arraycopy(pfn, from, pfn, to, n);
        System.arraycopy(pages, from, pages, to, n);
        System.arraycopy(flags, from, flags, to, n);
        System.arraycopy(accesses, from, accesses, to, n);
    }

    @Override
    void growColumns(int capacity) {
        startByte = Arrays.copyOf(startByte, capacity);
        pfn = Arrays.copyOf(pfn, capacity);
        pages = Arrays.copyOf(pages, capacity);
        flags = Arrays.copyOf(flags, capacity);
        accesses = Arrays.copyOf(accesses, capacity);
    }

    @Override
    void clearColumns(int i) {
        pages[i] = null;
    }

    // ---------------------------------------------------------------- insert

    /**
     * Inserts an area over {@code [iova, last]} mapping {@code pages} from {@code byteInPages}; returns its index.
     * {@code from}: every area below that index ends before {@code iova} (0 when unknown).
     */
    int insert(long iova, long last, IoPages p, long byteInPages, int prot, int from) {
        int i = insert(iova, last, from);
        startByte[i] = byteInPages;
        pfn[i] = 0;
        pages[i] = p;
        flags[i] = prot & PROT_MASK;
        accesses[i] = 0;
        return i;
    }

    /**
     * Inserts an area over {@code [iova, last]} mapping user VA {@code uva} of {@code source}, whose pages (one page,
     * nothing pinned) live in the slot; returns its index. {@code from} as for {@link #insert(long, long, IoPages,
     * long, int, int)}.
     */
    int insertInline(long iova, long last, UserProcess source, long uva, boolean writable, AccountMode mode, int prot, int from) {
        if (((uva & PAGE_MASK) + (last - iova)) >>> IoPages.PAGE_SHIFT >= SMALL_PAGES) {
            throw new IllegalStateException(String.format("inline area [%#x, %#x] at user VA %#x spans more than %d pages", iova,
                    last, uva, SMALL_PAGES));
        }
        int i = insert(iova, last, from);
        startByte[i] = uva;
        pfn[i] = 0;
        pages[i] = source;
        flags[i] = (prot & PROT_MASK) | INLINE | (writable ? INLINE_WRITABLE : 0) | (mode.ordinal() << INLINE_ACCOUNT_SHIFT);
        accesses[i] = 0;
        return i;
    }

    /** Removes area {@code i}; it must hold no pin (no domain span, no access, no lock). */
    void remove(int i) {
        if ((flags[i] & (DOMAIN_FILLED | INLINE_DOMAIN_SPAN)) != 0 || accesses[i] != 0) {
            throw new IllegalStateException(String.format("area [%#x, %#x] removed while it holds pins", start(i), last(i)));
        }
        removeAt(i);
    }

    // ---------------------------------------------------------------- fields

    long length(int i) {
        return last(i) - start(i) + 1;
    }

    int prot(int i) {
        return flags[i] & PROT_MASK;
    }

    boolean isInline(int i) {
        return (flags[i] & INLINE) != 0;
    }

    /** {@code area->pages} offset: the byte of the pages that the area's first IOVA maps. */
    long startByte(int i) {
        return isInline(i) ? startByte[i] & PAGE_MASK : startByte[i];
    }

    /** {@code iopt_area_start_byte}: the byte of the pages that {@code at} maps. */
    long startByte(int i, long at) {
        return startByte(i) + (at - start(i));
    }

    /** {@code page_offset}: offset of the first IOVA in its page. */
    long pageOffset(int i) {
        return startByte[i] & PAGE_MASK;
    }

    long firstIndex(int i) {
        return startByte(i) >>> IoPages.PAGE_SHIFT;
    }

    long lastIndex(int i) {
        return (startByte(i) + length(i) - 1) >>> IoPages.PAGE_SHIFT;
    }

    boolean domainFilled(int i) {
        return (flags[i] & DOMAIN_FILLED) != 0;
    }

    void setDomainFilled(int i, boolean filled) {
        flags[i] = filled ? flags[i] | DOMAIN_FILLED : flags[i] & ~DOMAIN_FILLED;
    }

    boolean preventAccess(int i) {
        return (flags[i] & PREVENT_ACCESS) != 0;
    }

    void setPreventAccess(int i) {
        flags[i] |= PREVENT_ACCESS;
    }

    /** {@code num_accesses}. */
    int numAccesses(int i) {
        return accesses[i];
    }

    /** {@code num_locks} of area {@code i}. */
    int numLocks(int i) {
        if (nlocked == 0) {
            return 0;
        }
        int k = lockedIndex(start(i));
        return k >= 0 ? lockCounts[k] : 0;
    }

    /** Adds {@code delta} to {@code num_locks} of area {@code i}. */
    void addLocks(int i, int delta) {
        long key = start(i);
        int k = lockedIndex(key);
        if (k < 0) {
            if (delta < 0) {
                throw new IllegalStateException(String.format("area [%#x, %#x] has no lock to drop", key, last(i)));
            }
            if (nlocked == lockedStarts.length) {
                lockedStarts = Arrays.copyOf(lockedStarts, nlocked + 4);
                lockCounts = Arrays.copyOf(lockCounts, nlocked + 4);
            }
            lockedStarts[nlocked] = key;
            lockCounts[nlocked] = delta;
            nlocked++;
            return;
        }
        lockCounts[k] += delta;
        if (lockCounts[k] < 0) {
            throw new IllegalStateException(String.format("area [%#x, %#x] num_locks went negative", key, last(i)));
        }
        if (lockCounts[k] == 0) {
            nlocked--;
            lockedStarts[k] = lockedStarts[nlocked];
            lockCounts[k] = lockCounts[nlocked];
        }
    }

    private int lockedIndex(long key) {
        for (int k = 0; k < nlocked; k++) {
            if (lockedStarts[k] == key) {
                return k;
            }
        }
        return -1;
    }

    // ---------------------------------------------------------------- the area's pages

    /** The {@link IoPages} object of a non-INLINE area. */
    IoPages pagesObject(int i) {
        if (isInline(i)) {
            throw new IllegalStateException("area pages are held inline");
        }
        return (IoPages) pages[i];
    }

    IoPages.Origin origin(int i) {
        return isInline(i) ? IoPages.Origin.USER : pagesObject(i).origin();
    }

    /** {@code pages->writable}. */
    boolean pagesWritable(int i) {
        return isInline(i) ? (flags[i] & INLINE_WRITABLE) != 0 : pagesObject(i).writable();
    }

    /** Page-aligned start of page 0 of the pages (user VA or file offset). */
    long pagesBase(int i) {
        return isInline(i) ? startByte[i] & ~PAGE_MASK : pagesObject(i).base();
    }

    /** {@code pages->source_task}. */
    UserProcess sourceProcess(int i) {
        return isInline(i) ? (UserProcess) pages[i] : pagesObject(i).sourceProcess();
    }

    /** Whether the INLINE page of area {@code i} is pinned (a domain span or an access span covers it). */
    private boolean inlinePinned(int i) {
        return (flags[i] & INLINE_DOMAIN_SPAN) != 0 || accesses[i] > 0;
    }

    private AccountMode inlineAccountMode(int i) {
        return ACCOUNT_MODES[(flags[i] & INLINE_ACCOUNT_MASK) >>> INLINE_ACCOUNT_SHIFT];
    }

    /** Pages of INLINE area {@code i}: 1..{@value #SMALL_PAGES}. */
    private int inlinePages(int i) {
        return (int) (((startByte[i] & PAGE_MASK) + (last(i) - start(i))) >>> IoPages.PAGE_SHIFT) + 1;
    }

    private void inlinePin(int i) {
        int n = inlinePages(i);
        UserProcess source = (UserProcess) pages[i];
        long base = startByte[i] & ~PAGE_MASK;
        boolean writable = (flags[i] & INLINE_WRITABLE) != 0;
        if (n == 1) {
            IoPages.pinInlinePages(source, base, 1, writable, inlineAccountMode(i), scratch, 0);
            pfn[i] = scratch[0];
            return;
        }
        int b = takeBlock();
        int off = b << BLOCK_SHIFT;
        boolean contiguous;
        try {
            contiguous = IoPages.pinInlinePages(source, base, n, writable, inlineAccountMode(i), blockPfns, off);
        } catch (RuntimeException e) {
            putBlock(b);
            throw e;
        }
        pfn[i] = b;
        if (contiguous) {
            flags[i] |= INLINE_CONTIGUOUS;
        }
    }

    private void inlineUnpin(int i) {
        int n = inlinePages(i);
        UserProcess source = (UserProcess) pages[i];
        boolean writable = (flags[i] & INLINE_WRITABLE) != 0;
        if (n == 1) {
            scratch[0] = pfn[i];
            IoPages.unpinInlinePages(source, n, writable, inlineAccountMode(i), scratch, 0);
        } else {
            int b = (int) pfn[i];
            if ((flags[i] & INLINE_CONTIGUOUS) != 0) {
                IoPages.unpinInlineRun(source, n, writable, inlineAccountMode(i), blockPfns[b << BLOCK_SHIFT]);
            } else {
                IoPages.unpinInlinePages(source, n, writable, inlineAccountMode(i), blockPfns, b << BLOCK_SHIFT);
            }
            putBlock(b);
        }
        pfn[i] = 0;
        flags[i] &= ~INLINE_CONTIGUOUS;
    }

    /** A free PFN block (grows the pool when none is free). */
    private int takeBlock() {
        if (nfree == 0) {
            if (nblocks == freeBlocks.length) {
                int cap = Math.max(4, nblocks * 2);
                freeBlocks = Arrays.copyOf(freeBlocks, cap);
                blockPfns = Arrays.copyOf(blockPfns, cap << BLOCK_SHIFT);
            }
            freeBlocks[nfree++] = nblocks++;
        }
        return freeBlocks[--nfree];
    }

    private void putBlock(int b) {
        freeBlocks[nfree++] = b;
    }

    /** PFN blocks in use (for tests: a churn must return every block it takes). */
    int pfnBlocksInUse() {
        return nblocks - nfree;
    }

    /**
     * The last page index, at most {@code lastIndex}, of the physically contiguous run of pinned pages of area
     * {@code i} that starts at {@code index} ({@link IoPages#contiguousRunEnd}); the caller holds a span covering them.
     */
    long contiguousRunEnd(int i, long index, long lastIndex) {
        if (!isInline(i)) {
            return ((IoPages) pages[i]).contiguousRunEnd(index, lastIndex);
        }
        if (index >= lastIndex) {
            return index;
        }
        if ((flags[i] & INLINE_CONTIGUOUS) != 0) {
            return lastIndex;
        }
        int off = (int) pfn[i] << BLOCK_SHIFT;
        long[] p = blockPfns;
        long expect = p[off + (int) index] + IoPages.PAGE_SIZE;
        long k = index + 1;
        while (k <= lastIndex && p[off + (int) k] == expect) {
            k++;
            expect += IoPages.PAGE_SIZE;
        }
        return k - 1;
    }

    /** The physical address of pinned page {@code index} of the area's pages; the caller holds a span covering it. */
    long pa(int i, long index) {
        if (isInline(i)) {
            return index == 0 && inlinePages(i) == 1 ? pfn[i] : blockPfns[((int) pfn[i] << BLOCK_SHIFT) + (int) index];
        }
        return pagesObject(i).pa(index);
    }

    /** The physical address of page {@code index} of the area's pages when pinned, or -1. */
    long physicalAddress(int i, long index) {
        if (isInline(i)) {
            return inlinePinned(i) ? pa(i, index) : -1L;
        }
        return pagesObject(i).physicalAddress(index);
    }

    /** {@code iopt_area_fill_domain}'s pin: a domain span over the whole area, pinning what is not pinned. */
    void addDomainSpan(int i) {
        if (isInline(i)) {
            if ((flags[i] & INLINE_DOMAIN_SPAN) != 0) {
                throw new IllegalStateException("inline pages already have a domain span");
            }
            if (!inlinePinned(i)) {
                inlinePin(i);
            }
            flags[i] |= INLINE_DOMAIN_SPAN;
            return;
        }
        pagesObject(i).addDomainSpan(firstIndex(i), lastIndex(i));
    }

    /** Drops the area's domain span; pages no longer covered are unpinned. The domains must be unmapped. */
    void removeDomainSpan(int i) {
        if (isInline(i)) {
            if ((flags[i] & INLINE_DOMAIN_SPAN) == 0) {
                throw new IllegalStateException("inline pages have no domain span");
            }
            flags[i] &= ~INLINE_DOMAIN_SPAN;
            if (!inlinePinned(i)) {
                inlineUnpin(i);
            }
            return;
        }
        pagesObject(i).removeDomainSpan(firstIndex(i), lastIndex(i));
    }

    /**
     * {@code iopt_area_add_access}: an access span over page indexes {@code [first, last]} of the area's pages and
     * one more {@code num_accesses}.
     *
     * @throws ErrnoException EPERM for a write pin of read-only pages; pin errors; ENOMEM over RLIMIT
     */
    void addAccess(int i, long first, long last, boolean write) {
        if (isInline(i) && inlinePages(i) > 1) {
            materialize(i); // access spans may cover a part of the pages: only an IoPages object keeps them
        }
        if (isInline(i)) {
            if (first != 0 || last != 0) {
                throw new IllegalStateException(String.format("page range [%d, %d] outside [0, 1)", first, last));
            }
            if (write && (flags[i] & INLINE_WRITABLE) == 0) {
                throw ErrnoException.of(Errno.EPERM, "pages were mapped read-only; cannot pin for write");
            }
            if (!inlinePinned(i)) {
                inlinePin(i);
            }
        } else {
            pagesObject(i).addAccessSpan(first, last, write);
        }
        accesses[i]++;
    }

    /** {@code iopt_area_remove_access}: drops one user of the access span {@code [first, last]}. */
    void removeAccess(int i, long first, long last) {
        if (accesses[i] <= 0) {
            throw new IllegalStateException(String.format("area [%#x, %#x] has no access pin", start(i), last(i)));
        }
        if (isInline(i)) {
            accesses[i]--;
            if (!inlinePinned(i)) {
                inlineUnpin(i);
            }
            return;
        }
        pagesObject(i).removeAccessSpan(first, last);
        accesses[i]--;
    }

    /** Whether an access span over exactly {@code [first, last]} of the area's pages exists. */
    boolean hasAccessSpan(int i, long first, long last) {
        if (isInline(i)) {
            return first == 0 && last == 0 && accesses[i] > 0;
        }
        return pagesObject(i).hasAccessSpan(first, last);
    }

    /**
     * The area's pages as an {@link IoPages} object: an INLINE area's slot state moves into an equivalent object
     * ({@link IoPages#ofSinglePage}; nothing is pinned, unpinned or charged) which the area then references.
     * Allocates; used where pages become shared (IOAS_COPY, a cut) or must be named (a change of process).
     */
    IoPages materialize(int i) {
        if (!isInline(i)) {
            return (IoPages) pages[i];
        }
        int f = flags[i];
        int n = inlinePages(i);
        IoPages p;
        if (n == 1) {
            p = IoPages.ofSinglePage((UserProcess) pages[i], startByte[i] & ~PAGE_MASK, (f & INLINE_WRITABLE) != 0,
                    inlineAccountMode(i), pfn[i], (f & INLINE_DOMAIN_SPAN) != 0, accesses[i]);
        } else {
            boolean pinned = (f & INLINE_DOMAIN_SPAN) != 0;
            int b = (int) pfn[i];
            p = IoPages.ofInlinePages((UserProcess) pages[i], startByte[i] & ~PAGE_MASK, n, (f & INLINE_WRITABLE) != 0,
                    inlineAccountMode(i), blockPfns, b << BLOCK_SHIFT, pinned);
            if (pinned) {
                putBlock(b);
            }
        }
        startByte[i] &= PAGE_MASK;
        pfn[i] = 0;
        pages[i] = p;
        flags[i] = f & (PROT_MASK | DOMAIN_FILLED | PREVENT_ACCESS);
        return p;
    }

    @Override
    void clear() {
        super.clear();
        nlocked = 0;
        nblocks = 0;
        nfree = 0;
    }

    String describe(int i) {
        return String.format("area[%#x, %#x] %s+%#x", start(i), last(i), isInline(i) ? "inline " + pages[i] : pages[i], startByte(i));
    }
}
