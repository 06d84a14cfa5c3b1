package dev.iommufd.vtd.hw;

/**
 * The context cache (spec 6.2.1): context entries by requester ID, with the domain ID they carry (legacy) for
 * domain-selective invalidation. Scalable-mode entries keep qwords 0 and 1 of the 256-bit entry (qwords 2 and 3
 * are reserved and were checked when the entry was fetched).
 *
 * <p>Fixed-size, 4-way set-associative, primitive arrays; global invalidation is O(1) by generation. Not
 * thread-safe: guarded by the owning {@link VtdUnit}'s lock.
 */
final class ContextCache {
    private static final int WAYS = 4;
    private final int sets;
    /** rid | 1 << 31 when the slot was filled */
    private final int[] rid;
    private final long[] lo;
    private final long[] hi;
    private final int[] gen;
    private final byte[] victim;
    private int globalGen = 1;

    ContextCache(int entries) {
        sets = Integer.highestOneBit(Math.max(WAYS, entries)) / WAYS;
        rid = new int[sets * WAYS];
        lo = new long[sets * WAYS];
        hi = new long[sets * WAYS];
        gen = new int[sets * WAYS];
        victim = new byte[sets];
    }

    private int set(int r) {
        return ((r * 0x9e37_79b9) >>> 16) & (sets - 1);
    }

    private boolean live(int s) {
        return rid[s] < 0 && gen[s] == globalGen;
    }

    int lookup(int r) {
        int base = set(r) * WAYS;
        for (int w = 0; w < WAYS; w++) {
            int s = base + w;
            if (live(s) && (rid[s] & 0xffff) == r) {
                return s;
            }
        }
        return -1;
    }

    long lo(int slot) {
        return lo[slot];
    }

    long hi(int slot) {
        return hi[slot];
    }

    void fill(int r, long l, long h) {
        int si = set(r);
        int base = si * WAYS;
        int slot = -1;
        for (int w = 0; w < WAYS; w++) {
            int s = base + w;
            if (!live(s) || (rid[s] & 0xffff) == r) {
                slot = s;
                break;
            }
        }
        if (slot < 0) {
            slot = base + victim[si];
            victim[si] = (byte) ((victim[si] + 1) % WAYS);
        }
        rid[slot] = r | (1 << 31);
        lo[slot] = l;
        hi[slot] = h;
        gen[slot] = globalGen;
    }

    void invalidateAll() {
        globalGen++;
    }

    /** Legacy domain-selective: entries whose cached DID (hi bits 23:8) is {@code did}. */
    void invalidateDomain(int did) {
        for (int s = 0; s < rid.length; s++) {
            if (live(s) && (int) ((hi[s] >>> 8) & 0xffff) == did) {
                rid[s] = 0;
            }
        }
    }

    /** Device-selective: entries of {@code sid}, ignoring the low {@code fm} bits of the function number (FM 1..3). */
    void invalidateDevice(int sid, int fm) {
        int mask = 0xffff & ~((1 << fm) - 1);
        for (int s = 0; s < rid.length; s++) {
            if (live(s) && ((rid[s] & mask) == (sid & mask))) {
                rid[s] = 0;
            }
        }
    }
}
