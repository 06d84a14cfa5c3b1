package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.IOVA_TO_PHYS;

import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Aperture;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.List;

/** I2P: iova_to_phys answers from the tables, agrees with what the hardware walks, and never throws. */
final class IovaToPhysRules {
    private IovaToPhysRules() {
    }

    static List<Rule> rules() {
        return List.of(
                Rule.required("I2P-1", IOVA_TO_PHYS,
                        "After unmap and sync, iovaToPhys returns NO_TRANSLATION (-1), never 0 or a stale address.",
                        "IommuDomain.iovaToPhys javadoc (NO_TRANSLATION, not the kernel's 0: 0 is RAM on x86/POWER)", f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            TckFixture.map(d, iova, pa, pg, 1, MapRules.RW);
                            TckFixture.unmap(d, iova, pg, 1);
                            MapRules.expectNothing(d, iova, pg);
                        }),
                Rule.required("I2P-2", IOVA_TO_PHYS,
                        "iovaToPhys outside every aperture returns NO_TRANSLATION and does not throw.",
                        "include/linux/iommu.h iova_to_phys (returns 0 for no translation; here NO_TRANSLATION)", f -> {
                            IommuDomain d = f.paging();
                            List<Aperture> aps = d.geometry().apertures();
                            long last = aps.get(aps.size() - 1).last();
                            long start = aps.get(0).start();
                            for (long iova : new long[] {last + 1, -4096L, start - 1}) {
                                boolean inside = false;
                                for (Aperture a : aps) {
                                    inside |= a.contains(iova, 1);
                                }
                                if (inside) {
                                    continue;
                                }
                                long r;
                                try {
                                    r = d.iovaToPhys(iova);
                                } catch (RuntimeException e) {
                                    throw new dev.iommufd.tck.RuleViolation(String.format("iovaToPhys(%#x) outside the aperture threw %s; "
                                            + "return NO_TRANSLATION instead", iova, e), e);
                                }
                                Expect.that(r == IommuDomain.NO_TRANSLATION, "iovaToPhys(%#x) outside the aperture is %#x", iova, r);
                            }
                        }),
                Rule.required("I2P-3", IOVA_TO_PHYS,
                        "iovaToPhys agrees with the hardware: a device's DMA read at an IOVA returns the bytes at iovaToPhys(IOVA).",
                        "IommuDomain.iovaToPhys; the unit model decodes the driver's tables from memory", f -> {
                            PciFunction fn = f.function(0);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, 0);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(4 * pg);
                            long iova = f.iova(d, 4 * pg);
                            TckFixture.map(d, iova, pa, pg, 4, IoProt.READ | IoProt.WRITE);
                            d.attachDevice(h);
                            for (int i = 0; i < 4; i++) {
                                long at = iova + i * pg + 16;
                                long phys = d.iovaToPhys(at);
                                byte[] expect = TckFixture.pattern(i, 32);
                                f.writePhys(phys, expect);
                                byte[] got = new byte[32];
                                Expect.dma(DmaStatus.OK, TckFixture.dmaRead(fn, TckFixture.UNTAGGED, at, got), "DMA read at " + Long.toHexString(at),
                                        "the hardware walk must find the leaf the driver wrote");
                                Expect.bytes(expect, got, String.format("DMA read at %#x vs memory at iovaToPhys = %#x", at, phys),
                                        "the entry the hardware walks and the one iova_to_phys reads must be the same");
                            }
                        }));
    }
}
