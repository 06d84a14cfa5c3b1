package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.ATTACH;

import dev.iommufd.api.Errno;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.RuleNotApplicable;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.Arrays;
import java.util.List;

/** ATT: which domain a device's (and a PASID's) DMA uses, and switching it. */
final class AttachRules {
    private AttachRules() {
    }

    static final int RW = IoProt.READ | IoProt.WRITE;

    /** A domain for {@code h} with one page at {@code iova} mapped to a fresh buffer; returns the buffer's PA. */
    static long mapped(TckFixture f, IommuDomain d, long iova) {
        long pg = TckFixture.minPage(d);
        long pa = f.buffer(pg);
        TckFixture.map(d, iova, pa, pg, 1, RW);
        return pa;
    }

    static List<Rule> rules() {
        return List.of(
                Rule.optional("ATT-1", ATTACH,
                        "A probed device that no domain was attached to reaches no memory (DMA at IOVA = a RAM address faults).",
                        "drivers/iommu/iommu.c (devices start in a blocking or default domain); VT-d 3.4.3 (context not present), "
                                + "SMMUv3 STE.Config=abort",
                        f -> {
                            PciFunction fn = f.function(0);
                            f.probe(fn);
                            long pa = f.buffer(4096);
                            byte[] w = TckFixture.pattern(11, 16);
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, pa, w),
                                    "DMA from a probed, unattached device", "start devices in a blocking configuration");
                        }),
                Rule.required("ATT-2", ATTACH,
                        "Attaching domain B to a device attached to domain A replaces A: DMA then uses B's mappings and none of A's.",
                        "IommuDomain.attachDevice javadoc ('replacing what it used, atomically'); drivers/iommu/iommufd/device.c "
                                + "iommufd_device_do_replace",
                        f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain a = f.paging(h, 0);
                            IommuDomain b = f.paging(h, 0);
                            long pg = TckFixture.minPage(a);
                            long[] iovas = f.iovas(a, pg, 2);
                            long paA = mapped(f, a, iovas[0]);
                            long paB = mapped(f, b, iovas[1]);
                            a.attachDevice(h);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iovas[0], new byte[8]), "DMA through A", "");
                            Expect.runs("attachDevice(B) over A", "replace must succeed without a detach", () -> b.attachDevice(h));
                            byte[] w = TckFixture.pattern(12, 16);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iovas[1], w), "DMA to B's mapping after replace",
                                    "attach_dev must switch the device's context to B");
                            Expect.bytes(w, f.readPhys(paB, 16), "B's page after DMA", "");
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iovas[0], w), "DMA to A's mapping after replace",
                                    "the device still reaches A: after switching the context, invalidate the context cache and "
                                            + "the IOTLB entries tagged with A's domain ID for this device");
                            Expect.that(!Arrays.equals(w, f.readPhys(paA, 16)), "DMA after replace landed in A's page");
                        }),
                Rule.required("ATT-3", ATTACH,
                        "Two devices attached to different domains cannot reach each other's mappings.",
                        "include/linux/iommu.h (domain isolation); VT-d 3.4 (domain IDs), SMMUv3 3.3 (per-stream STE)", f -> {
                            PciFunction f0 = f.function(0);
                            PciFunction f1 = f.function(1);
                            DeviceHandle h0 = f.probe(f0);
                            DeviceHandle h1 = f.probe(f1);
                            IommuDomain d0 = f.paging(h0, 0);
                            IommuDomain d1 = f.paging(h1, 0);
                            long pg = TckFixture.minPage(d0);
                            long[] iovas = f.iovas(d0, pg, 2);
                            long pa0 = mapped(f, d0, iovas[0]);
                            long pa1 = mapped(f, d1, iovas[1]);
                            d0.attachDevice(h0);
                            d1.attachDevice(h1);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(f0, TckFixture.UNTAGGED, iovas[0], new byte[8]), "device 0 in its domain", "");
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(f1, TckFixture.UNTAGGED, iovas[1], new byte[8]), "device 1 in its domain", "");
                            byte[] w = TckFixture.pattern(13, 16);
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(f0, TckFixture.UNTAGGED, iovas[1], w),
                                    "device 0 writing at device 1's IOVA", "each domain needs its own tables and tag (domain ID/ASID/VMID)");
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(f1, TckFixture.UNTAGGED, iovas[0], w),
                                    "device 1 writing at device 0's IOVA", "each domain needs its own tables and tag");
                            Expect.that(!Arrays.equals(w, f.readPhys(pa0, 16)) && !Arrays.equals(w, f.readPhys(pa1, 16)),
                                    "a cross-domain DMA write reached the other device's page");
                        }),
                Rule.required("ATT-4", ATTACH,
                        "Two devices attached to one domain both reach its mappings.",
                        "drivers/iommu/iommufd/device.c (auto domain reuse: several devices share one HWPT)", f -> {
                            PciFunction f0 = f.function(0);
                            PciFunction f1 = f.function(1);
                            DeviceHandle h0 = f.probe(f0);
                            DeviceHandle h1 = f.probe(f1);
                            IommuDomain d = f.paging(h0, 0);
                            long pg = TckFixture.minPage(d);
                            long iova = f.iova(d, pg);
                            long pa = mapped(f, d, iova);
                            d.attachDevice(h0);
                            Expect.runs("attachDevice of a second device to the same domain", "a domain may serve many devices",
                                    () -> d.attachDevice(h1));
                            byte[] w = TckFixture.pattern(14, 16);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(f1, TckFixture.UNTAGGED, iova, w), "second device's DMA", "");
                            Expect.bytes(w, f.readPhys(pa, 16), "shared page", "");
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(f0, TckFixture.UNTAGGED, iova, new byte[8]), "first device's DMA", "");
                        }),
                Rule.required("ATT-8", ATTACH,
                        "Attaching a domain to a device probed by another instance of the driver (another machine) fails with "
                                + "EINVAL and leaves the device's current attachment working.",
                        "IommuDomain.attachDevice javadoc (EINVAL when incompatible; 'on failure the old attachment stays'); "
                                + "drivers/iommu/iommu.c __iommu_attach_group (domain->owner != ops: -EINVAL)",
                        AttachRules::foreignDevice),
                Rule.requiredWith(Capability.PASID, "ATT-5", ATTACH,
                        "setDevicePasid attaches a domain to one PASID: tagged DMA uses it, untagged DMA keeps the RID domain, and "
                                + "the blocked domain's setDevicePasid removes it again.",
                        "include/linux/iommu.h set_dev_pasid, blocked_domain->ops->set_dev_pasid; VT-d 9.5 (PASID entry), "
                                + "SMMUv3 5.4 (CD table, SubstreamID)",
                        AttachRules::pasidAttach),
                Rule.requiredWith(Capability.PASID, "ATT-9", ATTACH,
                        "setDevicePasid of domain B on a PASID that uses domain A replaces A: tagged DMA then reaches B's "
                                + "mappings and none of A's.",
                        "include/linux/iommu.h set_dev_pasid (old domain argument); drivers/iommu/iommu.c "
                                + "iommu_replace_device_pasid",
                        f -> {
                            PciFunction fn = f.pasidFunction();
                            DeviceHandle h = f.probe(fn);
                            IommuDomain rid = f.paging(h, DomainAllocFlags.PASID);
                            IommuDomain a = f.paging(h, DomainAllocFlags.PASID);
                            IommuDomain b = f.paging(h, DomainAllocFlags.PASID);
                            long pg = TckFixture.minPage(a);
                            long[] iovas = f.iovas(a, pg, 2);
                            long paA = mapped(f, a, iovas[0]);
                            long paB = mapped(f, b, iovas[1]);
                            rid.attachDevice(h);
                            int pasid = Math.min(11, (1 << Math.max(1, h.maxPasidLog2())) - 1);
                            IommuDomain blocked = f.declares(Capability.BLOCKED_DOMAIN) ? f.driver().blockedDomain() : null;
                            a.setDevicePasid(h, pasid, blocked);
                            DmaAttributes tagged = DmaAttributes.pasid(pasid);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, tagged, iovas[0], new byte[8]), "tagged DMA through A", "");
                            Expect.runs("setDevicePasid(B, old = A)", "replacing a PASID's domain must not need a detach",
                                    () -> b.setDevicePasid(h, pasid, a));
                            byte[] w = TckFixture.pattern(18, 16);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, tagged, iovas[1], w), "tagged DMA to B after replace",
                                    "set_dev_pasid must rewrite the PASID entry");
                            Expect.bytes(w, f.readPhys(paB, 16), "B's page", "");
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, tagged, iovas[0], w), "tagged DMA to A's IOVA after replace",
                                    "the PASID still reaches A: invalidate the PASID cache and A's PASID-tagged IOTLB entries");
                            Expect.that(!Arrays.equals(w, f.readPhys(paA, 16)), "tagged DMA after replace landed in A's page");
                        }),
                Rule.requiredWith(Capability.PASID, "ATT-6", ATTACH,
                        "setDevicePasid with a PASID at or beyond 2^maxPasidLog2 fails with EINVAL and changes nothing.",
                        "drivers/iommu/iommu.c iommu_attach_device_pasid (pasid >= dev->iommu->max_pasids: -EINVAL)", f -> {
                            PciFunction fn = f.pasidFunction();
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, DomainAllocFlags.PASID);
                            int bad = 1 << h.maxPasidLog2();
                            if (bad >= (1 << 20)) {
                                throw new RuleNotApplicable("the device supports all 2^20 PASIDs");
                            }
                            Expect.errno(Errno.EINVAL, "setDevicePasid(pasid " + bad + ") with maxPasidLog2 " + h.maxPasidLog2(),
                                    "check the PASID against the device's max_pasids", () -> d.setDevicePasid(h, bad, f.driver().blockedDomain()));
                        }),
                Rule.requiredWith(Capability.BLOCKED_DOMAIN, "ATT-7", ATTACH,
                        "After a warm-up cycle, probe, RID and PASID attach, detach, free and releaseDevice give back every frame.",
                        "include/linux/iommu.h release_device; IommuDriver.releaseDevice javadoc", f -> {
                            // A PASID function on which PASID is deviceCapable when there is one: the cycle then
                            // covers PASID tables too; the handle probed to ask is released before the cycles.
                            PciFunction fn = f.function(0);
                            if (f.declares(Capability.PASID)) {
                                for (PciFunction c : f.functions()) {
                                    if (c.pasidBits() > 0 && f.deviceCapable(c, Capability.PASID)) {
                                        fn = c;
                                        break;
                                    }
                                }
                            }
                            f.release(fn);
                            long pa = f.buffer(64L << 10);
                            // Warm-up: the first cycle may allocate structures shared by every device (context tables
                            // of the bus, ...); per-device ones must come back on release.
                            deviceCycle(f, fn, pa);
                            long base = f.allocatedFrames();
                            deviceCycle(f, fn, pa);
                            Expect.that(f.allocatedFrames() == base, "after probe, attach, PASID attach/detach, release and free, %d "
                                    + "frames remain allocated: free per-device tables (PASID tables, context pages) on release",
                                    f.allocatedFrames() - base);
                        }));
    }

    private static void foreignDevice(TckFixture f) {
        PciFunction fn = f.function(0);
        DeviceHandle h = f.probe(fn);
        IommuDomain d = f.paging(h, 0);
        long iova = f.iova(d, TckFixture.minPage(d));
        long pa = mapped(f, d, iova);
        d.attachDevice(h);
        try (dev.iommufd.sim.SimulatedMachine other = dev.iommufd.sim.SimulatedMachine.create(f.machineConfig())) {
            dev.iommufd.spi.IommuDriver od = f.provider().bind(f.contextFor(other));
            try {
                DeviceHandle foreign = od.probeDevice(other.pci().function(fn.address()));
                IommuDomain theirs = od.allocPagingDomain(foreign, 0, null);
                try {
                    Expect.errno(Errno.EINVAL, "attachDevice of a device probed by another driver instance",
                            "check that the device is yours (the same bound driver) before touching any table",
                            () -> theirs.attachDevice(h));
                    Expect.errno(Errno.EINVAL, "attachDevice of this driver's domain to another instance's device",
                            "check that the device is yours before touching any table", () -> d.attachDevice(foreign));
                } finally {
                    theirs.free();
                    od.releaseDevice(foreign);
                }
            } finally {
                od.close();
            }
        }
        byte[] w = TckFixture.pattern(17, 16);
        Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, w), "DMA after the refused attach",
                "a failed attach must leave the old attachment in place");
        Expect.bytes(w, f.readPhys(pa, 16), "page after the refused attach", "");
    }

    /** probe, attach (RID and a PASID when declared), detach, unmap, free, release. */
    private static void deviceCycle(TckFixture f, PciFunction fn, long pa) {
        DeviceHandle h = f.driver().probeDevice(fn);
        boolean pasid = f.declares(Capability.PASID) && f.driver().deviceCapable(h, Capability.PASID);
        int flags = pasid ? DomainAllocFlags.PASID : 0;
        IommuDomain d = f.paging(h, flags);
        long pg = TckFixture.minPage(d);
        long iova = f.iova(d, pg);
        TckFixture.map(d, iova, pa, pg, 1, RW);
        d.attachDevice(h);
        if (pasid && h.maxPasidLog2() > 0) {
            d.setDevicePasid(h, 5, f.driver().blockedDomain());
            f.driver().blockedDomain().setDevicePasid(h, 5, d);
        }
        f.driver().blockedDomain().attachDevice(h);
        TckFixture.unmap(d, iova, pg, 1);
        f.free(d);
        f.driver().releaseDevice(h);
    }

    private static void pasidAttach(TckFixture f) {
        PciFunction fn = f.pasidFunction();
        DeviceHandle h = f.probe(fn);
        if (h.maxPasidLog2() == 0) {
            throw new dev.iommufd.tck.RuleViolation("PASID is declared but the PASID-capable function " + fn.address()
                    + " got maxPasidLog2 0 from probeDevice");
        }
        IommuDomain rid = f.paging(h, DomainAllocFlags.PASID);
        IommuDomain pd = f.paging(h, DomainAllocFlags.PASID);
        long pg = TckFixture.minPage(rid);
        long[] iovas = f.iovas(rid, pg, 2);
        long paRid = mapped(f, rid, iovas[0]);
        long paPasid = mapped(f, pd, iovas[1]);
        rid.attachDevice(h);
        int pasid = Math.min(7, (1 << h.maxPasidLog2()) - 1);
        IommuDomain blocked = f.declares(Capability.BLOCKED_DOMAIN) ? f.driver().blockedDomain() : null;
        Expect.runs("setDevicePasid(pasid " + pasid + ")", "PASID is declared", () -> pd.setDevicePasid(h, pasid, blocked));
        DmaAttributes tagged = DmaAttributes.pasid(pasid);
        byte[] w = TckFixture.pattern(15, 16);
        Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, tagged, iovas[1], w), "PASID-tagged DMA to the PASID domain's mapping",
                "set_dev_pasid must install the domain in the device's PASID table entry");
        Expect.bytes(w, f.readPhys(paPasid, 16), "the PASID domain's page", "");
        Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, tagged, iovas[0], w), "PASID-tagged DMA to the RID domain's IOVA",
                "tagged requests must use the PASID's domain only");
        Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iovas[0], new byte[8]), "untagged DMA after a PASID attach",
                "attaching a PASID must not disturb the RID's domain");
        Expect.dma(DmaStatus.FAULT, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iovas[1], new byte[8]), "untagged DMA to the PASID domain's IOVA",
                "untagged requests must not use the PASID's domain");
        if (blocked != null) {
            Expect.runs("blockedDomain().setDevicePasid", "the blocked domain removes a PASID attachment",
                    () -> blocked.setDevicePasid(h, pasid, pd));
            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, tagged, iovas[1], TckFixture.pattern(16, 16)),
                    "PASID-tagged DMA after the PASID was detached", "clear the PASID entry and invalidate the PASID cache and IOTLB");
        }
        Expect.that(!Arrays.equals(w, f.readPhys(paRid, 16)), "a tagged DMA landed in the RID domain's page");
    }
}
