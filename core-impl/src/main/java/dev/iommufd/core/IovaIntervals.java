package dev.iommufd.core;

import java.util.Arrays;

/**
 * A set of disjoint IOVA intervals {@code [start, last]} (inclusive, unsigned 64-bit) kept sorted in primitive
 * arrays: the project's stand-in for the kernel's interval trees of areas, allowed and reserved ranges.
 *
 * <p>Lookups are binary searches over {@code long[]} and allocate nothing; insert and remove shift the arrays
 * (O(n) copies, no allocation unless the arrays grow). Because the intervals are disjoint and sorted by start, the
 * {@code lasts} are sorted too. An interval is named by its index, which changes when an interval below it is
 * inserted or removed. A subclass may keep more per-interval columns in parallel arrays: {@link #moveColumns} and
 * {@link #growColumns} are called whenever the start/last arrays shift or grow, so the columns stay at the same
 * index as their interval ({@link IoAreaTable} does this for areas).
 *
 * <p>Growth: the arrays grow by an eighth (at least {@value #MIN_GROWTH} slots), not by doubling. Insert already
 * costs O(n) for the shift, so growing by n/8 adds an amortised constant (8 element copies per insert) and keeps
 * the unused capacity under 12.5% of the live intervals (retained heap per area, B11).
 *
 * <h2>Hole summaries (for the IOVA allocator)</h2>
 * The hole before interval {@code i} is {@code [last(i - 1) + 1, start(i) - 1]} ({@code [0, start(0) - 1]} for
 * {@code i = 0}); its size {@code gap(i)} is an unsigned count. {@link #firstHole} finds the lowest hole at or after
 * an IOVA whose size reaches a length without visiting every interval, the stand-in for the kernel's augmented
 * interval tree ({@code interval_tree_span_iter} with the largest-hole summary):
 * <pre>
 *   maxTree[1]                                   unsigned max of everything
 *   maxTree[2], maxTree[3]                       halves
 *   ...
 *   maxTree[leaves + b]   (b &lt; nblocks)          blockMax(b) = max of gap(i) over the {@value #BLOCK} intervals
 *                                                [b * BLOCK, (b + 1) * BLOCK) of block b, i &gt;= 1 (the hole
 *                                                below the first interval is looked at directly); 0 for
 *                                                b &gt;= nblocks
 * </pre>
 * an implicit binary max-tree over blocks ({@code leaves} is a power of two), costing {@code 16 / BLOCK} bytes
 * per interval. A query reads at most two blocks of gaps and O(log n) tree nodes: O({@value #BLOCK} + log n),
 * never the intervals between. The tree is rebuilt lazily from {@link #summaryValidFrom} (the lowest index that
 * shifted since the last query): insert and remove already shift the arrays (O(n)) and the rebuild of the
 * shifted suffix is of the same order.
 *
 * <p>Not thread-safe: guarded by the owner's lock.
 */
class IovaIntervals {
    static final int MIN_GROWTH = 8;
    static final int BLOCK_SHIFT = 4;
    static final int BLOCK = 1 << BLOCK_SHIFT;

    private long[] starts;
    private long[] lasts;
    private int size;
    /** The index of the last interval inserted or found by a binary search: a hint, always verified. */
    private int finger;

    /** Implicit max-tree over blocks: node 1 is the root, leaves at {@code [leaves, 2 * leaves)}. */
    private long[] maxTree = new long[2];
    /** Number of leaves of {@link #maxTree} (a power of two, at least 1). */
    private int leaves = 1;
    /** The tree covers gaps of intervals below this index only (insert/remove lower it; queries rebuild). */
    private int summaryValidFrom;
    /** Whether the set changed since the last rebuild. */
    private boolean summaryDirty;
    /** Blocks covered by the tree when it was last rebuilt (blocks beyond are zero leaves). */
    private int builtBlocks;
    /** Result of {@link #firstHole}: the hole found, clipped to the query IOVA (inclusive bounds). */
    private long holeStart;
    private long holeLast;
    /** Result of {@link #firstHole}: the index of the interval just above the hole ({@link #size()} for the top). */
    private int holeIndex;

