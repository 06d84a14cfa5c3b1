package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.FAULTS;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.PageResponse;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.fixture.RecordingFaultSink;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.List;

/** FAULT: translation faults, page requests and page responses. */
final class FaultRules {
    private FaultRules() {
    }

    static List<Rule> rules() {
        return List.of(
                Rule.required("FAULT-1", FAULTS,
                        "A device without PRI that DMAs to an unmapped IOVA gets FAULT, and no page request is reported.",
                        "PCIe 10.4 (PRI); VT-d 7.1 (non-recoverable faults), SMMUv3 3.12 (stall/terminate)", f -> {
                            PciFunction fn = null;
                            for (PciFunction c : f.functions()) {
                                if (!c.priCapable()) {
                                    fn = c;
                                    break;
                                }
                            }
                            Expect.that(fn != null, "the reference machine has no function without PRI");
                            PciFunction dev = fn;
                            DeviceHandle h = f.probe(dev);
                            IommuDomain d = f.paging(h, 0);
                            long iova = f.iova(d, TckFixture.minPage(d));
                            d.attachDevice(h);
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(dev, TckFixture.UNTAGGED, iova, new byte[8]),
                                    "DMA to an unmapped IOVA from a function without PRI", "");
                            Expect.that(f.sink().faults().isEmpty(), "the driver reported %d page requests for a function without PRI: "
                                    + "only PRI page requests go to the fault sink", f.sink().faults().size());
                        }),
                Rule.requiredWith(Capability.IOPF, "FAULT-2", FAULTS,
                        "A PRI-capable device's DMA to an unmapped IOVA becomes a page request the driver reports to the core "
                                + "(page address, write permission, last-page flag, no PASID).",
                        "include/linux/iommu.h iommu_report_device_fault, struct iommu_fault_page_request; PCIe 10.4.1 "
                                + "(Page Request Message); VT-d 7.5 (page request descriptor), SMMUv3 8.1 (PRI queue)",
                        f -> {
                            PciFunction fn = f.priFunction();
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long iova = f.iova(d, Math.max(pg, 4096)) + 0x10;
                            d.attachDevice(h);
                            f.sink().clear();
                            Expect.dma(DmaStatus.PAGE_REQUEST, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, new byte[8]),
                                    "DMA to an unmapped IOVA from a PRI-capable function", "IOPF is declared: enable PRI/page requests "
                                            + "for PRI-capable functions and give the unit a page request queue");
                            RecordingFaultSink.Reported r = onlyFault(f, h);
                            IoPageFault pf = r.fault();
                            Expect.that(pf.addr() == (iova & -4096L), "the page request's addr is %#x, expected the page %#x",
                                    pf.addr(), iova & -4096L);
                            Expect.that((pf.perm() & IoPageFault.PERM_WRITE) != 0, "a write fault is reported with perm %#x (no PERM_WRITE)",
                                    pf.perm());
                            Expect.that(pf.lastPage(), "a single page request must carry FLAG_LAST_PAGE (flags %#x)", pf.flags());
                            Expect.that(!pf.pasidValid(), "an untagged request is reported with FLAG_PASID_VALID");
                        }),
                Rule.requiredWith(Capability.IOPF, "FAULT-3", FAULTS,
                        "After the page is mapped and the group answered with SUCCESS, the device's retried DMA succeeds.",
                        "include/linux/iommu.h page_response; PCIe 10.4.2 (PRG Response Message)", f -> {
                            PciFunction fn = f.priFunction();
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long size = Math.max(pg, 4096);
                            long iova = f.iova(d, size);
                            d.attachDevice(h);
                            f.sink().clear();
                            TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, new byte[8]);
                            IoPageFault pf = onlyFault(f, h).fault();
                            long pa = f.buffer(size);
                            byte[] cpu = TckFixture.pattern(22, 8);
                            f.writePhys(pa, cpu);
                            TckFixture.map(d, iova, pa, pg, size / pg, IoProt.READ | IoProt.WRITE);
                            Expect.runs("pageResponse(SUCCESS)", "IOPF is declared",
                                    () -> f.driver().pageResponse(h, new PageResponse(pf.pasid(), pf.pasidValid(), pf.grpid(), PageResponse.SUCCESS)));
                            byte[] r = new byte[8];
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, r), "retried DMA after the response",
                                    "after map + page response, the translation must succeed (no stale negative entry)");
                            Expect.bytes(cpu, r, "retried DMA", "");
                        }),
                new Rule("FAULT-4", FAULTS, dev.iommufd.tck.Level.REQUIRED, Capability.IOPF,
                        "A PASID-tagged page request is reported with FLAG_PASID_VALID and its PASID.",
                        "struct iommu_fault_page_request (IOMMU_FAULT_PAGE_REQUEST_PASID_VALID); PCIe 6.20 (PASID prefix)",
                        f -> {
                            if (!f.declares(Capability.PASID)) {
                                throw new dev.iommufd.tck.RuleNotApplicable("the driver does not declare PASID");
                            }
                            PciFunction pri = f.priFunction();
                            PciFunction fn = f.deviceCapable(pri, Capability.PASID) ? pri
                                    : f.capableFunction(Capability.IOPF, Capability.PASID);
                            DeviceHandle h = f.probe(fn);
                            Expect.that(h.maxPasidLog2() > 0, "the PRI function %s has no PASIDs (maxPasidLog2 0); give it a PASID "
                                    + "capability in the reference machine", fn.address());
                            IommuDomain rid = f.paging(h, DomainAllocFlags.PASID);
                            IommuDomain d = f.paging(h, DomainAllocFlags.PASID);
                            rid.attachDevice(h);
                            int pasid = Math.min(3, (1 << h.maxPasidLog2()) - 1);
                            d.setDevicePasid(h, pasid, f.driver().blockedDomain());
                            long iova = f.iova(d, 4096);
                            f.sink().clear();
                            Expect.dma(DmaStatus.PAGE_REQUEST, TckFixture.dmaRead(fn, DmaAttributes.pasid(pasid), iova, new byte[8]),
                                    "PASID-tagged DMA to an unmapped IOVA", "");
                            IoPageFault pf = onlyFault(f, h).fault();
                            Expect.that(pf.pasidValid() && pf.pasid() == pasid, "the page request reports pasidValid=%s pasid=%d, expected "
                                    + "pasid %d", pf.pasidValid(), pf.pasid(), pasid);
                            f.driver().pageResponse(h, new PageResponse(pasid, true, pf.grpid(), PageResponse.INVALID));
                        }));
    }

    private static RecordingFaultSink.Reported onlyFault(TckFixture f, DeviceHandle h) {
        List<RecordingFaultSink.Reported> faults = f.sink().faults();
        Expect.that(faults.size() == 1, "expected one page request reported to the FaultSink, got %d: drain the page request "
                + "queue in the interrupt handler and call FaultSink.reportPageFault for each", faults.size());
        Expect.that(faults.get(0).device() == h, "the page request was reported for %s, not the probed handle of the device",
                faults.get(0).device());
        return faults.get(0);
    }
}
