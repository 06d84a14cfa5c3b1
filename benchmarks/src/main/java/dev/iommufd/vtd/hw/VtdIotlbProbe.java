package dev.iommufd.vtd.hw;

import dev.iommufd.benchmarks.IotlbProbe;

/**
 * B7's access to the VT-d model's {@link Iotlb} (package-private): a fresh IOTLB of {@link VtdUnit}'s size, filled
 * with second-stage 4 KiB entries of legacy mode (PASID 0) and invalidated with the verbs {@code VtdUnit} calls
 * for a page-selective (address + AM) and a domain-selective IOTLB invalidation descriptor. Lives in the
 * benchmarks module, in the model's package, on the classpath.
 */
public final class VtdIotlbProbe implements IotlbProbe {
    /** {@code VtdUnit}'s IOTLB size. */
    static final int ENTRIES = 1024;

    private final Iotlb iotlb = new Iotlb(ENTRIES);

    @Override
    public int capacity() {
        return iotlb.capacity();
    }

    @Override
    public void fill(int domain, long iova, long pa) {
        iotlb.fill(domain, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, (pa & ~0xfffL) | Iotlb.V_READ | Iotlb.V_WRITE | Iotlb.V_DIRTY);
    }

    @Override
    public void invalidatePages(int domain, long iova, int pages) {
        iotlb.invalidate(domain, -1, 1 << Iotlb.KIND_SECOND_STAGE, iova, Integer.numberOfTrailingZeros(pages));
    }

    @Override
    public void invalidateDomain(int domain) {
        iotlb.invalidateDomain(domain);
    }

    @Override
    public int liveEntries() {
        return iotlb.liveEntries();
    }
}
