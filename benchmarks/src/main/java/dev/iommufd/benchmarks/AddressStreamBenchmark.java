package dev.iommufd.benchmarks;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * The address streams of B6/B6b and B6c, and the four benchmarks over them; a subclass builds the translation
 * ({@link #translate}) and the streams ({@link #workloads}) in its setup. JMH generates the benchmarks for each
 * concrete subclass under the subclass's name ({@code TranslateBenchmark.hit90}, {@code NestedTranslateBenchmark.hit90}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public abstract class AddressStreamBenchmark {
    static final int ADDRESSES = 1 << 20;
    static final int MASK = ADDRESSES - 1;
    static final int HOT_PAGES = 256;

    long[] hit90;
    long[] random;
    long[] sequential;
    int next;

    /** Translates {@code iova} for a DMA read; returns the physical address, or throws on a fault. */
    abstract long translate(long iova);

    /** Sets the three streams over {@code pages} 4 KiB pages from {@code base} (see {@link #workloads}). */
    void streams(long base, long pages) {
        long[][] w = workloads(base, pages);
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