    IovaIntervals() {
        this(MIN_GROWTH);
    }

    IovaIntervals(int capacity) {
        starts = new long[capacity];
        lasts = new long[capacity];
    }

    final int size() {
        return size;
    }

    final boolean isEmpty() {
        return size == 0;
    }

    /** Slots allocated for intervals (the length of every per-interval array). */
    final int capacity() {
        return starts.length;
    }

    final long start(int i) {
        return starts[i];
    }

    final long last(int i) {
        return lasts[i];
    }

    /**
     * The index of the first interval whose last is {@code >= iova} (unsigned), or {@link #size()}. Binary search,
     * after two O(1) tries: below the first interval (the allocator's usual start), and the finger (the index of the
     * last insert or search, checked against its neighbour: an unmap of what was just mapped finds it at once).
     */
    final int lowerBound(long iova) {
        if (size == 0 || Long.compareUnsigned(lasts[0], iova) >= 0) {
            return 0;
        }
        int f = finger;
        if (f > 0 && f < size && Long.compareUnsigned(lasts[f], iova) >= 0 && Long.compareUnsigned(lasts[f - 1], iova) < 0) {
            return f;
        }
        int lo = 1;
        int hi = size;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(lasts[mid], iova) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        finger = lo;
        return lo;
    }

    /** The index of the lowest interval intersecting {@code [start, last]}, or -1. */
    final int firstIntersecting(long start, long last) {
        int i = lowerBound(start);
        return i < size && Long.compareUnsigned(starts[i], last) <= 0 ? i : -1;
    }

    /** The index of the interval holding {@code iova}, or -1. */
    final int indexOf(long iova) {
        return firstIntersecting(iova, iova);
    }

    /**
     * Inserts {@code [start, last]}; the caller guarantees it intersects nothing.
     *
     * @return the index of the new interval (its columns are to be written there)
     */
    final int insert(long start, long last) {
        return insert(start, last, 0);
    }

    /**
     * {@link #insert(long, long)} given that every interval below index {@code from} ends before {@code start}
     * (e.g. {@link #holeIndex()} of the hole the allocator found for it): O(1) when the new interval goes at
     * {@code from}, besides the shift.
     */
    final int insert(long start, long last, int from) {
        int i = from == 0 ? lowerBound(start) : lowerBoundFrom(from, start);
        if ((i < size && Long.compareUnsigned(starts[i], last) <= 0) || (i > 0 && Long.compareUnsigned(lasts[i - 1], start) >= 0)) {
            int j = i < size && Long.compareUnsigned(starts[i], last) <= 0 ? i : i - 1;
            throw new IllegalStateException(String.format("[%#x, %#x] overlaps [%#x, %#x]", start, last, starts[j], lasts[j]));
        }
        if (size == starts.length) {
            int n = size + Math.max(MIN_GROWTH, size >>> 3);
            starts = Arrays.copyOf(starts, n);
            lasts = Arrays.copyOf(lasts, n);
            growColumns(n);
        }
        if (i < size) { // nothing to shift when it goes last (an allocation above every area)
            System.arraycopy(starts, i, starts, i + 1, size - i);
            System.arraycopy(lasts, i, lasts, i + 1, size - i);
            moveColumns(i, i + 1, size - i);
        }
        starts[i] = start;
        lasts[i] = last;
        size++;
        finger = i;
        summaryDirty = true;
        summaryValidFrom = Math.min(summaryValidFrom, i);
        return i;
    }

    final void removeAt(int i) {
        summaryDirty = true;
        summaryValidFrom = Math.min(summaryValidFrom, i);
        if (i < size - 1) { // nothing to shift when the last one goes
            System.arraycopy(starts, i + 1, starts, i, size - i - 1);
            System.arraycopy(lasts, i + 1, lasts, i, size - i - 1);
            moveColumns(i + 1, i, size - i - 1);
        }
        size--;
        clearColumns(size);
    }

