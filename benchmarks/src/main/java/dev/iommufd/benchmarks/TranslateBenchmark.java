package dev.iommufd.benchmarks;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.spi.hw.Translation;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
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
public class TranslateBenchmark {
    static final int ADDRESSES = 1 << 20;
    static final int MASK = ADDRESSES - 1;
    static final long BASE = 1L << 40;
    static final int HOT_PAGES = 256;

    @Param({"VTD_SS", "SMMUV3_LPAE4K"})
    public Format format;
    @Param({"68719476736"})
    public long span;

    DomainFixture f;
    int rid;
    final Translation t = new Translation();
    long[] hit90;
    long[] random;
    long[] sequential;
    int next;

    @Setup
    public void setUp() {
        f = SharedFixtures.mapped4k(format, false, 1, BASE, span);
        rid = f.rid(0);
        long[][] w = workloads(BASE, span / DomainFixture.PAGE);
        hit90 = w[0];
        random = w[1];
        sequential = w[2];
    }

    /**
     * The three address streams over {@code pages} 4 KiB pages from {@code base}: {@code [0]} 90% in a 256-page hot
     * set and 10% uniformly random, {@code [1]} uniformly random, {@code [2]} consecutive pages (B6c uses the same).
     */
    static long[][] workloads(long base, long pages) {
        SplittableRandom r = new SplittableRandom(7);
        long[] hit90 = new long[ADDRESSES];
        long[] random = new long[ADDRESSES];
        long[] sequential = new long[ADDRESSES];
        long[] hot = new long[HOT_PAGES];
        for (int i = 0; i < HOT_PAGES; i++) {
            hot[i] = r.nextLong(pages);
        }
        for (int i = 0; i < ADDRESSES; i++) {
            long page = r.nextInt(10) == 0 ? r.nextLong(pages) : hot[r.nextInt(HOT_PAGES)];
            hit90[i] = base + page * DomainFixture.PAGE + r.nextLong(DomainFixture.PAGE);
            random[i] = base + r.nextLong(pages) * DomainFixture.PAGE + r.nextLong(DomainFixture.PAGE);
            sequential[i] = base + (i % pages) * DomainFixture.PAGE + 8;
        }
        return new long[][] {hit90, random, sequential};
    }

    private long translate(long iova) {
        f.unit.translate(rid, DmaAttributes.NO_PASID, iova, Translation.ACCESS_READ, t);
        if (!t.isOk()) {
            throw new IllegalStateException("translation of " + Long.toHexString(iova) + " faulted: " + t.faultReason());
        }
        return t.physicalAddress();
    }

    @Benchmark
    public long hit90() {
        return translate(hit90[next++ & MASK]);
    }

    @Benchmark
    public long missIndependent() {
        return translate(random[next++ & MASK]);
    }

    @Benchmark
    public long missDependent() {
        long pa = translate(random[next & MASK]);
        // The next index depends on the previous result (the walks cannot overlap) but still steps through all
        // 1M distinct random addresses: pa < 2^52, so the term is 0, which the compiler cannot know. (The earlier
        // "next += 1 + (pa >>> 3)" was a random mapping of the index space: its chain fell into a cycle of a few
        // hundred indices, whose pages then stayed in the IOTLB, so the row measured hits.)
        next = next + 1 + (int) (pa >>> 62);
        return pa;
    }

    @Benchmark
    public long missSequential() {
        return translate(sequential[next++ & MASK]);
    }
}
