package dev.iommufd.smmuv3.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The unit's TLB: a fixed-size, 4-way set-associative cache of final translations held in primitive arrays.
 *
 * <h2>Tagging (IHI0070 3.17, "TLB tagging")</h2>
 * An entry is tagged by what produced it:
 * <ul>
 *   <li>{@link #KIND_S1}: a stage-1 translation of an NS-EL1 stream, tagged by VMID (STE.S2VMID) and ASID;</li>
 *   <li>{@link #KIND_S1_GLOBAL}: a stage-1 translation from a global (nG=0) descriptor, VMID only;</li>
 *   <li>{@link #KIND_S2}: a stage-2-only translation (Config=S2), tagged by VMID, keyed by IPA;</li>
 *   <li>{@link #KIND_NESTED}: a combined stage-1+2 translation, tagged by VMID and ASID, keyed by VA.</li>
 * </ul>
 *
 * <h2>Layout: one block of {@link #STRIDE} words per set, in one {@code long[]} ({@link #slots})</h2>
 * A lookup reads the set's version, its four tags and the payload of the way that matches: with the words of a set
 * side by side that is one to three cache lines (an array's data is not line-aligned in HotSpot: it starts 16
 * bytes into an 8-byte-aligned object), where one array per field cost five (and a fill by another
 * thread dirtied version and victim lines shared by sixteen sets).
 *
 * <p>Associativity is IMPLEMENTATION DEFINED (nothing in the ID registers reports it). Four ways rather than eight:
 * a hit compares half the tags, and with more, smaller sets a fill by one thread lands less often in a set another
 * thread is reading (each fill dirties its set's lines); the sets stay deep enough that a 256-page working set
 * keeps hitting under a stream of random fills (some set of the 1024 gets five of its pages with probability ~1%).
 * The walk cache uses the same layout.
 * <pre>
 *  word  0                 version: victim (bits [63:61]) | sequence (bits [60:0], odd while a writer changes the set)
 *  word  1                 hints: bit w set when way w was hit since a fill last passed it (replacement only; next
 *                          to the version, so that a hit of way 0 or 1 reads one or two lines)
 *  words 2 + w             tag of way w                                     (w = 0..3)
 *  words 6 + 3w .. 8 + 3w  data, ids and fill epoch of way w
 *
 *  version: 63     61 60                                                   0
 *          +--------+-----------------------------------------------------+
 *          | victim |  sequence (+1 to take the set, +1 to release it)    |
 *          +--------+-----------------------------------------------------+
 *  victim: the clock hand, the way the next fill of a full set considers first; kept in the version word, which
 *  only the set's holder writes. A full set's fill replaces the first way from the hand whose hint bit is clear,
 *  clearing the bits it passes (second chance: entries hit since the hand last passed stay, so a stream of one-time
 *  misses does not evict a working set); with every bit set, the hand's way.
 *  hints: set by lookups with a plain store when clear (a racing lookup or fill may lose one: only replacement
 *  depends on them; never read as translation data)
 *
 *  tag:   63                                 12 11     3 2    0
 *        +-------------------------------------+--------+------+
 *        | input address, aligned to the page  | shift  | kind |
 *        +-------------------------------------+--------+------+
 *  data:  63                                 12 11    6 5      0
 *        +-------------------------------------+-------+--------+
 *        | output address, aligned to the page | perm  | shift  |
 *        +-------------------------------------+-------+--------+
 *  ids:   63          32 31          16 15          0
 *        +--------------+--------------+-------------+
 *        |      0       |     VMID     |    ASID     |
 *        +--------------+--------------+-------------+
 *  fill epoch: the invalidation epoch current when the entry was filled (see Invalidation)
 * </pre>
 * Pages are at least 4 KiB, so bits [11:0] of both addresses are free for the shift, kind and permissions.
 * An entry is placed in the set chosen by (VMID, input address / page size); lookups probe each page size
 * present ({@link #pageShiftsPresent}). The sets form aligned groups of 16; a hash of (VMID, page number / 16)
 * picks the group and the page number's low four bits the set in it, so the 16 pages of an aligned 16-page run go
 * to the 16 sets of one group (as a hardware TLB indexes by the page number's low bits) and groups are spread by
 * the hash:
 * <pre>
 *  set(vm, page) = (hash(vm, page >> 4) & ~15 | page & 15) mod sets        (sets >= 16)
 * </pre>
 *
 * <h2>Occupancy</h2>
 * {@link #occupied} has one bit per set (set {@code s}: bit {@code s & 63} of word {@code s >>> 6}; a group's 16
 * bits share a word), set while the set may hold a live entry: an address invalidation reads the bits of the
 * group(s) it covers and looks only at the sets they mark (a 16-page TLBI after a churn of one buffer finds one
 * such set, or none). A superset is always safe; the protocol keeps it one without a lock on the fill path:
 * <ul>
 *   <li>a fill, holding its set, reads the bit (volatile) and sets it (atomic OR) when clear, before it compares
 *       the invalidation count ({@link #markOccupied}). With the invalidation's "advance the count, then read the
 *       bits" (a full fence between), either the invalidation sees the bit or the fill sees the new count and
 *       drops its entry;
 *   <li>only an invalidation clears a bit (invalidations run one at a time under the unit's lock), after it found
 *       no live way in the set (one it empties keeps its bit until an invalidation finds it empty: see
 *       {@link #invalidateOccupiedSet}), and only if no fill took the set since it read the set's version: it clears
 *       the bit (atomic AND), reads the version again and sets the bit back when it moved ({@link #clearOccupied}).
 *       A fill that took the set before that read is seen by it; one that takes it later reads the cleared bit
 *       and sets it again. (An invalidation holding the set clears the bit directly.)
 * </ul>
 * Written only when a bit changes: translations whose sets stay in use only read these lines.
 *
 * <h2>Invalidation</h2>
 * By ASID, by VMID and of everything in O(1), with epochs: {@link #epoch} counts those invalidations; an entry
 * records the epoch current at fill time (its fill epoch word); {@code TLBI_NH_ASID} records the new epoch as the
 * ASID's invalidation epoch ({@link #asidInvalidatedAt}), {@code TLBI_NH_ALL}/{@code TLBI_S12_VMALL} as the
 * VMID's, {@code TLBI_NSNH_ALL} as everything's; an entry filled before its ASID's, VMID's or everything's
 * invalidation epoch is dead. The ASID epoch is kept per ASID (not per VMID+ASID), so {@code TLBI_NH_ASID} also
 * drops that ASID's entries of other VMIDs, and its global entries: over-invalidation, which the architecture
 * permits. Stage-2-only entries have no ASID and ignore ASID epochs. Epochs are 64-bit: they never wrap.
 *
 * <p>Address-based invalidations of a small range probe only the sets of the covered pages, for every page size
 * present up to the command's level hint ({@code maxShift}: TLBI TG/TTL, IHI0070 4.4.1.1, "only required to invalidate
 * TLB entries that were inserted from a translation table walk level matching TTL"; the unit turns the level into
 * the largest entry that level can produce, contiguous spans included); larger ranges scan every slot, with the
 * same rule.
 *
 * <p>Stale entries stay usable until invalidated: nothing but the invalidation commands removes an entry (or
 * eviction by a later fill).
 *
 * <h2>Concurrency</h2>
 * {@link #lookup} and {@link #fill} are lock-free; invalidations run under the unit's lock (one at a time). Every
 * set has a version word (word 0 of its block, a seqlock whose odd state is also the set's write lock): a fill
 * makes it odd by compare-and-set, changes the set and makes it even again (release). A reader takes the version
 * (acquire), reads the ways, and retries when the version was odd or changed. Invalidation epochs are release
 * stores read with acquire loads.
 *
 * <p>An address invalidation removes entries without taking the set ({@link #invalidateOccupiedSet}): it advances the
 * invalidation count (a volatile store) before it reads the set's version (a volatile load), and a fill reads the
 * count after its compare-and-set of the version; so a fill that takes the set after the invalidation read an even
 * version sees the new count and, when its walk began before the invalidation, writes nothing; a fill that took
 * the set before is either finished (its entry is visible to the scan) or still holds it (the version is odd: the
 * invalidation then waits for the set like a fill and scans it under the lock). A fill whose walk began after the
 * count advanced read the tables as the driver changed them before the command: its entry is fresh, and if the
 * invalidation's clearing of a tag lands on the way it writes, the fresh entry is dropped too (over-invalidation)
 * or survives whole. Clearing a tag with a plain store races only with readers, which see the entry either whole or
 * gone (an invalidation never writes anything but the tag).
 *
 * <p>Every invalidation first advances the invalidation count ({@link #count}). A translation that walks the tables samples it
 * before its walk and passes the sample to {@link #fill}, which drops the entry when the count moved: so no
 * translation read before a TLBI can be cached after it, and none survives the CMD_SYNC that follows.
 *
 * <h2>The walk cache (IHI0070 3.17)</h2>
 * A second instance, built with {@link #Smmuv3Tlb(int, Smmuv3Tlb)}, is the unit's walk cache: same layout, but an
 * entry's {@code data} holds the address of a last-level table (whole, {@link #fillTable}) and the hierarchical
 * attributes gathered above it in the permission field, and its shift is the span of one level-2 entry. It uses
 * the TLB's epochs and invalidation count ({@link #epochs}): TLBI_NH_ASID, TLBI_NH_ALL, TLBI_S12_VMALL and
 * TLBI_NSNH_ALL, run on the TLB, kill walk entries too, and a walk's one sample guards both fills. Address
 * invalidations reach it only with Leaf=0 (the unit decides).
 */
final class Smmuv3Tlb {
    static final int KIND_EMPTY = 0;
    static final int KIND_S1 = 1;
    static final int KIND_S1_GLOBAL = 2;
    static final int KIND_S2 = 3;
    static final int KIND_NESTED = 4;

    /** Permission bits of an entry. */
    static final int PERM_READ_PRIV = 1;
    static final int PERM_WRITE_PRIV = 2;
    static final int PERM_EXEC_PRIV = 4;
    static final int PERM_READ_UNPRIV = 8;
    static final int PERM_WRITE_UNPRIV = 16;
    static final int PERM_EXEC_UNPRIV = 32;

    /** {@link #lookup}'s result when nothing matches (an entry's data always has address bits [63:52] zero). */
    static final long MISS = -1L;

    static final int TAG_KIND_MASK = 0x7;
    static final int TAG_SHIFT_SHIFT = 3;
    static final int DATA_SHIFT_MASK = 0x3f;
    static final int DATA_PERM_SHIFT = 6;
    static final int DATA_PERM_MASK = 0x3f;
    static final long ADDRESS_MASK = ~0xfffL;

    /** No level hint: an address invalidation covers entries of every page size ({@code maxShift} argument). */
    static final int ANY_SIZE = 63;

    private static final int WAYS = 4;
    /** Word offsets inside a set's block (see the class comment). */
    private static final int VERSION = 0;
    /** The set's reference hints (see the class comment). */
    private static final int HINTS = 1;
    private static final int TAGS = 2;
    private static final int PAYLOAD = TAGS + WAYS;
    private static final int PAYLOAD_WORDS = 3;
    private static final int DATA = 0;
    private static final int IDS = 1;
    private static final int FILL_EPOCH = 2;
    /** Words per set. */
    static final int STRIDE = PAYLOAD + WAYS * PAYLOAD_WORDS;
    private static final int VICTIM_SHIFT = 61;
    private static final long VICTIM_MASK = 7L << VICTIM_SHIFT;
    /** Ranges of more pages than this (summed over the page sizes probed) are invalidated by a full scan. */
    private static final int MAX_PROBED_PAGES = 64;

    private static final VarHandle LONG = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle PRESENT;

    static {
        try {
            PRESENT = MethodHandles.lookup().findVarHandle(Smmuv3Tlb.class, "pageShiftsPresent", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int sets;
    /** Every set's block of {@link #STRIDE} words: version, tags, payloads, victim (see the class comment). */
    private final long[] slots;

    /**
     * The cache whose invalidation epochs and count this one uses: {@code this} for the TLB; the TLB for the walk
     * cache (so TLBI_NH_ASID, TLBI_NH_ALL, TLBI_S12_VMALL and TLBI_NSNH_ALL kill walk entries by the same O(1)
     * epochs, and a walk's sample covers both caches).
     */
    private final Smmuv3Tlb epochs;
    private final long[] asidInvalidatedAt;
    private final long[] vmidInvalidatedAt;
    private volatile long allInvalidatedAt;
    /** Count of ASID/VMID/all invalidations; written under the unit's lock, read by fills without it. */
    private volatile long epoch;
    /** Bit n set: some entry of page size 2^n may exist (only ever gains bits, set by atomic OR). */
    private volatile long pageShiftsPresent;
    /** Count of invalidation commands executed (see the class comment); the TLB's, shared by its walk cache. */
    private final InvalidationCount count;
    /** One bit per set that may hold a live entry (see "Occupancy" in the class comment). */
    private final long[] occupied;

    Smmuv3Tlb(int entries) {
        this(entries, new InvalidationCount());
    }

    /** A TLB of {@code entries} slots whose invalidation count is {@code count} (a unit passes its lock's). */
    Smmuv3Tlb(int entries, InvalidationCount count) {
        this(entries, null, count);
    }

    /**
     * A walk cache of {@code entries} slots that uses the invalidation epochs and count of the TLB
     * {@code sharesEpochsWith} (see {@link #epochs}).
     */
    Smmuv3Tlb(int entries, Smmuv3Tlb sharesEpochsWith) {
        this(entries, sharesEpochsWith, sharesEpochsWith.count);
    }

    private Smmuv3Tlb(int entries, Smmuv3Tlb sharesEpochsWith, InvalidationCount count) {
        this.count = count;
        epochs = sharesEpochsWith == null ? this : sharesEpochsWith;
        asidInvalidatedAt = sharesEpochsWith == null ? new long[1 << 16] : null;
        vmidInvalidatedAt = sharesEpochsWith == null ? new long[1 << 16] : null;
        if (Integer.bitCount(entries) != 1 || entries < WAYS * GROUP) {
            throw new IllegalArgumentException("TLB entries must be a power of two >= " + WAYS * GROUP);
        }
        sets = entries / WAYS;
        slots = new long[sets * STRIDE];
        occupied = new long[(sets + 63) >>> 6];
    }

    int capacity() {
        return sets * WAYS;
    }

    /** Sets per group: the 16 pages of an aligned 16-page run go to the sets of one group (class comment). */
    private static final int GROUP = 16;
    private static final int GROUP_MASK = GROUP - 1;

    /** The first set of the group for (VMID, input address / page size): a multiple of {@link #GROUP}. */
    private int group(int vm, long page) {
        long g = page >>> 4;
        long h = (g ^ (g >>> 17) ^ (long) vm * 0x9E3779B97F4A7C15L) * 0xff51afd7ed558ccdL;
        return (int) (h >>> 40) & (sets - 1) & ~GROUP_MASK;
    }

    /** The first word of the block of the set for (VMID, input address / page size). */
    private int block(int vm, long page) {
        return (group(vm, page) | (int) page & GROUP_MASK) * STRIDE;
    }

    /** Whether the set at block {@code b} may hold a live entry (a volatile read: see "Occupancy"). */
    private boolean isOccupied(int b) {
        int set = b / STRIDE;
        return ((long) LONG.getVolatile(occupied, set >>> 6) & 1L << set) != 0;
    }

    /**
     * A fill holding the set at block {@code b}: sets its occupancy bit unless it is set (no write then). Before the
     * fill compares the invalidation count (see "Occupancy").
     */
    void markOccupied(int b) {
        if (!isOccupied(b)) {
            int set = b / STRIDE;
            LONG.getAndBitwiseOr(occupied, set >>> 6, 1L << set);
        }
    }

    /**
     * An invalidation that found no live way in the set at block {@code b}, whose even version it read as {@code v}
     * before it looked, without holding the set: clears the set's occupancy bit, then sets it again if a fill took
     * the set since {@code v} (that fill may have read the bit before the clear). Package-private for the test that
     * plays that interleaving.
     */
    void clearOccupied(int b, long v) {
        int set = b / STRIDE;
        LONG.getAndBitwiseAnd(occupied, set >>> 6, ~(1L << set));
        if ((long) LONG.getVolatile(slots, b + VERSION) != v) {
            LONG.getAndBitwiseOr(occupied, set >>> 6, 1L << set);
        }
    }

    /** Whether the set at block {@code b} is marked occupied (for tests). */
    boolean occupiedForTest(int b) {
        return isOccupied(b);
    }

    private static int idsOf(int vm, int as) {
        return (vm & 0xffff) << 16 | as & 0xffff;
    }

    /** Whether way {@code w} of the set at {@code b} holds an entry no tag invalidation has killed (plain reads). */
    private boolean live(int b, int w) {
        long t = slots[b + TAGS + w];
        if ((t & TAG_KIND_MASK) == KIND_EMPTY) {
            return false;
        }
        int p = b + PAYLOAD + w * PAYLOAD_WORDS;
        return alive(t, (int) slots[p + IDS], slots[p + FILL_EPOCH]);
    }

    /**
     * Whether an entry filled at epoch {@code e} survives every tag invalidation. Every invalidation epoch recorded is
     * at most {@link #epoch} (an invalidation advances it, then records it), so an entry filled at the current epoch
     * or later is alive without reading the three records: one load on the hit path while no tag invalidation ran
     * since the fill. (A reader that sees the advanced epoch but not yet the record runs concurrently with that
     * invalidation, which has not completed: using the entry then is allowed, as before.)
     */
    private boolean alive(long t, int id, long e) {
        Smmuv3Tlb x = epochs;
        return e >= x.epoch
                || e >= x.allInvalidatedAt
                        && e >= x.vmidInvalidatedAt[id >>> 16]
                        && ((t & TAG_KIND_MASK) == KIND_S2 || e >= x.asidInvalidatedAt[id & 0xffff]);
    }

    /** The sample a walk without the unit's lock takes before reading tables (see the class comment). */
    int invalidationCount() {
        return count.sample();
    }

    private long nextEpoch() {
        long e = epoch + 1;
        epoch = e;
        return e;
    }

    /** Counts an invalidation: called before it changes anything (see {@link #fill}). */
    private void invalidated() {
        count.advance(); // a full fence: see invalidateOccupiedSet
    }

    /**
     * Reads, without looking anything up, the first word of every set {@link #lookup} of {@code address} would read
     * (one per page size present); returns them summed. A unit that is about to look up several addresses at once
     * touches their sets first, so that their memory latencies overlap (a read: nothing changes).
     */
    long touch(int vm, long address) {
        long shifts = pageShiftsPresent;
        long sum = 0;
        while (shifts != 0) {
            int shift = Long.numberOfTrailingZeros(shifts);
            shifts &= shifts - 1;
            sum += slots[block(vm, address >>> shift)];
        }
        return sum;
    }

    /**
     * Looks up a translation, lock-free.
     *
     * @param k the kind the current configuration produces ({@link #KIND_S1} also matches {@link #KIND_S1_GLOBAL})
     * @param need the permission the access needs: an entry without it is not returned (the walk decides)
     * @return the entry's data word (output address | perm | shift), or {@link #MISS}
     */
    long lookup(int k, int vm, int as, long address, int need) {
        long shifts = pageShiftsPresent;
        if (shifts == 1L << PAGE_4K) {
            long d = lookup4k(k, vm, as, address, need);
            if (d != UNDECIDED) {
                return d;
            }
        }
        return lookup(k, vm, as, address, need, shifts);
    }

    private static final int PAGE_4K = 12;
    /** {@link #lookup4k}'s answer when the general lookup must decide (never a data word: bits [63:52] set). */
    private static final long UNDECIDED = -2L;

    /**
     * The common case of {@link #lookup} when only 4 KiB entries exist, small enough to be compiled into the
     * caller's loop: the first way whose tag has the address is the configuration's, filled at the current epoch or
     * later (so alive without reading the invalidation records: see {@link #alive}), permits the access, and no
     * writer touched the set: its data word. No way has the address (no writer in the set either): {@link #MISS}.
     * Anything else (another way to try, an older entry, a missing permission, a writer): {@link #UNDECIDED}, and the
     * general lookup reads the set again.
     */
    private long lookup4k(int k, int vm, int as, long address, int need) {
        long[] a = slots;
        int b = block(vm, address >>> PAGE_4K);
        long v = (long) LONG.getAcquire(a, b + VERSION); // the ways (and the epoch) are read after it
        int w = wayOf(a, b, address & -(1L << PAGE_4K) | (long) PAGE_4K << TAG_SHIFT_SHIFT);
        long found = w < 0 ? MISS : entry4k(a, b + PAYLOAD + w * PAYLOAD_WORDS, a[b + TAGS + w], k, vm, as, need);
        VarHandle.loadLoadFence();
        if (found == UNDECIDED || a[b + VERSION] != v || (v & 1) != 0) {
            return UNDECIDED;
        }
        if (w >= 0) {
            long h = a[b + HINTS];
            if ((h & 1L << w) == 0) {
                a[b + HINTS] = h | 1L << w; // a hint: losing it only affects replacement
            }
        }
        return found;
    }

    /**
     * The first way of the set at {@code b} whose tag has {@code key} (input address and shift), or -1. A branch per
     * way: most ways fail the first compare, and the search stops at the match.
     */
    private static int wayOf(long[] a, int b, long key) {
        return (a[b + TAGS] & ~TAG_KIND_MASK) == key ? 0 : (a[b + TAGS + 1] & ~TAG_KIND_MASK) == key ? 1
                : (a[b + TAGS + 2] & ~TAG_KIND_MASK) == key ? 2 : (a[b + TAGS + 3] & ~TAG_KIND_MASK) == key ? 3 : -1;
    }

    /**
     * {@link #lookup4k}'s answer for the way with tag {@code t} and payload at {@code p}: its data word when it is
     * of the configuration (kind {@code k}, VMID, ASID), filled at the current epoch or later, and permits
     * {@code need}; else {@link #UNDECIDED}.
     */
    private long entry4k(long[] a, int p, long t, int k, int vm, int as, int need) {
        int ek = (int) t & TAG_KIND_MASK;
        int id = (int) a[p + IDS];
        long d = a[p + DATA];
        boolean match = ek == k ? (k == KIND_S2 ? (id >>> 16) == vm : id == idsOf(vm, as))
                : k == KIND_S1 && ek == KIND_S1_GLOBAL && (id >>> 16) == vm;
        return match && a[p + FILL_EPOCH] >= epochs.epoch && (d >>> DATA_PERM_SHIFT & need) != 0 ? d : UNDECIDED;
    }

    /** {@link #lookup} of every page size in {@code shifts}. */
    private long lookup(int k, int vm, int as, long address, int need, long shifts) {
        int wantIds = idsOf(vm, as);
        long[] a = slots;
        while (shifts != 0) {
            int shift = Long.numberOfTrailingZeros(shifts);
            shifts &= shifts - 1;
            long key = address & -(1L << shift) | (long) shift << TAG_SHIFT_SHIFT;
            int b = block(vm, address >>> shift);
            for (;;) {
                long v = (long) LONG.getAcquire(a, b + VERSION); // the ways (and the epochs) are read after it
                long found = MISS;
                int way = 0;
                if ((v & 1) == 0) {
                    // a branch per way here (a hit costs ~2 ns less than with the bit mask the invalidation uses:
                    // most ways fail the first compare, and the loop stops at the match)
                    for (int w = 0; w < WAYS; w++) {
                        if ((a[b + TAGS + w] & ~TAG_KIND_MASK) != key) {
                            continue;
                        }
                        long t = a[b + TAGS + w];
                        int ek = (int) t & TAG_KIND_MASK;
                        int p = b + PAYLOAD + w * PAYLOAD_WORDS;
                        int id = (int) a[p + IDS];
                        boolean match = ek == k ? (k == KIND_S2 ? (id >>> 16) == vm : id == wantIds)
                                : k == KIND_S1 && ek == KIND_S1_GLOBAL && (id >>> 16) == vm;
                        if (match && ek != KIND_EMPTY && alive(t, id, a[p + FILL_EPOCH])) {
                            long d = a[p + DATA];
                            if ((d >>> DATA_PERM_SHIFT & need) != 0) {
                                found = d;
                                way = w;
                            }
                            break;
                        }
                    }
                    VarHandle.loadLoadFence();
                    if (a[b + VERSION] == v) {
                        if (found != MISS) {
                            long h = a[b + HINTS];
                            if ((h & 1L << way) == 0) {
                                a[b + HINTS] = h | 1L << way; // a hint: losing it only affects replacement
                            }
                            return found;
                        }
                        break;
                    }
                }
                Thread.onSpinWait();
            }
        }
        return MISS;
    }

    static long output(long data) {
        return data & ADDRESS_MASK;
    }

    static int pageShift(long data) {
        return (int) data & DATA_SHIFT_MASK;
    }

    static int permissions(long data) {
        return (int) (data >>> DATA_PERM_SHIFT) & DATA_PERM_MASK;
    }

    /** Takes the set at {@code b} for writing (its version word odd); returns the even version word it had. */
    long lockSet(int b) {
        for (;;) {
            long v = (long) LONG.getVolatile(slots, b + VERSION);
            if ((v & 1) == 0 && LONG.compareAndSet(slots, b + VERSION, v, v + 1)) {
                return v;
            }
            Thread.onSpinWait();
        }
    }

    /** Releases the set at {@code b} (its version word even again, victim bits as the holder left them). */
    void unlockSet(int b) {
        LONG.setRelease(slots, b + VERSION, slots[b + VERSION] + 1);
    }

    /** The block of the set an entry of page size {@code 2^shift} for {@code address} goes to (for tests). */
    int blockOf(int vm, long address, int shift) {
        return block(vm, address >>> shift);
    }

    /**
     * Fills an entry for {@code address} (aligned down to {@code 2^shift}) translating to {@code out}, with no walk
     * in flight (as a hardware fill whose walk no invalidation overlapped: the verb the TLB benchmark probe uses).
     */
    void fill(int k, int vm, int as, long address, long out, int shift, int permissions) {
        fill(k, vm, as, address, out, shift, permissions, count.sample());
    }

    /**
     * Fills an entry for {@code address} (aligned down to {@code 2^shift}) translating to {@code out}, unless an
     * invalidation ran since {@code sample} was taken ({@link #invalidationCount}, before the walk that produced the
     * translation). Lock-free: the set is taken by its version word, and the invalidation count is compared while
     * holding it (see the class comment); the epoch recorded is read before that comparison (an invalidation
     * advances the count before the epoch, so an epoch that already counts it fails the comparison).
     *
     * @return whether the entry was filled
     */
    boolean fill(int k, int vm, int as, long address, long out, int shift, int permissions, int sample) {
        return fillData(k, vm, as, address, shift, dataWord(out, shift, permissions), sample);
    }

    private static long dataWord(long out, int shift, int permissions) {
        return out & ADDRESS_MASK & -(1L << shift) | (long) (permissions & DATA_PERM_MASK) << DATA_PERM_SHIFT | shift;
    }

    /**
     * Walk caches: fills an entry for the block of {@code 2^shift} bytes of input address holding {@code address},
     * whose last-level table is at {@code table} (granule aligned, kept whole), with the hierarchical attributes
     * {@code attributes} ({@link #PERM_READ_PRIV} always set, so that a lookup with that need matches), under the
     * same rule as {@link #fill(int, int, int, long, long, int, int, int)}: dropped when an invalidation ran since
     * {@code sample}.
     */
    boolean fillTable(int k, int vm, int as, long address, long table, int shift, int attributes, int sample) {
        return fillData(k, vm, as, address, shift,
                table & ADDRESS_MASK | (long) (attributes & DATA_PERM_MASK) << DATA_PERM_SHIFT | shift, sample);
    }

    private boolean fillData(int k, int vm, int as, long address, int shift, long dataWord, int sample) {
        Smmuv3Tlb x = epochs;
        long e = x.epoch;
        if ((pageShiftsPresent & 1L << shift) == 0) {
            PRESENT.getAndBitwiseOr(this, 1L << shift); // before the count check: a later invalidation probes it
        }
        int b = block(vm, address >>> shift);
        lockSet(b);
        markOccupied(b); // before the count check: see "Occupancy"
        if (count.sample() != sample) {
            unlockSet(b);
            return false;
        }
        writeLocked(b, k, vm, as, address, shift, dataWord, e);
        unlockSet(b);
        return true;
    }

    /**
     * Writes an entry into the set at {@code b}, which the caller holds ({@link #lockSet}) and for which it has
     * checked the invalidation count; {@code e}: the epoch read before that check.
     */
    void writeLocked(int b, int k, int vm, int as, long address, int shift, long dataWord, long e) {
        long[] a = slots;
        long newTag = address & -(1L << shift) | (long) shift << TAG_SHIFT_SHIFT | k;
        int newIds = idsOf(vm, as);
        int way = -1;
        for (int w = 0; w < WAYS; w++) {
            if (a[b + TAGS + w] == newTag && (int) a[b + PAYLOAD + w * PAYLOAD_WORDS + IDS] == newIds) {
                way = w; // refresh the same translation (one entry per tag: a lookup uses the first match)
                break;
            }
        }
        for (int w = 0; w < WAYS && way < 0; w++) {
            if ((a[b + TAGS + w] & TAG_KIND_MASK) == KIND_EMPTY) {
                way = w; // an empty way (entries killed by an epoch are replaced in turn, without reading them)
            }
        }
        long h = a[b + HINTS];
        if (way < 0) {
            long version = a[b + VERSION]; // odd: held by the caller
            int hand = (int) (version >>> VICTIM_SHIFT);
            way = hand;
            for (int i = 0; i < WAYS; i++) {
                int w = (hand + i) & (WAYS - 1);
                if ((h & 1L << w) == 0) {
                    way = w;
                    break;
                }
                h &= ~(1L << w); // second chance
            }
            a[b + VERSION] = version & ~VICTIM_MASK | (long) ((way + 1) & (WAYS - 1)) << VICTIM_SHIFT;
        }
        if ((h & 1L << way) != 0 || h != a[b + HINTS]) {
            a[b + HINTS] = h & ~(1L << way); // the new entry starts unreferenced
        }
        int p = b + PAYLOAD + way * PAYLOAD_WORDS;
        a[b + TAGS + way] = newTag;
        a[p + DATA] = dataWord;
        a[p + IDS] = newIds & 0xffff_ffffL;
        a[p + FILL_EPOCH] = e;
    }

    /** The test verb behind {@link #writeLocked}: the data word and epoch a fill would write now. */
    void writeLocked(int b, int k, int vm, int as, long address, long out, int shift, int permissions) {
        writeLocked(b, k, vm, as, address, shift, dataWord(out, shift, permissions), epochs.epoch);
    }

    /**
     * {@code TLBI_NH_ASID}: every entry of ASID {@code as} (of any VMID). O(1). Called on the TLB only: the epochs
     * are the walk cache's too.
     */
    void invalidateAsid(int as) {
        invalidated();
        LONG.setRelease(asidInvalidatedAt, as & 0xffff, nextEpoch());
    }

    /** {@code TLBI_NH_ALL} / {@code TLBI_S12_VMALL}: every entry of VMID {@code vm}. O(1). */
    void invalidateVmid(int vm) {
        invalidated();
        LONG.setRelease(vmidInvalidatedAt, vm & 0xffff, nextEpoch());
    }

    /** {@code TLBI_NSNH_ALL}. O(1). */
    void invalidateAll() {
        invalidated();
        allInvalidatedAt = nextEpoch();
    }

    /**
     * Stage-1 address invalidation ({@code TLBI_NH_VA} with {@code anyAsid=false}, {@code TLBI_NH_VAA} with
     * {@code true}) without a level hint: entries of VMID {@code vm} ({@code KIND_S1}, {@code KIND_S1_GLOBAL},
     * {@code KIND_NESTED}) overlapping {@code [start, start + length)}.
     */
    void invalidateVa(int vm, int as, boolean anyAsid, long start, long length) {
        invalidateRange(false, vm, as, anyAsid, start, length, ANY_SIZE);
    }

    /**
     * Stage-1 address invalidation with a level hint: only entries of at most {@code 2^maxShift} bytes (the largest
     * entry the hinted level produces: see the class comment) are required to go, and only those are removed.
     */
    void invalidateVa(int vm, int as, boolean anyAsid, long start, long length, int maxShift) {
        invalidateRange(false, vm, as, anyAsid, start, length, maxShift);
    }

    /** {@code TLBI_S2_IPA}: stage-2-only entries of VMID {@code vm} overlapping the IPA range. */
    void invalidateIpa(int vm, long start, long length) {
        invalidateRange(true, vm, 0, true, start, length, ANY_SIZE);
    }

    /** {@code TLBI_S2_IPA} with a level hint ({@code maxShift}, as {@link #invalidateVa(int, int, boolean, long, long, int)}). */
    void invalidateIpa(int vm, long start, long length, int maxShift) {
        invalidateRange(true, vm, 0, true, start, length, maxShift);
    }

    private void invalidateRange(boolean ipa, int vm, int as, boolean anyAsid, long start, long length, int maxShift) {
        invalidated();
        long last = start + length - 1;
        long shifts = pageShiftsPresent & (maxShift >= 63 ? -1L : (2L << maxShift) - 1);
        boolean scan = Long.compareUnsigned(last, start) < 0; // wraps past 2^64: everything above start
        long probes = 0;
        for (long m = shifts; m != 0 && !scan; m &= m - 1) {
            int shift = Long.numberOfTrailingZeros(m);
            long pages = (last >>> shift) - (start >>> shift) + 1;
            probes += pages;
            scan = pages <= 0 || probes > MAX_PROBED_PAGES;
        }
        // the occupancy bits are read after the count advanced (see "Occupancy"): a snapshot of a word then serves
        // every set it covers
        if (scan) {
            for (int word = 0; word < occupied.length; word++) {
                for (long m = (long) LONG.getVolatile(occupied, word); m != 0; m &= m - 1) {
                    invalidateOccupiedSet((word << 6 | Long.numberOfTrailingZeros(m)) * STRIDE, -1, ipa, vm, as,
                            anyAsid, start, last, maxShift);
                }
            }
        } else {
            for (long m = shifts; m != 0; m &= m - 1) {
                int shift = Long.numberOfTrailingZeros(m);
                long lastPage = last >>> shift;
                for (long page = start >>> shift; page <= lastPage; ) {
                    // the run's pages in this aligned group of 16: their sets' bits are adjacent in one word
                    int first = (int) page & GROUP_MASK;
                    int n = (int) Math.min(lastPage - page, GROUP_MASK - first) + 1;
                    int g = group(vm, page);
                    long bits = (long) LONG.getVolatile(occupied, g >>> 6) >>> (g & 63);
                    for (long in = bits & ((1L << n) - 1 << first); in != 0; in &= in - 1) {
                        int i = Long.numberOfTrailingZeros(in);
                        long p = page - first + i;
                        invalidateOccupiedSet((g | i) * STRIDE, p << shift | (long) shift << TAG_SHIFT_SHIFT, ipa, vm,
                                as, anyAsid, start, last, maxShift);
                    }
                    page += n;
                }
            }
        }
    }

    /**
     * Drops the matching entries of the set at {@code b}: with {@code key} a tag's address and shift (a probe for one
     * page of one size), those of that page; with {@code key == -1} (a scan), those of any size up to {@code maxShift}
     * overlapping {@code [start, last]}. Without taking the set unless a fill holds it (see the class comment). The
     * set's occupancy bit was read set after the count advanced. It is cleared when the set holds no live way when
     * looked at, not when this invalidation empties it: a set whose entry is removed is likely to be filled again
     * (a buffer mapped, translated and unmapped over and over), and clearing its bit would cost that fill and this
     * invalidation an atomic instruction each every time; the next invalidation that finds it empty clears it.
     */
    private void invalidateOccupiedSet(int b, long key, boolean ipa, int vm, int as, boolean anyAsid, long start,
            long last, int maxShift) {
        long[] a = slots;
        long v = (long) LONG.getVolatile(a, b + VERSION); // after the count's volatile store in synchronization order
        boolean locked = (v & 1) != 0;
        if (locked) {
            v = lockSet(b); // a fill holds the set: wait for it, and keep later fills out while scanning
        }
        if (!live(b, 0) && !live(b, 1) && !live(b, 2) && !live(b, 3)) {
            // nothing to remove, and the set was emptied before (killed by epochs, or by an earlier invalidation that
            // left the bit): clear it now (see "Occupancy")
            if (locked) {
                int set = b / STRIDE; // held: no fill can take the set before the bit is clear
                LONG.getAndBitwiseAnd(occupied, set >>> 6, ~(1L << set));
                unlockSet(b);
            } else {
                clearOccupied(b, v);
            }
            return;
        }
        // the ways to look at: a probe takes those whose tag is the page, computed without a branch per way (the way
        // that matches is random: a mispredicted branch costs more than the four compares)
        int m = 0;
        for (int w = 0; w < WAYS; w++) {
            m |= (key == -1 || (a[b + TAGS + w] & ~TAG_KIND_MASK) == key ? 1 : 0) << w;
        }
        while (m != 0) {
            int w = Integer.numberOfTrailingZeros(m);
            m &= m - 1;
            if (key == -1 ? removes(b, w, ipa, vm, as, anyAsid, start, last, maxShift)
                    : removesTagged(a[b + TAGS + w], (int) a[b + PAYLOAD + w * PAYLOAD_WORDS + IDS], ipa, vm, as, anyAsid)) {
                a[b + TAGS + w] = KIND_EMPTY;
            }
        }
        if (locked) {
            unlockSet(b);
        }
    }

    /**
     * Whether an invalidation removes the entry with tag {@code t} and ids {@code id} whose page it covers (address
     * and size already matched): by kind, VMID and ASID, with non-short-circuit operators (no branch per term).
     */
    private static boolean removesTagged(long t, int id, boolean ipa, int vm, int as, boolean anyAsid) {
        int k = (int) t & TAG_KIND_MASK;
        boolean kind = ipa ? k == KIND_S2
                : (k == KIND_S1 | k == KIND_NESTED | k == KIND_S1_GLOBAL)
                        & (anyAsid | k == KIND_S1_GLOBAL | (id & 0xffff) == (as & 0xffff));
        return kind & (id >>> 16) == (vm & 0xffff);
    }

    /** Whether the invalidation removes way {@code w} of the set at {@code b} (the tag's address first). */
    private boolean removes(int b, int w, boolean ipa, int vm, int as, boolean anyAsid, long start, long last,
            int maxShift) {
        long t = slots[b + TAGS + w];
        int k = (int) t & TAG_KIND_MASK;
        int shift = (int) (t >>> TAG_SHIFT_SHIFT) & DATA_SHIFT_MASK;
        if (k == KIND_EMPTY || shift > maxShift) {
            return false;
        }
        long eStart = t & -(1L << shift);
        long eLast = eStart + (1L << shift) - 1;
        if (Long.compareUnsigned(eStart, last) > 0 || Long.compareUnsigned(start, eLast) > 0) {
            return false;
        }
        int id = (int) slots[b + PAYLOAD + w * PAYLOAD_WORDS + IDS];
        if ((id >>> 16) != (vm & 0xffff)) {
            return false;
        }
        return ipa ? k == KIND_S2
                : (k == KIND_S1 || k == KIND_S1_GLOBAL || k == KIND_NESTED)
                        && (anyAsid || k == KIND_S1_GLOBAL || (id & 0xffff) == (as & 0xffff));
    }

    /** Live entries (for tests and statistics). Caller holds the unit's lock. */
    int liveEntries() {
        int n = 0;
        for (int b = 0; b < slots.length; b += STRIDE) {
            for (int w = 0; w < WAYS; w++) {
                if (live(b, w)) {
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * Whether a live entry of kind {@code k} (exactly), VMID, ASID (ignored for S2 and S1_GLOBAL) covers
     * {@code address} (for tests: the reference a probe-based invalidation is compared with). Caller holds the lock.
     */
    boolean holds(int k, int vm, int as, long address) {
        for (int b = 0; b < slots.length; b += STRIDE) {
            for (int w = 0; w < WAYS; w++) {
                long t = slots[b + TAGS + w];
                int id = (int) slots[b + PAYLOAD + w * PAYLOAD_WORDS + IDS];
                if ((t & TAG_KIND_MASK) != k || !live(b, w) || (id >>> 16) != (vm & 0xffff)) {
                    continue;
                }
                if (k != KIND_S2 && k != KIND_S1_GLOBAL && (id & 0xffff) != (as & 0xffff)) {
                    continue;
                }
                int shift = (int) (t >>> TAG_SHIFT_SHIFT) & DATA_SHIFT_MASK;
                if ((t & -(1L << shift)) == (address & -(1L << shift))) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A snapshot of every live entry's (tag, ids) pair, for tests: {@code out[2i]} = tag, {@code out[2i+1]} = ids. */
    int liveTags(long[] out) {
        int n = 0;
        for (int b = 0; b < slots.length; b += STRIDE) {
            for (int w = 0; w < WAYS; w++) {
                if (live(b, w)) {
                    out[2 * n] = slots[b + TAGS + w];
                    out[2 * n + 1] = slots[b + PAYLOAD + w * PAYLOAD_WORDS + IDS] & 0xffff_ffffL;
                    n++;
                }
            }
        }
        return n;
    }
}
