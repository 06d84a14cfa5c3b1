package dev.iommufd.benchmarks;

import dev.iommufd.api.IovaRange;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import dev.iommufd.spi.hw.Translation;
import java.util.List;
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
 * B5, B8, B9 through the whole stack, with the typed iommufd API ({@link dev.iommufd.api.Iommufd}): every IOAS_MAP
 * pins user pages, charges them (CAP_IPC_LOCK: no RLIMIT_MEMLOCK limit), allocates IOVA when not FIXED_IOVA and
 * fills the attached hardware domain; every IOAS_UNMAP unmaps the domain, invalidates the IOTLB and unpins.
 *
 * <ul>
 *   <li>B5 {@link #ioasMapAll}/{@link #ioasUnmapAll}: one IOAS_MAP (then IOAS_UNMAP) of a whole user range
 *       ({@code userSpan}: the 64 GiB; the quick run uses 1 GiB, the score being per 4 KiB page and the
 *       path linear in the size); single-shot, reported per 4 KiB page by the suite.
 *   <li>B8 {@link #churn64k}: a NIC-style buffer: IOAS_MAP of 64 KiB at an allocated IOVA, one device
 *       translation of it, IOAS_UNMAP (unmap, invalidation, IOVA freed).
 *   <li>B9 {@link #allocIova}: IOAS_MAP of one page at an allocated IOVA and its IOAS_UNMAP with {@code areas}
 *       live areas packed from the bottom of the IOVA space (where a lowest-first allocator puts them). The IOVA
 *       allocator ({@code dev.iommufd.core.IoPageTable.allocIova}) is package-private, so this is the closest
 *       public path: the score includes a one-page pin, map, unmap and invalidation.
 *       {@link #allocIovaFragmented}: the allowed IOVA space is 32-bit-style, every other page of it is mapped,
 *       and an 8 KiB request fits only above the last hole (the worst case of a hole walk).
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class IoasBenchmark {
    static final long PAGE = 4096;
    static final long USER_VA = 0x10_0000_0000L;
    /** Base of the fragmented allowed window. */
    static final long WINDOW = 1L << 32;

    /** B5: a user range of {@code userSpan} bytes, touched (faulted in) once. */
    @State(Scope.Thread)
    public static class Range {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;
        /** Bytes of user memory: 64 GiB (the score is per 4 KiB page). */
        @Param({"68719476736"})
        public long userSpan;

        IommufdFixture f;
        long va;
        static final long IOVA = 1L << 40;
        boolean mapped;

        @Setup(Level.Trial)
        public void setUp() {
            f = new IommufdFixture(format, userSpan + (2L << 30));
            va = f.process.mmap(USER_VA, userSpan, Prot.READ_WRITE, MapKind.ANONYMOUS);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (mapped) {
                f.fd.ioasUnmap(f.ioas, IOVA, userSpan);
            }
            f.close();
        }
    }

    @State(Scope.Thread)
    public static class RangeUnmapped extends Range {
        @Setup(Level.Invocation)
        public void unmapped() {
            if (mapped) {
                f.fd.ioasUnmap(f.ioas, IOVA, userSpan);
                mapped = false;
            }
        }
    }

    @State(Scope.Thread)
    public static class RangeMapped extends Range {
        @Setup(Level.Invocation)
        public void mappedState() {
            if (!mapped) {
                f.fd.ioasMap(f.ioas, IommufdFixture.RW_FIXED, va, userSpan, IOVA);
                mapped = true;
            }
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long ioasMapAll(RangeUnmapped s) {
        s.mapped = true;
        return s.f.fd.ioasMap(s.f.ioas, IommufdFixture.RW_FIXED, s.va, s.userSpan, Range.IOVA);
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long ioasUnmapAll(RangeMapped s) {
        s.mapped = false;
        return s.f.fd.ioasUnmap(s.f.ioas, Range.IOVA, s.userSpan);
    }

    /** B8: one 64 KiB user buffer. */
    @State(Scope.Thread)
    public static class Nic {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;

        IommufdFixture f;
        long buffer;
        int rid;
        final Translation t = new Translation();

        @Setup(Level.Trial)
        public void setUp() {
            f = new IommufdFixture(format, 1L << 30);
            buffer = f.process.mmap(USER_VA, 64 * 1024, Prot.READ_WRITE, MapKind.ANONYMOUS);
            f.process.write64(buffer, 1); // faulted in once; IOAS_MAP pins it every time
            rid = f.function.rid();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            f.close();
        }
    }

    @Benchmark
    public long churn64k(Nic s) {
        long iova = s.f.fd.ioasMap(s.f.ioas, IommufdFixture.RW, s.buffer, 64 * 1024, 0);
        s.f.unit.translate(s.rid, DmaAttributes.NO_PASID, iova + 100, Translation.ACCESS_WRITE, s.t);
        long pa = s.t.physicalAddress();
        s.f.fd.ioasUnmap(s.f.ioas, iova, 64 * 1024);
        return pa;
    }

    /** B9: {@code areas} one-page areas packed from IOVA PAGE_SIZE upwards, all pinning the same user page. */
    @State(Scope.Thread)
    public static class LiveAreas {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;
        @Param({"100000", "1000000"})
        public int areas;

        IommufdFixture f;
        long page;

        @Setup(Level.Trial)
        public void setUp() {
            f = new IommufdFixture(format, 1L << 30);
            page = f.process.mmap(USER_VA, PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            f.process.write64(page, 1);
            packFromBottom(f, page, areas);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            f.close();
        }
    }

    /**
     * Maps {@code areas} one-page areas at the lowest usable IOVAs (from PAGE_SIZE, skipping reserved ranges such as
     * the MSI window), where iommufd's lowest-first allocator would have put them.
     * @return the IOVA just above the last area
     */
    static long packFromBottom(IommufdFixture f, long page, int areas) {
        return packFromBottom(f, page, PAGE, areas);
    }

    /** As {@link #packFromBottom(IommufdFixture, long, int)}, with areas of {@code length} bytes of user memory at {@code va}. */
    static long packFromBottom(IommufdFixture f, long va, long length, int areas) {
        int done = 0;
        long iova = PAGE;
        for (IovaRange r : f.fd.ioasIovaRanges(f.ioas).ranges()) {
            iova = Math.max(iova, r.start());
            while (done < areas && Long.compareUnsigned(iova + length - 1, r.last()) <= 0) {
                f.fd.ioasMap(f.ioas, IommufdFixture.RW_FIXED, va, length, iova);
                iova += length;
                done++;
            }
            if (done == areas) {
                return iova;
            }
        }
        throw new IllegalStateException("only " + done + " of " + areas + " areas fit");
    }

    @Benchmark
    public long allocIova(LiveAreas s) {
        long iova = s.f.fd.ioasMap(s.f.ioas, IommufdFixture.RW, s.page, PAGE, 0);
        s.f.fd.ioasUnmap(s.f.ioas, iova, PAGE);
        return iova;
    }

    /**
     * B9 worst case: allowed IOVA {@code [WINDOW, WINDOW + 2 * holes * 4K + 1 MiB)}; one-page areas at every other
     * page, so {@code holes} one-page holes sit below the only place an 8 KiB (8 KiB-aligned) request fits. With the
     * default 524288 holes the allowed space has the size of the 32-bit space (4 GiB + 1 MiB). It starts at
     * {@link #WINDOW} (4 GiB) rather than 0 because an allowed range may not intersect a reserved one (EADDRINUSE)
     * and both machines have an MSI window below 4 GiB.
     */
    @State(Scope.Thread)
    public static class Fragmented {
        @Param({"VTD_SS", "SMMUV3_LPAE4K"})
        public Format format;
        @Param({"524288"})
        public int holes;

        IommufdFixture f;
        long page;

        @Setup(Level.Trial)
        public void setUp() {
            f = new IommufdFixture(format, 1L << 30);
            page = f.process.mmap(USER_VA, 2 * PAGE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            f.process.write64(page, 1);
            f.process.write64(page + PAGE, 1);
            long top = WINDOW + 2L * holes * PAGE + (1L << 20);
            f.fd.ioasAllowIovas(f.ioas, List.of(new IovaRange(WINDOW, top - 1)));
            for (long i = 0; i < holes; i++) {
                // areas at odd pages 1, 3, 5, ... of the window: the even pages between them are one-page holes
                f.fd.ioasMap(f.ioas, IommufdFixture.RW_FIXED, page, PAGE, WINDOW + (2 * i + 1) * PAGE);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            f.close();
        }
    }

    @Benchmark
    public long allocIovaFragmented(Fragmented s) {
        long iova = s.f.fd.ioasMap(s.f.ioas, IommufdFixture.RW, s.page, 2 * PAGE, 0);
        s.f.fd.ioasUnmap(s.f.ioas, iova, 2 * PAGE);
        return iova;
    }
}
