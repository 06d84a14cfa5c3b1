package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.IOTLB;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.Arrays;
import java.util.List;

/**
 * TLB: what the hardware caches, observed through DMA. Every rule first warms the unit's IOTLB with a DMA, so a
 * driver that forgets an invalidation is caught by the stale entry.
 */
final class IotlbRules {
    private IotlbRules() {
    }

    static final String INVALIDATE = "iotlb_sync must invalidate the gathered range in the unit's IOTLB (and device TLBs) "
            + "before returning; check the invalidation command/register write and its completion wait";

    static List<Rule> rules() {
        return List.of(
                Rule.required("TLB-1", IOTLB,
                        "An attached device's DMA reaches exactly the mapped physical page, in both directions.",
                        "include/linux/iommu.h attach_dev/map_pages; the architecture's translation walk", f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            TckFixture.map(d, iova, pa, pg, 1, IoProt.READ | IoProt.WRITE);
                            d.attachDevice(h);
                            byte[] w = TckFixture.pattern(3, 64);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova + 64, w), "DMA write to a mapped page",
                                    "attach_dev must point the device's context at the domain's tables");
                            Expect.bytes(w, f.readPhys(pa + 64, 64), "memory after the DMA write", "the leaf must hold pa");
                            byte[] cpu = TckFixture.pattern(4, 64);
                            f.writePhys(pa + 512, cpu);
                            byte[] r = new byte[64];
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova + 512, r), "DMA read of a mapped page", "");
                            Expect.bytes(cpu, r, "DMA read of a mapped page", "the leaf must hold pa");
                        }),
                Rule.required("TLB-2", IOTLB,
                        "After unmapPages and iotlbSync, DMA to the unmapped IOVA faults even though the IOTLB held the translation.",
                        "include/linux/iommu.h iotlb_sync; IommuDomain javadoc ('Unmapped IOVA must stop translating once the "
                                + "gather has been synced'); VT-d 6.5 (IOTLB invalidation), SMMUv3 4.4 (CMD_TLBI_*)",
                        f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            TckFixture.map(d, iova, pa, pg, 1, IoProt.READ | IoProt.WRITE);
                            d.attachDevice(h);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, new byte[8]), "warming DMA read", "");
                            Expect.equal(pg, TckFixture.unmap(d, iova, pg, 1), "unmapPages", "");
                            byte[] w = TckFixture.pattern(5, 8);
                            DmaStatus st = TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, w);
                            Expect.dma(DmaStatus.FAULT, st, "DMA write after unmap + iotlbSync", "a stale IOTLB entry still translated "
                                    + "the unmapped IOVA: " + INVALIDATE);
                        }),
                Rule.required("TLB-3", IOTLB,
                        "After unmap, sync and a new map of the same IOVA to another page, DMA reaches the new page, never the old one.",
                        "include/linux/iommu.h iotlb_sync/iotlb_sync_map; VT-d 6.1 (caching mode: invalidate after map)", f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long oldPa = f.buffer(pg);
                            long newPa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            TckFixture.map(d, iova, oldPa, pg, 1, IoProt.READ | IoProt.WRITE);
                            d.attachDevice(h);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, new byte[8]), "warming DMA read", "");
                            TckFixture.unmap(d, iova, pg, 1);
                            TckFixture.map(d, iova, newPa, pg, 1, IoProt.READ | IoProt.WRITE);
                            byte[] w = TckFixture.pattern(6, 32);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, w), "DMA write after remap", "");
                            Expect.bytes(w, f.readPhys(newPa, 32), "the new page after a DMA write through the remapped IOVA",
                                    "the write went elsewhere (stale IOTLB entry for the old page?): " + INVALIDATE);
                            Expect.that(!java.util.Arrays.equals(w, f.readPhys(oldPa, 32)),
                                    "a DMA write through the remapped IOVA reached the OLD page: %s", INVALIDATE);
                        }),
                Rule.required("TLB-4", IOTLB,
                        "flushIotlbAll (after a queued gather when DEFERRED_FLUSH is declared; after a plain sync otherwise) makes "
                                + "every unmapped IOVA fault.",
                        "include/linux/iommu.h flush_iotlb_all, iommu_iotlb_gather.queued; drivers/iommu/dma-iommu.c flush queue",
                        f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long[] iovas = f.iovas(d, pg, 3);
                            for (long iova : iovas) {
                                TckFixture.map(d, iova, pa, pg, 1, IoProt.READ | IoProt.WRITE);
                            }
                            d.attachDevice(h);
                            for (long iova : iovas) {
                                Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, new byte[8]), "warming DMA read", "");
                            }
                            IotlbGather g = new IotlbGather();
                            g.setQueued(f.declares(Capability.DEFERRED_FLUSH));
                            for (long iova : iovas) {
                                d.unmapPages(iova, pg, 1, g);
                            }
                            d.iotlbSync(g);
                            if (!f.declares(Capability.DEFERRED_FLUSH)) {
                                for (long iova : iovas) {
                                    Expect.dma(DmaStatus.FAULT, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, new byte[8]),
                                            "DMA after a sync of a gather marked queued, by a driver without DEFERRED_FLUSH",
                                            "without DEFERRED_FLUSH, iotlb_sync must invalidate even when gather.queued() is true");
                                }
                            }
                            g.reset();
                            d.flushIotlbAll();
                            for (long iova : iovas) {
                                Expect.dma(DmaStatus.FAULT, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, new byte[8]),
                                        "DMA after flushIotlbAll", "flush_iotlb_all must invalidate every translation of the domain");
                            }
                        }),
                Rule.required("TLB-5", IOTLB,
                        "unmapPages into an empty gather frees no table page: emptied tables are freed only by iotlbSync (after the "
                                + "invalidation) or by free().",
                        "IommuDomain javadoc ('only then frees emptied table pages'); include/linux/iommu.h iommu_iotlb_gather.freelist",
                        f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long[] iovas = f.iovas(d, pg, 4);
                            for (long iova : iovas) {
                                TckFixture.map(d, iova, pa, pg, 1, IoProt.READ);
                            }
                            for (long iova : iovas) {
                                IotlbGather g = new IotlbGather();
                                long before = f.allocatedFrames();
                                d.unmapPages(iova, pg, 1, g);
                                Expect.that(f.allocatedFrames() >= before, "unmapPages freed %d frames before iotlbSync: a device "
                                        + "may still walk them; queue them with IotlbGather.addFreedTable", before - f.allocatedFrames());
                                d.iotlbSync(g);
                                Expect.that(g.freelistSize() == 0, "iotlbSync left %d table pages in the gather; drain the freelist",
                                        g.freelistSize());
                                g.reset();
                            }
                        }),
                Rule.requiredWith(Capability.PASID, "TLB-7", IOTLB,
                        "For a domain attached only to a PASID, unmap and sync make the PASID-tagged DMA fault (PASID-tagged IOTLB "
                                + "entries are invalidated too).",
                        "VT-d 6.5.2.4 (PASID-based IOTLB invalidation), SMMUv3 4.4.1 (CMD_TLBI_NH_VA by ASID); "
                                + "drivers/iommu/intel/cache.c cache_tag_flush_range (per-PASID tags)",
                        f -> {
                            PciFunction fn = f.pasidFunction();
                            DeviceHandle h = f.probe(fn);
                            IommuDomain rid = f.paging(h, DomainAllocFlags.PASID);
                            IommuDomain d = f.paging(h, DomainAllocFlags.PASID);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            TckFixture.map(d, iova, pa, pg, 1, IoProt.READ | IoProt.WRITE);
                            rid.attachDevice(h);
                            int pasid = Math.min(9, (1 << Math.max(1, h.maxPasidLog2())) - 1);
                            d.setDevicePasid(h, pasid, f.declares(Capability.BLOCKED_DOMAIN) ? f.driver().blockedDomain() : null);
                            DmaAttributes tagged = DmaAttributes.pasid(pasid);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, tagged, iova, new byte[8]), "warming PASID-tagged DMA read", "");
                            TckFixture.unmap(d, iova, pg, 1);
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, tagged, iova, new byte[8]),
                                    "PASID-tagged DMA after unmap + iotlbSync", "a stale PASID-tagged IOTLB entry still translated: "
                                            + "iotlb_sync must invalidate every tag the domain is used under (domain ID + PASID, ASID)");
                        }),
                Rule.required("TLB-6", IOTLB,
                        "Unmapping one page leaves its neighbours reachable by DMA.",
                        "include/linux/iommu.h unmap_pages (only the range asked)", f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(3 * pg);
                            long iova = f.iova(d, 3 * pg);
                            for (int i = 0; i < 3; i++) {
                                TckFixture.map(d, iova + i * pg, pa + i * pg, pg, 1, IoProt.READ | IoProt.WRITE);
                            }
                            d.attachDevice(h);
                            TckFixture.unmap(d, iova + pg, pg, 1);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, new byte[8]), "DMA to the page before", "");
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova + pg, new byte[8]), "DMA to the unmapped page", "");
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova + 2 * pg, new byte[8]), "DMA to the page after",
                                    "unmap_pages must clear only the leaves asked for");
                        }),
                Rule.required("TLB-8", IOTLB,
                        "A window of outstanding requests (IommuUnitModel.translateWindow) mixing IOTLB hits, misses and faults "
                                + "translates each request as translate() would alone: its own physical address, NOT_TRANSLATED for "
                                + "each fault, later requests unaffected by an earlier fault, nothing written outside the window.",
                        "IommuUnitModel.translateWindow javadoc; PCIe Base 6.0 2.2.6.2 (Tag: several outstanding non-posted "
                                + "requests per function); how a unit overlaps them is its implementation's (VT-d 6.2; Arm "
                                + "MMU-600/700 TRMs: TBU hit-under-miss, concurrent TCU walks), the result of each request is not",
                        IotlbRules::window));
    }

    /** Pages 1 to 8 of a 10-page window are mapped; 0 and 9 are not. */
    private static final int WINDOW_PAGES = 10;

    private static void window(TckFixture f) {
        PciFunction fn = f.function(0);
        DeviceHandle h = f.probe(fn);
        IommuDomain d = f.paging(h, 0);
        long pg = TckFixture.minPage(d);
        long pa = f.buffer(8 * pg);
        long base = f.iova(d, WINDOW_PAGES * pg);
        TckFixture.map(d, base + pg, pa, pg, 8, IoProt.READ | IoProt.WRITE);
        d.attachDevice(h);
        for (int p = 1; p <= 8; p += 2) { // pages 1, 3, 5, 7 are in the IOTLB, 2, 4, 6, 8 are not
            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, base + p * pg, new byte[8]), "warming DMA read", "");
        }
        // {page, offset}: hits, misses, the unmapped page below and above, the same page twice
        long[][] requests = {{1, 8}, {2, 16}, {0, 0}, {3, pg - 8}, {4, 0}, {9, 24}, {5, 1}, {6, pg - 1}, {8, 0}, {2, 32},
            {7, pg / 2}};
        IommuUnitModel unit = f.machine().iommuUnit(fn.iommuUnit());
        Translation scratch = new Translation();
        for (int round = 0; round < 2; round++) { // the second round finds every mapped page in the IOTLB
            long[] iovas = new long[requests.length + 3];
            long[] phys = new long[requests.length + 3];
            Arrays.fill(phys, 0x5a5a_5a5aL);
            long[] expected = new long[requests.length];
            int mapped = 0;
            for (int i = 0; i < requests.length; i++) {
                long page = requests[i][0];
                iovas[i + 2] = base + page * pg + requests[i][1];
                boolean in = page >= 1 && page <= 8;
                expected[i] = in ? pa + (page - 1) * pg + requests[i][1] : IommuUnitModel.NOT_TRANSLATED;
                mapped += in ? 1 : 0;
            }
            int done = unit.translateWindow(fn.rid(), DmaAttributes.NO_PASID, Translation.ACCESS_READ, iovas, 2, requests.length,
                    phys, scratch);
            for (int i = 0; i < requests.length; i++) {
                Expect.that(phys[i + 2] == expected[i],
                        "round %d, request %d (IOVA %#x): translateWindow gave %#x, translate() alone gives %#x; each request of a "
                                + "window must translate as it would alone (a hit must not take a neighbour's entry, a fault must "
                                + "not stop the requests after it)",
                        round, i, iovas[i + 2], phys[i + 2], expected[i]);
            }
            Expect.equal(mapped, done, "translateWindow's count of translated requests (round " + round + ")",
                    "count the requests whose physOut entry is not NOT_TRANSLATED");
            Expect.that(phys[0] == 0x5a5a_5a5aL && phys[1] == 0x5a5a_5a5aL && phys[phys.length - 1] == 0x5a5a_5a5aL,
                    "translateWindow wrote physOut outside [from, from + count)");
        }
        for (int p = 1; p <= 8; p++) {
            Expect.equal(pa + (p - 1) * pg + 40, unit.translate(fn.rid(), DmaAttributes.NO_PASID, base + p * pg + 40,
                    Translation.ACCESS_READ, scratch).physicalAddress(), "translate() of page " + p + " after the windows",
                    "the window's fills must cache the translations the walk found");
        }
    }
}
