package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.END_TO_END;

import dev.iommufd.api.Iommufd;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.fixture.CoreAttach;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.Arrays;
import java.util.List;

/**
 * E2E: a process maps memory into an IOAS through iommufd; a device attached to the IOAS reaches exactly that
 * memory, with exactly the mapped permissions, and nothing else. The core's io_pagetable decides page sizes and
 * calls the driver; the device's DMA goes through the unit model's walk of the driver's tables.
 */
final class EndToEndRules {
    private EndToEndRules() {
    }

    static final long LEN = 64L << 10;
    static final int RW = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE;

    /** A process with a touched 64 KiB buffer, an open iommufd, an IOAS with the buffer mapped, a device attached. */
    record World(UserProcess process, Iommufd fd, int ioas, long va, long iova, PciFunction fn, CoreAttach attach) {
        void close() {
            attach.detach();
            fd.close();
            process.exit();
        }
    }

    static World world(TckFixture f, int fnIndex, int mapFlags, long fixedIova, int seed) {
        SimulatedMachine m = f.machine();
        PciFunction fn = f.function(fnIndex);
        DeviceHandle h = f.probe(fn);
        UserProcess p = m.spawn("tck-" + f.rule().id() + "-" + fnIndex, 1000 + fnIndex);
        long va = p.mmap(0, LEN, Prot.READ_WRITE, MapKind.ANONYMOUS);
        byte[] data = TckFixture.pattern(seed, (int) LEN);
        p.write(va, data, 0, data.length);
        Iommufd fd = Iommufd.open(m, p);
        int ioas = fd.ioasAlloc();
        CoreAttach a = CoreAttach.attach(fd, ioas, f.driver(), h);
        long iova = fd.ioasMap(ioas, mapFlags | (fixedIova != 0 ? IommuIoasMap.FLAG_FIXED_IOVA : 0), va, LEN, fixedIova);
        return new World(p, fd, ioas, va, iova, fn, a);
    }

