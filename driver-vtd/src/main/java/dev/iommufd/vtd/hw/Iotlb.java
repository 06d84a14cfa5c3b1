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
 * probes the 4 slots of one set per leaf level; a fill replaces a dead slot, else the first slot from the set's
 * clock hand whose reference hint is clear, clearing the hints it passes (second chance: entries hit since the
 * hand last passed stay, so a stream of one-time misses does not evict the working set).
 * Each slot is one element of each of these parallel arrays (the 4 ways of a set are adjacent in each):
 * <pre>
 *   seq    63:32 the invalidation epoch current when the entry was filled
 *          31:0  sequence number: odd while the slot is being written (seqlock)
 *   page   input page number at the entry's level (iova >>> (12 + 9 * (level - 1)))
 *   tag    63: V (valid) | 62: R (referenced: a replacement hint, set by lookups with a CAS outside the seqlock,
 *          ignored by every comparison) | 45:44 kind | 43:40 level | 36:16 PASID + 1 | 15:0 DID
 *   value  63:12 output page address | 11:0 permission bits (V_* here and in VtdUnit)
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
 * when that is fewer than the sets; larger masks and PASID-selective invalidation scan every slot.
 *
 * <h2>Concurrency</h2>
 * Fills and invalidations (writers) are serialised by the owning {@link VtdUnit}'s lock. {@link #lookup} takes no
 * lock: it reads the floors first, then a slot's words between two reads of its sequence number, and reports a
 * miss when a writer was active in between (the caller then takes the lock). A writer makes the sequence odd
 * before and even after changing a slot (release), so a lookup never combines words of two different entries,
 * and a lookup that starts after an invalidation returned sees it.
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

    private static final long TAG_VALID = 1L << 63;
    private static final long TAG_REF = 1L << 62;
    private static final long SEQ_MASK = 0xffff_ffffL;
    private static final int TAG_LEVEL_SHIFT = 40;
    private static final int TAG_KIND_SHIFT = 44;
    private static final long TAG_KIND_MASK = 3L << TAG_KIND_SHIFT;
    private static final int TAG_PASID_SHIFT = 16;
    private static final long TAG_PASID_MASK = 0x1f_ffffL << TAG_PASID_SHIFT;

    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);
    private static final VarHandle GLOBAL_FLOOR;
    private static final VarHandle CHANGES;

    static {
        try {
            GLOBAL_FLOOR = MethodHandles.lookup().findVarHandle(Iotlb.class, "globalFloor", int.class);
            CHANGES = MethodHandles.lookup().findVarHandle(Iotlb.class, "changes", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int sets;
    /** 64 - log2(sets): {@link #set} keeps that many top bits. */
    private final int setShift;
    /** The slots (layout in the class comment). */
    private final long[] seq;
    private final long[] page;
    private final long[] tag;
    private final long[] value;
    /** Per set: the clock hand, the way the next fill of a full set considers first. Guarded by the unit's lock. */
    private final byte[] victim;
    /** Per DID: the epoch of its last domain-selective invalidation (entries filled before it are dead). */
    private final int[] domainFloor = new int[1 << 16];
    /**
     * Per DID: bit {@code level - 1} is set when the domain may have live entries of that level, and
     * {@link #NESTED_FILLED} when it may have nested entries (set by fills, cleared by domain-selective
     * invalidation; a superset is always safe). Page-selective and nested invalidation skip what is clear.
     * Guarded by the unit's lock.
     */
    private final byte[] levelsFilled = new byte[1 << 16];
    private static final int NESTED_FILLED = 0x40;
    /** Per DID: the epoch of the last invalidation of every nested (combined) entry of the domain. */
    private final int[] nestedFloor = new int[1 << 16];
    /** The epoch of the last global invalidation (release stores, acquire loads: {@link #GLOBAL_FLOOR}). */
    private int globalFloor;
    /** The last epoch handed out; entries filled now are stamped with it. Guarded by the unit's lock. */
    private int epoch;
    /** Invalidation operations so far (written under the unit's lock, release; read acquire): see {@link #changes()}. */
    private long changes;

    Iotlb(int entries) {
        this(entries, 0);
    }

    /** For tests of the epoch restart: the counter starts at {@code firstEpoch}. */
    Iotlb(int entries, int firstEpoch) {
        this.sets = Integer.highestOneBit(Math.max(WAYS, entries)) / WAYS;
        this.setShift = 64 - Integer.numberOfTrailingZeros(sets);
        int n = sets * WAYS;
        this.seq = new long[n];
        this.page = new long[n];
        this.tag = new long[n];
        this.value = new long[n];
        this.victim = new byte[sets];
        this.epoch = firstEpoch;
        GLOBAL_FLOOR.setRelease(this, firstEpoch);
    }

    int capacity() {
        return sets * WAYS;
    }

    private static long tagOf(int did, int pasid, int level, int kind) {
        return did | ((long) (pasid + 1) << TAG_PASID_SHIFT) | ((long) level << TAG_LEVEL_SHIFT)
                | ((long) kind << TAG_KIND_SHIFT) | TAG_VALID;
    }

    private static int shift(int level) {
        return 12 + 9 * (level - 1);
    }

    /** Fibonacci hashing of (page number, DID, level): the top bits of one multiplication. */
    private int set(int did, long pageNumber, int level) {
        long h = (pageNumber ^ ((long) did << 45) ^ ((long) level << 61)) * 0x9e37_79b9_7f4a_7c15L;
        return (int) (h >>> setShift);
    }

    // =====================================================================================================
    // Lookup (no lock)
    // =====================================================================================================

    /**
     * Looks up {@code iova} for (did, pasid) at leaf levels 1..3. Takes no lock; safe against concurrent writers.
     *
     * @return the entry's value with its level at {@link #LEVEL_SHIFT}, or 0 when there is no live entry (or a
     *     writer changed the matching slot during the lookup)
     */
    long lookup(int did, int pasid, long iova) {
        // plain loads followed by an acquire fence: the same ordering as acquire loads, without a VarHandle per load
        int floor = Math.max(globalFloor, domainFloor[did]);
        int nestedFloorNow = Math.max(floor, nestedFloor[did]);
        int levels = levelsFilled[did]; // a racy hint: a level filled meanwhile is a miss, which the lock settles
        VarHandle.acquireFence(); // the floors are read before any slot
        long want = did | ((long) (pasid + 1) << TAG_PASID_SHIFT) | TAG_VALID;
        for (int level = 1; level <= 3; level++) {
            if ((levels & (1 << (level - 1))) == 0) {
                continue;
            }
            long pn = iova >>> shift(level);
            long wantTag = want | ((long) level << TAG_LEVEL_SHIFT);
            int s = set(did, pn, level) * WAYS;
            for (int w = 0; w < WAYS; w++, s++) {
                long sq = seq[s];
                VarHandle.acquireFence();
                long t = tag[s];
                if (page[s] != pn || (t & ~(TAG_KIND_MASK | TAG_REF)) != wantTag) {
                    continue;
                }
                long v = value[s];
                int filled = (int) (sq >>> 32);
                VarHandle.loadLoadFence();
                if ((sq & 1) != 0 || seq[s] != sq) {
                    return 0; // a writer is changing this slot: let the caller retry under the lock
                }
                int kind = (int) ((t & TAG_KIND_MASK) >>> TAG_KIND_SHIFT);
                if (filled < (kind == KIND_NESTED ? nestedFloorNow : floor)) {
                    continue; // dead
                }
                if ((t & TAG_REF) == 0) {
                    LONGS.compareAndSet(tag, s, t, t | TAG_REF); // a hint: losing it only affects replacement
                }
                return v | ((long) level << LEVEL_SHIFT);
            }
        }
        return 0;
    }

    /** The level of a {@link #lookup} result. */
    static int levelOf(long lookupResult) {
        return (int) ((lookupResult >>> LEVEL_SHIFT) & 3);
    }

    // =====================================================================================================
    // Writers (under the unit's lock)
    // =====================================================================================================

    /** Whether slot {@code s} holds a live entry. Writers only. */
    private boolean live(int s) {
        long t = tag[s];
        if (t >= 0) {
            return false;
        }
        int did = (int) (t & 0xffff);
        int filled = (int) (seq[s] >>> 32);
        if (filled < globalFloor || filled < domainFloor[did]) {
            return false;
        }
        return ((t & TAG_KIND_MASK) >>> TAG_KIND_SHIFT) != KIND_NESTED || filled >= nestedFloor[did];
    }

    private void store(int s, long pn, long t, long v, int filled) {
        long sq = seq[s];
        long n = (sq + 1) & SEQ_MASK;
        LONGS.setOpaque(seq, s, (sq & ~SEQ_MASK) | n);
        VarHandle.storeStoreFence();
        page[s] = pn;
        tag[s] = t;
        value[s] = v;
        LONGS.setRelease(seq, s, ((long) filled << 32) | ((n + 1) & SEQ_MASK));
    }

    private void kill(int s) {
        long sq = seq[s];
        long n = (sq + 1) & SEQ_MASK;
        LONGS.setOpaque(seq, s, (sq & ~SEQ_MASK) | n);
        VarHandle.storeStoreFence();
        tag[s] = 0;
        LONGS.setRelease(seq, s, (sq & ~SEQ_MASK) | ((n + 1) & SEQ_MASK));
    }

    void fill(int did, int pasid, long iova, int level, int kind, long val) {
        long pn = iova >>> shift(level);
        int si = set(did, pn, level);
        int base = si * WAYS;
        long t = tagOf(did, pasid, level, kind);
        int slot = -1;
        for (int w = 0; w < WAYS; w++) {
            int s = base + w;
            if (!live(s) || (page[s] == pn && (tag[s] & ~TAG_REF) == t)) {
                slot = s;
                break;
            }
        }
        if (slot < 0) {
            int hand = victim[si];
            int way = hand;
            for (int k = 0; k < WAYS; k++) {
                int w = (hand + k) & (WAYS - 1);
                long tw = tag[base + w];
                if ((tw & TAG_REF) == 0) {
                    way = w;
                    break;
                }
                tag[base + w] = tw & ~TAG_REF; // second chance (a lookup setting R meanwhile is lost: only a hint)
            }
            slot = base + way;
            victim[si] = (byte) ((way + 1) & (WAYS - 1));
        }
        store(slot, pn, t, val, epoch);
        int bits = (1 << (level - 1)) | (kind == KIND_NESTED ? NESTED_FILLED : 0);
        if ((levelsFilled[did] & bits) != bits) { // lookups read this line: write it only when it changes
            levelsFilled[did] |= (byte) bits;
        }
    }

    private int nextEpoch() {
        if (epoch == Integer.MAX_VALUE) {
            restartEpochs();
        }
        return ++epoch;
    }

    /**
     * Kills every slot, then sets every floor and the counter back to 0. The floors are reset with release stores
     * after the kills, and the global floor last: a lookup that reads a reset floor also sees every slot killed.
     */
    private void restartEpochs() {
        for (int s = 0; s < tag.length; s++) {
            if (tag[s] != 0) {
                kill(s);
            }
        }
        for (int d = 0; d < domainFloor.length; d++) {
            INTS.setRelease(domainFloor, d, 0);
            INTS.setRelease(nestedFloor, d, 0);
        }
        GLOBAL_FLOOR.setRelease(this, 0);
        epoch = 0;
    }

    /**
     * How many invalidation operations ran so far. A walk done without the lock reads it before it starts and
     * fills the IOTLB only if it is unchanged at the fill (under the lock), so no invalidation that ran during the
     * walk is undone by a fill from what the walk read before it.
     */
    long changes() {
        long c = changes;
        VarHandle.acquireFence();
        return c;
    }

    private void changed() {
        CHANGES.setRelease(this, changes + 1); // single writer: the unit's lock
    }

    /** Global invalidation: O(1). */
    void invalidateAll() {
        GLOBAL_FLOOR.setRelease(this, nextEpoch());
        changed();
    }

    /** Domain-selective invalidation: O(1). */
    void invalidateDomain(int did) {
        INTS.setRelease(domainFloor, did & 0xffff, nextEpoch());
        levelsFilled[did & 0xffff] = 0;
        changed();
    }

    /** Every nested (combined first- and second-stage) entry of {@code did}: O(1). */
    void invalidateNested(int did) {
        if ((levelsFilled[did & 0xffff] & NESTED_FILLED) == 0) {
            return; // the domain has no nested entry: nothing to invalidate
        }
        INTS.setRelease(nestedFloor, did & 0xffff, nextEpoch());
        changed();
    }

    /** Whether the live slot {@code s} is of {@code did}, {@code pasid} (any when negative) and one of {@code kinds}. */
    private boolean matches(int s, int did, int pasid, int kinds) {
        long t = tag[s];
        if ((int) (t & 0xffff) != did) {
            return false;
        }
        if (pasid >= 0 && (int) ((t & TAG_PASID_MASK) >>> TAG_PASID_SHIFT) != pasid + 1) {
            return false;
        }
        return (kinds & (1 << (int) ((t & TAG_KIND_MASK) >>> TAG_KIND_SHIFT))) != 0 && live(s);
    }

    /**
     * Invalidates entries of {@code did} (and {@code pasid} when {@code pasid >= 0}) of the given kinds
     * ({@code 1 << KIND_*} bits) that overlap {@code [addr, addr + 2^(12+am))} ({@code addr} aligned down to that
     * size); {@code am < 0} means every address. Probes the covered sets when fewer than all, else scans.
     */
    void invalidate(int did, int pasid, int kinds, long addr, int am) {
        changed();
        if (levelsFilled[did] == 0) {
            return; // no live entry of the domain
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
        int levels = levelsFilled[did] & 7;
        for (int level = 1; level <= 3; level++) {
            if ((levels & (1 << (level - 1))) == 0) {
                continue; // no live entry of this domain has this level
            }
            long first = lo >>> shift(level);
            long last = hi >>> shift(level);
            for (long pn = first; pn <= last; pn++) {
                int s = set(did, pn, level) * WAYS;
                for (int w = 0; w < WAYS; w++, s++) {
                    long t = tag[s];
                    long p = page[s];
                    if (t < 0 && (int) ((t >>> TAG_LEVEL_SHIFT) & 0xf) == level && p >= first && p <= last
                            && matches(s, did, pasid, kinds)) {
                        kill(s);
                    }
                }
            }
        }
    }

    /** The reference algorithm: every slot, range overlap by unsigned comparison. */
    private void scan(int did, int pasid, int kinds, long lo, long hi) {
        for (int s = 0; s < tag.length; s++) {
            if (tag[s] >= 0 || !matches(s, did, pasid, kinds)) {
                continue;
            }
            int level = (int) ((tag[s] >>> TAG_LEVEL_SHIFT) & 0xf);
            long start = page[s] << shift(level);
            long end = start + (1L << shift(level)) - 1;
            if (Long.compareUnsigned(start, hi) <= 0 && Long.compareUnsigned(end, lo) >= 0) {
                kill(s);
            }
        }
    }

    // =====================================================================================================
    // For tests of the cache itself (under the unit's lock or single-threaded)
    // =====================================================================================================

    /** Live entries. */
    int liveEntries() {
        int n = 0;
        for (int s = 0; s < tag.length; s++) {
            if (live(s)) {
                n++;
            }
        }
        return n;
    }

    /** The live entries as {did, pasid, level, kind, page number} (allocates). */
    java.util.List<long[]> liveEntryList() {
        java.util.List<long[]> l = new java.util.ArrayList<>();
        for (int s = 0; s < tag.length; s++) {
            if (live(s)) {
                long t = tag[s];
                l.add(new long[] {t & 0xffff, ((t & TAG_PASID_MASK) >>> TAG_PASID_SHIFT) - 1, (t >>> TAG_LEVEL_SHIFT) & 0xf,
                    (t & TAG_KIND_MASK) >>> TAG_KIND_SHIFT, page[s]});
            }
        }
        return l;
    }

    /**
     * Whether a live entry (did, pasid, level, kind) caches the page of {@code iova} at that level: a direct
     * probe of the slots, independent of {@link #lookup}.
     */
    boolean holds(int did, int pasid, long iova, int level, int kind) {
        long pn = iova >>> shift(level);
        long t = tagOf(did, pasid, level, kind);
        for (int s = 0; s < tag.length; s++) {
            if (page[s] == pn && (tag[s] & ~TAG_REF) == t && live(s)) {
                return true;
            }
        }
        return false;
    }
}