    /** Changes the bounds of interval {@code i} in place; the caller keeps the set sorted and disjoint. */
    final void setBounds(int i, long start, long last) {
        starts[i] = start;
        lasts[i] = last;
        summaryDirty = true;
        summaryValidFrom = Math.min(summaryValidFrom, i);
    }

    void clear() {
        for (int i = 0; i < size; i++) {
            clearColumns(i);
        }
        size = 0;
        summaryDirty = true;
        summaryValidFrom = 0;
    }

    /** Column hook: {@code System.arraycopy(col, from, col, to, n)} on every per-interval column. */
    void moveColumns(int from, int to, int n) {
    }

    /** Column hook: every per-interval column grows to {@code capacity} slots. */
    void growColumns(int capacity) {
    }

    /** Column hook: slot {@code i} no longer holds an interval (drop references). */
    void clearColumns(int i) {
    }

    // ---------------------------------------------------------------- holes

    /** Unsigned size of the hole before interval {@code i} ({@code i < size}). */
    private long gap(int i) {
        return i == 0 ? starts[0] : starts[i] - lasts[i - 1] - 1;
    }

    private static long umax(long a, long b) {
        return Long.compareUnsigned(a, b) >= 0 ? a : b;
    }

    /** Rebuilds the max-tree from {@link #summaryValidFrom}; allocates only when it must grow. */
    private void refreshSummaries() {
        if (!summaryDirty) {
            return;
        }
        int nblocks = blocks(size);
        int firstBlock;
        if (nblocks > leaves) {
            int l = leaves;
            while (l < nblocks) {
                l <<= 1;
            }
            leaves = l;
            maxTree = new long[2 * l];
            firstBlock = 0;
        } else {
            firstBlock = Math.min(summaryValidFrom, size) >>> BLOCK_SHIFT;
        }
        int endBlock = Math.max(nblocks, builtBlocks);
        if (firstBlock < endBlock) {
            updateTree(firstBlock, endBlock);
        }
        builtBlocks = nblocks;
        summaryValidFrom = size;
        summaryDirty = false;
    }

    /** Recomputes leaves {@code [firstBlock, endBlock)} from the gaps and the tree nodes above them. */
    private void updateTree(int firstBlock, int endBlock) {
        for (int b = firstBlock; b < endBlock; b++) {
            long m = 0;
            int end = Math.min(size, (b + 1) << BLOCK_SHIFT);
            // gap(0), the hole below the first interval, is left out: queries start at j + 1 >= 1.
            for (int i = Math.max(1, b << BLOCK_SHIFT); i < end; i++) {
                m = umax(m, gap(i));
            }
            maxTree[leaves + b] = m;
        }
        // Internal nodes over the leaves that changed: [lo, hi) halves at each level.
        int lo = (leaves + firstBlock) >>> 1;
        int hi = (leaves + endBlock - 1) >>> 1;
        while (lo >= 1) {
            for (int n = lo; n <= hi; n++) {
                maxTree[n] = umax(maxTree[2 * n], maxTree[2 * n + 1]);
            }
            lo >>>= 1;
            hi >>>= 1;
        }
    }

    private static int blocks(int n) {
        return (n + BLOCK - 1) >>> BLOCK_SHIFT;
    }

    /**
     * The lowest free IOVA range that contains or follows {@code iova}, lies in a single hole between the
     * intervals, is clipped to start at or after {@code iova}, and holds at least {@code length} IOVAs (unsigned,
     * {@code length >= 1}). Sets {@link #holeStart()} / {@link #holeLast()} / {@link #holeIndex()} and returns true,
     * or returns false. Allocates nothing (unless the summary tree must grow after the set grew).
     */
    final boolean firstHole(long iova, long length) {
        return firstHole(iova, length, 0);
    }

