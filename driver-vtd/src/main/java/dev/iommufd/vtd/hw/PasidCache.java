package dev.iommufd.vtd.hw;

/**
 * The PASID cache (spec 6.2.1.1): scalable-mode PASID-table entries by (requester ID, PASID), tagged with the
 * entry's domain ID for the PASID-cache invalidation descriptor's domain- and PASID-selective granularities.
 * Keeps qwords 0..2 of the entry and whether the PASID directory entry had FPD.
 *
 * <p>Fixed-size, 4-way set-associative, primitive arrays; global invalidation is O(1) by generation. Not
 * thread-safe: guarded by the owning {@link VtdUnit}'s lock.
 */
final class PasidCache {
    private static final int WAYS = 4;
    private final int sets;
    /** rid | pasid << 16 | 1 << 63 */
    private final long[] key;
    private final long[] q0;
    private final long[] q1;
    private final long[] q2;
    private final boolean[] pdeFpd;
    private final int[] gen;
    private final byte[] victim;
    private int globalGen = 1;

    PasidCache(int entries) {
        sets = Integer.highestOneBit(Math.max(WAYS, entries)) / WAYS;
        int n = sets * WAYS;
        key = new long[n];
        q0 = new long[n];
        q1 = new long[n];
        q2 = new long[n];
        pdeFpd = new boolean[n];
        gen = new int[n];
        victim = new byte[sets];
    }

    private static long keyOf(int rid, int pasid) {
        return rid | ((long) pasid << 16) | (1L << 63);
    }

    private int set(long k) {
        long h = k * 0x9e37_79b9_7f4a_7c15L;
        return (int) ((h >>> 40) & (sets - 1));
    }

    private boolean live(int s) {
        return key[s] < 0 && gen[s] == globalGen;
    }

    int lookup(int rid, int pasid) {
        long k = keyOf(rid, pasid);
        int base = set(k) * WAYS;
        for (int w = 0; w < WAYS; w++) {
            int s = base + w;
            if (key[s] == k && live(s)) {
                return s;
            }
        }
        return -1;
    }

    long q0(int s) {
        return q0[s];
    }

    long q1(int s) {
        return q1[s];
    }

    long q2(int s) {
        return q2[s];
    }

    boolean pdeFpd(int s) {
        return pdeFpd[s];
    }

    void fill(int rid, int pasid, long e0, long e1, long e2, boolean fpd) {
        long k = keyOf(rid, pasid);
        int si = set(k);
        int base = si * WAYS;
        int slot = -1;
        for (int w = 0; w < WAYS; w++) {
            int s = base + w;
            if (!live(s) || key[s] == k) {
                slot = s;
                break;
            }
        }
        if (slot < 0) {
            slot = base + victim[si];
            victim[si] = (byte) ((victim[si] + 1) % WAYS);
        }
        key[slot] = k;
        q0[slot] = e0;
        q1[slot] = e1;
        q2[slot] = e2;
        pdeFpd[slot] = fpd;
        gen[slot] = globalGen;
    }

    void invalidateAll() {
        globalGen++;
    }

    /** Entries tagged {@code did}, and of {@code pasid} when {@code pasid >= 0}. */
    void invalidate(int did, int pasid) {
        for (int s = 0; s < key.length; s++) {
            if (live(s) && (int) (q1[s] & 0xffff) == did && (pasid < 0 || (int) ((key[s] >>> 16) & 0xf_ffff) == pasid)) {
                key[s] = 0;
            }
        }
    }
}
