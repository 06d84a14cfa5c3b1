package dev.iommufd.smmuv3.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The unit's TLB: a fixed-size, 8-way set-associative cache of final translations held in primitive arrays.
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
 * <h2>Entry layout (one slot = {@link #tag}, {@link #data}, {@link #ids} and {@link #fillEpoch})</h2>
 * <pre>
 *  tag:   63                                 12 11     3 2    0
 *        +-------------------------------------+--------+------+
 *        | input address, aligned to the page  | shift  | kind |
 *        +-------------------------------------+--------+------+
 *  data:  63                                 12 11    6 5      0
 *        +-------------------------------------+-------+--------+
 *        | output address, aligned to the page | perm  | shift  |
 *        +-------------------------------------+-------+--------+
 *  ids:   31          16 15          0
 *        +--------------+-------------+
 *        |     VMID     |    ASID     |
 *        +--------------+-------------+
 * </pre>
 * Pages are at least 4 KiB, so bits [11:0] of both addresses are free for the shift, kind and permissions.
 * An entry is placed in the set chosen by (VMID, input address / page size); lookups probe each page size
 * present ({@link #pageShiftsPresent}).
 *
 * <h2>Invalidation</h2>
 * By ASID, by VMID and of everything in O(1), with epochs: {@link #epoch} counts those invalidations; an entry
 * records the epoch current at fill time ({@link #fillEpoch}); {@code TLBI_NH_ASID} records the new epoch as the
 * ASID's invalidation epoch ({@link #asidInvalidatedAt}), {@code TLBI_NH_ALL}/{@code TLBI_S12_VMALL} as the
 * VMID's, {@code TLBI_NSNH_ALL} as everything's; an entry filled before its ASID's, VMID's or everything's
 * invalidation epoch is dead. The ASID epoch is kept per ASID (not per VMID+ASID), so {@code TLBI_NH_ASID} also
 * drops that ASID's entries of other VMIDs, and its global entries: over-invalidation, which the architecture
 * permits. Stage-2-only entries have no ASID and ignore ASID epochs. Epochs are 64-bit: they never wrap. Address-based invalidations of a small range
 * probe only the sets of the covered pages, for every page size present; larger ranges scan every slot.
 *
 * <p>Stale entries stay usable until invalidated: nothing but the invalidation commands removes an entry (or
 * eviction by a later fill).
 *
 * <h2>Concurrency</h2>
 * {@link #lookup} and {@link #fill} are lock-free; invalidations run under the unit's lock (one at a time). Every
 * set has a version word ({@link #setVersion}, a seqlock whose odd state is also the set's write lock): a writer
 * (a fill, or an invalidation scanning the set) makes it odd by compare-and-set, changes the set and makes it even
 * again (release). A reader takes the version (acquire), reads the ways, and retries when the version was odd or
 * changed. Invalidation epochs are release stores read with acquire loads.
 *
 * <p>Every invalidation first advances {@link #invalidations}. A translation that walks the tables samples it
 * before its walk and passes the sample to {@link #fill}, which drops the entry when the count moved: so no
 * translation read before a TLBI can be cached after it, and none survives the CMD_SYNC that follows.
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

    private static final int WAYS = 8;
    /** Ranges of more pages than this (summed over the page sizes present) are invalidated by a full scan. */
    private static final int MAX_PROBED_PAGES = 64;

    private static final VarHandle INT = MethodHandles.arrayElementVarHandle(int[].class);
    private static final VarHandle INVALIDATIONS;
    private static final VarHandle PRESENT;

    static {
        try {
            INVALIDATIONS = MethodHandles.lookup().findVarHandle(Smmuv3Tlb.class, "invalidations", int.class);
            PRESENT = MethodHandles.lookup().findVarHandle(Smmuv3Tlb.class, "pageShiftsPresent", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int sets;
    private final long[] tag;
    private final long[] data;
    private final int[] ids;
    private final long[] fillEpoch;
    /** Seqlock version per set: odd while a writer changes the set. */
    private final int[] setVersion;
    /** Round-robin victim per set; guarded by the set's version word (see {@link #lockSet}). */
    private final int[] victim;

    private static final VarHandle LONG = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] asidInvalidatedAt = new long[1 << 16];
    private final long[] vmidInvalidatedAt = new long[1 << 16];
    private volatile long allInvalidatedAt;
    /** Count of ASID/VMID/all invalidations; written under the unit's lock, read by fills without it. */
    private volatile long epoch;
    /** Bit n set: some entry of page size 2^n may exist (only ever gains bits, set by atomic OR). */
    private volatile long pageShiftsPresent;
    /** Count of invalidation commands executed (see the class comment). */
    private volatile int invalidations;

    Smmuv3Tlb(int entries) {
        if (Integer.bitCount(entries) != 1 || entries < WAYS) {
            throw new IllegalArgumentException("TLB entries must be a power of two >= " + WAYS);
        }
        sets = entries / WAYS;
        tag = new long[entries];
        data = new long[entries];
        ids = new int[entries];
        fillEpoch = new long[entries];
        setVersion = new int[sets];
        victim = new int[sets];
    }

    int capacity() {
        return tag.length;
    }

    private int set(int vm, long page) {
        long h = (page ^ (page >>> 17) ^ (long) vm * 0x9E3779B97F4A7C15L) * 0xff51afd7ed558ccdL;
        return (int) (h >>> 40) & (sets - 1);
    }

    private static int idsOf(int vm, int as) {
        return (vm & 0xffff) << 16 | as & 0xffff;
    }

    /** Whether slot {@code i} holds an entry no tag invalidation has killed (plain reads: see the callers). */
    private boolean live(int i) {
        long t = tag[i];
        if ((t & TAG_KIND_MASK) == KIND_EMPTY) {
            return false;
        }
        int id = ids[i];
        long e = fillEpoch[i];
        return e >= allInvalidatedAt
                && e >= vmidInvalidatedAt[id >>> 16]
                && ((t & TAG_KIND_MASK) == KIND_S2 || e >= asidInvalidatedAt[id & 0xffff]);
    }

    /** The sample a walk without the unit's lock takes before reading tables (see the class comment). */
    int invalidationCount() {
        return invalidations;
    }

    private long nextEpoch() {
        long e = epoch + 1;
        epoch = e;
        return e;
    }

    /** Counts an invalidation: called before it changes anything (see {@link #fill}). */
    private void invalidated() {
        INVALIDATIONS.setVolatile(this, invalidations + 1); // a full fence: see invalidateInSet
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
        int wantIds = idsOf(vm, as);
        while (shifts != 0) {
            int shift = Long.numberOfTrailingZeros(shifts);
            shifts &= shifts - 1;
            long key = address & -(1L << shift) | (long) shift << TAG_SHIFT_SHIFT;
            int s = set(vm, address >>> shift);
            int base = s * WAYS;
            for (;;) {
                int v = setVersion[s];
                VarHandle.acquireFence(); // the ways (and the epochs live() reads) are read after the version
                long found = MISS;
                if ((v & 1) == 0) {
                    for (int w = 0; w < WAYS; w++) {
                        int i = base + w;
                        long t = tag[i];
                        if ((t & ~TAG_KIND_MASK) != key) {
                            continue;
                        }
                        int ek = (int) t & TAG_KIND_MASK;
                        int id = ids[i];
                        boolean match = ek == k ? (k == KIND_S2 ? (id >>> 16) == vm : id == wantIds)
                                : k == KIND_S1 && ek == KIND_S1_GLOBAL && (id >>> 16) == vm;
                        if (match && live(i)) {
                            long d = data[i];
                            if ((d >>> DATA_PERM_SHIFT & need) != 0) {
                                found = d;
                            }
                            break;
                        }
                    }
                    VarHandle.loadLoadFence();
                    if (setVersion[s] == v) {
                        if (found != MISS) {
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

    /** Takes set {@code s} for writing (its version odd); returns the even version it had. */
    private int lockSet(int s) {
        for (;;) {
            int v = (int) INT.getVolatile(setVersion, s);
            if ((v & 1) == 0 && INT.compareAndSet(setVersion, s, v, v + 1)) {
                return v;
            }
            Thread.onSpinWait();
        }
    }

    private void unlockSet(int s, int v) {
        INT.setRelease(setVersion, s, v + 2);
    }

    /**
     * Fills an entry for {@code address} (aligned down to {@code 2^shift}) translating to {@code out}, with no walk
     * in flight (as a hardware fill whose walk no invalidation overlapped: the verb the TLB benchmark probe uses).
     */
    void fill(int k, int vm, int as, long address, long out, int shift, int permissions) {
        fill(k, vm, as, address, out, shift, permissions, invalidations);
    }

    /**
     * Fills an entry for {@code address} (aligned down to {@code 2^shift}) translating to {@code out}, unless an
     * invalidation ran since {@code sample} was taken ({@link #invalidationCount}, before the walk that produced the
     * translation). Lock-free: the set is taken by its version word, which invalidations take too, and the
     * invalidation count is compared while holding it; the epoch recorded is read before that comparison (an
     * invalidation advances the count before the epoch, so an epoch that already counts it fails the comparison).
     *
     * @return whether the entry was filled
     */
    boolean fill(int k, int vm, int as, long address, long out, int shift, int permissions, int sample) {
        long e = epoch;
        if ((pageShiftsPresent & 1L << shift) == 0) {
            PRESENT.getAndBitwiseOr(this, 1L << shift); // before the count check: a later invalidation probes it
        }
        long page = address >>> shift;
        int s = set(vm, page);
        int base = s * WAYS;
        int v = lockSet(s);
        if (invalidations != sample) {
            unlockSet(s, v);
            return false;
        }
        long newTag = address & -(1L << shift) | (long) shift << TAG_SHIFT_SHIFT | k;
        int newIds = idsOf(vm, as);
        int slot = -1;
        for (int w = 0; w < WAYS; w++) {
            int i = base + w;
            if (tag[i] == newTag && ids[i] == newIds) {
                slot = i; // refresh the same translation (one entry per tag: a lookup uses the first match)
                break;
            }
        }
        for (int w = 0; w < WAYS && slot < 0; w++) {
            if ((tag[base + w] & TAG_KIND_MASK) == KIND_EMPTY) {
                slot = base + w; // an empty way (entries killed by an epoch are replaced in turn, without reading them)
            }
        }
        if (slot < 0) {
            slot = base + victim[s];
            victim[s] = (victim[s] + 1) & (WAYS - 1);
        }
        tag[slot] = newTag;
        data[slot] = out & ADDRESS_MASK & -(1L << shift) | (long) (permissions & DATA_PERM_MASK) << DATA_PERM_SHIFT | shift;
        ids[slot] = newIds;
        fillEpoch[slot] = e;
        unlockSet(s, v);
        return true;
    }

    /** {@code TLBI_NH_ASID}: every entry of ASID {@code as} (of any VMID). O(1). */
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
     * {@code true}): entries of VMID {@code vm} ({@code KIND_S1}, {@code KIND_S1_GLOBAL}, {@code KIND_NESTED})
     * overlapping {@code [start, start + length)}.
     */
    void invalidateVa(int vm, int as, boolean anyAsid, long start, long length) {
        invalidateRange(false, vm, as, anyAsid, start, length);
    }

    /** {@code TLBI_S2_IPA}: stage-2-only entries of VMID {@code vm} overlapping the IPA range. */
    void invalidateIpa(int vm, long start, long length) {
        invalidateRange(true, vm, 0, true, start, length);
    }

    private void invalidateRange(boolean ipa, int vm, int as, boolean anyAsid, long start, long length) {
        invalidated();
        long last = start + length - 1;
        long shifts = pageShiftsPresent;
        boolean scan = Long.compareUnsigned(last, start) < 0; // wraps past 2^64: everything above start
        long probes = 0;
        for (long m = shifts; m != 0 && !scan; m &= m - 1) {
            int shift = Long.numberOfTrailingZeros(m);
            long pages = (last >>> shift) - (start >>> shift) + 1;
            probes += pages;
            scan = pages <= 0 || probes > MAX_PROBED_PAGES;
        }
        if (scan) {
            for (int s = 0; s < sets; s++) {
                invalidateInSet(s, ipa, vm, as, anyAsid, start, last, -1);
            }
        } else {
            for (long m = shifts; m != 0; m &= m - 1) {
                int shift = Long.numberOfTrailingZeros(m);
                for (long page = start >>> shift; page <= last >>> shift; page++) {
                    invalidateInSet(set(vm, page), ipa, vm, as, anyAsid, start, last, shift);
                }
            }
        }
    }

    /** Drops the matching entries of set {@code s} ({@code onlyShift}: of that page size, -1: any). */
    private void invalidateInSet(int s, boolean ipa, int vm, int as, boolean anyAsid, long start, long last,
            int onlyShift) {
        int base = s * WAYS;
        // Optimistic scan first: a set holding nothing to remove is left unwritten. Sound against a concurrent fill
        // because the count was advanced by a volatile store before this read of the version (a Dekker pair with
        // the fill's compare-and-set of the version and its read of the count): either the fill took the set before
        // the version reads below (they differ, or are odd: the set is taken and rescanned) or it reads the new
        // count and drops its entry.
        int v = (int) INT.getVolatile(setVersion, s); // after the count's volatile store in synchronization order
        if ((v & 1) == 0) {
            boolean any = false;
            for (int w = 0; w < WAYS && !any; w++) {
                any = removes(base + w, ipa, vm, as, anyAsid, start, last, onlyShift);
            }
            VarHandle.loadLoadFence();
            if (!any && setVersion[s] == v) {
                return;
            }
        }
        v = lockSet(s);
        for (int w = 0; w < WAYS; w++) {
            if (removes(base + w, ipa, vm, as, anyAsid, start, last, onlyShift)) {
                tag[base + w] = KIND_EMPTY;
            }
        }
        unlockSet(s, v);
    }

    /** Whether the invalidation removes slot {@code i} (the tag's address first: most ways fail there). */
    private boolean removes(int i, boolean ipa, int vm, int as, boolean anyAsid, long start, long last, int onlyShift) {
        long t = tag[i];
        int k = (int) t & TAG_KIND_MASK;
        int shift = (int) (t >>> TAG_SHIFT_SHIFT) & DATA_SHIFT_MASK;
        if (k == KIND_EMPTY || onlyShift >= 0 && shift != onlyShift) {
            return false;
        }
        long eStart = t & -(1L << shift);
        long eLast = eStart + (1L << shift) - 1;
        if (Long.compareUnsigned(eStart, last) > 0 || Long.compareUnsigned(start, eLast) > 0) {
            return false;
        }
        int id = ids[i];
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
        for (int i = 0; i < tag.length; i++) {
            if (live(i)) {
                n++;
            }
        }
        return n;
    }

    /**
     * Whether a live entry of kind {@code k} (exactly), VMID, ASID (ignored for S2 and S1_GLOBAL) covers
     * {@code address} (for tests: the reference a probe-based invalidation is compared with). Caller holds the lock.
     */
    boolean holds(int k, int vm, int as, long address) {
        for (int i = 0; i < tag.length; i++) {
            long t = tag[i];
            if ((t & TAG_KIND_MASK) != k || !live(i) || (ids[i] >>> 16) != (vm & 0xffff)) {
                continue;
            }
            if (k != KIND_S2 && k != KIND_S1_GLOBAL && (ids[i] & 0xffff) != (as & 0xffff)) {
                continue;
            }
            int shift = (int) (t >>> TAG_SHIFT_SHIFT) & DATA_SHIFT_MASK;
            if ((t & -(1L << shift)) == (address & -(1L << shift))) {
                return true;
            }
        }
        return false;
    }

    /** A snapshot of every live entry's (tag, ids) pair, for tests: {@code out[2i]} = tag, {@code out[2i+1]} = ids. */
    int liveTags(long[] out) {
        int n = 0;
        for (int i = 0; i < tag.length; i++) {
            if (live(i)) {
                out[2 * n] = tag[i];
                out[2 * n + 1] = ids[i] & 0xffff_ffffL;
                n++;
            }
        }
        return n;
    }
}
