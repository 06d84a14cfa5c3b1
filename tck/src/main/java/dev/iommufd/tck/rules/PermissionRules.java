package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.MAP;

import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.Arrays;
import java.util.List;

/** MAP permissions, observed through DMA: a mapping grants exactly its prot. */
final class PermissionRules {
    private PermissionRules() {
    }

    static List<Rule> rules() {
        return List.of(
                Rule.required("MAP-14", MAP,
                        "A READ-only mapping lets the device read and faults its writes, leaving memory unchanged.",
                        "include/linux/iommu.h IOMMU_READ/IOMMU_WRITE; VT-d 9.8 (second-stage R/W bits), SMMUv3 / VMSAv8 AP[2:1], "
                                + "AMD-Vi 2.2.3 (IR/IW)",
                        f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            byte[] cpu = TckFixture.pattern(7, 64);
                            f.writePhys(pa, cpu);
                            TckFixture.map(d, iova, pa, pg, 1, IoProt.READ);
                            d.attachDevice(h);
                            byte[] r = new byte[64];
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, r), "DMA read of a READ mapping",
                                    "IOMMU_READ must set the leaf's read permission");
                            Expect.bytes(cpu, r, "DMA read of a READ mapping", "");
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, TckFixture.pattern(8, 64)),
                                    "DMA write to a READ-only mapping", "a mapping without IOMMU_WRITE must not set the leaf's write "
                                            + "permission (check the prot-to-PTE translation)");
                            Expect.bytes(cpu, f.readPhys(pa, 64), "memory after a refused DMA write", "the write must not land");
                        }),
                Rule.required("MAP-15", MAP,
                        "A READ|WRITE mapping lets the device read and write.",
                        "include/linux/iommu.h IOMMU_READ/IOMMU_WRITE", f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            TckFixture.map(d, iova, pa, pg, 1, IoProt.READ | IoProt.WRITE);
                            d.attachDevice(h);
                            byte[] w = TckFixture.pattern(9, 64);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, w), "DMA write to a RW mapping", "");
                            byte[] r = new byte[64];
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, r), "DMA read of a RW mapping", "");
                            Expect.bytes(w, r, "DMA read back", "");
                        }),
                Rule.optional("MAP-16", MAP,
                        "A WRITE-only mapping faults the device's reads (architectures that cannot express write-only fail this "
                                + "optional rule).",
                        "include/linux/iommu.h IOMMU_WRITE; VT-d 9.8 (R=0, W=1 allowed in second stage); AMD-Vi IR/IW", f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            TckFixture.map(d, iova, pa, pg, 1, IoProt.WRITE);
                            d.attachDevice(h);
                            byte[] w = TckFixture.pattern(10, 64);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, w), "DMA write to a WRITE mapping", "");
                            Expect.that(Arrays.equals(w, f.readPhys(pa, 64)), "the DMA write to a WRITE mapping did not land");
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, iova, new byte[64]),
                                    "DMA read of a WRITE-only mapping", "a mapping without IOMMU_READ should not be readable");
                        }));
    }
}
