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
 * Each slot is {@value #STRIDE} words of one {@code long[]} (one cache line):
 * <pre>
 *   word 0  SEQ    sequence number: odd while the slot is being written (seqlock)
 *   word 1  PAGE   input page number at the entry's level (iova >>> (12 + 9 * (level - 1)))
 *   word 2  TAG    63: V (valid) | 45:44 kind | 43:40 level | 36:16 PASID + 1 | 15:0 DID
 *   word 3  VALUE  63:12 output page address | 11:0 permission bits (V_* here and in VtdUnit)
 *   word 4  EPOCH  the invalidation epoch current when the entry was filled
 *   word 5  REF    replacement hint: 1 once a lookup hit the entry (outside the seqlock; never read by lookups)
 * </pre>
 * Nothing is allocated after construction.
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
    static final int STRIDE = 8;
    private static final int SEQ = 0;
    private static final int PAGE = 1;
    private static final int TAG = 2;
    private static final int VALUE = 3;
    private static final int EPOCH = 4;
    private static final int REF = 5;

    private static final long TAG_VALID = 1L << 63;
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
    /** The slots, {@link #STRIDE} words each (layout in the class comment). */
    private final long[] slots;
    /** Per set: the clock hand, the way the next fill of a full set considers first. Guarded by the unit's lock. */
    private final byte[] victim;
    /** Per DID: the epoch of its last domain-selective invalidation (entries filled before it are dead). */
    private final int[] domainFloor = new int[1 << 16];
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
        this.slots = new long[sets * WAYS * STRIDE];
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

    private int set(int did, long pageNumber, int level) {
        long h = pageNumber * 0x9e37_79b9_7f4a_7c15L ^ (did * 0x85eb_ca6bL) ^ level;
        h ^= h >>> 29;
        return (int) (h & (sets - 1));
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
        int floor = Math.max((int) GLOBAL_FLOOR.getAcquire(this), (int) INTS.getAcquire(domainFloor, did));
        int nestedFloorNow = Math.max(floor, (int) INTS.getAcquire(nestedFloor, did));
        long want = did | ((long) (pasid + 1) << TAG_PASID_SHIFT) | TAG_VALID;
        long[] a = slots;
        for (int level = 1; level <= 3; level++) {
            long pn = iova >>> shift(level);
            long wantTag = want | ((long) level << TAG_LEVEL_SHIFT);
            int o = set(did, pn, level) * (WAYS * STRIDE);
            for (int w = 0; w < WAYS; w++, o += STRIDE) {
                long seq = (long) LONGS.getAcquire(a, o + SEQ);
                long tag = a[o + TAG];
                if (a[o + PAGE] != pn || (tag & ~TAG_KIND_MASK) != wantTag) {
                    continue;
                }
                long value = a[o + VALUE];
                int filled = (int) a[o + EPOCH];
                VarHandle.loadLoadFence();
                if ((seq & 1) != 0 || (long) LONGS.getOpaque(a, o + SEQ) != seq) {
                    return 0; // a writer is changing this slot: let the caller retry under the lock
                }
                int kind = (int) ((tag & TAG_KIND_MASK) >>> TAG_KIND_SHIFT);
                if (filled < (kind == KIND_NESTED ? nestedFloorNow : floor)) {
                    continue; // dead
                }
                if (a[o + REF] == 0) {
                    a[o + REF] = 1; // a hint: a racing fill may lose it, which only affects replacement
                }
                return value | ((long) level << LEVEL_SHIFT);
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

    /** Whether the slot at word offset {@code o} holds a live entry. Writers only. */
    private boolean live(int o) {
        long tag = slots[o + TAG];
        if (tag >= 0) {
            return false;
        }
        int did = (int) (tag & 0xffff);
        int filled = (int) slots[o + EPOCH];
        if (filled < globalFloor || filled < domainFloor[did]) {
            return false;
        }
        return ((tag & TAG_KIND_MASK) >>> TAG_KIND_SHIFT) != KIND_NESTED || filled >= nestedFloor[did];
    }

    private void store(int o, long page, long tag, long value, int filled) {
        long[] a = slots;
        long seq = a[o + SEQ];
        LONGS.setOpaque(a, o + SEQ, seq + 1);
        VarHandle.storeStoreFence();
        a[o + PAGE] = page;
        a[o + TAG] = tag;
        a[o + VALUE] = value;
        a[o + EPOCH] = filled;
        LONGS.setRelease(a, o + SEQ, seq + 2);
    }

    private void kill(int o) {
        long[] a = slots;
        long seq = a[o + SEQ];
        LONGS.setOpaque(a, o + SEQ, seq + 1);
        VarHandle.storeStoreFence();
        a[o + TAG] = 0;
        LONGS.setRelease(a, o + SEQ, seq + 2);
    }

    void fill(int did, int pasid, long iova, int level, int kind, long val) {
        long pn = iova >>> shift(level);
        int si = set(did, pn, level);
        int base = si * (WAYS * STRIDE);
        long t = tagOf(did, pasid, level, kind);
        int o = -1;
        for (int w = 0; w < WAYS; w++) {
            int s = base + w * STRIDE;
            if (!live(s) || (slots[s + PAGE] == pn && slots[s + TAG] == t)) {
                o = s;
                break;
            }
        }
        if (o < 0) {
            int hand = victim[si];
            int way = hand;
            for (int k = 0; k < WAYS; k++) {
                int w = (hand + k) & (WAYS - 1);
                int s = base + w * STRIDE;
                if (slots[s + REF] == 0) {
                    way = w;
                    break;
                }
                slots[s + REF] = 0; // second chance
            }
            o = base + way * STRIDE;
            victim[si] = (byte) ((way + 1) & (WAYS - 1));
        }
        store(o, pn, t, val, epoch);
        slots[o + REF] = 0;
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
        for (int o = 0; o < slots.length; o += STRIDE) {
            if (slots[o + TAG] != 0) {
                kill(o);
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
        return (long) CHANGES.getAcquire(this);
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
        changed();
    }

    /** Every nested (combined first- and second-stage) entry of {@code did}: O(1). */
    void invalidateNested(int did) {
        INTS.setRelease(nestedFloor, did & 0xffff, nextEpoch());
        changed();
    }

    /** Whether the live slot at {@code o} is of {@code did}, {@code pasid} (any when negative) and one of {@code kinds}. */
    private boolean matches(int o, int did, int pasid, int kinds) {
        long t = slots[o + TAG];
        if ((int) (t & 0xffff) != did) {
            return false;
        }
        if (pasid >= 0 && (int) ((t & TAG_PASID_MASK) >>> TAG_PASID_SHIFT) != pasid + 1) {
            return false;
        }
        return (kinds & (1 << (int) ((t & TAG_KIND_MASK) >>> TAG_KIND_SHIFT))) != 0 && live(o);
    }

    /**
     * Invalidates entries of {@code did} (and {@code pasid} when {@code pasid >= 0}) of the given kinds
     * ({@code 1 << KIND_*} bits) that overlap {@code [addr, addr + 2^(12+am))} ({@code addr} aligned down to that
     * size); {@code am < 0} means every address. Probes the covered sets when fewer than all, else scans.
     */
    void invalidate(int did, int pasid, int kinds, long addr, int am) {
        changed();
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
            long first = lo >>> shift(level);
            long last = hi >>> shift(level);
            for (long pn = first; pn <= last; pn++) {
                int o = set(did, pn, level) * (WAYS * STRIDE);
                for (int w = 0; w < WAYS; w++, o += STRIDE) {
                    long t = slots[o + TAG];
                    long p = slots[o + PAGE];
                    if (t < 0 && (int) ((t >>> TAG_LEVEL_SHIFT) & 0xf) == level && p >= first && p <= last
                            && matches(o, did, pasid, kinds)) {
                        kill(o);
                    }
                }
            }
        }
    }

    /** The reference algorithm: every slot, range overlap by unsigned comparison. */
    private void scan(int did, int pasid, int kinds, long lo, long hi) {
        for (int o = 0; o < slots.length; o += STRIDE) {
            if (slots[o + TAG] >= 0 || !matches(o, did, pasid, kinds)) {
                continue;
            }
            int level = (int) ((slots[o + TAG] >>> TAG_LEVEL_SHIFT) & 0xf);
            long start = slots[o + PAGE] << shift(level);
            long end = start + (1L << shift(level)) - 1;
            if (Long.compareUnsigned(start, hi) <= 0 && Long.compareUnsigned(end, lo) >= 0) {
                kill(o);
            }
        }
    }

    // =====================================================================================================
    // For tests of the cache itself (under the unit's lock or single-threaded)
    // =====================================================================================================

    /** Live entries. */
    int liveEntries() {
        int n = 0;
        for (int o = 0; o < slots.length; o += STRIDE) {
            if (live(o)) {
                n++;
            }
        }
        return n;
    }

    /** The live entries as {did, pasid, level, kind, page number} (allocates). */
    java.util.List<long[]> liveEntryList() {
        java.util.List<long[]> l = new java.util.ArrayList<>();
        for (int o = 0; o < slots.length; o += STRIDE) {
            if (live(o)) {
                long t = slots[o + TAG];
                l.add(new long[] {t & 0xffff, ((t & TAG_PASID_MASK) >>> TAG_PASID_SHIFT) - 1, (t >>> TAG_LEVEL_SHIFT) & 0xf,
                    (t & TAG_KIND_MASK) >>> TAG_KIND_SHIFT, slots[o + PAGE]});
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
        for (int o = 0; o < slots.length; o += STRIDE) {
            if (slots[o + PAGE] == pn && slots[o + TAG] == t && live(o)) {
                return true;
            }
        }
        return false;
    }
}