    static List<Rule> rules() {
        return List.of(
                Rule.required("E2E-1", END_TO_END,
                        "What a process maps READABLE|WRITEABLE into an IOAS is what an attached device reads, and the device's "
                                + "writes are what the process then reads.",
                        "uAPI IOMMU_IOAS_MAP; drivers/iommu/iommufd/io_pagetable.c iopt_map_user_pages, iopt_table_add_domain",
                        f -> {
                            World w = world(f, 0, RW, 0, 30);
                            byte[] got = new byte[(int) LEN];
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova, got), "device read of the whole map",
                                    "every page the core mapped must translate");
                            Expect.bytes(TckFixture.pattern(30, (int) LEN), got, "device read vs process memory",
                                    "the domain must map each IOVA to the pinned page the core gave it");
                            byte[] dev = TckFixture.pattern(31, 4096);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(w.fn, TckFixture.UNTAGGED, w.iova + 0x3000 + 100, dev), "device write", "");
                            byte[] seen = new byte[4096];
                            w.process.read(w.va + 0x3000 + 100, seen, 0, seen.length);
                            Expect.bytes(dev, seen, "process view of the device's write", "the write must reach the process's page");
                            w.close();
                        }),
                Rule.required("E2E-2", END_TO_END,
                        "A READABLE-only map lets the device read but not write: the write faults and the process's memory is unchanged.",
                        "uAPI IOMMU_IOAS_MAP_READABLE/WRITEABLE; drivers/iommu/iommufd/io_pagetable.c (iommu_prot from flags)",
                        f -> {
                            World w = world(f, 0, IommuIoasMap.FLAG_READABLE, 0, 32);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova, new byte[64]), "device read", "");
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(w.fn, TckFixture.UNTAGGED, w.iova + 8, new byte[64]),
                                    "device write to a READABLE-only map", "IOMMU_READ without IOMMU_WRITE must produce a read-only leaf");
                            byte[] seen = new byte[64];
                            w.process.read(w.va + 8, seen, 0, 64);
                            Expect.bytes(Arrays.copyOfRange(TckFixture.pattern(32, (int) LEN), 8, 72), seen,
                                    "process memory after a refused device write", "the write must not land");
                            w.close();
                        }),
                Rule.required("E2E-3", END_TO_END,
                        "Nothing else is reachable: the IOVA just below and just above the map fault, and after IOMMU_IOAS_UNMAP "
                                + "the whole range faults and no page stays pinned.",
                        "uAPI IOMMU_IOAS_UNMAP; drivers/iommu/iommufd/io_pagetable.c iopt_unmap_iova_range; pages.c (unpin)",
                        f -> {
                            World w = world(f, 0, RW, 0, 33);
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova - 4096, new byte[8]),
                                    "device read of the page below the map", "");
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova + LEN, new byte[8]),
                                    "device read of the page above the map", "");
                            for (long off = 0; off < LEN; off += 0x4000) {
                                Expect.dma(DmaStatus.OK, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova + off, new byte[8]),
                                        "device read inside the map", "");
                            }
                            long pa = w.process.translate(w.va);
                            Expect.that(w.process.pinCount(pa) > 0, "the core did not pin the mapped page (pin count 0)");
                            w.fd.ioasUnmap(w.ioas, w.iova, LEN);
                            for (long off = 0; off < LEN; off += 0x4000) {
                                Expect.dma(DmaStatus.FAULT, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova + off, new byte[8]),
                                        "device read after IOMMU_IOAS_UNMAP", "unmap + iotlb_sync must stop translation before the "
                                                + "core unpins the pages: " + IotlbRules.INVALIDATE);
                            }
                            Expect.that(w.process.pinCount(pa) == 0, "a page is still pinned %d times after IOMMU_IOAS_UNMAP",
                                    w.process.pinCount(pa));
                            w.close();
                        }),
                Rule.required("E2E-4", END_TO_END,
                        "Two devices attached to different IOASes at the same IOVA each reach only their own process's memory.",
                        "drivers/iommu/iommufd/device.c (one HWPT per IOAS); include/linux/iommu.h domain isolation",
                        f -> {
                            World a = world(f, 0, RW, 0, 34);
                            World b = world(f, 1, RW, a.iova, 35);
                            byte[] ga = new byte[256];
                            byte[] gb = new byte[256];
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(a.fn, TckFixture.UNTAGGED, a.iova, ga), "device A read", "");
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(b.fn, TckFixture.UNTAGGED, b.iova, gb), "device B read", "");
                            Expect.bytes(Arrays.copyOf(TckFixture.pattern(34, (int) LEN), 256), ga, "device A sees process A's memory",
                                    "each domain must have its own tables and tag");
                            Expect.bytes(Arrays.copyOf(TckFixture.pattern(35, (int) LEN), 256), gb, "device B sees process B's memory",
                                    "a device reached another IOAS's memory: domains must not share tables or IOTLB tags");
                            b.close();
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(a.fn, TckFixture.UNTAGGED, a.iova, ga), "device A after B left", "");
                            a.close();
                        }),
                Rule.required("E2E-5", END_TO_END,
                        "After detach, IOAS destroy and close, no page stays pinned and every frame the driver took is back.",
                        "drivers/iommu/iommufd/device.c iommufd_device_detach; io_pagetable.c iopt_table_remove_domain",
                        f -> {
                            f.probe(f.function(0));
                            long base = f.allocatedFrames();
                            World w = world(f, 0, RW, 0, 36);
                            TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova, new byte[64]);
                            w.close();
                            Expect.that(f.machine().pinnedFrames() == 0, "%d frames stay pinned after detach and close",
                                    f.machine().pinnedFrames());
                            Expect.that(f.allocatedFrames() == base, "%d frames remain allocated after detach, unmap and close "
                                    + "(the driver's domain tables or per-device structures leak)", f.allocatedFrames() - base);
                        }));
    }
}
