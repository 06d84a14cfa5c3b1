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
 * B4: map {@link #SPAN} (64 GiB) of IOVA from an empty table with 4 KiB pages, then unmap all of it (every table
 * page freed after the sync). The map calls are at most 1 GiB each (all pointing at the fixture's 1 GiB physical
 * block), as iommufd fills a domain area by area. Single-shot: one invocation is one whole 64 GiB map (or unmap),
 * tens of milliseconds; the opposite operation runs untimed before it. The 2 MiB and 1 GiB leaves (B4b) are
 * {@link LargeLeafBulkMapBenchmark}: their operation is too short for a single-shot measurement.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class BulkMapBenchmark {
    public static final long SPAN = 64L << 30;
    static final long BASE = 1L << 40;

    @State(Scope.Thread)
    public static class Table extends MappedRange {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;
        @Param({"4096"})
        public long pageSize;
        /** Bytes mapped; the smoke test uses less. */
        @Param({"68719476736"})
        public long span;

        @Override
        long bytes() {
            return span;
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
