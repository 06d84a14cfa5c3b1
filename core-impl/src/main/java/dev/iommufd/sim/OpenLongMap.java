package dev.iommufd.sim;

import java.util.Arrays;

/**
 * A map from non-negative {@code long} keys to {@code long} values in two primitive arrays: open addressing with
 * linear probing and backward-shift deletion (no tombstones). Used for per-frame pin counts, where one Java object
 * per pinned frame would be prohibitive.
 *
 * <pre>
 *   keys[i]   = the key, or EMPTY (-1)          capacity a power of two, load factor at most 1/2
 *   values[i] = its value
 * </pre>
 * Lookups, updates and removals allocate nothing; only growth allocates (amortised). Not thread-safe: the owner
 * guards it.
 */
final class OpenLongMap {

    /** Marks a free slot; keys are never negative. */
    static final long EMPTY = -1L;
    /** What {@link #get} returns for an absent key. */
    static final long ABSENT = Long.MIN_VALUE;

    private long[] keys;
    private long[] values;
    private int mask;
    private int size;

    OpenLongMap(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        allocate(cap);
    }

    private void allocate(int capacity) {
        keys = new long[capacity];
        values = new long[capacity];
        Arrays.fill(keys, EMPTY);
        mask = capacity - 1;
        size = 0;
    }

    int size() {
        return size;
    }

    private int slot(long key) {
        long h = key * 0x9E37_79B9_7F4A_7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    /** The value of {@code key}, or {@link #ABSENT}. */
    long get(long key) {
        for (int i = slot(key);; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                return values[i];
            }
            if (k == EMPTY) {
                return ABSENT;
            }
        }
    }

    boolean containsKey(long key) {
        return get(key) != ABSENT;
    }

    /** Sets {@code key} to {@code value}. */
    void put(long key, long value) {
        if (key < 0) {
            throw new IllegalArgumentException("negative key " + key);
        }
        for (int i = slot(key);; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                values[i] = value;
                return;
            }
            if (k == EMPTY) {
                keys[i] = key;
                values[i] = value;
                if (++size > (mask + 1) >>> 1) {
                    grow();
                }
                return;
            }
        }
    }

    /** Adds {@code delta} to the value of {@code key} (absent counts as 0); removes the key when the result is 0. */
    long add(long key, long delta) {
        long old = get(key);
        long now = (old == ABSENT ? 0 : old) + delta;
        if (now == 0) {
            remove(key);
        } else {
            put(key, now);
        }
        return now;
    }

    /** Removes {@code key}; returns whether it was present. */
    boolean remove(long key) {
        int i = slot(key);
        for (;; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == EMPTY) {
                return false;
            }
            if (k == key) {
                break;
            }
        }
        // Backward-shift: move later entries of the probe run into the hole when their home slot allows it.
        int hole = i;
        for (int j = (hole + 1) & mask;; j = (j + 1) & mask) {
            long k = keys[j];
            if (k == EMPTY) {
                break;
            }
            int home = slot(k);
            boolean movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable) {
                keys[hole] = k;
                values[hole] = values[j];
                hole = j;
            }
        }
        keys[hole] = EMPTY;
        size--;
        return true;
    }

    private void grow() {
        long[] oldKeys = keys;
        long[] oldValues = values;
        allocate(oldKeys.length << 1);
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != EMPTY) {
                put(oldKeys[i], oldValues[i]);
            }
        }
    }
}
