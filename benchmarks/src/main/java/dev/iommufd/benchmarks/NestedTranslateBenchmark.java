package dev.iommufd.benchmarks;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.spi.hw.Translation;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * B6c: nested translation, stage 1 over stage 2 ({@link NestedFixture}: a guest first-stage / stage-1 table in
 * guest RAM mapping {@code span} bytes of guest IOVA in 4 KiB pages, over a NEST_PARENT second stage / stage 2
 * built by IOAS_MAP), translated by the hardware model ({@code IommuUnitModel.translate}) with the same address
 * streams as B6/B6b ({@link AddressStreamBenchmark#workloads}): {@link #hit90} (90% in a 256-page hot set),
 * {@link #missDependent}, {@link #missIndependent}, {@link #missSequential} (always-miss: 16M pages against the
 * IOTLB). A miss walks the four first-stage levels, each table address (a GPA) translated through the second
 * stage, and then translates the output GPA: up to 24 memory reads, minus what the model caches.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class NestedTranslateBenchmark extends AddressStreamBenchmark {

    @Param({"VTD_SS", "SMMUV3_LPAE4K"})
    public Format format;
    @Param({"68719476736"})
    public long span;

    NestedFixture f;
    int rid;
    final Translation t = new Translation();

    @Setup(Level.Trial)
    public void setUp() {
        f = SharedFixtures.nested(format, span);
        rid = f.function.rid();
        streams(NestedFixture.GVA_BASE, span / NestedFixture.PAGE);
    }

    @Override
    long translate(long iova) {
        f.unit.translate(rid, DmaAttributes.NO_PASID, iova, Translation.ACCESS_READ, t);
        if (!t.isOk()) {
            throw new IllegalStateException("nested translation of " + Long.toHexString(iova) + " faulted: " + t.faultReason());
        }
        return t.physicalAddress();
    }
}
