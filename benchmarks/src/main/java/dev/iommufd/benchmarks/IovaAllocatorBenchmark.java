package dev.iommufd.benchmarks;

import dev.iommufd.core.IovaAllocatorProbe;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
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
 * B9, the definition: the IOVA allocator of an IOAS ({@code dev.iommufd.core.IoPageTable.allocIova}) with
 * many live ranges, through {@link IovaAllocatorProbe} (an IOAS with no domain attached: nothing is pinned or
 * mapped into a page table). One operation allocates an IOVA range and frees it, the way the core does both: the
 * allocator's search, the insertion of the area that claims the range ({@code iopt_insert_area}), and the removal
 * of that area ({@code iopt_unmap_iova_range}), which frees the range.
 *
 * <ul>
 *   <li>{@link #allocFree}: one page, with {@code liveAreas} one-page areas packed from the bottom of the IOVA
 *       space (100K and 1M): the first fit is just above them.
 *   <li>{@link #allocFreeFragmented}: the worst case: a 32-bit-sized allowed window (4 GiB + 1 MiB at 4 GiB:
 *       allowed ranges may not intersect the MSI windows) with a one-page area at every odd page, so that
 *       {@code holes} one-page holes lie below the only place an 8 KiB (8 KiB-aligned) request fits.
 *   <li>{@link #allocOnly}: the allocator's search alone with 100K/1M live areas (informational: nothing is claimed,
 *       so it is the same search every time).
 * </ul>
 * {@link IoasBenchmark#allocIova} measures the same allocation through IOAS_MAP + IOAS_UNMAP of a domain-backed
 * IOAS (informational rows {@code B9-ioas-*}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class IovaAllocatorBenchmark {
    static final long PAGE = 4096;
    static final long WINDOW = 1L << 32;

    @State(Scope.Thread)
    public static class Allocator {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;

        IommufdFixture f;
        IovaAllocatorProbe probe;

        void open() {
            f = new IommufdFixture(format, 1L << 30);
            long page = f.process.mmap(IoasBenchmark.USER_VA, 2 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            f.process.write64(page, 1);
            f.process.write64(page + PAGE, 1);
            probe = new IovaAllocatorProbe(f.fd, page);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            f.close();
        }
    }

    @State(Scope.Thread)
    public static class Packed extends Allocator {
        @Param({"100000", "1000000"})
        public int liveAreas;

        @Setup(Level.Trial)
        public void setUp() {
            open();
            probe.packFromBottom(liveAreas);
        }
    }

    @State(Scope.Thread)
    public static class Fragmented extends Allocator {
        /** One-page holes below the fit: 524288 makes the window the size of the 32-bit space. */
        @Param({"524288"})
        public int holeCount;

        @Setup(Level.Trial)
        public void setUp() {
            open();
            probe.fragment(WINDOW, holeCount);
        }
    }

    @Benchmark
    public long allocFree(Packed s) {
        return s.probe.allocAndFree(1);
    }

    @Benchmark
    public long allocFreeFragmented(Fragmented s) {
        return s.probe.allocAndFree(2);
    }

    @Benchmark
    public long allocOnly(Packed s) {
        return s.probe.allocOnly(1);
    }
}
