package dev.iommufd.smmuv3.hw;

/**
 * The unit's configuration cache: raw STEs keyed by StreamID and raw CDs keyed by (StreamID, SubstreamID), in
 * fixed-size primitive arrays (4-way set-associative). Holding the raw dwords, not a decoded form, keeps the
 * cache honest: what is used after a fill is exactly what memory held at fill time, until a CFGI command drops
 * it (IHI0070 3.21: "stale entries stay usable until invalidated"). Only valid structures are cached; failed
 * fetches are never cached.
 *
 * <p>Not thread-safe: guarded by the unit's lock.
 */
final class ConfigurationCache {
    private static final int WAYS = 4;
    /** SubstreamID key of an STE entry (CDs use 0..2^20-1; the CD used for no-SSID traffic is keyed as 0). */
    static final int STE_KEY = -1;

    private final int sets;
    private final boolean[] valid;
    private final int[] sid;
    private final int[] ssid;
    private final long[] words;
    private final int[] victim;

    ConfigurationCache(int entries) {
        sets = entries / WAYS;
        valid = new boolean[entries];
        sid = new int[entries];
        ssid = new int[entries];
        words = new long[entries * 8];
        victim = new int[sets];
    }

    private int set(int s, int ss) {
        int h = (s * 0x9E3779B1) ^ (ss * 0x85EBCA77);
        return (h ^ (h >>> 15)) & (sets - 1);
    }

    /** Copies the cached structure into {@code out[0..7]}; returns whether there was one. */
    boolean lookup(int s, int ss, long[] out) {
        int base = set(s, ss) * WAYS;
        for (int w = 0; w < WAYS; w++) {
            int i = base + w;
            if (valid[i] && sid[i] == s && ssid[i] == ss) {
                System.arraycopy(words, i * 8, out, 0, 8);
                return true;
            }
        }
        return false;
    }

    void fill(int s, int ss, long[] structure) {
        int base = set(s, ss) * WAYS;
        int slot = -1;
        for (int w = 0; w < WAYS; w++) {
            int i = base + w;
            if (!valid[i] || (sid[i] == s && ssid[i] == ss)) {
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            int st = base / WAYS;
            slot = base + victim[st];
            victim[st] = (victim[st] + 1) & (WAYS - 1);
        }
        valid[slot] = true;
        sid[slot] = s;
        ssid[slot] = ss;
        System.arraycopy(structure, 0, words, slot * 8, 8);
    }

    /** {@code CFGI_STE}: the STE of {@code s} and, conservatively, the CDs cached under it. */
    void invalidateStream(int s) {
        for (int i = 0; i < valid.length; i++) {
            if (valid[i] && sid[i] == s) {
                valid[i] = false;
            }
        }
    }

    /** {@code CFGI_STE_RANGE}: StreamIDs in {@code [first, first + count)}. */
    void invalidateStreams(long first, long count) {
        for (int i = 0; i < valid.length; i++) {
            if (valid[i] && Long.compareUnsigned((sid[i] & 0xffff_ffffL) - first, count) < 0) {
                valid[i] = false;
            }
        }
    }

    /** {@code CFGI_CD}. */
    void invalidateCd(int s, int ss) {
        for (int i = 0; i < valid.length; i++) {
            if (valid[i] && sid[i] == s && ssid[i] == ss) {
                valid[i] = false;
            }
        }
    }

    /** {@code CFGI_CD_ALL}: every CD of {@code s}. */
    void invalidateAllCds(int s) {
        for (int i = 0; i < valid.length; i++) {
            if (valid[i] && sid[i] == s && ssid[i] != STE_KEY) {
                valid[i] = false;
            }
        }
    }

    /** {@code CFGI_ALL}. */
    void invalidateAll() {
        java.util.Arrays.fill(valid, false);
    }

    int liveEntries() {
        int n = 0;
        for (boolean v : valid) {
            if (v) {
                n++;
            }
        }
        return n;
    }
}
