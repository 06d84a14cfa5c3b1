package dev.iommufd.benchmarks;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.spi.hw.Translation;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * B6/B6b: one DMA address translated by the hardware model ({@code IommuUnitModel.translate}: context/stream
 * table, IOTLB, page walk in simulated memory) over a 64 GiB mapping in 4 KiB pages. Each benchmark cycles
 * through 1M precomputed addresses (random byte offsets inside their pages).
 *
 * <ul>
 *   <li>B6 {@link #hit90}: 90% of the addresses fall in a hot set of 256 pages (resident in the IOTLB), 10% are
 *       uniformly random over 64 GiB (a miss and a walk).
 *   <li>B6b: the models have no switch to turn the IOTLB off, so "IOTLB off" is measured as a workload that always
 *       misses (16M pages against a 1K/4K-entry IOTLB: a hit probability below 0.03%); each miss walks the four
 *       levels in memory and fills an entry. {@link #missIndependent}: uniformly random addresses;
 *       {@link #missDependent}: the same random addresses, but the index of the next one is computed from the
 *       physical address the previous translation produced (a pointer chase: no overlap between walks); {@link #missSequential}: consecutive pages
 *       (each page misses once; the walk's upper levels stay in the CPU caches).
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TranslateBenchmark extends AddressStreamBenchmark {
    static final long BASE = 1L << 40;

    @Param({"VTD_SS", "SMMUV3_LPAE4K"})
    public Format format;
    @Param({"68719476736"})
    public long span;

    DomainFixture f;
    int rid;
    final Translation t = new Translation();

    @Setup
    public void setUp() {
        f = SharedFixtures.mapped4k(format, false, 1, BASE, span);
        rid = f.rid(0);
        streams(BASE, span / DomainFixture.PAGE);
    }

    /**
     * B6 {@link #hit90Window} and B6b {@link #missIndependentWindow}: the device keeps {@value #WINDOW} requests
     * outstanding (the 5-bit PCIe Tag without Extended Tags), translated with {@code IommuUnitModel.translateWindow}:
     * the unit may serve hits while a miss walks and overlap the walks of several misses, as IOMMUs with
     * hit-under-miss and several table walkers do. {@link #hit90} is the same stream one request at a time.
     */
    static final int WINDOW = 32;

    /**
     * The results, at the index of their address in the stream (translateWindow writes {@code physOut[i]} for
     * {@code iovas[i]}): as long as the streams.
     */
    final long[] phys = new long[ADDRESSES];

    @Benchmark
    @OperationsPerInvocation(WINDOW)
    public long hit90Window() {
        return window(hit90);
    }

    @Benchmark
    @OperationsPerInvocation(WINDOW)
    public long missIndependentWindow() {
        return window(random);
    }

    private long window(long[] stream) {
        int at = next & MASK & -WINDOW; // ADDRESSES is a multiple of WINDOW: an aligned window never wraps
        next = at + WINDOW;
        int done = f.unit.translateWindow(rid, DmaAttributes.NO_PASID, Translation.ACCESS_READ, stream, at, WINDOW, phys, t);
        if (done != WINDOW) {
            throw new IllegalStateException("a window from " + Long.toHexString(stream[at]) + " had " + (WINDOW - done)
                    + " faults");
        }
        return phys[at + WINDOW - 1];
    }

    @Override
    long translate(long iova) {
        f.unit.translate(rid, DmaAttributes.NO_PASID, iova, Translation.ACCESS_READ, t);
        if (!t.isOk()) {
            throw new IllegalStateException("translation of " + Long.toHexString(iova) + " faulted: " + t.faultReason());
        }
        return t.physicalAddress();
    }
}
