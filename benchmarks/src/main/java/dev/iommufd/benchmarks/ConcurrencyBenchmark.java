package dev.iommufd.benchmarks;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.Translation;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
 * B13: throughput with one and with two threads (the suite runs each benchmark with {@code threads(1)} and
 * {@code threads(2)} and reports the ratio).
 *
 * <ul>
 *   <li>{@link #mapUnmap}: each thread maps 16 pages, unmaps them and syncs, in its own 1 GiB window of one shared
 *       domain (disjoint ranges: the io-pgtable concurrency guarantee).
 *   <li>{@link #translate}: each thread is a different device (requester ID) attached to the same domain,
 *       translating a 90%-hit address stream over 1 GiB.
 *   <li>{@link #control}: the control of the two: arithmetic on the thread's own state, sharing nothing (no
 *       memory write another thread reads, no lock). Its ratio is what the machine gives two threads at best
 *       (the number of cores that really run them, frequency, the hypervisor), the ceiling of the other two
 *       rows in the same run.
 *   <li>{@link #sharedLine}: the other control: an atomic increment of one counter both threads share, so that
 *       every operation moves one cache line between the CPUs. On the 2-core CI VM that transfer switches on its
 *       own between ~28 ns and ~160 ns one way (a two-thread C ping-pong pinned to the two vCPUs measured 55 ns and
 *       ~325 ns round trips, minutes apart, with no steal time: how the host places the vCPUs), and B13-map and
 *       B13-xlate, whose threads share the lines of one queue and one IOTLB as the hardware does, follow it. Its
 *       ratio says which mode a run met.
 * </ul>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class ConcurrencyBenchmark {
    static final long BASE = 1L << 40;
    static final long SPAN = 1L << 30;

    @State(Scope.Benchmark)
    public static class Shared {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;

        DomainFixture f;
        final AtomicInteger threads = new AtomicInteger();
        /** {@link #sharedLine}'s counter, written by both threads. */
        final AtomicLong line = new AtomicLong();

        @Setup(Level.Trial)
        public void setUp() {
            f = new DomainFixture(format, false, 2);
            f.mapSpan(BASE, SPAN, DomainFixture.PAGE);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            f.close();
        }
    }

    @State(Scope.Thread)
    public static class Worker {
        int index;
        long window;
        final IotlbGather gather = new IotlbGather();
        final Translation t = new Translation();
        int rid;
        long[] addresses;
        int next;
        /** {@link #control}'s generator state: a field of this thread's own state object. */
        long lcg;

        @Setup(Level.Trial)
        public void setUp(Shared s) {
            index = s.threads.getAndIncrement();
            window = BASE + SPAN + (index + 1) * SPAN;
            // a sentinel keeps the window's leaf table alive
            s.f.domain.mapPages(window, s.f.blockPa, DomainFixture.PAGE, 1, DomainFixture.RW);
            rid = s.f.rid(index % 2);
            SplittableRandom r = new SplittableRandom(index);
            long pages = SPAN / DomainFixture.PAGE;
            long[] hot = new long[256];
            for (int i = 0; i < hot.length; i++) {
                hot[i] = r.nextLong(pages);
            }
            addresses = new long[1 << 16];
            for (int i = 0; i < addresses.length; i++) {
                long page = r.nextInt(10) == 0 ? r.nextLong(pages) : hot[r.nextInt(hot.length)];
                addresses[i] = BASE + page * DomainFixture.PAGE;
            }
        }
    }

    @Benchmark
    public long mapUnmap(Shared s, Worker w) {
        long iova = w.window + DomainFixture.PAGE;
        long done = s.f.domain.mapPages(iova, s.f.blockPa, DomainFixture.PAGE, 16, DomainFixture.RW);
        done += s.f.domain.unmapPages(iova, DomainFixture.PAGE, 16, w.gather);
        s.f.domain.iotlbSync(w.gather);
        w.gather.reset();
        return done;
    }

    @Benchmark
    public long translate(Shared s, Worker w) {
        s.f.unit.translate(w.rid, DmaAttributes.NO_PASID, w.addresses[w.next++ & 0xffff], Translation.ACCESS_READ, w.t);
        return w.t.physicalAddress();
    }

    /** Steps of the control's generator per operation: about as long as a translation hit. */
    static final int CONTROL_STEPS = 32;

    /** B13-control: {@link #CONTROL_STEPS} steps of a 64-bit linear congruential generator in the thread's state. */
    @Benchmark
    public long control(Worker w) {
        long x = w.lcg;
        for (int i = 0; i < CONTROL_STEPS; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L; // Knuth's MMIX constants
        }
        w.lcg = x;
        return x;
    }

    /** B13-sharedline: one atomic increment of a counter every thread writes (one cache-line transfer with two). */
    @Benchmark
    public long sharedLine(Shared s) {
        return s.line.incrementAndGet();
    }
}
