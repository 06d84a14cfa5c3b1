package dev.iommufd.benchmarks;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * B4b: map {@link BulkMapBenchmark#SPAN} (64 GiB) of IOVA with 2 MiB or 1 GiB leaves into an empty range of the
 * table, and unmap all of it + sync (every table page the range covers freed), in steady state.
 *
 * <p>The same work as {@link BulkMapBenchmark} (B4, 4 KiB leaves), measured differently: an operation here is 64
 * leaves (1 GiB pages, a few microseconds) or 32768 (2 MiB pages, under a millisecond), so a single-shot
 * measurement with a handful of invocations timed the interpreter and C1 code of the first calls, not the
 * operation (130-270 us with errors as large as the scores, where warm loops of the same calls took 2.5-9.5 us).
 * Here the mode is the average time over many invocations, each of which still starts from the state the
 * scenario names: an untimed per-invocation setup empties the range before each map ({@link Empty}) and fills it
 * before each unmap ({@link Full}), exactly as {@link BulkMapBenchmark} does once per single shot. The opposite
 * operation's cost is not in the score; JMH's per-invocation timestamps (tens of nanoseconds) are far below one
 * operation.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class LargeLeafBulkMapBenchmark {
    static final long BASE = BulkMapBenchmark.BASE;

    @State(Scope.Thread)
    public static class Table extends MappedRange {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;
        @Param({"2097152", "1073741824"})
        public long pageSize;
        /**
         * Bytes mapped; the smoke test uses less. Not named {@code span}, so that the quick suite (which shrinks every
         * {@code span} to 4 GiB and scales the time x16) runs the full 64 GiB here too: with 1 GiB leaves, 4 leaves x 16
         * is not 64 leaves (the sync is a fixed cost), and 64 GiB of large leaves is cheap.
         */
        @Param({"68719476736"})
        public long rangeBytes;

        @Override
        long bytes() {
            return rangeBytes;
        }

        @Override
        long leafSize() {
            return pageSize;
        }

        @Setup(Level.Trial)
        public void setUp() {
            open(format);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    /** The range is empty at the start of every invocation. */
    @State(Scope.Thread)
    public static class Empty extends Table {
        @Setup(Level.Invocation)
        public void empty() {
            ensureEmpty();
        }
    }

    /** The range is mapped at the start of every invocation. */
    @State(Scope.Thread)
    public static class Full extends Table {
        @Setup(Level.Invocation)
        public void full() {
            ensureFull();
        }
    }

    /** Maps the range from empty; returns the frames allocated. */
    @Benchmark
    public long mapAll(Empty s) {
        return s.mapAll();
    }

    /** Unmaps the whole range and syncs; returns the frames allocated. */
    @Benchmark
    public long unmapAll(Full s) {
        return s.unmapAll();
    }
}
