package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.DOMAIN;

import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Aperture;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainGeometry;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.List;

/** DOM: allocating, describing and freeing paging domains. */
final class DomainRules {
    private DomainRules() {
    }

    static List<Rule> rules() {
        return List.of(
                Rule.required("DOM-1", DOMAIN,
                        "allocPagingDomain(dev, 0, null) returns a PAGING domain of this driver with allocFlags() 0.",
                        "include/linux/iommu.h domain_alloc_paging_flags", f -> {
                            IommuDomain d = f.paging();
                            Expect.that(d.type() == DomainType.PAGING, "allocPagingDomain returned a %s domain", d.type());
                            Expect.that(d.driver() == f.driver(), "domain.driver() is %s, not the bound driver", d.driver());
                            Expect.that(d.allocFlags() == 0, "allocFlags() is %#x for a domain allocated with flags 0", d.allocFlags());
                        }),
                Rule.required("DOM-2", DOMAIN,
                        "The geometry has sorted, disjoint apertures and a page-size bitmap whose smallest size is a power of "
                                + "two no larger than 4 KiB (iommufd's PAGE_SIZE).",
                        "include/linux/iommu.h iommu_domain_geometry, pgsize_bitmap; drivers/iommu/iommufd/io_pagetable.c "
                                + "iopt_table_add_domain (domain pgsize > PAGE_SIZE: -EINVAL)",
                        DomainRules::geometry),
                Rule.required("DOM-3", DOMAIN,
                        "A fresh paging domain translates nothing: iovaToPhys is NO_TRANSLATION at the aperture's edges.",
                        "include/linux/iommu.h iova_to_phys; IommuDomain.NO_TRANSLATION", f -> {
                            IommuDomain d = f.paging();
                            for (Aperture a : d.geometry().apertures()) {
                                for (long iova : new long[] {a.start(), a.last() & -4096L, a.start() + ((a.last() - a.start()) >>> 1)}) {
                                    long pa = d.iovaToPhys(iova);
                                    Expect.that(pa == IommuDomain.NO_TRANSLATION,
                                            "a fresh domain translates iova %#x to %#x: tables must start empty (zeroed frames)", iova, pa);
                                }
                            }
                        }),
                Rule.required("DOM-4", DOMAIN,
                        "free() after map and unmap gives back every frame the domain took (table pages, root).",
                        "include/linux/iommu.h iommu_domain_ops.free; drivers/iommu/io-pgtable-arm.c arm_lpae_free_pgtable",
                        DomainRules::freeLeaks),
                Rule.required("DOM-5", DOMAIN,
                        "After a warm-up, 200 cycles of allocate, attach, detach to the blocked domain and free leak no frame and no domain ID.",
                        "drivers/iommu/intel/iommu.c domain_id_iommu (ida); drivers/iommu/arm/arm-smmu-v3 ASID/VMID ida",
                        f -> {
                            DeviceHandle h = f.device(0);
                            // Warm-up: structures shared by every domain of the unit (context tables of the bus, ...)
                            // may be allocated by the first attach and kept until close.
                            for (int i = 0; i < 2; i++) {
                                IommuDomain w = f.paging(h, 0);
                                w.attachDevice(h);
                                if (f.declares(Capability.BLOCKED_DOMAIN)) {
                                    f.driver().blockedDomain().attachDevice(h);
                                }
                                f.free(w);
                            }
                            long base = f.allocatedFrames();
                            for (int i = 0; i < 200; i++) {
                                IommuDomain d = f.paging(h, 0);
                                d.attachDevice(h);
                                if (f.declares(Capability.BLOCKED_DOMAIN)) {
                                    f.driver().blockedDomain().attachDevice(h);
                                }
                                f.free(d);
                            }
                            Expect.that(f.allocatedFrames() == base, "200 alloc/attach/blocked/free cycles leaked %d frames "
                                    + "(after a warm-up cycle): free the domain's root table and per-domain structures in free(), and "
                                    + "release the domain ID", f.allocatedFrames() - base);
                        }),
                Rule.required("DOM-6", DOMAIN,
                        "allocFlags() reports exactly the flags the domain was allocated with, for every declared flag (on a "
                                + "function where its capability is deviceCapable).",
                        "drivers/iommu/iommufd/hw_pagetable.c (hwpt->nest_parent, dirty tracking flag checks)", f -> {
                            int[] flags = {DomainAllocFlags.NEST_PARENT, DomainAllocFlags.DIRTY_TRACKING, DomainAllocFlags.PASID};
                            Capability[] caps = {Capability.NESTING, Capability.DIRTY_TRACKING, Capability.PASID};
                            for (int i = 0; i < flags.length; i++) {
                                PciFunction capable = f.declares(caps[i]) ? f.firstCapable(caps[i]) : null;
                                if (capable != null) {
                                    DeviceHandle h = f.probe(capable);
                                    int fl = flags[i];
                                    IommuDomain d = f.paging(h, fl);
                                    Expect.that(d.allocFlags() == fl, "domain allocated with flags %#x reports allocFlags() %#x", fl,
                                            d.allocFlags());
                                }
                            }
                        }));
    }

    private static void geometry(TckFixture f) {
        DomainGeometry g = f.paging().geometry();
        long bm = g.pgsizeBitmap();
        long min = Long.lowestOneBit(bm);
        Expect.that(min != 0 && Long.compareUnsigned(min, 4096) <= 0,
                "the smallest page size %#x is larger than 4 KiB: iommufd cannot map PAGE_SIZE pages into the domain", min);
        Aperture prev = null;
        for (Aperture a : g.apertures()) {
            Expect.that(Long.compareUnsigned(a.last() - a.start(), min - 1) >= 0, "aperture [%#x, %#x] is smaller than a page",
                    a.start(), a.last());
            Expect.that((a.start() & (min - 1)) == 0 && ((a.last() + 1) & (min - 1)) == 0,
                    "aperture [%#x, %#x] is not aligned to the smallest page %#x", a.start(), a.last(), min);
            if (prev != null) {
                Expect.that(Long.compareUnsigned(prev.last(), a.start()) < 0,
                        "apertures [%#x, %#x] and [%#x, %#x] are not sorted and disjoint", prev.start(), prev.last(), a.start(), a.last());
            }
            prev = a;
        }
    }

    private static void freeLeaks(TckFixture f) {
        DeviceHandle h = f.device(0);
        IommuDomain warm = f.paging(h, 0);
        f.free(warm);
        long pa = f.buffer(4096);
        long base = f.allocatedFrames();
        IommuDomain d = f.paging(h, 0);
        long pg = TckFixture.minPage(d);
        long[] iovas = f.iovas(d, pg, 8);
        for (long iova : iovas) {
            TckFixture.map(d, iova, pa, pg, 1, IoProt.READ | IoProt.WRITE);
        }
        for (long iova : iovas) {
            TckFixture.unmap(d, iova, pg, 1);
        }
        f.free(d);
        Expect.that(f.allocatedFrames() == base, "after mapping 8 pages, unmapping them and freeing the domain, %d frames are "
                + "still allocated: every table page must be freed, either after the IOTLB sync through the gather "
                + "(IotlbGather.addFreedTable, drained in iotlbSync) or by free()", f.allocatedFrames() - base);
    }
}
