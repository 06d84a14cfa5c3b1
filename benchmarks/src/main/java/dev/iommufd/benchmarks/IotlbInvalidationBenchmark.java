package dev.iommufd.benchmarks;

import dev.iommufd.smmuv3.hw.Smmuv3TlbProbe;
import dev.iommufd.vtd.hw.VtdIotlbProbe;
import java.util.SplittableRandom;
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

/**
 * B7, the definition: IOTLB invalidation as the IOMMU executes it, in the hardware model's IOTLB itself
 * ({@link IotlbProbe}: VT-d {@code Iotlb}, SMMUv3 {@code Smmuv3Tlb}, each of its unit's size), without the driver,
 * the queue or the MMIO path ({@link InvalidationBenchmark} measures that round trip).
 *
 * <p>Before every invocation an untimed setup refills the IOTLB with its working set (4 KiB entries of pages
 * spread over 64 GiB, as many as the IOTLB has entries; set conflicts evict some), filling last the entries the
 * invocation then invalidates, so that every invalidation finds its entries live and the IOTLB stays between full
 * and three-quarters full. An invocation is hundreds of invalidations (microseconds), so the setup's timestamps are
 * noise.
 *
 * <ul>
 *   <li>{@link #page}: 256 page-selective invalidations of one 4 KiB page each (VT-d: address mask 0; SMMUv3:
 *       {@code TLBI_NH_VA} of 4 KiB), per invalidation.
 *   <li>{@link #range16}: 16 invalidations of a 16-page (64 KiB-aligned) range each (VT-d: AM 4; SMMUv3: range
 *       {@code TLBI_NH_VA} of 64 KiB), per invalidation; the working set is runs of 16 consecutive pages.
 *   <li>{@link #domainWide}: 256 domain-wide invalidations (VT-d domain-selective; SMMUv3 {@code TLBI_NH_ASID}), one
 *       per domain, with the IOTLB empty or half full (half of its entries, spread evenly over the 256 domains);
 *       O(1) means the two scores are equal.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class IotlbInvalidationBenchmark {
    static final long BASE = 1L << 40;
    static final long SPAN = 64L << 30;
    static final long PAGE = 4096;
    /** Invalidations per invocation (page-selective and domain-wide); also the number of domains. */
    static final int BATCH = 256;
    /** 16-page range invalidations per invocation. */
    static final int RANGES = 16;
    static final int DOMAIN = 1;

    static IotlbProbe probe(Format format) {
        return format == Format.VTD_SS ? new VtdIotlbProbe() : new Smmuv3TlbProbe();
    }

    /** An IOTLB and a working set of 4 KiB pages of one domain (runs of one page; {@link Ranges}: 16 pages). */
    @State(Scope.Thread)
    public static class WorkingSet {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;

        IotlbProbe tlb;
        /** First IOVA of every run, in fill order. */
        long[] runs;
        /** The run the next invalidation starts from (rotates, so that every part of the set is invalidated). */
        int next;

        int run() {
            return 1;
        }

        @Setup(Level.Trial)
        public void setUp() {
            tlb = probe(format);
            int run = run();
            runs = new long[tlb.capacity() / run];
            SplittableRandom r = new SplittableRandom(11);
            long slots = SPAN / (run * PAGE);
            java.util.Set<Long> seen = new java.util.HashSet<>();
            for (int i = 0; i < runs.length; i++) {
                long s;
                do {
                    s = r.nextLong(slots);
                } while (!seen.add(s));
                runs[i] = BASE + s * run * PAGE;
            }
        }

        /** Runs one invocation invalidates. */
        int perInvocation() {
            return BATCH;
        }

        /**
         * Fills every run, the ones the next invocation invalidates last (so that set conflicts among the working
         * set evict others, never them).
         */
        @Setup(Level.Invocation)
        public void refill() {
            int run = run();
            int n = runs.length;
            for (int k = 0; k < n; k++) {
                long start = runs[(next + perInvocation() + k) % n];
                for (int p = 0; p < run; p++) {
                    long iova = start + p * PAGE;
                    tlb.fill(DOMAIN, iova, iova & ((1L << 30) - 1));
                }
            }
        }
    }

    @State(Scope.Thread)
    public static class Ranges extends WorkingSet {
        @Override
        int run() {
            return 16;
        }

        @Override
        int perInvocation() {
            return RANGES;
        }
    }

    /** 256 domains with the IOTLB empty or half full before each invocation. */
    @State(Scope.Thread)
    public static class Domains {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;
        @Param({"empty", "half"})
        public String iotlb;

        IotlbProbe tlb;
        long[] pages;

        @Setup(Level.Trial)
        public void setUp() {
            tlb = probe(format);
            pages = new long[tlb.capacity() / 2];
            SplittableRandom r = new SplittableRandom(13);
            for (int i = 0; i < pages.length; i++) {
                pages[i] = BASE + r.nextLong(SPAN / PAGE) * PAGE;
            }
        }

        @Setup(Level.Invocation)
        public void refill() {
            if (iotlb.equals("half")) {
                for (int i = 0; i < pages.length; i++) {
                    tlb.fill(1 + i % BATCH, pages[i], pages[i] & ((1L << 30) - 1));
                }
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int page(WorkingSet s) {
        s.next = invalidateRuns(s.tlb, s.runs, s.next, BATCH, 1);
        return s.next;
    }

    @Benchmark
    @OperationsPerInvocation(RANGES)
    public int range16(Ranges s) {
        s.next = invalidateRuns(s.tlb, s.runs, s.next, RANGES, 16);
        return s.next;
    }

    /**
     * Invalidates {@code count} runs of {@code pages} pages, the runs' first addresses taken cyclically from
     * {@code runs} starting at index {@code from}; returns the index after the last one used.
     */
    private static int invalidateRuns(IotlbProbe tlb, long[] runs, int from, int count, int pages) {
        int n = runs.length;
        int i = from;
        for (int k = 0; k < count; k++) {
            tlb.invalidatePages(DOMAIN, runs[i], pages);
            i = i + 1 == n ? 0 : i + 1;
        }
        return i;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int domainWide(Domains s) {
        IotlbProbe tlb = s.tlb;
        for (int d = 1; d <= BATCH; d++) {
            tlb.invalidateDomain(d);
        }
        return BATCH;
    }
}
