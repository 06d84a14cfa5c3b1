package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.DIRTY;

import dev.iommufd.api.Errno;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.ArrayList;
import java.util.List;

/** DIRTY: hardware dirty logging observed through DMA writes. */
final class DirtyRules {
    private DirtyRules() {
    }

    /** The core's iommu_dirty_bitmap, as ranges. */
    static final class Ranges implements DirtyRecorder {
        final List<long[]> ranges = new ArrayList<>();
        final IotlbGather gather = new IotlbGather();

        @Override
        public void record(long iova, long length) {
            ranges.add(new long[] {iova, length});
            gather.addRange(iova, length); // as the core's iommu_dirty_bitmap_record: the cleared range gets flushed
        }

        @Override
        public IotlbGather gather() {
            return gather;
        }

        boolean covers(long iova) {
            for (long[] r : ranges) {
                if (Long.compareUnsigned(iova, r[0]) >= 0 && Long.compareUnsigned(iova, r[0] + r[1] - 1) <= 0) {
                    return true;
                }
            }
            return false;
        }
    }

    /** Reads (and clears unless noClear) the dirty state of {@code [iova, iova + size)}, syncing as the core does. */
    static Ranges read(IommuDomain d, long iova, long size, boolean noClear) {
        Ranges r = new Ranges();
        d.readAndClearDirty(iova, size, noClear ? IommuDomain.DIRTY_NO_CLEAR : 0, r);
        d.iotlbSync(r.gather);
        r.gather.reset();
        return r;
    }

    static List<Rule> rules() {
        return List.of(
                Rule.requiredWith(Capability.DIRTY_TRACKING, "DIRTY-1", DIRTY,
                        "With tracking on, a DMA write dirties its page: readAndClearDirty reports it (and not a page only read), "
                                + "then reports it no more.",
                        "include/linux/iommu.h iommu_dirty_ops.read_and_clear_dirty; VT-d 9.8 (SL D bit), SMMUv3 3.13 (HTTU DBM), "
                                + "AMD-Vi 2.2.7.4",
                        f -> {
                            Setup s = setup(f);
                            byte[] w = TckFixture.pattern(21, 16);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(s.fn, TckFixture.UNTAGGED, s.iova, w), "DMA write", "");
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(s.fn, TckFixture.UNTAGGED, s.iova + s.pg, new byte[16]), "DMA read", "");
                            Ranges r = read(s.d, s.iova, 2 * s.pg, false);
                            Expect.that(r.covers(s.iova), "the page written by DMA at %#x is not reported dirty (reported %d ranges): "
                                    + "set the hardware's dirty-logging enable in set_dirty_tracking and read the D bits", s.iova, r.ranges.size());
                            Expect.that(!r.covers(s.iova + s.pg), "the page only read by DMA at %#x is reported dirty", s.iova + s.pg);
                            Ranges again = read(s.d, s.iova, 2 * s.pg, false);
                            Expect.that(again.ranges.isEmpty(), "a second readAndClearDirty still reports %d ranges: clear the D bits "
                                    + "unless DIRTY_NO_CLEAR", again.ranges.size());
                        }),
                Rule.requiredWith(Capability.DIRTY_TRACKING, "DIRTY-2", DIRTY,
                        "DIRTY_NO_CLEAR reports dirty pages without clearing them.",
                        "uAPI IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR; include/linux/iommu.h IOMMU_DIRTY_NO_CLEAR", f -> {
                            Setup s = setup(f);
                            TckFixture.dmaWrite(s.fn, TckFixture.UNTAGGED, s.iova, new byte[8]);
                            Expect.that(read(s.d, s.iova, s.pg, true).covers(s.iova), "not reported dirty with NO_CLEAR");
                            Expect.that(read(s.d, s.iova, s.pg, false).covers(s.iova),
                                    "a page reported with DIRTY_NO_CLEAR was cleared anyway: leave the D bits with NO_CLEAR");
                        }),
                Rule.requiredWith(Capability.DIRTY_TRACKING, "DIRTY-4", DIRTY,
                        "After read-and-clear (and the IOTLB sync of its gather), a new DMA write to the same page is reported "
                                + "dirty again: the hardware must not keep a cached entry that skips setting the dirty bit.",
                        "drivers/iommu/iommufd/io_pagetable.c iopt_read_and_clear_dirty_data (iommu_iotlb_sync after clearing); "
                                + "VT-d 3.6.2 / SMMUv3 3.13.3 (dirty state update on a cached translation)",
                        f -> {
                            Setup s = setup(f);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(s.fn, TckFixture.UNTAGGED, s.iova, new byte[8]), "first DMA write", "");
                            Expect.that(read(s.d, s.iova, s.pg, false).covers(s.iova), "the first write is not reported dirty");
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(s.fn, TckFixture.UNTAGGED, s.iova + 8, new byte[8]), "second DMA write", "");
                            Expect.that(read(s.d, s.iova, s.pg, false).covers(s.iova), "a DMA write after read-and-clear was not "
                                    + "reported dirty: the IOTLB still held an entry marked dirty; add every cleared range to "
                                    + "DirtyRecorder.gather() (the core syncs it) or invalidate it yourself");
                        }),
                Rule.requiredWith(Capability.DIRTY_TRACKING, "DIRTY-3", DIRTY,
                        "setDirtyTracking and readAndClearDirty on a domain allocated without DIRTY_TRACKING fail with EOPNOTSUPP.",
                        "drivers/iommu/iommufd/hw_pagetable.c iommufd_hwpt_set_dirty_tracking (-EOPNOTSUPP without dirty_ops)",
                        f -> {
                            IommuDomain d = f.paging();
                            Expect.errno(Errno.EOPNOTSUPP, "setDirtyTracking on a domain without DIRTY_TRACKING",
                                    "only DIRTY_TRACKING domains have dirty ops", () -> d.setDirtyTracking(true));
                            Expect.errno(Errno.EOPNOTSUPP, "readAndClearDirty on a domain without DIRTY_TRACKING",
                                    "only DIRTY_TRACKING domains have dirty ops", () -> d.readAndClearDirty(0, 4096, 0, new Ranges()));
                        }));
    }

    private record Setup(PciFunction fn, IommuDomain d, long iova, long pg) {
    }

    private static Setup setup(TckFixture f) {
        PciFunction fn = f.capableFunction(Capability.DIRTY_TRACKING);
        DeviceHandle h = f.probe(fn);
        IommuDomain d = f.paging(h, DomainAllocFlags.DIRTY_TRACKING);
        long pg = TckFixture.minPage(d);
        long pa = f.buffer(2 * pg);
        long iova = f.iova(d, 2 * pg);
        TckFixture.map(d, iova, pa, pg, 2, IoProt.READ | IoProt.WRITE);
        d.attachDevice(h);
        d.setDirtyTracking(true);
        read(d, iova, 2 * pg, false);
        return new Setup(fn, d, iova, pg);
    }
}
