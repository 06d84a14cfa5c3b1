package dev.iommufd.vtd.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The context cache (spec 6.2.1): context entries by requester ID, with the domain ID they carry (legacy) for
 * domain-selective invalidation. Scalable-mode entries keep qwords 0 and 1 of the 256-bit entry (qwords 2 and 3
 * are reserved and were checked when the entry was fetched).
 *
 * <h2>Structure</h2>
 * Fixed-size, 4-way set-associative; each slot is {@value #STRIDE} words of one {@code long[]}:
 * <pre>
 *   word 0  SEQ   sequence number: odd while the slot is being written (seqlock)
 *   word 1  KEY   63: V (valid) | 15:0 requester ID
 *   word 2  LO    context entry bits 63:0
 *   word 3  HI    context entry bits 127:64
 *   word 4  GEN   the global generation when the slot was filled
 * </pre>
 * Global invalidation is O(1) by generation; domain- and device-selective invalidation scan the slots.
 *
 * <h2>Concurrency</h2>
 * Fills and invalidations are serialised by the owning {@link VtdUnit}'s lock. Readers take no lock: {@link #lookup}
 * returns a stamp (slot and sequence number), the reader reads {@link #lo} and {@link #hi}, and
 * {@link #validate} tells whether a writer changed the slot meanwhile (then the reader takes the lock).
 * Every invalidation first advances the unit's {@link InvalidationCount}, which a lock-free walk samples before it
 * reads the context entry: an IOTLB fill from a context entry read before an invalidation is dropped.
 */
final class ContextCache {
    private static final int WAYS = 4;
    static final int STRIDE = 8;
    private static final int SEQ = 0;
    private static final int KEY = 1;
    private static final int LO = 2;
    private static final int HI = 3;
    private static final int GEN = 4;
    private static final long VALID = 1L << 63;
    /** A stamp: sequence number << SLOT_BITS | slot. */
    private static final int SLOT_BITS = 16;

    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    private final int sets;
    private final long[] slots;
    /** Guarded by the unit's lock. */
    private final byte[] victim;
    private volatile long globalGen = 1;
    /** Advanced by every invalidation (shared with the unit's IOTLB and paging-structure caches). */
    private final InvalidationCount invalidations;

    ContextCache(int entries, InvalidationCount invalidations) {
        this.invalidations = invalidations;
        sets = Integer.highestOneBit(Math.max(WAYS, Math.min(entries, 1 << (SLOT_BITS - 1)))) / WAYS;
        slots = new long[sets * WAYS * STRIDE];
        victim = new byte[sets];
    }

    private int set(int r) {
        return ((r * 0x9e37_79b9) >>> 16) & (sets - 1);
    }

    /**
     * The live entry of requester {@code r}: a stamp for {@link #lo}, {@link #hi} and {@link #validate}, or -1.
     * Takes no lock.
     */
    long lookup(int r) {
        long gen = globalGen;
        long key = r | VALID;
        long[] a = slots;
        int base = set(r) * WAYS;
        for (int w = 0; w < WAYS; w++) {
            int o = (base + w) * STRIDE;
            long seq = a[o + SEQ];
            VarHandle.acquireFence();
            if (a[o + KEY] == key && a[o + GEN] == gen) {
                return (seq & 1) != 0 ? -1 : (seq << SLOT_BITS) | (base + w);
            }
        }
        return -1;
    }

    /** Qword 0 of the entry of a {@link #lookup} stamp (meaningful only if {@link #validate} then says so). */
    long lo(long stamp) {
        return slots[(int) (stamp & ((1 << SLOT_BITS) - 1)) * STRIDE + LO];
    }

    long hi(long stamp) {
        return slots[(int) (stamp & ((1 << SLOT_BITS) - 1)) * STRIDE + HI];
    }

    /** Whether no writer touched the stamp's slot since {@link #lookup}: the words read in between are one entry. */
    boolean validate(long stamp) {
        VarHandle.loadLoadFence();
        int o = (int) (stamp & ((1 << SLOT_BITS) - 1)) * STRIDE;
        return slots[o + SEQ] == stamp >>> SLOT_BITS;
    }

    private boolean live(int o) {
        return slots[o + KEY] < 0 && slots[o + GEN] == globalGen;
    }

    private void store(int o, long key, long lo, long hi, long gen) {
        long[] a = slots;
        long seq = a[o + SEQ];
        LONGS.setOpaque(a, o + SEQ, seq + 1);
        VarHandle.storeStoreFence();
        a[o + KEY] = key;
        a[o + LO] = lo;
        a[o + HI] = hi;
        a[o + GEN] = gen;
        LONGS.setRelease(a, o + SEQ, seq + 2);
    }

    private void kill(int o) {
        store(o, 0, 0, 0, 0);
    }

    void fill(int r, long l, long h) {
        int si = set(r);
        int base = si * WAYS;
        int slot = -1;
        for (int w = 0; w < WAYS; w++) {
            int o = (base + w) * STRIDE;
            if (!live(o) || (slots[o + KEY] & 0xffff) == r) {
                slot = base + w;
                break;
            }
        }
        if (slot < 0) {
            slot = base + victim[si];
            victim[si] = (byte) ((victim[si] + 1) % WAYS);
        }
        store(slot * STRIDE, r | VALID, l, h, globalGen);
    }

    void invalidateAll() {
        invalidations.advance();
        globalGen = globalGen + 1;
    }

    /** Legacy domain-selective: entries whose cached DID (hi bits 23:8) is {@code did}. */
    void invalidateDomain(int did) {
        invalidations.advance();
        for (int o = 0; o < slots.length; o += STRIDE) {
            if (live(o) && (int) ((slots[o + HI] >>> 8) & 0xffff) == did) {
                kill(o);
            }
        }
    }

    /** Device-selective: entries of {@code sid}, ignoring the low {@code fm} bits of the function number (FM 1..3). */
    void invalidateDevice(int sid, int fm) {
        invalidations.advance();
        int mask = 0xffff & ~((1 << fm) - 1);
        for (int o = 0; o < slots.length; o += STRIDE) {
            if (live(o) && (((int) slots[o + KEY] & mask) == (sid & mask))) {
                kill(o);
            }
        }
    }
}
