package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.END_TO_END;

import dev.iommufd.api.Iommufd;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.tck.Rule;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.tck.RuleNotApplicable;
import dev.iommufd.tck.RuleViolation;
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

    /** Why end-to-end rules are skipped on an iommufd without device binding. */
    static final String NOT_AVAILABLE = "core device attach not available";

    /**
     * A process with a touched 64 KiB buffer, an open iommufd, an IOAS with the buffer mapped, a device bound
     * (VFIO_DEVICE_BIND_IOMMUFD) and attached to the IOAS (VFIO_DEVICE_ATTACH_IOMMUFD_PT: the core picks or
     * creates the paging HWPT).
     */
    record World(UserProcess process, Iommufd fd, int ioas, int dev, long va, long iova, PciFunction fn) {
        void close() {
            fd.deviceDetach(dev, 0);
            fd.unbindDevice(dev);
            fd.destroy(ioas);
            fd.close();
            process.exit();
        }
    }

    static World world(TckFixture f, int fnIndex, int mapFlags, long fixedIova, int seed, boolean mapFirst) {
        return world(f, fnIndex, mapFlags, fixedIova, seed, mapFirst, LEN, MapKind.ANONYMOUS);
    }

    static World world(TckFixture f, int fnIndex, int mapFlags, long fixedIova, int seed, boolean mapFirst, long len, MapKind kind) {
        SimulatedMachine m = f.machine();
        f.coreDriver();
        PciFunction fn = f.function(fnIndex);
        UserProcess p = m.spawn("tck-" + f.rule().id() + "-" + fnIndex, 1000 + fnIndex);
        long va = p.mmap(0, len, Prot.READ_WRITE, kind);
        byte[] data = TckFixture.pattern(seed, (int) len);
        p.write(va, data, 0, data.length);
        Iommufd fd = Iommufd.open(m, p);
        int dev = core("IOMMU device bind of " + fn.address(), () -> fd.bindDevice(fn));
        int ioas = fd.ioasAlloc();
        int flags = mapFlags | IommuIoasMap.FLAG_FIXED_IOVA;
        core("attach of " + fn.address() + " to an empty IOAS", () -> fd.deviceAttach(dev, 0, ioas));
        long iova = fixedIova != 0 ? fixedIova : usableIova(fd.ioasIovaRanges(ioas).ranges(), len);
        if (mapFirst) {
            // Learn the usable IOVA with the device attached, then map with nothing attached and attach again, so that
            // the core fills the new domain from existing areas (iopt_table_add_domain).
            fd.deviceDetach(dev, 0);
            fd.ioasMap(ioas, flags, va, len, iova);
            core("attach of " + fn.address() + " to an IOAS with a mapping", () -> fd.deviceAttach(dev, 0, ioas));
        } else {
            long at = iova;
            core("IOMMU_IOAS_MAP with " + fn.address() + " attached", () -> fd.ioasMap(ioas, flags, va, len, at));
        }
        return new World(p, fd, ioas, dev, va, iova, fn);
    }

    /**
     * Whether an EOPNOTSUPP comes from the core itself (the typed API's defaults, or a core path marked "not
     * implemented") rather than from the driver, whose EOPNOTSUPP is a failure.
     */
    static boolean coreLacks(String message) {
        return message != null && (message.equals("device binding is not supported")
                || message.equals("device attach is not supported") || message.equals("device replace is not supported")
                || message.contains("not implemented"));
    }

    /** The first 2 MiB-aligned IOVA at or above 16 MiB with room for {@code len} bytes in the IOAS's usable ranges. */
    static long usableIova(List<IovaRange> ranges, long len) {
        for (IovaRange r : ranges) {
            long at = TckFixture.alignUp(Math.max(r.start(), 1L << 24), 2L << 20);
            if (Long.compareUnsigned(at, r.start()) >= 0 && Long.compareUnsigned(at + len - 1, r.last()) <= 0
                    && Long.compareUnsigned(at + len - 1, at) > 0) {
                return at;
            }
        }
        throw new RuleViolation("IOMMU_IOAS_IOVA_RANGES leaves no window for the buffer above 16 MiB with the device attached: "
                + "check the domain's apertures and the device's reserved regions; ranges " + ranges);
    }

    /** Runs a core step; EOPNOTSUPP from the core skips the rule, any other error is the driver's failure. */
    private static <T> T core(String what, java.util.function.Supplier<T> step) {
        try {
            return step.get();
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EOPNOTSUPP && coreLacks(e.getMessage())) {
                throw new RuleNotApplicable(NOT_AVAILABLE + ": " + e.getMessage());
            }
            throw new RuleViolation(what + " through iommufd failed: " + e + " (the core called the driver's probe_device, "
                    + "domain_alloc_paging, attach_dev or map_pages: check the driver's errors there)", e);
        }
    }

    static List<Rule> rules() {
        return List.of(
                Rule.required("E2E-1", END_TO_END,
                        "What a process maps READABLE|WRITEABLE into an IOAS is what an attached device reads, and the device's "
                                + "writes are what the process then reads.",
                        "uAPI IOMMU_IOAS_MAP; drivers/iommu/iommufd/io_pagetable.c iopt_map_user_pages, iopt_table_add_domain",
                        f -> {
                            World w = world(f, 0, RW, 0, 30, false);
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
                            World w = world(f, 0, IommuIoasMap.FLAG_READABLE, 0, 32, true);
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
                            World w = world(f, 0, RW, 0, 33, false);
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
                            World a = world(f, 0, RW, 0, 34, true);
                            World b = world(f, 1, RW, a.iova, 35, false);
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
                Rule.required("E2E-6", END_TO_END,
                        "A 4 MiB hugetlb buffer (2 MiB pages, physically contiguous within each) mapped at a 2 MiB-aligned IOVA "
                                + "is reached byte for byte wherever the core splits it into the domain's page sizes, and "
                                + "IOMMU_IOAS_UNMAP removes all of it.",
                        "drivers/iommu/iommufd/pages.c batch_from_pages / batch_to_domain; drivers/iommu/iommu.c iommu_pgsize "
                                + "(largest page size fitting alignment and length)",
                        f -> {
                            long len = 4L << 20;
                            World w = world(f, 0, RW, 0, 37, false, len, MapKind.HUGETLB_2M);
                            byte[] expect = TckFixture.pattern(37, (int) len);
                            for (long off : new long[] {0, 4096, (2L << 20) - 8, 2L << 20, (3L << 20) + 123, len - 64}) {
                                byte[] got = new byte[8];
                                Expect.dma(DmaStatus.OK, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova + off, got),
                                        String.format("device read at offset %#x of a hugetlb map", off),
                                        "every page size the core chose (pgsize_bitmap) must map and translate");
                                Expect.bytes(Arrays.copyOfRange(expect, (int) off, (int) off + 8), got,
                                        String.format("device read at offset %#x", off), "a large leaf must add the offset within it");
                            }
                            byte[] dev = TckFixture.pattern(38, 8192);
                            long at = (2L << 20) - 4096;
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(w.fn, TckFixture.UNTAGGED, w.iova + at, dev),
                                    "device write across the 2 MiB boundary", "");
                            byte[] seen = new byte[8192];
                            w.process.read(w.va + at, seen, 0, seen.length);
                            Expect.bytes(dev, seen, "process view of a device write across a huge-page boundary", "");
                            w.fd.ioasUnmap(w.ioas, w.iova, len);
                            for (long off = 0; off < len; off += 1L << 20) {
                                Expect.dma(DmaStatus.FAULT, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova + off, new byte[8]),
                                        "device read after unmapping the hugetlb map", "unmap and invalidate every leaf size");
                            }
                            w.close();
                        }),
                Rule.required("E2E-7", END_TO_END,
                        "Replacing a device's IOAS (VFIO_DEVICE_ATTACH_IOMMUFD_PT on an attached device) switches its DMA to the "
                                + "new IOAS's memory at once; the old IOAS's memory is no longer reachable at the same IOVA.",
                        "drivers/iommu/iommufd/device.c iommufd_device_replace / iommufd_device_do_replace; include/linux/iommu.h "
                                + "attach_dev (replace without a blocked window)",
                        f -> {
                            World w = world(f, 0, RW, 0, 39, false);
                            long va2 = w.process.mmap(0, LEN, Prot.READ_WRITE, MapKind.ANONYMOUS);
                            byte[] other = TckFixture.pattern(40, (int) LEN);
                            w.process.write(va2, other, 0, other.length);
                            int ioas2 = w.fd.ioasAlloc();
                            w.fd.ioasMap(ioas2, RW | IommuIoasMap.FLAG_FIXED_IOVA, va2, LEN, w.iova);
                            byte[] got = new byte[64];
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova, got), "read before replace", "");
                            Expect.bytes(Arrays.copyOf(TckFixture.pattern(39, (int) LEN), 64), got, "read before replace", "");
                            core("replace of " + w.fn.address() + " to a second IOAS", () -> w.fd.deviceReplace(w.dev, 0, ioas2));
                            Expect.dma(DmaStatus.OK, TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova, got), "read after replace",
                                    "the new domain must be in the device's context");
                            Expect.bytes(Arrays.copyOf(other, 64), got, "device read after replacing the IOAS",
                                    "the device still reads the OLD IOAS's memory: attach_dev must switch the context and "
                                            + "invalidate the old domain's cached translations for the device");
                            w.fd.deviceDetach(w.dev, 0);
                            w.fd.ioasUnmap(ioas2, w.iova, LEN);
                            w.fd.destroy(ioas2);
                            w.fd.deviceAttach(w.dev, 0, w.ioas);
                            w.close();
                        }),
                Rule.required("E2E-5", END_TO_END,
                        "After detach, IOAS destroy and close, no page stays pinned and every frame the driver took is back.",
                        "drivers/iommu/iommufd/device.c iommufd_device_detach; io_pagetable.c iopt_table_remove_domain",
                        f -> {
                            world(f, 0, RW, 0, 36, true).close();
                            long base = f.allocatedFrames();
                            World w = world(f, 0, RW, 0, 36, false);
                            TckFixture.dmaRead(w.fn, TckFixture.UNTAGGED, w.iova, new byte[64]);
                            w.close();
                            Expect.that(f.machine().pinnedFrames() == 0, "%d frames stay pinned after detach and close",
                                    f.machine().pinnedFrames());
                            Expect.that(f.allocatedFrames() == base, "%d frames remain allocated after detach, unmap and close "
                                    + "(the driver's domain tables or per-device structures leak)", f.allocatedFrames() - base);
                        }));
    }
}
