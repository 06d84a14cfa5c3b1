package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@link IovaIntervals}: lookups and {@link IovaIntervals#firstHole} (the max-tree over blocks of gaps) against a
 * linear reference over a {@link TreeMap}, through random inserts and removes that grow and shrink the set across
 * many blocks and tree sizes (removes at the end, in the middle, down to empty), so every lazy rebuild path (a
 * dirty suffix, a shrinking block count, a growing tree) is exercised. Also the per-interval column hooks.
 */
class IovaIntervalsTest {

    /** The lowest hole {@code >= iova} of at least {@code length} IOVAs, clipped to iova, or null; linear. */
    private static long[] referenceHole(TreeMap<Long, Long> set, long iova, long length) {
        long cur = 0;
        for (var e : set.entrySet()) {
            long s = e.getKey();
            long l = e.getValue();
            long from = Long.compareUnsigned(cur, iova) > 0 ? cur : iova;
            if (Long.compareUnsigned(from, s) < 0 && Long.compareUnsigned(s - 1 - from, length - 1) >= 0) {
                return new long[] {from, s - 1};
            }
            if (l == -1L) {
                return null;
            }
            cur = l + 1;
        }
        long from = Long.compareUnsigned(cur, iova) > 0 ? cur : iova;
        return Long.compareUnsigned(-1L - from, length - 1) >= 0 ? new long[] {from, -1L} : null;
    }

    @Test
    void firstHoleMatchesALinearScanThroughGrowthAndShrinkage() {
        SplittableRandom rnd = new SplittableRandom(7);
        IovaIntervals set = new IovaIntervals();
        TreeMap<Long, Long> ref = new TreeMap<>(Long::compareUnsigned);
        long universe = 1L << 24;
        int checks = 0;
        for (int step = 0; step < 40_000; step++) {
            // Phases: grow to ~3000 intervals, shrink to 0, grow again.
            int phase = (step / 10_000) % 2;
            boolean grow = phase == 0 ? rnd.nextInt(10) < 8 : rnd.nextInt(10) < 2;
            if (grow || set.isEmpty()) {
                long s = rnd.nextLong(universe) & -16L;
                long l = s + (1 + rnd.nextInt(8)) * 16L - 1;
                if (set.firstIntersecting(s, l) < 0) {
                    int i = set.insert(s, l);
                    assertEquals(s, set.start(i));
                    ref.put(s, l);
                }
            } else {
                int i = rnd.nextInt(4) == 0 ? set.size() - 1 : rnd.nextInt(set.size());
                ref.remove(set.start(i));
                set.removeAt(i);
            }
            assertEquals(ref.size(), set.size());
            if (step % 7 == 0) {
                long iova = rnd.nextLong(universe + 4096);
                long length = 1 + rnd.nextLong(rnd.nextBoolean() ? 64 : 4096);
                int lb = set.lowerBound(iova);
                assertEquals(ref.headMap(iova, true).size() - (ref.floorEntry(iova) != null
                        && Long.compareUnsigned(ref.floorEntry(iova).getValue(), iova) >= 0 ? 1 : 0), lb, "lowerBound");
                int from = lb == 0 ? 0 : rnd.nextInt(lb + 1);
                assertEquals(lb, set.lowerBoundFrom(from, iova), "lowerBoundFrom(" + from + ")");
                long[] expected = referenceHole(ref, iova, length);
                boolean found = rnd.nextBoolean() ? set.firstHole(iova, length) : set.firstHole(iova, length, from);
                assertEquals(expected != null, found, "hole of " + length + " from " + iova + " at step " + step);
                if (found) {
                    assertEquals(expected[0], set.holeStart(), "hole start at step " + step);
                    assertEquals(expected[1], set.holeLast(), "hole last at step " + step);
                }
                checks++;
            }
        }
        assertTrue(checks > 5000);
        // The sorted arrays agree with the reference.
        int k = 0;
        for (var e : ref.entrySet()) {
            assertEquals(e.getKey(), set.start(k));
            assertEquals(e.getValue(), set.last(k));
            assertEquals(k, set.indexOf(e.getKey()));
            k++;
        }
    }

    @Test
    void holesAtTheTopOfTheAddressSpace() { // unsigned order: intervals up to ULONG_MAX, the hole after the last
        IovaIntervals set = new IovaIntervals();
        set.insert(-0x3000L, -0x2001L);
        set.insert(0x1000, 0x1fff);
        assertTrue(set.firstHole(0x1000, 0x1000));
        assertEquals(0x2000, set.holeStart());
        assertEquals(-0x3001L, set.holeLast());
        assertTrue(set.firstHole(-0x2800L, 0x2000));
        assertEquals(-0x2000L, set.holeStart());
        assertEquals(-1L, set.holeLast());
        set.insert(-0x1000L, -1L);
        assertTrue(!set.firstHole(-0x2800L, 0x2000), "the last 8 KiB hole is gone");
        assertTrue(set.firstHole(-0x2800L, 0x1000));
        assertEquals(-0x2000L, set.holeStart());
        assertEquals(-0x1001L, set.holeLast());
    }

    /** A set with one column, as {@link IoAreaTable} keeps its columns. */
    private static final class ColumnSet extends IovaIntervals {
        long[] col = new long[capacity()];

        @Override
        void moveColumns(int from, int to, int n) {
            System.arraycopy(col, from, col, to, n);
        }

        @Override
        void growColumns(int capacity) {
            col = java.util.Arrays.copyOf(col, capacity);
        }

        @Override
        void clearColumns(int i) {
            col[i] = -1;
        }

        void put(long start) {
            int i = insert(start, start);
            col[i] = start * 10;
        }
    }

    @Test
    void columnHooksFollowEveryShiftAndGrowth() { // what IoAreaTable relies on
        ColumnSet set = new ColumnSet();
        SplittableRandom rnd = new SplittableRandom(3);
        for (int n = 0; n < 2000; n++) {
            long s = rnd.nextLong(100_000);
            if (set.indexOf(s) < 0) {
                set.put(s);
            }
            if (rnd.nextInt(3) == 0) {
                set.removeAt(rnd.nextInt(set.size()));
            }
        }
        assertTrue(set.size() > 500);
        for (int i = 0; i < set.size(); i++) {
            assertEquals(set.start(i) * 10, set.col[i], "column of interval " + i);
        }
        assertEquals(-1, set.col[set.size()], "a removed slot is cleared");
        assertEquals(set.capacity(), set.col.length);
    }

    @Test
    void arraysGrowByAnEighth() { // B11: the unused capacity stays under 12.5% (+ MIN_GROWTH) of the intervals
        IovaIntervals set = new IovaIntervals();
        for (int i = 0; i < 100_000; i++) {
            set.insert(i * 2L, i * 2L);
            int n = set.size();
            assertTrue(set.capacity() <= n + Math.max(IovaIntervals.MIN_GROWTH, (n - 1) / 8) + 1,
                    "capacity " + set.capacity() + " for " + n + " intervals");
        }
    }
}
