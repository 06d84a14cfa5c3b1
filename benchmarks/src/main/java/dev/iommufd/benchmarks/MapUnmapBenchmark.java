package dev.iommufd.benchmarks;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * B1-B3: the driver's {@code map_pages}/{@code unmap_pages}/{@code iotlb_sync} on a warm table (every table page
 * on the path already exists: a sentinel page of the same size stays mapped at the start of the window, so no
 * unmap ever empties a table and no map ever allocates one).
 *
 * <ul>
 *   <li>B1 {@link #mapOne}: 256 calls mapping one page each (4K, 2M or 1G) into the warm, empty window; reported
 *       per page. Only the maps are timed: the 256-page unmap + sync that empties the window again is an untimed
 *       per-invocation setup (an invocation is 256 maps, well above 10 us, so the setup's timestamps are noise).
 *   <li>B2 {@link #map256}: one call mapping 256 pages (the unmap happens in an untimed per-invocation setup).
 *   <li>B3 {@link #unmapOne}: 256 x (unmap one 4K page + {@code iotlb_sync}), per page; the 256-page map that
 *       fills the window is an untimed per-invocation setup. {@link #unmap256}: unmap 256 pages in one call and sync
 *       (the map is an untimed per-invocation setup).
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class MapUnmapBenchmark {
    static final int BATCH = 256;
    /** Window base: 512 GiB, so that 257 x 1 GiB stays inside one top-level entry (one warm level-3 table). */
    static final long WINDOW = 512L << 30;

    @State(Scope.Thread)
    public static class Warm {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;
        /** Page size of B1: 4 KiB, 2 MiB, 1 GiB. */
        @Param({"4096", "2097152", "1073741824"})
        public long pageSize;

        DomainFixture f;
        long first;

        @Setup(Level.Trial)
        public void setUp() {
            f = new DomainFixture(format, false, 1);
            f.domain.mapPages(WINDOW, f.blockPa, pageSize, 1, DomainFixture.RW); // the sentinel
            first = WINDOW + pageSize;
            // warm: every table on the path exists, IOTLB/queue in steady state
            f.mapSpanPages(first, pageSize, BATCH);
            f.unmapSpanPages(first, pageSize, BATCH);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            f.close();
        }
    }

    /** B1 state: the 256-page window is empty before each invocation (untimed unmap + sync). */
    @State(Scope.Thread)
    public static class WarmEmpty extends Warm {
        boolean mapped;

        @Setup(Level.Invocation)
        public void emptyWindow() {
            if (mapped) {
                f.unmapSpanPages(first, pageSize, BATCH);
                mapped = false;
            }
        }
    }

    /** B2/B3 state (4K): the 256-page range is unmapped (B2) or mapped (B3) before each invocation, untimed. */
    @State(Scope.Thread)
    public static class Batch {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;

        DomainFixture f;
        long first;
        boolean mapped;

        @Setup(Level.Trial)
        public void setUp() {
            f = new DomainFixture(format, false, 1);
            f.domain.mapPages(WINDOW, f.blockPa, DomainFixture.PAGE, 1, DomainFixture.RW);
            first = WINDOW + DomainFixture.PAGE;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            f.close();
        }
    }

    @State(Scope.Thread)
    public static class Unmapped extends Batch {
        @Setup(Level.Invocation)
        public void unmapped() {
            if (mapped) {
                f.unmapSpanPages(first, DomainFixture.PAGE, BATCH);
                mapped = false;
            }
        }
    }

    @State(Scope.Thread)
    public static class Mapped extends Batch {
        @Setup(Level.Invocation)
        public void mapped() {
            if (!mapped) {
                f.mapSpanPages(first, DomainFixture.PAGE, BATCH);
                mapped = true;
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long mapOne(WarmEmpty s) {
        DomainFixture f = s.f;
        long size = s.pageSize;
        long iova = s.first;
        long pa = f.blockPa;
        long done = 0;
        s.mapped = true;
        for (int i = 0; i < BATCH; i++) {
            done += f.domain.mapPages(iova, pa, size, 1, DomainFixture.RW);
            iova += size;
            pa += size;
            if (pa >= f.blockPa + DomainFixture.BLOCK) {
                pa = f.blockPa;
            }
        }
        return done;
    }

    @Benchmark
    public long map256(Unmapped s) {
        s.mapped = true;
        return s.f.domain.mapPages(s.first, s.f.blockPa, DomainFixture.PAGE, BATCH, DomainFixture.RW);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long unmapOne(Mapped s) {
        DomainFixture f = s.f;
        long size = DomainFixture.PAGE;
        long done = 0;
        long iova = s.first;
        s.mapped = false;
        for (int i = 0; i < BATCH; i++) {
            done += f.domain.unmapPages(iova, size, 1, f.gather);
            f.sync();
            iova += size;
        }
        return done;
    }

    @Benchmark
    public long unmap256(Mapped s) {
        s.mapped = false;
        long done = s.f.domain.unmapPages(s.first, DomainFixture.PAGE, BATCH, s.f.gather);
        s.f.sync();
        return done;
    }
}
