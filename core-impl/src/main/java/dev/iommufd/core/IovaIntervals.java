package dev.iommufd.core;

import java.util.Arrays;

/**
 * A set of disjoint IOVA intervals {@code [start, last]} (inclusive, unsigned 64-bit) kept sorted in primitive
 * arrays, each with an optional payload: the project's stand-in for the kernel's interval trees of areas, allowed
 * and reserved ranges.
 *
 * <p>Lookups are binary searches over {@code long[]} and allocate nothing; insert and remove shift the arrays
 * (O(n) copies, no allocation unless the arrays grow). Because the intervals are disjoint and sorted by start,
 * the {@code lasts} are sorted too.
 *
 * <h2>Hole summaries (for the IOVA allocator)</h2>
 * The hole before interval {@code i} is {@code [last(i - 1) + 1, start(i) - 1]} ({@code [0, start(0) - 1]} for
 * {@code i = 0}); its size {@code gap(i)} is an unsigned count. {@link #firstHole} finds the lowest hole at or after
 * an IOVA whose size reaches a length without visiting every interval: {@code blockMax[b]} is the unsigned maximum
 * of {@code gap} over the {@value #BLOCK} intervals of block {@code b}, {@code superMax[s]} the maximum over the
 * {@value #BLOCK} blocks of super-block {@code s} (a fixed three-level max-gap tree over the sorted arrays, the
 * stand-in for the kernel's augmented interval tree). A query reads at most ~4 x {@value #BLOCK} summaries plus
 * {@code size / BLOCK^2}. The summaries are rebuilt lazily from {@link #summaryValidFrom}: insert and remove
 * already shift the arrays (O(n)), and the rebuild of the shifted suffix is of the same order.
 *
 * <p>Not thread-safe: guarded by the owner's lock.
 *
 * @param <T> payload type
 */
final class IovaIntervals<T> {
    private long[] starts = new long[8];
    private long[] lasts = new long[8];
    private Object[] payloads = new Object[8];
    private int size;

    static final int BLOCK_SHIFT = 6;
    static final int BLOCK = 1 << BLOCK_SHIFT;
    /** Per block of {@value #BLOCK} intervals: unsigned max of gap(i); valid for blocks below summaryValidFrom. */
    private long[] blockMax = new long[1];
    /** Per super-block of {@value #BLOCK} blocks: unsigned max of blockMax. */
    private long[] superMax = new long[1];
    /** Summaries cover intervals below this index only (insert/remove lower it; queries rebuild). */
    private int summaryValidFrom;
    /** Whether an insert/remove happened since the last rebuild. */
    private boolean summaryDirty;
    /** Result of {@link #firstHole}: the hole found, clipped to the query IOVA (inclusive bounds). */
    private long holeStart;
    private long holeLast;

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    long start(int i) {
        return starts[i];
    }

    long last(int i) {
        return lasts[i];
    }

    @SuppressWarnings("unchecked")
    T payload(int i) {
        return (T) payloads[i];
    }

