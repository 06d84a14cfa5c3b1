package dev.iommufd.vtd.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The unit's IOTLB: cached leaf translations tagged as VT-d tags them (spec 6.2.2): domain ID, PASID (scalable
 * mode; the RID_PASID for requests without PASID, 0 in legacy mode), input page number and page size (level).
 *
 * <h2>Structure</h2>
 * A fixed-size, 4-way set-associative table. The set index hashes (domain ID, input page number, level), not the
 * PASID, so that every entry an invalidation descriptor can name for one page lies in one known set. A lookup
 * probes the 4 ways of one set per leaf level; a fill replaces a way holding the same tag, else a dead way, else
 * the first way from the set's clock hand whose reference hint is clear, clearing the hints it passes (second
 * chance: entries hit since the hand last passed stay, so a stream of one-time misses does not evict the working
 * set). A set is {@value #STRIDE} consecutive words (128 bytes) of one {@code long[]}, so that a lookup touches the
 * two or three cache lines of its set, not one line per field (HotSpot starts an array's data 16 bytes into an
 * 8-byte-aligned object, so a set is not line-aligned and may share its first and last line with its neighbours):
 * <pre>
 *   word 0        VERSION  the set's seqlock: odd while a writer holds the set (also the writers' lock)
 *   word 1+w      PAGE     way w: input page number at the entry's level (iova >>> (12 + 9 * (level - 1)))
 *   word 5+w      TAG      way w: 63 V (valid) | 45:44 kind | 43:40 level | 36:16 PASID + 1 | 15:0 DID
 *   word 9+w      VALUE    way w: 63:12 output page address | 11:0 permission bits (V_* here and in VtdUnit)
 *   word 13       EPOCHS   31:0 fill epoch of way 0 | 63:32 fill epoch of way 1
 *   word 14       EPOCHS   31:0 fill epoch of way 2 | 63:32 fill epoch of way 3
 *   word 15       HINTS    replacement hints only, never read as translation data: 1:0 the clock hand (the way the
 *                          next replacement in a full set considers first) | 4+w R of way w (referenced: set by
 *                          lookups with a plain store when clear, so a racing lookup or fill may lose one; cleared
 *                          by the fills that pass it or replace the way)
 * </pre>
 * Nothing is allocated after construction.
 *
 * <p>{@link VtdUnit} also uses a second instance as its second-stage paging-structure caches (spec 6.2.4): there an
 * entry of level 2 is a PDE-cache entry and one of level 3 a PDPE-cache entry, and the value is the next table's
 * address with the accumulated R/W bits (layout in {@code VtdUnit.pwc}).
 *
 * <h2>Invalidation</h2>
 * Global, domain-selective and "every nested entry of a domain" invalidations are O(1) by epochs: each of them
 * takes the next value of a counter ({@link #epoch}) and stores it as a floor (global, per DID, per DID for nested
 * entries); an entry is live only while its fill epoch is at least every floor that applies to it. When the
 * counter would overflow, every slot is killed and the floors restart from 0 ({@link #restartEpochs}).
 * Page-selective invalidation of 2^AM pages probes only the sets of the covered page numbers at each leaf level
 * when that is fewer than the sets; larger masks and PASID-selective invalidation scan every set. Either way a set
 * whose bit in {@link #occupied} is clear holds no live entry and is skipped without reading it.
 *
 * <h2>Concurrency</h2>
 * {@link #lookup} and {@link #fill} are lock-free; invalidations are serialised by the owning {@link VtdUnit}'s
 * lock. A fill takes its set by making the version odd with a compare-and-set, changes a way and makes the
 * version even again (release). An invalidation kills an entry with one store (its tag's V cleared) after waiting
 * for a fill that holds the set ({@link #invalidateInSet}). A lookup reads the floors first, then the version, the
 * ways, and the version again, and reports a miss when a fill was active in between (the caller then walks): it
 * never combines words of two different entries (a kill changes one word), and a lookup that starts after an
 * invalidation returned sees it.
 *
 * <p>A fill from a walk done without the unit's lock carries a sample of the {@link InvalidationCount} taken
 * before the walk, and is dropped when the count moved ({@link #fill(int, int, long, int, int, long, long)}):
 * every invalidation advances the count (a full fence) before it reads a set or a level hint, and the fill
 * compares the count while holding its set, so either the invalidation finds the entry or the fill is dropped.
 */
final class Iotlb {
    /** Entry kinds: which descriptor types invalidate an entry. */
    static final int KIND_SECOND_STAGE = 0;
    static final int KIND_FIRST_STAGE = 1;
    static final int KIND_NESTED = 2;

    /** Permission/attribute bits of the value (low 12 bits; the rest is the output page address). */
    static final long V_READ = 1;
    static final long V_WRITE = 2;
    static final long V_SNP = 4;
    /** The leaf's dirty bit was already set (writes need no A/D update). */
    static final long V_DIRTY = 8;
    /** A/D updates apply to this translation (SSADE or first stage). */
    static final long V_AD = 16;
    /** Where {@link #lookup} reports the entry's level (bits 9:8 of its result; never set in a stored value). */
    static final int LEVEL_SHIFT = 8;

    private static final int WAYS = 4;
    /** Words per set (layout in the class comment). */
    static final int STRIDE = 16;
    private static final int VERSION = 0;
    /** Way w's PAGE word is at {@code PAGE + w}, its TAG at {@code TAG + w}, its VALUE at {@code VALUE + w}. */
    private static final int PAGE = 1;
    private static final int TAG = 5;
    private static final int VALUE = 9;
    private static final int EPOCHS = 13;
    private static final int HINTS = 15;
    private static final int HINT_HAND_MASK = 3;
    private static final int HINT_REF_SHIFT = 4;

    private static final long TAG_VALID = 1L << 63;
    private static final int TAG_LEVEL_SHIFT = 40;
    private static final int TAG_KIND_SHIFT = 44;
    private static final long TAG_KIND_MASK = 3L << TAG_KIND_SHIFT;
    private static final int TAG_PASID_SHIFT = 16;
    private static final long TAG_PASID_MASK = 0x1f_ffffL << TAG_PASID_SHIFT;

    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);
    private static final VarHandle BYTES = MethodHandles.arrayElementVarHandle(byte[].class);
    private static final VarHandle GLOBAL_FLOOR;
    private static final VarHandle EPOCH;

    static {
        try {
            GLOBAL_FLOOR = MethodHandles.lookup().findVarHandle(Iotlb.class, "globalFloor", int.class);
            EPOCH = MethodHandles.lookup().findVarHandle(Iotlb.class, "epoch", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int sets;
    /** 64 - log2(sets): {@link #set} keeps that many top bits. */
    private final int setShift;
    /** The sets (layout in the class comment). */
    private final long[] slots;
    /**
     * One bit per set (set {@code s} is bit {@code s & 63} of word {@code s >>> 6}), set while the set may hold a
     * live entry: a summary that lets an invalidation skip the sets it would find empty (a 16-page PSI probes 16
     * sets, of which a churning workload has one or none in use). A superset is always safe; the protocol keeps it
     * one, without a lock on the fill path:
     * <ul>
     *   <li>a fill, holding its set, reads the bit (volatile) and sets it (atomic OR) when clear, before it
     *       compares the count ({@link #markOccupied}). With the invalidation's "advance the count, then read the
     *       bit" (both full fences), either the invalidation sees the bit or the fill sees the new count and drops;
     *   <li>only an invalidation clears a bit (invalidations are serialised by the unit's lock), after it found no
     *       valid way (V set) in the set, and only if no fill took the set since it read the set's version: it clears the
     *       bit (atomic AND), then reads the version again and sets the bit back when it moved
     *       ({@link #clearOccupied}). A fill that took the set before that read is seen by it; one that takes the set
     *       after it reads the cleared bit and sets it again.
     * </ul>
     * Written only when a bit changes, so a workload whose sets stay in use (translations by several threads)
     * only reads these lines.
     */
    private final long[] occupied;
    /** Advanced by every invalidation of this cache (shared with the unit's other caches: {@link InvalidationCount}). */
    private final InvalidationCount invalidations;
    /** Per DID: the epoch of its last domain-selective invalidation (entries filled before it are dead). */
    private final int[] domainFloor = new int[1 << 16];
    /**
     * Per DID: bit {@code level - 1} is set when the domain may have live entries of that level, and
     * {@link #NESTED_FILLED} when it may have nested entries (set by fills with an atomic OR before they take their
     * set, cleared by domain-selective invalidation before it advances the count; a superset is always safe).
     * Page-selective and nested invalidation skip what is clear.
     */
    private final byte[] levelsFilled = new byte[1 << 16];
    private static final int NESTED_FILLED = 0x40;
    /** Per DID: the epoch of the last invalidation of every nested (combined) entry of the domain. */
    private final int[] nestedFloor = new int[1 << 16];
    /** The epoch of the last global invalidation (release stores, acquire loads: {@link #GLOBAL_FLOOR}). */
    private int globalFloor;
    /**
     * The last epoch handed out; entries filled now are stamped with it. Written by invalidations (release, after
     * they advanced the count), read by fills (acquire, before they compare the count).
     */
    private int epoch;

    Iotlb(int entries) {
        this(entries, 0, new InvalidationCount());
    }

    /** For tests of the epoch restart: the counter starts at {@code firstEpoch}. */
    Iotlb(int entries, int firstEpoch) {
        this(entries, firstEpoch, new InvalidationCount());
    }

    /** An IOTLB whose invalidations advance {@code invalidations} (shared with the unit's other caches). */
    Iotlb(int entries, InvalidationCount invalidations) {
        this(entries, 0, invalidations);
    }

    private Iotlb(int entries, int firstEpoch, InvalidationCount invalidations) {
        this.sets = Integer.highestOneBit(Math.max(WAYS, entries)) / WAYS;
        this.setShift = 64 - Integer.numberOfTrailingZeros(sets);
        this.slots = new long[sets * STRIDE];
        this.occupied = new long[(sets + 63) >>> 6];
        this.invalidations = invalidations;
        EPOCH.setRelease(this, firstEpoch);
        GLOBAL_FLOOR.setRelease(this, firstEpoch);
    }

    int capacity() {
        return sets * WAYS;
    }

    /** The count a walk without the unit's lock samples before it starts (see {@link InvalidationCount}). */
    long sample() {
        return invalidations.sample();
    }

    private static long tagOf(int did, int pasid, int level, int kind) {
        return did | ((long) (pasid + 1) << TAG_PASID_SHIFT) | ((long) level << TAG_LEVEL_SHIFT)
                | ((long) kind << TAG_KIND_SHIFT) | TAG_VALID;
    }

    private static int shift(int level) {
        return 12 + 9 * (level - 1);
    }

    /** Fibonacci hashing of (page number, DID, level): the top bits of one multiplication; the set's first word. */
    private int set(int did, long pageNumber, int level) {
        long h = (pageNumber ^ ((long) did << 45) ^ ((long) level << 61)) * 0x9e37_79b9_7f4a_7c15L;
        return (int) (h >>> setShift) * STRIDE;
    }

    /** The fill epoch of way {@code w} of the set at {@code b}. */
    private static int epochOf(long[] a, int b, int w) {
        return (int) (a[b + EPOCHS + (w >> 1)] >>> ((w & 1) << 5));
    }

    // =====================================================================================================
    // Lookup (no lock)
    // =====================================================================================================

    /**
     * Looks up {@code iova} for (did, pasid) at leaf levels 1..3. Takes no lock; safe against concurrent writers.
     *
     * @return the entry's value with its level at {@link #LEVEL_SHIFT}, or 0 when there is no live entry (or a
     *     writer changed the set during the lookup)
     */
    long lookup(int did, int pasid, long iova) {
        // a racy hint: a level filled meanwhile is a miss, which the walk settles
        return lookup(did, wantTag(did, pasid), iova, levelsFilled[did], (int) EPOCH.getAcquire(this));
    }

    /**
     * The tag (level aside, kind aside) that {@link #lookup(int, long, long, int, int)} looks for: what a run of
     * lookups for one (did, pasid) computes once.
     */
    static long wantTag(int did, int pasid) {
        return did | ((long) (pasid + 1) << TAG_PASID_SHIFT) | TAG_VALID;
    }

    /**
     * The levels hint of {@code did} (bit {@code level - 1}: entries of that level may be live), read once by a run
     * of lookups: a racy hint (see {@link #levelsFilled}); a level filled after the read is a miss, which the walk
     * settles.
     */
    int levelsHint(int did) {
        return levelsFilled[did];
    }

    /** The current epoch, read (acquire) by a run of lookups before it reads any set (see {@link #probe}). */
    int epochNow() {
        return (int) EPOCH.getAcquire(this);
    }

    /**
     * {@link #lookup(int, int, long)} with what a run of lookups for one (did, pasid) reads once: {@code want}
     * ({@link #wantTag}), {@code levels} ({@link #levelsHint}) and {@code now} ({@link #epochNow}, read before this
     * lookup reads its sets). A 4 KiB hit on an entry filled at {@code now} or later, with no writer in the set, is
     * decided here in a few dozen instructions, small enough to be compiled into the caller's loop; anything else (an
     * older entry, whose floors must be read, a first way with the page but another tag, a writer, large levels) goes
     * to the general probes, which read the set again.
     */
    long lookup(int did, long want, long iova, int levels, int now) {
        long r = 0;
        if ((levels & 1) != 0) {
            long pn = iova >>> 12;
            long[] a = slots;
            int b = set(did, pn, 1);
            long version = (long) LONGS.getAcquire(a, b + VERSION); // the ways are read after the version
            int m = isZero(a[b + PAGE] ^ pn) | isZero(a[b + PAGE + 1] ^ pn) << 1
                    | isZero(a[b + PAGE + 2] ^ pn) << 2 | isZero(a[b + PAGE + 3] ^ pn) << 3;
            if (m != 0) {
                int w = Integer.numberOfTrailingZeros(m);
                long t = a[b + TAG + w];
                long v = a[b + VALUE + w];
                int filled = epochOf(a, b, w);
                VarHandle.loadLoadFence();
                // the first way with the page: another way may hold it too (another tag), which the general probe
                // finds when this one is not the entry wanted
                if ((t & ~TAG_KIND_MASK) == (want | (1L << TAG_LEVEL_SHIFT)) && filled >= now
                        && version == a[b + VERSION] && (version & 1) == 0) {
                    long h = a[b + HINTS];
                    if ((h & (1L << (HINT_REF_SHIFT + w))) == 0) {
                        a[b + HINTS] = h | (1L << (HINT_REF_SHIFT + w)); // a hint: losing it only affects replacement
                    }
                    return v | (1L << LEVEL_SHIFT);
                }
                r = probe(did, want | (1L << TAG_LEVEL_SHIFT), pn, 1);
            }
        }
        return r != 0 || (levels & 6) == 0 ? r : lookupLarge(did, want, iova, levels);
    }

    /** {@link #lookup} at levels 2 and 3 (2 MiB and 1 GiB entries). */
    private long lookupLarge(int did, long want, long iova, int levels) {
        for (int level = 2; level <= 3; level++) {
            if ((levels & (1 << (level - 1))) != 0) {
                long r = probe(did, want | ((long) level << TAG_LEVEL_SHIFT), iova >>> shift(level), level);
                if (r != 0) {
                    return r;
                }
            }
        }
        return 0;
    }

    /**
     * Probes the set of page number {@code pn} at {@code level} for a live entry with tag {@code wantTag} (kind
     * aside): its value with the level at {@link #LEVEL_SHIFT}, or 0. An entry filled at the current epoch or later
     * is live without reading a floor (every floor is at most the epoch); an older one is checked against the
     * floors ({@link #survives}).
     */
    private long probe(int did, long wantTag, long pn, int level) {
        int now = (int) EPOCH.getAcquire(this); // before the set
        long[] a = slots;
        int b = set(did, pn, level);
        long version = (long) LONGS.getAcquire(a, b + VERSION); // the ways are read after the version
        // the ways' pages compared by arithmetic, without a branch (which way hits is data: a branch per way
        // mispredicts whenever it changes); bit w of m is set when way w has the page; then the tag of each
        for (int m = isZero(a[b + PAGE] ^ pn) | isZero(a[b + PAGE + 1] ^ pn) << 1
                | isZero(a[b + PAGE + 2] ^ pn) << 2 | isZero(a[b + PAGE + 3] ^ pn) << 3; m != 0; m &= m - 1) {
            int w = Integer.numberOfTrailingZeros(m);
            long t = a[b + TAG + w];
            if ((t & ~TAG_KIND_MASK) != wantTag) {
                continue;
            }
            long v = a[b + VALUE + w];
            int filled = epochOf(a, b, w);
            VarHandle.loadLoadFence();
            if ((version & 1) != 0 || a[b + VERSION] != version) {
                return 0; // a writer changed this set meanwhile: the caller walks
            }
            if (filled < now && !survives(did, t, filled)) {
                continue; // dead
            }
            long h = a[b + HINTS];
            if ((h & (1L << (HINT_REF_SHIFT + w))) == 0) {
                a[b + HINTS] = h | (1L << (HINT_REF_SHIFT + w)); // a hint: losing it only affects replacement
            }
            return v | ((long) level << LEVEL_SHIFT);
        }
        return 0;
    }

    /**
     * Whether an entry of tag {@code t} filled at epoch {@code filled}, older than the epoch the lookup read,
     * survives every floor that applies to it. The floors are read after the set: a floor only grows (but in
     * {@link #restartEpochs}, which kills every entry first), so a newer one read here is at worst an invalidation
     * that ran concurrently with the lookup.
     */
    private boolean survives(int did, long t, int filled) {
        return filled >= (int) GLOBAL_FLOOR.getAcquire(this) && filled >= (int) INTS.getAcquire(domainFloor, did)
                && ((t & TAG_KIND_MASK) != ((long) KIND_NESTED << TAG_KIND_SHIFT)
                        || filled >= (int) INTS.getAcquire(nestedFloor, did));
    }

    /**
     * 1 when {@code d} is 0, else 0, without a branch: {@code (d - 1) & ~d} has its sign bit set exactly when d is 0
     * (a decrement, an and-not and a shift on x86 with BMI1).
     */
    private static int isZero(long d) {
        return (int) (((d - 1) & ~d) >>> 63);
    }

    /** The level of a {@link #lookup} result. */
    static int levelOf(long lookupResult) {
        return (int) ((lookupResult >>> LEVEL_SHIFT) & 3);
    }

    // =====================================================================================================
    // Writers: fills (lock-free) and invalidations (one at a time, under the unit's lock)
    // =====================================================================================================

    /** Takes the set at {@code b} for writing (its version odd); returns the even version it had. */
    private long lockSet(int b) {
        for (;;) {
            long v = (long) LONGS.getVolatile(slots, b + VERSION);
            if ((v & 1) == 0 && LONGS.compareAndSet(slots, b + VERSION, v, v + 1)) {
                return v;
            }
            Thread.onSpinWait();
        }
    }

    /** Releases the set at {@code b} taken at version {@code v}, changed. */
    private void unlockSet(int b, long v) {
        LONGS.setRelease(slots, b + VERSION, v + 2);
    }

    /** Whether way {@code w} of the set at {@code b} holds a live entry. Writers (and single-threaded tests) only. */
    private boolean live(int b, int w) {
        long t = slots[b + TAG + w];
        if (t >= 0) {
            return false;
        }
        int did = (int) (t & 0xffff);
        int filled = epochOf(slots, b, w);
        if (filled < globalFloor || filled < domainFloor[did]) {
            return false;
        }
        return ((t & TAG_KIND_MASK) >>> TAG_KIND_SHIFT) != KIND_NESTED || filled >= nestedFloor[did];
    }

    /**
     * Fills an entry with no walk in flight that an invalidation could overlap: from a walk under the unit's lock
     * (which invalidations hold too), or a test.
     */
    void fill(int did, int pasid, long iova, int level, int kind, long val) {
        fill(did, pasid, iova, level, kind, val, invalidations.sample());
    }

    /**
     * Fills an entry for {@code iova} at {@code level}, unless an invalidation ran since {@code sample} was taken
     * ({@link #sample}, before the walk that produced {@code val}): {@link #reserve} then {@link #commit}.
     *
     * @return whether the entry was filled
     */
    boolean fill(int did, int pasid, long iova, int level, int kind, long val, long sample) {
        int held = reserve(did, pasid, iova, level, kind, sample);
        if (held < 0) {
            return false;
        }
        commit(held, did, pasid, level, kind, val);
        return true;
    }

    /**
     * The first half of a fill: takes the set of (did, page of {@code iova} at {@code level}), unless an
     * invalidation ran since {@code sample} was taken ({@link #sample}, before the walk), and chooses the way the
     * entry goes to; {@link #commit} then writes the value and releases the set, or {@link #abandon} releases it
     * without an entry. Between the two the caller may read the walk's last entry (the leaf): the set is held, so an
     * invalidation that runs meanwhile waits for the commit and then finds the entry (or, epoch-based, kills it by
     * the epoch recorded here), and lookups of the set miss. A walk that takes the set before its leaf read keeps
     * the locked instruction (the compare-and-set, which waits for every earlier load) away from the leaf's memory
     * latency, so the requests after it can run while the leaf read is outstanding.
     *
     * <p>Lock-free: the set is taken by its version (an invalidation that finds it taken waits for it), and the
     * count is compared while holding it; the epoch recorded is read before that comparison (an invalidation
     * advances the count before the epoch, so an epoch that already counts it fails the comparison), and compared
     * again under the set: an epoch restart that ran meanwhile (the counter went back) drops the fill too. The way
     * chosen loses its old entry here (its tag cleared): an abandoned fill leaves it empty, which a cache may do.
     *
     * @return a handle for {@link #commit} or {@link #abandon} (the set is then held), or -1 when the fill is
     *     dropped (the set is not held)
     */
    int reserve(int did, int pasid, long iova, int level, int kind, long sample) {
        int bits = (1 << (level - 1)) | (kind == KIND_NESTED ? NESTED_FILLED : 0);
        if ((levelsFilled[did] & bits) != bits) { // lookups read this line: write it only when it changes
            // before the count check: invalidations read it (typed exactly: the VarHandle links without adaptation)
            byte before = (byte) BYTES.getAndBitwiseOr(levelsFilled, did, (byte) bits);
        }
        int e = (int) EPOCH.getAcquire(this);
        long pn = iova >>> shift(level);
        int b = set(did, pn, level);
        long t = tagOf(did, pasid, level, kind);
        long[] a = slots;
        long version = lockSet(b);
        markOccupied(b); // before the count: see occupied
        if (invalidations.sample() != sample || (int) EPOCH.getAcquire(this) < e) {
            LONGS.setRelease(a, b + VERSION, version); // unchanged: lookups in between stay valid
            return -1;
        }
        int way = -1;
        int dead = -1;
        for (int w = 0; w < WAYS; w++) {
            if (a[b + PAGE + w] == pn && a[b + TAG + w] == t) {
                way = w; // the same tag: refresh it (one entry per tag)
                break;
            }
            if (dead < 0 && !live(b, w)) {
                dead = w;
            }
        }
        if (way < 0) {
            way = dead;
        }
        if (way < 0) {
            long h = a[b + HINTS];
            int hand = (int) (h & HINT_HAND_MASK);
            way = hand;
            for (int k = 0; k < WAYS; k++) {
                int w = (hand + k) & (WAYS - 1);
                if ((h & (1L << (HINT_REF_SHIFT + w))) == 0) {
                    way = w;
                    break;
                }
                h &= ~(1L << (HINT_REF_SHIFT + w)); // second chance
            }
            a[b + HINTS] = (h & ~(long) HINT_HAND_MASK & ~(1L << (HINT_REF_SHIFT + way))) | ((way + 1) & (WAYS - 1));
        } else {
            long h = a[b + HINTS];
            if ((h & (1L << (HINT_REF_SHIFT + way))) != 0) {
                a[b + HINTS] = h & ~(1L << (HINT_REF_SHIFT + way)); // a new entry starts unreferenced
            }
        }
        a[b + TAG + way] = 0; // the old entry goes now (the set is held: no lookup uses it meanwhile)
        a[b + PAGE + way] = pn;
        int ei = b + EPOCHS + (way >> 1);
        int sh = (way & 1) << 5;
        a[ei] = (a[ei] & ~(0xffff_ffffL << sh)) | ((e & 0xffff_ffffL) << sh);
        return b | way;
    }

    /** Completes a {@link #reserve}d fill: writes the entry's value and tag, then releases the set. */
    void commit(int held, int did, int pasid, int level, int kind, long val) {
        long[] a = slots;
        int b = held & -STRIDE;
        int way = held & (WAYS - 1);
        a[b + VALUE + way] = val;
        a[b + TAG + way] = tagOf(did, pasid, level, kind);
        LONGS.setRelease(a, b + VERSION, a[b + VERSION] + 1); // held (odd) to the next even version
    }

    /** Releases a {@link #reserve}d set without an entry (the walk faulted): the way chosen stays empty. */
    void abandon(int held) {
        long[] a = slots;
        int b = held & -STRIDE;
        LONGS.setRelease(a, b + VERSION, a[b + VERSION] + 1);
    }

    /** Writes way {@code way} of the set at {@code b}, which the caller holds. */
    private void writeWay(int b, int way, long pn, long t, long val, int e) {
        long[] a = slots;
        a[b + PAGE + way] = pn;
        a[b + TAG + way] = t;
        a[b + VALUE + way] = val;
        int ei = b + EPOCHS + (way >> 1);
        int sh = (way & 1) << 5;
        a[ei] = (a[ei] & ~(0xffff_ffffL << sh)) | ((e & 0xffff_ffffL) << sh);
    }

    private int nextEpoch() {
        if (epoch == Integer.MAX_VALUE) {
            restartEpochs();
        }
        int e = epoch + 1;
        EPOCH.setRelease(this, e);
        return e;
    }

    /**
     * Sets the epoch counter back to 0 (first: a fill that read an older epoch and takes its set after the kill
     * below sees the counter went back and drops its entry), kills every entry (waiting for fills that hold a set,
     * as {@link #invalidateInSet} does), then sets every
     * floor back to 0 with release stores, the global floor last: a lookup that reads a reset floor also sees every
     * entry killed.
     */
    private void restartEpochs() {
        EPOCH.setVolatile(this, 0);
        long[] a = slots;
        for (int b = 0; b < a.length; b += STRIDE) {
            awaitNoFill(b);
            for (int w = 0; w < WAYS; w++) {
                LONGS.setOpaque(a, b + TAG + w, 0L);
            }
        }
        for (int d = 0; d < domainFloor.length; d++) {
            INTS.setRelease(domainFloor, d, 0);
            INTS.setRelease(nestedFloor, d, 0);
        }
        GLOBAL_FLOOR.setRelease(this, 0);
    }

    /** Global invalidation: O(1). */
    void invalidateAll() {
        invalidations.advance();
        GLOBAL_FLOOR.setRelease(this, nextEpoch());
    }

    /** Domain-selective invalidation: O(1). */
    void invalidateDomain(int did) {
        BYTES.setRelease(levelsFilled, did & 0xffff, (byte) 0); // before the count: see levelsFilled
        invalidations.advance();
        INTS.setRelease(domainFloor, did & 0xffff, nextEpoch());
    }

    /** Every nested (combined first- and second-stage) entry of {@code did}: O(1). */
    void invalidateNested(int did) {
        if ((levelsFilled[did & 0xffff] & NESTED_FILLED) == 0) {
            // the domain has no nested entry: nothing to count. Nested entries are filled only by walks under the
            // unit's lock (scalable mode), which every invalidation holds too, so no nested fill races this read.
            return;
        }
        invalidations.advance();
        INTS.setRelease(nestedFloor, did & 0xffff, nextEpoch());
    }

    /**
     * Whether way {@code w} of the set at {@code b} is live and of {@code did}, {@code pasid} (any when negative)
     * and one of {@code kinds}.
     */
    private boolean matches(int b, int w, int did, int pasid, int kinds) {
        long t = slots[b + TAG + w];
        if (t >= 0 || (int) (t & 0xffff) != did) {
            return false;
        }
        if (pasid >= 0 && (int) ((t & TAG_PASID_MASK) >>> TAG_PASID_SHIFT) != pasid + 1) {
            return false;
        }
        return (kinds & (1 << (int) ((t & TAG_KIND_MASK) >>> TAG_KIND_SHIFT))) != 0 && live(b, w);
    }

    /**
     * Whether the invalidation removes way {@code w} of the set at {@code b}: a live entry of (did, pasid, kinds)
     * whose page at its level overlaps {@code [lo, hi]}, of level {@code onlyLevel} when that is positive.
     */
    private boolean removes(int b, int w, int did, int pasid, int kinds, long lo, long hi, int onlyLevel) {
        long t = slots[b + TAG + w];
        if (t >= 0) {
            return false;
        }
        int level = (int) ((t >>> TAG_LEVEL_SHIFT) & 0xf);
        if (onlyLevel > 0 && level != onlyLevel) {
            return false;
        }
        long start = slots[b + PAGE + w] << shift(level);
        long end = start + (1L << shift(level)) - 1;
        return Long.compareUnsigned(start, hi) <= 0 && Long.compareUnsigned(end, lo) >= 0
                && matches(b, w, did, pasid, kinds);
    }

    /**
     * Kills the entries of the set at {@code b} that the invalidation removes, without taking the set: a kill is
     * one store (the tag's V cleared), which a lookup reads whole, so the set's version is left alone. The
     * invalidation advanced the count with a full fence before: if the version read here is odd, a fill holds the
     * set and is waited for (it compared the old count and writes its entry, which is then killed here, or it
     * compared the new count and drops it); a fill that takes the set after this read compares the new count and
     * drops its entry. A fill from a walk that began after the count moved may be writing a way meanwhile; a kill
     * of that way then at worst removes that newer entry too (invalidating more than asked, which the spec permits).
     */
    private void invalidateInSet(int b, int did, int pasid, int kinds, long lo, long hi, int onlyLevel) {
        if (isOccupied(b)) { // else no live entry: a fill that compares the count from now on drops its entry
            invalidateOccupiedSet(b, did, pasid, kinds, lo, hi, onlyLevel);
        }
    }

    /** {@link #invalidateInSet} of a set whose {@link #occupied} bit was read set after the count moved. */
    private void invalidateOccupiedSet(int b, int did, int pasid, int kinds, long lo, long hi, int onlyLevel) {
        long v = awaitNoFill(b);
        boolean anyLive = false;
        for (int w = 0; w < WAYS; w++) {
            if (removes(b, w, did, pasid, kinds, lo, hi, onlyLevel)) {
                LONGS.setOpaque(slots, b + TAG + w, 0L);
            } else if (slots[b + TAG + w] < 0) {
                anyLive = true; // valid (V set), whether or not an epoch floor killed it: a superset is safe
            }
        }
        if (!anyLive) {
            clearOccupied(b, v);
        }
    }

    /** Bit of the set at {@code b} in its {@link #occupied} word (Java shifts a long by the count mod 64). */
    private static long occupiedBit(int b) {
        return 1L << (b >>> STRIDE_SHIFT);
    }

    private static int occupiedWord(int b) {
        return b >>> (STRIDE_SHIFT + 6);
    }

    /** log2 of {@link #STRIDE}: a set's first word {@code b} is set number {@code b >>> STRIDE_SHIFT}. */
    private static final int STRIDE_SHIFT = Integer.numberOfTrailingZeros(STRIDE);

    /**
     * Whether the set at {@code b} may hold a live entry. A volatile read: an invalidation calls it after it
     * advanced the count, a fill after it took the set (see {@link #occupied}).
     */
    private boolean isOccupied(int b) {
        return ((long) LONGS.getVolatile(occupied, occupiedWord(b)) & occupiedBit(b)) != 0;
    }

    /** A fill holding the set at {@code b}: sets its {@link #occupied} bit unless it is set (no write then). */
    private void markOccupied(int b) {
        if (!isOccupied(b)) {
            long before = (long) LONGS.getAndBitwiseOr(occupied, occupiedWord(b), occupiedBit(b));
        }
    }

    /**
     * An invalidation that found no live way in the set at {@code b}, whose version it read as {@code v} before it
     * looked: clears the set's {@link #occupied} bit, then sets it again if a fill took the set since {@code v}
     * (that fill may have read the bit before the clear, and its entry must stay visible to later invalidations).
     * Package-private for the test that plays that interleaving.
     */
    void clearOccupied(int b, long v) {
        int word = occupiedWord(b);
        long bit = occupiedBit(b);
        long before = (long) LONGS.getAndBitwiseAnd(occupied, word, ~bit);
        if ((long) LONGS.getVolatile(slots, b + VERSION) != v) {
            before = (long) LONGS.getAndBitwiseOr(occupied, word, bit);
        }
    }

    /** Waits while a fill holds the set at {@code b} (its version odd); returns the even version (acquire). */
    private long awaitNoFill(int b) {
        long v;
        while (((v = (long) LONGS.getVolatile(slots, b + VERSION)) & 1) != 0) {
            Thread.onSpinWait();
        }
        return v;
    }

    /**
     * Invalidates entries of {@code did} (and {@code pasid} when {@code pasid >= 0}) of the given kinds
     * ({@code 1 << KIND_*} bits) that overlap {@code [addr, addr + 2^(12+am))} ({@code addr} aligned down to that
     * size); {@code am < 0} means every address. Probes the covered sets when fewer than all, else scans.
     */
    void invalidate(int did, int pasid, int kinds, long addr, int am) {
        if (am == 0 && (levelsFilled[did] & 1) != 0) {
            invalidatePage(did, pasid, kinds, addr);
            return;
        }
        invalidations.advance();
        int levels = levelsFilled[did];
        if (levels == 0) {
            return; // no live entry of the domain (a fill from now on compares the new count)
        }
        if (am < 0) {
            scan(did, pasid, kinds, 0, -1L);
            return;
        }
        long lo = addr & ~((1L << (12 + am)) - 1);
        long hi = lo + (1L << (12 + am)) - 1;
        if (am >= 63 - 12 || (1L << am) >= sets) {
            scan(did, pasid, kinds, lo, hi);
            return;
        }
        for (int level = 1; level <= 3; level++) {
            if ((levels & (1 << (level - 1))) == 0) {
                continue; // no live entry of this domain has this level
            }
            long first = lo >>> shift(level);
            long last = hi >>> shift(level);
            // the occupancy word of every set is read (an L1 hit) rather than kept while the sets stay in one word:
            // hashed sets change words at random, and a branch on that mispredicts half the time
            for (long pn = first; pn <= last; pn++) {
                int b = set(did, pn, level);
                if (isOccupied(b)) {
                    invalidateOccupiedSet(b, did, pasid, kinds, lo, hi, level);
                }
            }
        }
    }

    /**
     * One page (AM = 0) of a domain with 4 KiB entries (a racy hint, re-read below): the level-1 set is taken by
     * compare-and-set, whose full fence stands for the count's: the count is advanced with a release store, the
     * set taken, the level hints read, and the level-1 entries killed while the set is held; the other levels'
     * sets are then handled as {@link #invalidateInSet} does. One locked instruction, which the set's kill needed
     * anyway.
     */
    private void invalidatePage(int did, int pasid, int kinds, long addr) {
        invalidations.advanceBeforeLocking();
        long lo = addr & ~0xfffL;
        long hi = lo + 0xfff;
        int b = set(did, lo >>> shift(1), 1);
        long v = lockSet(b);
        int levels = levelsFilled[did];
        if (isOccupied(b)) { // stable while the set is held: fills set it holding the set, only invalidations clear it
            boolean anyLive = false;
            for (int w = 0; w < WAYS; w++) {
                if (removes(b, w, did, pasid, kinds, lo, hi, 1)) {
                    LONGS.setOpaque(slots, b + TAG + w, 0L);
                } else if (slots[b + TAG + w] < 0) {
                    anyLive = true; // valid (V set), whether or not an epoch floor killed it
                }
            }
            if (!anyLive) {
                long before = (long) LONGS.getAndBitwiseAnd(occupied, occupiedWord(b), ~occupiedBit(b));
            }
            unlockSet(b, v);
        } else {
            LONGS.setRelease(slots, b + VERSION, v); // unchanged: lookups in between stay valid
        }
        for (int level = 2; level <= 3; level++) {
            if ((levels & (1 << (level - 1))) != 0) {
                invalidateInSet(set(did, lo >>> shift(level), level), did, pasid, kinds, lo, hi, level);
            }
        }
    }

    /** The reference algorithm: every set, range overlap by unsigned comparison. */
    private void scan(int did, int pasid, int kinds, long lo, long hi) {
        for (int word = 0; word < occupied.length; word++) {
            // a bit set after this read belongs to a fill that compares the new count and drops its entry
            for (long m = (long) LONGS.getVolatile(occupied, word); m != 0; m &= m - 1) {
                invalidateOccupiedSet((word * 64 + Long.numberOfTrailingZeros(m)) * STRIDE, did, pasid, kinds, lo, hi, 0);
            }
        }
    }

    // =====================================================================================================
    // For tests of the cache itself (single-threaded, or with no writer running)
    // =====================================================================================================

    /**
     * For tests: a fill caught between its count comparison (passed) and its release, as a descheduled filler
     * would be: takes the set of (did, page of {@code iova}, level 1) and returns a handle for
     * {@link #finishHeldFill}.
     */
    long holdSetForFill(int did, long iova) {
        int b = set(did, iova >>> shift(1), 1);
        byte before = (byte) BYTES.getAndBitwiseOr(levelsFilled, did, (byte) 1);
        long v = lockSet(b);
        markOccupied(b);
        return ((long) b << 32) | v;
    }

    /** For tests: writes a second-stage 4 KiB entry into way 0 of the held set and releases it. */
    void finishHeldFill(long handle, int did, long iova, long val) {
        int b = (int) (handle >>> 32);
        writeWay(b, 0, iova >>> shift(1), tagOf(did, 0, 1, KIND_SECOND_STAGE), val, epoch);
        unlockSet(b, handle & 0xffff_ffffL);
    }

    /** For tests: the first word of the set that holds (did, page of {@code iova}, level 1). */
    int setOf(int did, long iova) {
        return set(did, iova >>> shift(1), 1);
    }

    /** For tests: the version word of the set at {@code b}. */
    long versionOf(int b) {
        return (long) LONGS.getVolatile(slots, b + VERSION);
    }

    /** For tests: whether the occupancy summary marks the set at {@code b}. */
    boolean occupiedForTest(int b) {
        return isOccupied(b);
    }

    /** Live entries. */
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

    /** The live entries as {did, pasid, level, kind, page number} (allocates). */
    java.util.List<long[]> liveEntryList() {
        java.util.List<long[]> l = new java.util.ArrayList<>();
        for (int b = 0; b < slots.length; b += STRIDE) {
            for (int w = 0; w < WAYS; w++) {
                if (live(b, w)) {
                    long t = slots[b + TAG + w];
                    l.add(new long[] {t & 0xffff, ((t & TAG_PASID_MASK) >>> TAG_PASID_SHIFT) - 1, (t >>> TAG_LEVEL_SHIFT) & 0xf,
                        (t & TAG_KIND_MASK) >>> TAG_KIND_SHIFT, slots[b + PAGE + w]});
                }
            }
        }
        return l;
    }

    /**
     * Whether a live entry (did, pasid, level, kind) caches the page of {@code iova} at that level: a direct
     * probe of every way, independent of {@link #lookup}.
     */
    boolean holds(int did, int pasid, long iova, int level, int kind) {
        long pn = iova >>> shift(level);
        long t = tagOf(did, pasid, level, kind);
        for (int b = 0; b < slots.length; b += STRIDE) {
            for (int w = 0; w < WAYS; w++) {
                if (slots[b + PAGE + w] == pn && slots[b + TAG + w] == t && live(b, w)) {
                    return true;
                }
            }
        }
        return false;
    }
}
