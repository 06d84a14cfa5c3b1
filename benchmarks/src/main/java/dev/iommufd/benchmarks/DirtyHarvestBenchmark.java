package dev.iommufd.benchmarks;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.Translation;
import java.util.Arrays;
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

/**
 * B10: {@code read_and_clear_dirty} over a 64 GiB mapping in 4 KiB pages into a bitmap of one bit per page (what
 * iommufd's GET_DIRTY_BITMAP fills in user memory), then the IOTLB sync of the cleared range.
 * Domains: VT-d second stage with SSADS (server preset), SMMUv3 stage 1 with HTTU dirty (server preset).
 *
 * <ul>
 *   <li>{@link #harvestSparse}: 1 page in 64 dirty; the pages are dirtied by device writes (the hardware model
 *       sets the D bits) in an untimed per-invocation setup, and the harvest clears them.
 *   <li>{@link #harvestAllNoClear}: every page dirty, harvested with IOMMU_DIRTY_NO_CLEAR (re-dirtying 16M pages
 *       per invocation would take seconds); it walks and records every leaf but writes no PTE.
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class DirtyHarvestBenchmark {
    static final long BASE = 1L << 40;

    @Param({"VTD_SS", "SMMUV3_LPAE4K"})
    public Format format;
    @Param({"68719476736"})
    public long span;

    DomainFixture f;
    final Translation t = new Translation();
    BitmapRecorder recorder;
    boolean allDirty;

    /**
     * Records dirty ranges as bits, one per 4 KiB page from {@link #BASE}, and widens the gather over them as the
     * kernel's {@code iommu_dirty_bitmap_record} does (the IOTLB may cache the entries as writable-dirty).
     */
    static final class BitmapRecorder implements DirtyRecorder {
        final long[] bits;
        final IotlbGather gather;
        long recorded;

        BitmapRecorder(long pages, IotlbGather gather) {
            bits = new long[(int) ((pages + 63) >>> 6)];
            this.gather = gather;
        }

        @Override
        public void record(long iova, long length) {
            long first = (iova - BASE) >>> 12;
            long end = first + (length >>> 12);
            for (long p = first; p < end; p++) {
                bits[(int) (p >>> 6)] |= 1L << p;
            }
            recorded += length;
            gather.addRange(iova, length); // iommu_dirty_bitmap_record: the cleared range needs an IOTLB flush
        }

        @Override
        public IotlbGather gather() {
            return gather;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        f = SharedFixtures.mapped4k(format, true, 1, BASE, span);
        f.domain.setDirtyTracking(true);
        recorder = new BitmapRecorder(span / DomainFixture.PAGE, f.gather);
        harvest(0); // clean start
    }

    void dirty(long stride) {
        int rid = f.rid(0);
        for (long iova = BASE; iova < BASE + span; iova += stride) {
            f.unit.translate(rid, DmaAttributes.NO_PASID, iova, Translation.ACCESS_WRITE, t);
        }
    }

    long harvest(int flags) {
        Arrays.fill(recorder.bits, 0);
        recorder.recorded = 0;
        f.domain.readAndClearDirty(BASE, span, flags, recorder);
        f.sync();
        return recorder.recorded;
    }

    @Setup(Level.Invocation)
    public void dirtyPages() {
        if (!allDirty) {
            dirty(64 * DomainFixture.PAGE);
        }
    }

    @Benchmark
    public long harvestSparse() {
        long r = harvest(0);
        if (r != span / 64) {
            throw new IllegalStateException("harvested " + r + " dirty bytes, expected " + span / 64);
        }
        return r;
    }

    @State(Scope.Thread)
    public static class AllDirty {
        @Setup(Level.Trial)
        public void dirtyAll(DirtyHarvestBenchmark b) {
            b.allDirty = true;
            b.dirty(DomainFixture.PAGE);
        }
    }

    @Benchmark
    public long harvestAllNoClear(AllDirty all) {
        long r = harvest(IommuDomain.DIRTY_NO_CLEAR);
        if (r != span) {
            throw new IllegalStateException("harvested " + r + " dirty bytes, expected " + span);
        }
        return r;
    }
}
