package dev.iommufd.benchmarks;

import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.sim.SparsePhysicalMemory;
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
 * The cost of one 64-bit access to simulated physical memory ({@link SparsePhysicalMemory}), the access every
 * table walk, IOTLB fill and DMA is made of. Addresses are random 8-byte-aligned words inside a span of
 * allocated frames, so that the span decides how much of the directory/chunk/frame structure the caches hold.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class PhysicalMemoryBenchmark {

    /** Random addresses per span; a power of two so that the next one is found with a mask. */
    private static final int ADDRESSES = 1 << 16;

    /** Bytes of written RAM the addresses fall in: 2 MiB (one chunk), 64 MiB (32 chunks, beyond the caches). */
    @Param({"2097152", "67108864"})
    public long span;

    private PhysicalMemory memory;
    /** Word addresses inside written frames. */
    private long[] written;
    /** Word addresses inside frames never written (reads find no storage and return zero). */
    private long[] unwritten;
    private int next;

    @Setup
    public void setUp() {
        memory = SparsePhysicalMemory.of(MachineProfile.Q35, 1L << 30);
        int order = Long.numberOfTrailingZeros(span / PhysicalMemory.FRAME_SIZE);
        long base = memory.frames().allocate(order);
        for (long pa = base; pa < base + span; pa += Long.BYTES) {
            memory.write64(pa, pa);
        }
        long unwrittenBase = memory.frames().allocate(order);
        SplittableRandom random = new SplittableRandom(42);
        written = new long[ADDRESSES];
        unwritten = new long[ADDRESSES];
        for (int i = 0; i < ADDRESSES; i++) {
            long offset = random.nextLong(span / Long.BYTES) * Long.BYTES;
            written[i] = base + offset;
            unwritten[i] = unwrittenBase + offset;
        }
    }

    @Benchmark
    public long read64() {
        return memory.read64(written[next++ & (ADDRESSES - 1)]);
    }

    @Benchmark
    public void write64() {
        int i = next++ & (ADDRESSES - 1);
        memory.write64(written[i], i);
    }

    @Benchmark
    public long read64Unwritten() {
        return memory.read64(unwritten[next++ & (ADDRESSES - 1)]);
    }
}