    /** The index of the first interval whose last is {@code >= iova} (unsigned), or {@link #size()}. */
    int lowerBound(long iova) {
        int lo = 0;
        int hi = size;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(lasts[mid], iova) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** The index of the lowest interval intersecting {@code [start, last]}, or -1. */
    int firstIntersecting(long start, long last) {
        int i = lowerBound(start);
        return i < size && Long.compareUnsigned(starts[i], last) <= 0 ? i : -1;
    }

    /** The index of the interval holding {@code iova}, or -1. */
    int indexOf(long iova) {
        return firstIntersecting(iova, iova);
    }

    /** Inserts {@code [start, last]}; the caller guarantees it intersects nothing. */
    void insert(long start, long last, T payload) {
        int i = lowerBound(start);
        if (i < size && Long.compareUnsigned(starts[i], last) <= 0) {
            throw new IllegalStateException(String.format("[%#x, %#x] overlaps [%#x, %#x]", start, last, starts[i], lasts[i]));
        }
        if (size == starts.length) {
            int n = size * 2;
            starts = Arrays.copyOf(starts, n);
            lasts = Arrays.copyOf(lasts, n);
            payloads = Arrays.copyOf(payloads, n);
        }
        System.arraycopy(starts, i, starts, i + 1, size - i);
        System.arraycopy(lasts, i, lasts, i + 1, size - i);
        System.arraycopy(payloads, i, payloads, i + 1, size - i);
        starts[i] = start;
        lasts[i] = last;
        payloads[i] = payload;
        size++;
        summaryValidFrom = Math.min(summaryValidFrom, i);
        summaryDirty = true;
    }

    void removeAt(int i) {
        summaryValidFrom = Math.min(summaryValidFrom, i);
        summaryDirty = true;
        System.arraycopy(starts, i + 1, starts, i, size - i - 1);
        System.arraycopy(lasts, i + 1, lasts, i, size - i - 1);
        System.arraycopy(payloads, i + 1, payloads, i, size - i - 1);
        size--;
        payloads[size] = null;
    }

    void clear() {
        Arrays.fill(payloads, 0, size, null);
        size = 0;
        summaryValidFrom = 0;
        summaryDirty = true;
    }

    /** Copies another set's intervals (payloads included) into this one. */
    void copyFrom(IovaIntervals<T> other) {
        starts = other.starts.clone();
        lasts = other.lasts.clone();
        payloads = other.payloads.clone();
        size = other.size;
        summaryValidFrom = 0;
        summaryDirty = true;
    }

    // ---------------------------------------------------------------- holes

    /** Unsigned size of the hole before interval {@code i} ({@code i < size}). */
    private long gap(int i) {
        return i == 0 ? starts[0] : starts[i] - lasts[i - 1] - 1;
    }

    private static long umax(long a, long b) {
        return Long.compareUnsigned(a, b) >= 0 ? a : b;
    }

    /** Rebuilds the block and super-block maxima from {@link #summaryValidFrom}; allocates only when they grow. */
    private void refreshSummaries() {
        if (!summaryDirty) {
            return;
        }
        int nblocks = (size + BLOCK - 1) >>> BLOCK_SHIFT;
        int nsupers = (nblocks + BLOCK - 1) >>> BLOCK_SHIFT;
        if (blockMax.length < nblocks + 1) {
            blockMax = Arrays.copyOf(blockMax, Math.max(nblocks + 1, starts.length >>> BLOCK_SHIFT) + 1);
        }
        if (superMax.length < nsupers + 1) {
            superMax = Arrays.copyOf(superMax, Math.max(nsupers + 1, blockMax.length >>> BLOCK_SHIFT) + 1);
        }
        int firstBlock = Math.min(summaryValidFrom, size) >>> BLOCK_SHIFT;
        for (int b = firstBlock; b < nblocks; b++) {
            long m = 0;
            int end = Math.min(size, (b + 1) << BLOCK_SHIFT);
            for (int i = b << BLOCK_SHIFT; i < end; i++) {
                m = umax(m, gap(i));
            }
            blockMax[b] = m;
        }
        for (int sb = firstBlock >>> BLOCK_SHIFT; sb < nsupers; sb++) {
            long m = 0;
            int end = Math.min(nblocks, (sb + 1) << BLOCK_SHIFT);
            for (int b = sb << BLOCK_SHIFT; b < end; b++) {
                m = umax(m, blockMax[b]);
            }
            superMax[sb] = m;
        }
        summaryValidFrom = size;
        summaryDirty = false;
    }

    /**
     * The lowest free IOVA range that contains or follows {@code iova}, lies in a single hole between the
     * intervals, is clipped to start at or after {@code iova}, and holds at least {@code length} IOVAs (unsigned,
     * {@code length >= 1}). Sets {@link #holeStart()} / {@link #holeLast()} and returns true, or returns false.
     * Allocates nothing (unless the summaries must grow after the arrays grew).
     */
    boolean firstHole(long iova, long length) {
        if (size == 0) {
            holeStart = iova;
            holeLast = -1L;
            return Long.compareUnsigned(-1L - iova, length - 1) >= 0;
        }
        int j = lowerBound(iova);
        // The hole before interval j (or after the last interval) contains or follows iova.
        if (j == size || Long.compareUnsigned(iova, starts[j]) < 0) {
            long hs = j == 0 ? 0 : lasts[j - 1] + 1;
            long s = Long.compareUnsigned(hs, iova) > 0 ? hs : iova;
            if (j == size) {
                if (lasts[size - 1] == -1L) {
                    return false;
                }
                return setHoleIfFits(s, -1L, length);
            }
            if (setHoleIfFits(s, starts[j] - 1, length)) {
                return true;
            }
        }
        int i = nextBigGap(j + 1, length);
        if (i < size) {
            holeStart = lasts[i - 1] + 1;
            holeLast = starts[i] - 1;
            return true;
        }
        if (lasts[size - 1] == -1L) {
            return false;
        }
        long s = lasts[size - 1] + 1;
        long from = Long.compareUnsigned(s, iova) > 0 ? s : iova;
        return setHoleIfFits(from, -1L, length);
    }

    private boolean setHoleIfFits(long start, long last, long length) {
        if (Long.compareUnsigned(start, last) > 0 || Long.compareUnsigned(last - start, length - 1) < 0) {
            return false;
        }
        holeStart = start;
        holeLast = last;
        return true;
    }

    /** The lowest {@code i >= from}, {@code i < size}, with {@code gap(i) >= length} (unsigned), or size. */
    private int nextBigGap(int from, long length) {
        if (from >= size) {
            return size;
        }
        refreshSummaries();
        int i = from;
        // Rest of the first block.
        int end = Math.min(size, ((i >>> BLOCK_SHIFT) + 1) << BLOCK_SHIFT);
        for (; i < end; i++) {
            if (Long.compareUnsigned(gap(i), length) >= 0) {
                return i;
            }
        }
        if (i >= size) {
            return size;
        }
        int nblocks = (size + BLOCK - 1) >>> BLOCK_SHIFT;
        int b = i >>> BLOCK_SHIFT;
        // Rest of the first super-block's blocks.
        int bend = Math.min(nblocks, ((b >>> BLOCK_SHIFT) + 1) << BLOCK_SHIFT);
        for (; b < bend; b++) {
            if (Long.compareUnsigned(blockMax[b], length) >= 0) {
                return scanBlock(b, length);
            }
        }
        if (b >= nblocks) {
            return size;
        }
        int nsupers = (nblocks + BLOCK - 1) >>> BLOCK_SHIFT;
        for (int sb = b >>> BLOCK_SHIFT; sb < nsupers; sb++) {
            if (Long.compareUnsigned(superMax[sb], length) >= 0) {
                int be = Math.min(nblocks, (sb + 1) << BLOCK_SHIFT);
                for (int bb = sb << BLOCK_SHIFT; bb < be; bb++) {
                    if (Long.compareUnsigned(blockMax[bb], length) >= 0) {
                        return scanBlock(bb, length);
                    }
                }
                throw new IllegalStateException("stale hole summary for super-block " + sb);
            }
        }
        return size;
    }

    private int scanBlock(int b, long length) {
        int end = Math.min(size, (b + 1) << BLOCK_SHIFT);
        for (int i = b << BLOCK_SHIFT; i < end; i++) {
            if (Long.compareUnsigned(gap(i), length) >= 0) {
                return i;
            }
        }
        throw new IllegalStateException("stale hole summary for block " + b);
    }

    long holeStart() {
        return holeStart;
    }

    long holeLast() {
        return holeLast;
    }
}
