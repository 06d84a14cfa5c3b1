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
 * <p>Not thread-safe: guarded by the owner's lock.
 *
 * @param <T> payload type
 */
final class IovaIntervals<T> {
    private long[] starts = new long[8];
    private long[] lasts = new long[8];
    private Object[] payloads = new Object[8];
    private int size;

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
    }

    void removeAt(int i) {
        System.arraycopy(starts, i + 1, starts, i, size - i - 1);
        System.arraycopy(lasts, i + 1, lasts, i, size - i - 1);
        System.arraycopy(payloads, i + 1, payloads, i, size - i - 1);
        size--;
        payloads[size] = null;
    }

    void clear() {
        Arrays.fill(payloads, 0, size, null);
        size = 0;
    }

    /** Copies another set's intervals (payloads included) into this one. */
    void copyFrom(IovaIntervals<T> other) {
        starts = other.starts.clone();
        lasts = other.lasts.clone();
        payloads = other.payloads.clone();
        size = other.size;
    }
}
