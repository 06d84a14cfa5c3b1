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
    public static class Table {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;
        @Param({"4096"})
        public long pageSize;
        /** Bytes mapped; the smoke test uses less. */
        @Param({"68719476736"})
        public long span;

        DomainFixture f;
        boolean mapped;

        @Setup(Level.Trial)
        public void setUp() {
            f = new DomainFixture(format, false, 1);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (mapped) {
                f.unmapSpan(BASE, span, pageSize);
            }
            f.close();
        }
    }

    @State(Scope.Thread)
    public static class Empty extends Table {
        @Setup(Level.Invocation)
        public void empty() {
            if (mapped) {
                f.unmapSpan(BASE, span, pageSize);
                mapped = false;
            }
        }
    }

    @State(Scope.Thread)
    public static class Full extends Table {
        @Setup(Level.Invocation)
        public void full() {
            if (!mapped) {
                f.mapSpan(BASE, span, pageSize);
                mapped = true;
            }
        }
    }

    @Benchmark
    public long mapAll(Empty s) {
        s.f.mapSpan(BASE, s.span, s.pageSize);
        s.mapped = true;
        return s.f.allocatedFrames();
    }

    @Benchmark
    public long unmapAll(Full s) {
        s.f.unmapSpan(BASE, s.span, s.pageSize);
        s.mapped = false;
        return s.f.allocatedFrames();
    }
}
