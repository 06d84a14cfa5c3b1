package dev.iommufd.smmuv3.hw;

/**
 * The unit's configuration cache: raw STEs keyed by StreamID and raw CDs keyed by (StreamID, SubstreamID), in
 * fixed-size primitive arrays (4-way set-associative), and in front of them the configuration decoded from them
 * ({@link DecodedConfiguration}) keyed by the transaction's (StreamID, SubstreamID). What is used after a fill is
 * exactly what memory held at fill time, until a CFGI command drops it (IHI0070 3.21: "stale entries stay usable
 * until invalidated"). Only valid structures are cached; failed fetches are never cached.
 *
 * <h2>Invalidation</h2>
 * A decoded entry is derived from one STE and (with stage 1) one CD, so every CFGI that drops either raw
 * structure drops the decoded entries of that StreamID: {@code CFGI_STE}, {@code CFGI_CD} and {@code CFGI_CD_ALL}
 * drop all decoded entries of the StreamID (over-invalidation, which the architecture permits), the range forms
 * and {@code CFGI_ALL} drop all of the range.
 *
 * <p>Concurrency: everything is written under the unit's lock. The raw arrays are read under it too; the decoded
 * entries are immutable objects published with release stores and read lock-free with acquire loads
 * ({@link #decoded}), so a translation's fast path needs no lock.
 */
final class ConfigurationCache {
    private static final java.lang.invoke.VarHandle REF =
            java.lang.invoke.MethodHandles.arrayElementVarHandle(DecodedConfiguration[].class);
    private static final int DECODED_WAYS = 4;
    private static final int WAYS = 4;
    /** SubstreamID key of an STE entry (CDs use 0..2^20-1; the CD used for no-SSID traffic is keyed as 0). */
    static final int STE_KEY = -1;

    private final int sets;
    private final boolean[] valid;
    private final int[] sid;
    private final int[] ssid;
    private final long[] words;
    private final int[] victim;

    private final int decodedSets;
    private final DecodedConfiguration[] decoded;
    private final int[] decodedVictim;

    ConfigurationCache(int entries) {
        sets = entries / WAYS;
        decodedSets = entries / DECODED_WAYS;
        decoded = new DecodedConfiguration[entries];
        decodedVictim = new int[decodedSets];
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

    private int decodedSet(int s, int ss) {
        int h = (s * 0x9E3779B1) ^ (ss * 0x85EBCA77);
        return (h ^ (h >>> 15)) & (decodedSets - 1);
    }

    /** The decoded configuration of (StreamID, SubstreamID or NO_PASID), or null. Lock-free. */
    DecodedConfiguration decoded(int s, int ss) {
        int base = decodedSet(s, ss) * DECODED_WAYS;
        for (int w = 0; w < DECODED_WAYS; w++) {
            DecodedConfiguration c = (DecodedConfiguration) REF.getAcquire(decoded, base + w);
            if (c != null && c.sid == s && c.ssid == ss) {
                return c;
            }
        }
        return null;
    }

    /** Caches a decoded configuration. Caller holds the unit's lock. */
    void fillDecoded(DecodedConfiguration c) {
        int base = decodedSet(c.sid, c.ssid) * DECODED_WAYS;
        int slot = -1;
        for (int w = 0; w < DECODED_WAYS; w++) {
            DecodedConfiguration old = decoded[base + w];
            if (old == null || old.sid == c.sid && old.ssid == c.ssid) {
                slot = base + w;
                break;
            }
        }
        if (slot < 0) {
            int st = base / DECODED_WAYS;
            slot = base + decodedVictim[st];
            decodedVictim[st] = (decodedVictim[st] + 1) & (DECODED_WAYS - 1);
        }
        REF.setRelease(decoded, slot, c);
    }

    /** Drops the decoded entries of StreamIDs in {@code [first, first + count)}. */
    private void dropDecoded(long first, long count) {
        for (int i = 0; i < decoded.length; i++) {
            DecodedConfiguration c = decoded[i];
            if (c != null && Long.compareUnsigned((c.sid & 0xffff_ffffL) - first, count) < 0) {
                REF.setRelease(decoded, i, (DecodedConfiguration) null);
            }
        }
    }

    int decodedEntries() {
        int n = 0;
        for (DecodedConfiguration c : decoded) {
            if (c != null) {
                n++;
            }
        }
        return n;
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
        dropDecoded(s & 0xffff_ffffL, 1);
        for (int i = 0; i < valid.length; i++) {
            if (valid[i] && sid[i] == s) {
                valid[i] = false;
            }
        }
    }

    /** {@code CFGI_STE_RANGE}: StreamIDs in {@code [first, first + count)}. */
    void invalidateStreams(long first, long count) {
        dropDecoded(first, count);
        for (int i = 0; i < valid.length; i++) {
            if (valid[i] && Long.compareUnsigned((sid[i] & 0xffff_ffffL) - first, count) < 0) {
                valid[i] = false;
            }
        }
    }

    /** {@code CFGI_CD}. */
    void invalidateCd(int s, int ss) {
        dropDecoded(s & 0xffff_ffffL, 1);
        for (int i = 0; i < valid.length; i++) {
            if (valid[i] && sid[i] == s && ssid[i] == ss) {
                valid[i] = false;
            }
        }
    }

    /** {@code CFGI_CD_ALL}: every CD of {@code s}. */
    void invalidateAllCds(int s) {
        dropDecoded(s & 0xffff_ffffL, 1);
        for (int i = 0; i < valid.length; i++) {
            if (valid[i] && sid[i] == s && ssid[i] != STE_KEY) {
                valid[i] = false;
            }
        }
    }

    /** {@code CFGI_ALL}. */
    void invalidateAll() {
        java.util.Arrays.fill(valid, false);
        for (int i = 0; i < decoded.length; i++) {
            if (decoded[i] != null) {
                REF.setRelease(decoded, i, (DecodedConfiguration) null);
            }
        }
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
