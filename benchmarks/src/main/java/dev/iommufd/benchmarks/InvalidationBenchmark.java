package dev.iommufd.benchmarks;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.Translation;
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
 * B7: IOTLB invalidation as the driver issues it from {@code iotlb_sync} (VT-d: a page-selective IOTLB descriptor
 * and a wait descriptor through the invalidation queue; SMMUv3: CMD_TLBI_NH_VA (range form with RIL) and CMD_SYNC
 * through the command queue), and the hardware model executing it.
 *
 * <ul>
 *   <li>{@link #page}: a gather of one 4 KiB page.
 *   <li>{@link #range16}: a gather of 16 consecutive 4 KiB pages.
 *   <li>{@link #domainWide}: {@code flush_iotlb_all} with the IOTLB empty or half full (refilled by translations
 *       in an untimed per-invocation setup): O(1) means both scores are equal.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class InvalidationBenchmark {
    static final long BASE = 1L << 40;
    static final long SPAN = 64L << 20;

    @State(Scope.Thread)
    public static class Domain {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;

        DomainFixture f;
        final Translation t = new Translation();
        int rid;
        long iova = BASE;

        @Setup(Level.Trial)
        public void setUp() {
            f = new DomainFixture(format, false, 1);
            f.mapSpan(BASE, SPAN, DomainFixture.PAGE);
            rid = f.rid(0);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            f.close();
        }

        void fill(int entries) {
            for (int i = 0; i < entries; i++) {
                f.unit.translate(rid, DmaAttributes.NO_PASID, BASE + i * DomainFixture.PAGE, Translation.ACCESS_READ, t);
            }
        }
    }

    @State(Scope.Thread)
    public static class Filled extends Domain {
        @Param({"empty", "half"})
        public String iotlb;

        @Setup(Level.Invocation)
        public void refill() {
            if (iotlb.equals("half")) {
                fill(format.iotlbEntries / 2);
            }
        }
    }

    @Benchmark
    public boolean page(Domain s) {
        IotlbGather g = s.f.gather;
        long iova = s.iova;
        s.iova = iova + DomainFixture.PAGE < BASE + SPAN ? iova + DomainFixture.PAGE : BASE;
        g.addPage(iova, DomainFixture.PAGE);
        s.f.domain.iotlbSync(g);
        g.reset();
        return g.isEmpty();
    }

    @Benchmark
    public boolean range16(Domain s) {
        IotlbGather g = s.f.gather;
        long iova = s.iova;
        s.iova = iova + 16 * DomainFixture.PAGE < BASE + SPAN ? iova + 16 * DomainFixture.PAGE : BASE;
        g.addPage(iova, DomainFixture.PAGE);
        g.addRange(iova, 16 * DomainFixture.PAGE);
        s.f.domain.iotlbSync(g);
        g.reset();
        return g.isEmpty();
    }

    @Benchmark
    public long domainWide(Filled s) {
        s.f.domain.flushIotlbAll();
        return s.rid;
    }
}