    /**
     * {@link #firstHole(long, long)} given that every interval below index {@code from} ends before {@code iova}
     * (e.g. {@code from = holeIndex()} of an earlier query whose hole started at or below {@code iova}): the
     * interval search gallops from there instead of a binary search over the whole set.
     */
    final boolean firstHole(long iova, long length, int from) {
        if (size == 0) {
            holeStart = iova;
            holeLast = -1L;
            holeIndex = 0;
            return Long.compareUnsigned(-1L - iova, length - 1) >= 0;
        }
        int j = from == 0 ? lowerBound(iova) : lowerBoundFrom(from, iova);
        // The hole before interval j (or after the last interval) contains or follows iova.
        if (j == size || Long.compareUnsigned(iova, starts[j]) < 0) {
            long hs = j == 0 ? 0 : lasts[j - 1] + 1;
            long s = Long.compareUnsigned(hs, iova) > 0 ? hs : iova;
            holeIndex = j;
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
        holeIndex = i;
        if (i < size) {
            holeStart = lasts[i - 1] + 1;
            holeLast = starts[i] - 1;
            return true;
        }
        if (lasts[size - 1] == -1L) {
            return false;
        }
        long s = lasts[size - 1] + 1;
        long start = Long.compareUnsigned(s, iova) > 0 ? s : iova;
        return setHoleIfFits(start, -1L, length);
    }

    /**
     * {@link #lowerBound} given that every interval below {@code from} ends before {@code iova}: exponential
     * search from {@code from}, then a binary search in the bracket (O(log distance)).
     */
    final int lowerBoundFrom(int from, long iova) {
        if (from >= size || Long.compareUnsigned(lasts[from], iova) >= 0) {
            return from;
        }
        int lo = from + 1; // every interval below lo ends before iova
        int step = 1;
        int hi = lo;
        while (hi < size && Long.compareUnsigned(lasts[hi], iova) < 0) {
            lo = hi + 1;
            step <<= 1;
            hi = from + step;
        }
        if (hi > size) {
            hi = size;
        }
        while (lo < hi) { // the answer is in [lo, hi]
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(lasts[mid], iova) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
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
        if (Long.compareUnsigned(maxTree[1], length) < 0) {
            return size; // no hole between two intervals is long enough (the root holds the maximum)
        }
        // Rest of the first block.
        int end = Math.min(size, ((from >>> BLOCK_SHIFT) + 1) << BLOCK_SHIFT);
        for (int i = from; i < end; i++) {
            if (Long.compareUnsigned(gap(i), length) >= 0) {
                return i;
            }
        }
        if (end >= size) {
            return size;
        }
        int b = nextBigBlock(end >>> BLOCK_SHIFT, length);
        return b < 0 ? size : scanBlock(b, length);
    }

    /** The lowest block {@code >= b} whose max gap is {@code >= length}, or -1: up the tree, then down. */
    private int nextBigBlock(int b, long length) {
        int n = leaves + b;
        if (Long.compareUnsigned(maxTree[n], length) < 0) {
            // Climb while n is a right child or its right sibling is too small.
            for (;;) {
                while ((n & 1) == 1) {
                    n >>>= 1;
                    if (n <= 1) {
                        return -1;
                    }
                }
                n++; // the right sibling
                if (Long.compareUnsigned(maxTree[n], length) >= 0) {
                    break;
                }
            }
            while (n < leaves) {
                n = Long.compareUnsigned(maxTree[2 * n], length) >= 0 ? 2 * n : 2 * n + 1;
            }
        }
        int found = n - leaves;
        if (found >= builtBlocks) {
            throw new IllegalStateException("hole summary names block " + found + " beyond " + builtBlocks);
        }
        return found;
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

    final long holeStart() {
        return holeStart;
    }

    final long holeLast() {
        return holeLast;
    }

    final int holeIndex() {
        return holeIndex;
    }
}
