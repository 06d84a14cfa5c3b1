package dev.iommufd.vtd.hw;

/**
 * The unit's IOTLB: cached leaf translations tagged as VT-d tags them (spec 6.2.2): domain ID, PASID (scalable
 * mode; the RID_PASID for requests without PASID, 0 in legacy mode), input page number and page size (level).
 *
 * <h2>Structure</h2>
 * A fixed-size, 4-way set-associative table of parallel primitive arrays: a lookup probes the 4 slots of one
 * set (open addressing bounded to the set); a fill replaces an invalid slot or the set's round-robin victim.
 * Nothing is allocated after construction.
 *
 * <h2>Invalidation</h2>
 * Global and domain-selective invalidation are O(1): every entry remembers the global generation and its
 * domain's generation at fill time, and is valid only while both are unchanged. PASID-selective and
 * page-selective invalidation scan the table (a fixed number of slots).
 *
 * <p>Not thread-safe: guarded by the owning {@link VtdUnit}'s lock.
 */
final class Iotlb {
    /** Entry kinds: which descriptor types invalidate an entry. */
    static final int KIND_SECOND_STAGE = 0;
    static final int KIND_FIRST_STAGE = 1;
    static final int KIND_NESTED = 2;

    /** Permission/attribute bits of {@link #value} (low 12 bits; the rest is the output page address). */
    static final long V_READ = 1;
    static final long V_WRITE = 2;
    static final long V_SNP = 4;
    /** The leaf's dirty bit was already set (writes need no A/D update). */
    static final long V_DIRTY = 8;
    /** A/D updates apply to this translation (SSADE or first stage). */
    static final long V_AD = 16;

    private static final int WAYS = 4;

    private final int sets;
    private final long[] page;
    /** did | (pasid + 1) << 16 | level << 40 | kind << 44 | 1 << 63 (valid) */
    private final long[] tag;
    private final long[] value;
    /** global generation << 32 | domain generation at fill time */
    private final long[] gen;
    private final byte[] victim;
    private final int[] domainGen = new int[1 << 16];
    private int globalGen = 1;

    Iotlb(int entries) {
        this.sets = Integer.highestOneBit(Math.max(WAYS, entries)) / WAYS;
        int n = sets * WAYS;
        page = new long[n];
        tag = new long[n];
        value = new long[n];
        gen = new long[n];
        victim = new byte[sets];
    }

    int capacity() {
        return sets * WAYS;
    }

    private static long tagOf(int did, int pasid, int level, int kind) {
        return did | ((long) (pasid + 1) << 16) | ((long) level << 40) | ((long) kind << 44) | (1L << 63);
    }

    private int set(int did, int pasid, long pageNumber, int level) {
        long h = pageNumber * 0x9e37_79b9_7f4a_7c15L ^ (did * 0x85eb_ca6bL) ^ ((long) pasid << 7) ^ level;
        h ^= h >>> 29;
        return (int) (h & (sets - 1));
    }

    private boolean live(int slot) {
        long g = gen[slot];
        int did = (int) (tag[slot] & 0xffff);
        return tag[slot] < 0 && (int) (g >>> 32) == globalGen && (int) g == domainGen[did];
    }

    /**
     * Looks up {@code iova} for (did, pasid) at leaf levels 1..3.
     *
     * @return the slot, or -1
     */
    int lookup(int did, int pasid, long iova) {
        for (int level = 1; level <= 3; level++) {
            long pn = iova >>> (12 + 9 * (level - 1));
            int base = set(did, pasid, pn, level) * WAYS;
            for (int w = 0; w < WAYS; w++) {
                int s = base + w;
                if (page[s] == pn && (tag[s] & ~(3L << 44)) == (tagOf(did, pasid, level, 0) & ~(3L << 44)) && live(s)) {
                    return s;
                }
            }
        }
        return -1;
    }

    int level(int slot) {
        return (int) ((tag[slot] >>> 40) & 0xf);
    }

    long value(int slot) {
        return value[slot];
    }

    void fill(int did, int pasid, long iova, int level, int kind, long val) {
        long pn = iova >>> (12 + 9 * (level - 1));
        int si = set(did, pasid, pn, level);
        int base = si * WAYS;
        long t = tagOf(did, pasid, level, kind);
        int slot = -1;
        for (int w = 0; w < WAYS; w++) {
            int s = base + w;
            if (!live(s) || (page[s] == pn && tag[s] == t)) {
                slot = s;
                break;
            }
        }
        if (slot < 0) {
            slot = base + victim[si];
            victim[si] = (byte) ((victim[si] + 1) % WAYS);
        }
        page[slot] = pn;
        tag[slot] = t;
        value[slot] = val;
        gen[slot] = ((long) globalGen << 32) | (domainGen[did] & 0xffff_ffffL);
    }

    /** Global invalidation: O(1). */
    void invalidateAll() {
        globalGen++;
    }

    /** Domain-selective invalidation: O(1). */
    void invalidateDomain(int did) {
        domainGen[did & 0xffff]++;
    }

    /**
     * Invalidates entries of {@code did} (and {@code pasid} when {@code pasid >= 0}) of the given kinds
     * ({@code 1 << KIND_*} bits) that overlap {@code [addr, addr + 2^(12+am))}; {@code am < 0} means every address.
     */
    void invalidate(int did, int pasid, int kinds, long addr, int am) {
        long lo = am < 0 ? 0 : addr & ~((1L << (12 + am)) - 1);
        long hi = am < 0 ? -1L : lo + (1L << (12 + am)) - 1;
        for (int s = 0; s < page.length; s++) {
            long t = tag[s];
            if (!live(s) || (int) (t & 0xffff) != did) {
                continue;
            }
            if (pasid >= 0 && (int) ((t >>> 16) & 0x1f_ffff) != pasid + 1) {
                continue;
            }
            int kind = (int) ((t >>> 44) & 3);
            if ((kinds & (1 << kind)) == 0) {
                continue;
            }
            int level = (int) ((t >>> 40) & 0xf);
            long start = page[s] << (12 + 9 * (level - 1));
            long end = start + (1L << (12 + 9 * (level - 1))) - 1;
            if (Long.compareUnsigned(start, hi) <= 0 && Long.compareUnsigned(end, lo) >= 0) {
                tag[s] = 0;
            }
        }
    }

    /** Live entries (for tests of the cache itself). */
    int liveEntries() {
        int n = 0;
        for (int s = 0; s < page.length; s++) {
            if (live(s)) {
                n++;
            }
        }
        return n;
    }
}
