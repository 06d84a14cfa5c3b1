package dev.iommufd.sim;

/**
 * A bitmap with summary levels, for finding the lowest set bit in {@code O(log64 n)}.
 *
 * <pre>
 *   level 0      : one bit per element                     (bit i in word i/64)
 *   level k + 1  : one bit per word of level k, set while that word is non-zero
 *   top level    : a single word
 * </pre>
 * Invariant: a bit of level {@code k + 1} is set exactly when the corresponding word of level {@code k} is not
 * zero. Cost: about {@code n/8 * 64/63} bytes. Not thread-safe: the owner (the frame allocator) guards it.
 * Every operation is allocation-free.
 */
final class LevelledBitmap {

    private final long size;
    /** levels[0] is the element bitmap; the last level has one word. */
    private final long[][] levels;

    LevelledBitmap(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("size " + size);
        }
        this.size = size;
        int count = 1;
        long words = wordsFor(size);
        while (words > 1) {
            count++;
            words = wordsFor(words);
        }
        levels = new long[count][];
        long bits = size;
        for (int k = 0; k < count; k++) {
            long w = Math.max(1, wordsFor(bits));
            if (w > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("bitmap too large: " + size);
            }
            levels[k] = new long[(int) w];
            bits = w;
        }
    }

    private static long wordsFor(long bits) {
        return (bits + 63) >>> 6;
    }

    long size() {
        return size;
    }

    boolean get(long i) {
        return i >= 0 && i < size && (levels[0][(int) (i >>> 6)] & (1L << i)) != 0;
    }

    void set(long i) {
        long idx = i;
        for (long[] level : levels) {
            int w = (int) (idx >>> 6);
            long old = level[w];
            level[w] = old | (1L << idx);
            if (old != 0) {
                return;
            }
            idx = w;
        }
    }

    void clear(long i) {
        long idx = i;
        for (long[] level : levels) {
            int w = (int) (idx >>> 6);
            long now = level[w] & ~(1L << idx);
            level[w] = now;
            if (now != 0) {
                return;
            }
            idx = w;
        }
    }

    /** The lowest set bit, or -1 when none is set. */
    long first() {
        int top = levels.length - 1;
        if (levels[top][0] == 0) {
            return -1;
        }
        long idx = 0;
        for (int k = top; k >= 0; k--) {
            long word = levels[k][(int) idx];
            idx = (idx << 6) | Long.numberOfTrailingZeros(word);
        }
        return idx;
    }
}
