package dev.iommufd.vtd.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The PASID cache (spec 6.2.1.1): scalable-mode PASID-table entries by (requester ID, PASID), tagged with the
 * entry's domain ID for the PASID-cache invalidation descriptor's domain- and PASID-selective granularities.
 * Keeps qwords 0..2 of the entry and whether the PASID directory entry had FPD.
 *
 * <h2>Structure</h2>
 * Fixed-size, 4-way set-associative; each slot is {@value #STRIDE} words of one {@code long[]}:
 * <pre>
 *   word 0  SEQ   sequence number: odd while the slot is being written (seqlock)
 *   word 1  KEY   63: V (valid) | 35:16 PASID | 15:0 requester ID
 *   word 2  Q0    PASID-table entry bits 63:0
 *   word 3  Q1    PASID-table entry bits 127:64 (DID in 15:0)
 *   word 4  Q2    PASID-table entry bits 191:128
 *   word 5  FPD   1 when the PASID directory entry had FPD
 *   word 6  GEN   the global generation when the slot was filled
 * </pre>
 * Global invalidation is O(1) by generation; domain- and PASID-selective invalidation scan the slots.
 *
 * <h2>Concurrency</h2>
 * As {@link ContextCache}: writers under the owning {@link VtdUnit}'s lock; readers take a {@link #lookup} stamp,
 * read the words and {@link #validate} the stamp.
 */
final class PasidCache {
    private static final int WAYS = 4;
    static final int STRIDE = 8;
    private static final int SEQ = 0;
    private static final int KEY = 1;
    private static final int Q0 = 2;
    private static final int Q1 = 3;
    private static final int Q2 = 4;
    private static final int FPD = 5;
    private static final int GEN = 6;
    private static final int SLOT_BITS = 16;
    private static final int SLOT_MASK = (1 << SLOT_BITS) - 1;

    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    private final int sets;
    private final long[] slots;
    /** Guarded by the unit's lock. */
    private final byte[] victim;
    private volatile long globalGen = 1;

    PasidCache(int entries) {
        sets = Integer.highestOneBit(Math.max(WAYS, Math.min(entries, 1 << (SLOT_BITS - 1)))) / WAYS;
        slots = new long[sets * WAYS * STRIDE];
        victim = new byte[sets];
    }

    private static long keyOf(int rid, int pasid) {
        return rid | ((long) pasid << 16) | (1L << 63);
    }

    private int set(long k) {
        long h = k * 0x9e37_79b9_7f4a_7c15L;
        return (int) ((h >>> 40) & (sets - 1));
    }

    private boolean live(int o) {
        return slots[o + KEY] < 0 && slots[o + GEN] == globalGen;
    }

    /** A stamp for the live entry of (rid, pasid), or -1. Takes no lock. */
    long lookup(int rid, int pasid) {
        long gen = globalGen;
        long k = keyOf(rid, pasid);
        long[] a = slots;
        int base = set(k) * WAYS;
        for (int w = 0; w < WAYS; w++) {
            int o = (base + w) * STRIDE;
            long seq = a[o + SEQ];
            VarHandle.acquireFence();
            if (a[o + KEY] == k && a[o + GEN] == gen) {
                return (seq & 1) != 0 ? -1 : (seq << SLOT_BITS) | (base + w);
            }
        }
        return -1;
    }

    private long word(long stamp, int word) {
        return slots[(int) (stamp & SLOT_MASK) * STRIDE + word];
    }

    long q0(long stamp) {
        return word(stamp, Q0);
    }

    long q1(long stamp) {
        return word(stamp, Q1);
    }

    long q2(long stamp) {
        return word(stamp, Q2);
    }

    boolean pdeFpd(long stamp) {
        return word(stamp, FPD) != 0;
    }

    /** Whether no writer touched the stamp's slot since {@link #lookup}. */
    boolean validate(long stamp) {
        VarHandle.loadLoadFence();
        return slots[(int) (stamp & SLOT_MASK) * STRIDE + SEQ] == stamp >>> SLOT_BITS;
    }

    private void store(int o, long key, long e0, long e1, long e2, long fpd, long gen) {
        long[] a = slots;
        long seq = a[o + SEQ];
        LONGS.setOpaque(a, o + SEQ, seq + 1);
        VarHandle.storeStoreFence();
        a[o + KEY] = key;
        a[o + Q0] = e0;
        a[o + Q1] = e1;
        a[o + Q2] = e2;
        a[o + FPD] = fpd;
        a[o + GEN] = gen;
        LONGS.setRelease(a, o + SEQ, seq + 2);
    }

    void fill(int rid, int pasid, long e0, long e1, long e2, boolean fpd) {
        long k = keyOf(rid, pasid);
        int si = set(k);
        int base = si * WAYS;
        int slot = -1;
        for (int w = 0; w < WAYS; w++) {
            int o = (base + w) * STRIDE;
            if (!live(o) || slots[o + KEY] == k) {
                slot = base + w;
                break;
            }
        }
        if (slot < 0) {
            slot = base + victim[si];
            victim[si] = (byte) ((victim[si] + 1) % WAYS);
        }
        store(slot * STRIDE, k, e0, e1, e2, fpd ? 1 : 0, globalGen);
    }

    void invalidateAll() {
        globalGen = globalGen + 1;
    }

    /** Entries tagged {@code did}, and of {@code pasid} when {@code pasid >= 0}. */
    void invalidate(int did, int pasid) {
        for (int o = 0; o < slots.length; o += STRIDE) {
            if (live(o) && (int) (slots[o + Q1] & 0xffff) == did
                    && (pasid < 0 || (int) ((slots[o + KEY] >>> 16) & 0xf_ffff) == pasid)) {
                store(o, 0, 0, 0, 0, 0, 0);
            }
        }
    }
}
