package dev.iommufd.mock.hw;

import dev.iommufd.platform.PhysicalMemory;

/**
 * The mock unit's IOTLB: a set-associative cache of leaf entries keyed by (domain tag, 2 KiB IOVA page), in
 * primitive arrays (no object per entry). An entry stays until software invalidates it through INV_CMD or it is
 * evicted (round robin within its set): unmapping without invalidating leaves stale translations, as on real
 * hardware.
 *
 * <p>A cached value is the leaf word as read, with {@link #CACHED_BLOCK} (a reserved leaf bit) marking a 1 MiB
 * block. A block is cached per 2 KiB page that used it.
 *
 * <p>Lock: every method synchronises on this object. Lookups and inserts allocate nothing. A generation number
 * increments with every invalidation so that a walk that raced an invalidation does not insert its stale
 * result ({@link #insert} with an old generation is dropped).
 */
public final class MockIotlb {
    /** Bit 7 of a cached leaf (reserved in the format): the leaf is a 1 MiB block. */
    public static final long CACHED_BLOCK = 1L << 7;

    private final PhysicalMemory memory;
    private final int sets;
    private final int ways;
    private final long[] keys;
    private final long[] values;
    private final long[] entryAddresses;
    private final byte[] victim;
    private long generation;
    private long hits;
    private long misses;

    public MockIotlb(PhysicalMemory memory, int setsLog2, int ways) {
        this.memory = memory;
        this.sets = 1 << setsLog2;
        this.ways = ways;
        this.keys = new long[sets * ways];
        this.values = new long[sets * ways];
        this.entryAddresses = new long[sets * ways];
        this.victim = new byte[sets];
    }

    public int sets() {
        return sets;
    }

    public int ways() {
        return ways;
    }

    private static long key(int tag, long iova) {
        return ((tag + 1L) << 40) | (iova >>> MockIoPte.PAGE_SHIFT);
    }

    private int set(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & (sets - 1);
    }

    /**
     * Looks up a translation. On a hit with {@code markDirty}, a writable leaf whose D bit is clear gets D set in
     * memory (atomically) and in the cached copy.
     *
     * @return the cached leaf value, or 0 on a miss
     */
    public synchronized long lookup(int tag, long iova, boolean markDirty) {
        long k = key(tag, iova);
        int base = set(k) * ways;
        for (int w = 0; w < ways; w++) {
            int i = base + w;
            if (keys[i] == k) {
                hits++;
                long v = values[i];
                if (markDirty && (v & MockIoPte.WRITE) != 0 && (v & MockIoPte.DIRTY) == 0) {
                    memory.getAndOr64(entryAddresses[i], MockIoPte.DIRTY);
                    v |= MockIoPte.DIRTY;
                    values[i] = v;
                }
                return v;
            }
        }
        misses++;
        return 0;
    }

    /** The current generation, to pass to {@link #insert} after a walk. */
    public synchronized long generation() {
        return generation;
    }

    /** Caches a walked leaf unless an invalidation ran since {@code walkGeneration}. */
    public synchronized void insert(int tag, long iova, long cachedValue, long entryAddress, long walkGeneration) {
        if (walkGeneration != generation) {
            return;
        }
        long k = key(tag, iova);
        int s = set(k);
        int base = s * ways;
        int slot = -1;
        for (int w = 0; w < ways; w++) {
            if (keys[base + w] == k || keys[base + w] == 0) {
                slot = base + w;
                break;
            }
        }
        if (slot < 0) {
            slot = base + victim[s];
            victim[s] = (byte) ((victim[s] + 1) % ways);
        }
        keys[slot] = k;
        values[slot] = cachedValue;
        entryAddresses[slot] = entryAddress;
    }

    /** Drops every entry. */
    public synchronized void invalidateAll() {
        generation++;
        java.util.Arrays.fill(keys, 0);
    }

    /** Drops every entry of {@code tag}. */
    public synchronized void invalidateTag(int tag) {
        generation++;
        long t = tag + 1L;
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != 0 && (keys[i] >>> 40) == t) {
                keys[i] = 0;
            }
        }
    }

    /** Drops the entries of {@code tag} whose page (or block) overlaps {@code [first, last]}. */
    public synchronized void invalidateRange(int tag, long first, long last) {
        generation++;
        long t = tag + 1L;
        for (int i = 0; i < keys.length; i++) {
            long k = keys[i];
            if (k == 0 || (k >>> 40) != t) {
                continue;
            }
            long page = (k & ((1L << 40) - 1)) << MockIoPte.PAGE_SHIFT;
            long size = (values[i] & CACHED_BLOCK) != 0 ? MockIoPte.BLOCK_SIZE : MockIoPte.PAGE_SIZE;
            long start = page & ~(size - 1);
            long end = start + size - 1;
            if (Long.compareUnsigned(start, last) <= 0 && Long.compareUnsigned(end, first) >= 0) {
                keys[i] = 0;
            }
        }
    }

    /** Valid entries (for tests). */
    public synchronized int validEntries() {
        int n = 0;
        for (long k : keys) {
            if (k != 0) {
                n++;
            }
        }
        return n;
    }

    public synchronized long hits() {
        return hits;
    }

    public synchronized long misses() {
        return misses;
    }
}
