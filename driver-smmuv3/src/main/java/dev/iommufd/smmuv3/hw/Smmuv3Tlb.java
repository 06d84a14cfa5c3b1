package dev.iommufd.smmuv3.hw;

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
 * Input addresses are kept aligned to the entry's page size; lookups probe each page size present.
 *
 * <h2>Invalidation</h2>
 * By ASID, by VMID and of everything in O(1): an entry records the ASID, VMID and global generation current at
 * fill time; {@code TLBI_NH_ASID} bumps the ASID's generation, {@code TLBI_NH_ALL}/{@code TLBI_S12_VMALL} the
 * VMID's, {@code TLBI_NSNH_ALL} the global one, and an entry whose recorded generations differ is dead. An ASID
 * generation is kept per ASID (not per VMID+ASID), so {@code TLBI_NH_ASID} also drops that ASID's entries of
 * other VMIDs: over-invalidation, which the architecture permits. Address-based invalidations scan the array.
 *
 * <p>Stale entries stay usable until invalidated: nothing but the invalidation commands removes an entry (or
 * eviction by a later fill). Not thread-safe: guarded by the unit's lock.
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

    private static final int WAYS = 8;

    private final int sets;
    private final byte[] kind;
    private final short[] vmid;
    private final short[] asid;
    private final long[] input;
    private final long[] output;
    private final byte[] pageShift;
    private final byte[] perm;
    private final int[] asidGenAtFill;
    private final int[] vmidGenAtFill;
    private final int[] globalGenAtFill;
    private final int[] victim;

    private final int[] asidGen = new int[1 << 16];
    private final int[] vmidGen = new int[1 << 16];
    private int globalGen;
    /** Bit n set: some entry of page size 2^n may exist. */
    private long pageShiftsPresent;

    private long hits;
    private long misses;

    Smmuv3Tlb(int entries) {
        if (Integer.bitCount(entries) != 1 || entries < WAYS) {
            throw new IllegalArgumentException("TLB entries must be a power of two >= " + WAYS);
        }
        sets = entries / WAYS;
        kind = new byte[entries];
        vmid = new short[entries];
        asid = new short[entries];
        input = new long[entries];
        output = new long[entries];
        pageShift = new byte[entries];
        perm = new byte[entries];
        asidGenAtFill = new int[entries];
        vmidGenAtFill = new int[entries];
        globalGenAtFill = new int[entries];
        victim = new int[sets];
    }

    private int set(int vm, long page) {
        long h = (page ^ (page >>> 17) ^ (long) vm * 0x9E3779B97F4A7C15L) * 0xff51afd7ed558ccdL;
        return (int) (h >>> 40) & (sets - 1);
    }

    private boolean live(int i) {
        return kind[i] != KIND_EMPTY && globalGenAtFill[i] == globalGen && vmidGenAtFill[i] == vmidGen[vmid[i] & 0xffff]
                && asidGenAtFill[i] == asidGen[asid[i] & 0xffff];
    }

    /**
     * Looks up a translation.
     *
     * @param k the kind the current configuration produces ({@link #KIND_S1} also matches {@link #KIND_S1_GLOBAL})
     * @return the entry's slot, or -1
     */
    int lookup(int k, int vm, int as, long address) {
        long shifts = pageShiftsPresent;
        while (shifts != 0) {
            int shift = Long.numberOfTrailingZeros(shifts);
            shifts &= shifts - 1;
            long page = address >>> shift;
            int base = set(vm, page) * WAYS;
            for (int w = 0; w < WAYS; w++) {
                int i = base + w;
                int ek = kind[i];
                if (ek == KIND_EMPTY || pageShift[i] != shift || (input[i] >>> shift) != page || (vmid[i] & 0xffff) != vm) {
                    continue;
                }
                boolean match = ek == k ? (k == KIND_S2 || (asid[i] & 0xffff) == as) : (k == KIND_S1 && ek == KIND_S1_GLOBAL);
                if (match && live(i)) {
                    hits++;
                    return i;
                }
            }
        }
        misses++;
        return -1;
    }

    long output(int slot) {
        return output[slot];
    }

    int pageShift(int slot) {
        return pageShift[slot];
    }

    int permissions(int slot) {
        return perm[slot];
    }

    /** Fills an entry for {@code address} (aligned down to {@code 2^shift}) translating to {@code out}. */
    void fill(int k, int vm, int as, long address, long out, int shift, int permissions) {
        long page = address >>> shift;
        int base = set(vm, page) * WAYS;
        int slot = -1;
        for (int w = 0; w < WAYS; w++) {
            int i = base + w;
            if (!live(i)) {
                slot = i;
                break;
            }
            if (kind[i] == k && pageShift[i] == shift && (input[i] >>> shift) == page && (vmid[i] & 0xffff) == vm
                    && (asid[i] & 0xffff) == as) {
                slot = i; // refresh the same translation
                break;
            }
        }
        if (slot < 0) {
            int s = base / WAYS;
            slot = base + victim[s];
            victim[s] = (victim[s] + 1) & (WAYS - 1);
        }
        kind[slot] = (byte) k;
        vmid[slot] = (short) vm;
        asid[slot] = (short) as;
        input[slot] = page << shift;
        output[slot] = out & -(1L << shift);
        pageShift[slot] = (byte) shift;
        perm[slot] = (byte) permissions;
        asidGenAtFill[slot] = asidGen[as & 0xffff];
        vmidGenAtFill[slot] = vmidGen[vm & 0xffff];
        globalGenAtFill[slot] = globalGen;
        pageShiftsPresent |= 1L << shift;
    }

    /** {@code TLBI_NH_ASID}: every entry of ASID {@code as} (of any VMID). O(1). */
    void invalidateAsid(int as) {
        asidGen[as & 0xffff]++;
    }

    /** {@code TLBI_NH_ALL} / {@code TLBI_S12_VMALL}: every entry of VMID {@code vm}. O(1). */
    void invalidateVmid(int vm) {
        vmidGen[vm & 0xffff]++;
    }

    /** {@code TLBI_NSNH_ALL}. O(1). */
    void invalidateAll() {
        globalGen++;
    }

    /**
     * Stage-1 address invalidation ({@code TLBI_NH_VA} with {@code anyAsid=false}, {@code TLBI_NH_VAA} with
     * {@code true}): entries of VMID {@code vm} ({@code KIND_S1}, {@code KIND_S1_GLOBAL}, {@code KIND_NESTED})
     * overlapping {@code [start, start + length)}.
     */
    void invalidateVa(int vm, int as, boolean anyAsid, long start, long length) {
        for (int i = 0; i < kind.length; i++) {
            int k = kind[i];
            if ((k == KIND_S1 || k == KIND_S1_GLOBAL || k == KIND_NESTED) && (vmid[i] & 0xffff) == vm
                    && (anyAsid || k == KIND_S1_GLOBAL || (asid[i] & 0xffff) == as) && overlaps(i, start, length)) {
                kind[i] = KIND_EMPTY;
            }
        }
    }

    /** {@code TLBI_S2_IPA}: stage-2-only entries of VMID {@code vm} overlapping the IPA range. */
    void invalidateIpa(int vm, long start, long length) {
        for (int i = 0; i < kind.length; i++) {
            if (kind[i] == KIND_S2 && (vmid[i] & 0xffff) == vm && overlaps(i, start, length)) {
                kind[i] = KIND_EMPTY;
            }
        }
    }

    private boolean overlaps(int i, long start, long length) {
        long eStart = input[i];
        long eLast = eStart + (1L << pageShift[i]) - 1;
        long last = start + length - 1;
        return Long.compareUnsigned(eStart, last) <= 0 && Long.compareUnsigned(start, eLast) <= 0;
    }

    /** Live entries (for tests and statistics). */
    int liveEntries() {
        int n = 0;
        for (int i = 0; i < kind.length; i++) {
            if (live(i)) {
                n++;
            }
        }
        return n;
    }

    long hits() {
        return hits;
    }

    long misses() {
        return misses;
    }
}
