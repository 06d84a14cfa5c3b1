package dev.iommufd.core;

import dev.iommufd.api.IovaRange;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.spi.IoProt;
import java.util.List;

/**
 * B9's access to the IOVA allocator of an IOAS ({@code IoPageTable.allocIova}, package-private), from the
 * benchmarks module, in the core's package, on the classpath. The probe works on an IOAS with no domain attached,
 * so that an area costs only the allocator's and the area set's work (no pinning, no page-table fill): exactly
 * what {@code iopt_alloc_iova} + {@code iopt_insert_area} do to claim an IOVA range and what removing the area
 * ({@code iopt_unmap_iova_range}: the interval-tree removal) does to free it. The areas share the pages of one
 * source area of another IOAS (as IOAS_COPY shares them), through the core's one-slice {@code mapPages}.
 */
public final class IovaAllocatorProbe {
    static final long PAGE = IoPageTable.PAGE_SIZE;
    static final int PROT = IoProt.READ | IoProt.WRITE;

    private final IoPageTable iopt;
    /** Both pages of the source area (one-page areas use its first page). */
    private final IoPageTable.PagesSlice source;

    /**
     * @param fd an open iommufd of a process that has {@code userVa} (two pages, faulted in) mapped
     */
    public IovaAllocatorProbe(IommufdFd fd, long userVa) {
        int sourceIoas = fd.ioasAlloc();
        long sourceIova = 1L << 32;
        fd.ioasMap(sourceIoas, IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE | IommuIoasMap.FLAG_FIXED_IOVA,
                userVa, 2 * PAGE, sourceIova);
        int measured = fd.ioasAlloc();
        IommufdContext ctx = fd.context();
        Ioas src = ctx.getIoas(sourceIoas);
        Ioas dst = ctx.getIoas(measured);
        try {
            List<IoPageTable.PagesSlice> slices = src.iopt().getPages(sourceIova, 2 * PAGE);
            if (slices.size() != 1) {
                throw new IllegalStateException("the source range is one area: " + slices);
            }
            source = slices.get(0);
            iopt = dst.iopt();
        } finally {
            ctx.objects().put(src);
            ctx.objects().put(dst);
        }
    }

    /**
     * Creates {@code areas} one-page areas at the lowest usable IOVAs from PAGE_SIZE upwards (skipping reserved
     * ranges), where the lowest-first allocator puts them.
     *
     * @return the IOVA just above the last area
     */
    public long packFromBottom(int areas) {
        int done = 0;
        long iova = PAGE;
        for (IovaRange r : iopt.iovaRanges()) {
            iova = Math.max(iova, r.start());
            while (done < areas && Long.compareUnsigned(iova + PAGE - 1, r.last()) <= 0) {
                iopt.mapPages(source.pages(), source.startByte(), PAGE, iova, PROT, false);
                iova += PAGE;
                done++;
            }
            if (done == areas) {
                return iova;
            }
        }
        throw new IllegalStateException("only " + done + " of " + areas + " areas fit");
    }

    /**
     * The fragmented worst case: allowed IOVA {@code [window, window + 2 * holes pages + 1 MiB)}, a one-page area at
     * every odd page of it, so that {@code holes} one-page holes lie below the only place an 8 KiB request fits.
     */
    public void fragment(long window, int holes) {
        long top = window + 2L * holes * PAGE + (1L << 20);
        iopt.setAllowed(new long[] {window}, new long[] {top - 1});
        for (long i = 0; i < holes; i++) {
            iopt.mapPages(source.pages(), source.startByte(), PAGE, window + (2 * i + 1) * PAGE, PROT, false);
        }
    }

    /**
     * Allocates an IOVA range of {@code pages} (1 or 2) pages and frees it: the allocator's search
     * ({@code allocIova}), the area that claims the range inserted, and removed again (which frees the range).
     *
     * @return the IOVA allocated
     */
    public long allocAndFree(int pages) {
        long length = pages * PAGE;
        long iova = iopt.mapPages(source.pages(), source.startByte(), length, 0, PROT, true);
        iopt.unmapIova(iova, length);
        return iova;
    }

    /** The allocator's search alone: the IOVA {@code allocIova} picks for {@code pages} pages, nothing claimed. */
    public long allocOnly(int pages) {
        iopt.lock.lock();
        try {
            return iopt.allocIova(source.startByte() + source.pages().base(), pages * PAGE);
        } finally {
            iopt.lock.unlock();
        }
    }

    /** Live areas of the measured IOAS. */
    public int areas() {
        return iopt.areaCount();
    }
}
