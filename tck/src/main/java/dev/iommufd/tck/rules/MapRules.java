package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.MAP;

import dev.iommufd.api.Errno;
import dev.iommufd.spi.Aperture;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.RuleNotApplicable;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.List;

/** MAP: map_pages and unmap_pages at the SPI, checked with iova_to_phys. */
final class MapRules {
    private MapRules() {
    }

    static final int RW = IoProt.READ | IoProt.WRITE;

    /**
     * What a map outside the aperture may fail with: EINVAL (this SPI's "precondition broken"), or the errno the
     * kernel's drivers return for it: ERANGE (io-pgtable-arm.c arm_lpae_map_pages, iova beyond ias), EFAULT
     * (intel/iommu.c intel_iommu_map, "iommu width (%d) is not sufficient for the mapped address").
     */
    static final java.util.Set<Errno> OUT_OF_RANGE = java.util.EnumSet.of(Errno.EINVAL, Errno.ERANGE, Errno.EFAULT);
    static final long ONE_GIB = 1L << 30;

    static List<Rule> rules() {
        return List.of(
                Rule.required("MAP-1", MAP,
                        "mapPages of one smallest page returns pgsize and iovaToPhys then translates every byte of it.",
                        "include/linux/iommu.h map_pages (mapped = pgsize * pgcount); drivers/iommu/iommu.c __iommu_map",
                        f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            long r = TckFixture.map(d, iova, pa, pg, 1, RW);
                            Expect.equal(pg, r, "mapPages(1 page of " + pg + ") return value",
                                    "map_pages returns the bytes mapped, pgsize * pgcount");
                            expectTranslates(d, iova, pa, pg);
                        }),
                Rule.required("MAP-2", MAP,
                        "Every page size of pgsizeBitmap (up to 1 GiB) maps one page at an aligned IOVA/PA, translates across "
                                + "the page and unmaps it in one call returning pgsize.",
                        "include/linux/iommu.h pgsize_bitmap; drivers/iommu/iommu.c iommu_pgsize; io-pgtable block entries",
                        MapRules::everyPageSize),
                Rule.required("MAP-3", MAP,
                        "mapPages with pgcount 16 maps 16 consecutive pages: returns 16 * pgsize and page i translates to pa + i * pgsize.",
                        "include/linux/iommu.h map_pages pgcount; drivers/iommu/io-pgtable-arm.c __arm_lpae_map (num_entries)",
                        f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(16 * pg);
                            long iova = f.iova(d, 16 * pg);
                            Expect.equal(16 * pg, TckFixture.map(d, iova, pa, pg, 16, RW), "mapPages(pgcount 16) return value",
                                    "map_pages must map all pgcount pages and return pgsize * pgcount");
                            expectTranslates(d, iova, pa, 16 * pg);
                            Expect.equal(16 * pg, TckFixture.unmap(d, iova, pg, 16), "unmapPages(pgcount 16) return value",
                                    "unmap_pages returns the bytes unmapped");
                            expectNothing(d, iova, 16 * pg);
                        }),
                Rule.required("MAP-4", MAP,
                        "unmapPages at an IOVA that is not mapped returns 0, never fails, and leaves other mappings intact.",
                        "IommuDomain.unmapPages javadoc ('0 when iova itself is unmapped'); drivers/iommu/iommu.c __iommu_unmap",
                        f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long[] iovas = f.iovas(d, pg, 2);
                            TckFixture.map(d, iovas[0], pa, pg, 1, RW);
                            long r = Expect.works("unmapPages of an unmapped IOVA", "unmap_pages never fails",
                                    () -> TckFixture.unmap(d, iovas[1], pg, 1));
                            Expect.equal(0, r, "unmapPages of an unmapped IOVA", "return 0 when nothing is mapped at iova");
                            expectTranslates(d, iovas[0], pa, pg);
                        }),
                Rule.required("MAP-5", MAP,
                        "mapPages over an IOVA that is already mapped fails with EEXIST and leaves the existing translation as it was.",
                        "IommuDomain.mapPages javadoc (EEXIST); drivers/iommu/io-pgtable-arm.c arm_lpae_init_pte (-EEXIST)",
                        f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long other = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            TckFixture.map(d, iova, pa, pg, 1, RW);
                            long frames = f.allocatedFrames();
                            Expect.errno(Errno.EEXIST, "mapPages over a mapped IOVA",
                                    "check the leaf entry's present bit before writing and fail without changing it",
                                    () -> d.mapPages(iova, other, pg, 1, RW));
                            expectTranslates(d, iova, pa, pg);
                            Expect.equal(frames, f.allocatedFrames(), "frames after a failed map", "a failed map must not leak table pages");
                        }),
                Rule.required("MAP-6", MAP,
                        "mapPages with an IOVA or physical address not aligned to pgsize fails with EINVAL and maps nothing.",
                        "drivers/iommu/iommu.c __iommu_map ('unaligned: iova 0x%lx pa %pa size 0x%zx min_pagesz', -EINVAL)",
                        f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(2 * pg);
                            long iova = f.iova(d, 2 * pg);
                            long frames = f.allocatedFrames();
                            Expect.errno(Errno.EINVAL, "mapPages with iova misaligned by 0x200", "check (iova | paddr) & (pgsize - 1)",
                                    () -> d.mapPages(iova + 0x200, pa, pg, 1, RW));
                            Expect.errno(Errno.EINVAL, "mapPages with paddr misaligned by 0x200", "check (iova | paddr) & (pgsize - 1)",
                                    () -> d.mapPages(iova, pa + 0x200, pg, 1, RW));
                            expectNothing(d, iova, 2 * pg);
                            Expect.equal(frames, f.allocatedFrames(), "frames after rejected maps", "reject before allocating tables");
                        }),
                Rule.required("MAP-7", MAP,
                        "mapPages with a pgsize that is not in pgsizeBitmap fails with EINVAL and maps nothing.",
                        "IommuDomain.mapPages javadoc (precondition broken: EINVAL); drivers/iommu/io-pgtable-arm.c arm_lpae_map_pages "
                                + "(-EINVAL for an unsupported pgsize)",
                        f -> {
                            IommuDomain d = f.paging();
                            long bm = d.geometry().pgsizeBitmap();
                            long bad = Long.lowestOneBit(~bm & ~(TckFixture.minPage(d) - 1) & ((ONE_GIB << 1) - 1));
                            if (bad == 0) {
                                throw new RuleNotApplicable("the domain supports every power of two up to 2 GiB");
                            }
                            long pa = bad;
                            long iova = f.iova(d, bad);
                            Expect.errno(Errno.EINVAL, String.format("mapPages with pgsize %#x (bitmap %#x)", bad, bm),
                                    "check pgsize against the domain's pgsize_bitmap", () -> d.mapPages(iova, pa, bad, 1, RW));
                            expectNothing(d, iova, bad);
                        }),
                Rule.required("MAP-8", MAP,
                        "mapPages of a range that leaves the aperture fails with EINVAL (or ERANGE/EFAULT, as io-pgtable-arm/intel) and maps nothing.",
                        "IommuDomain.mapPages javadoc (EINVAL); drivers/iommu/io-pgtable-arm.c arm_lpae_map_pages (iova beyond ias: "
                                + "-ERANGE) and drivers/iommu/intel/iommu.c intel_iommu_map (-EFAULT), accepted too",
                        MapRules::outsideAperture),
                Rule.required("MAP-9", MAP,
                        "mapPages with prot lacking both READ and WRITE fails with EINVAL and maps nothing.",
                        "IommuDomain.mapPages javadoc (prot: at least READ or WRITE)", f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            Expect.errno(Errno.EINVAL, "mapPages with prot 0", "reject prot without READ|WRITE",
                                    () -> d.mapPages(iova, pa, pg, 1, 0));
                            expectNothing(d, iova, pg);
                        }),
                Rule.required("MAP-10", MAP,
                        "unmapPages of part of a larger page returns 0 and leaves the larger page mapped.",
                        "IommuDomain.unmapPages javadoc ('Unmapping part of a larger page is not allowed ... returns 0'); "
                                + "drivers/iommu/io-pgtable-arm.c __arm_lpae_unmap (no block splitting)",
                        f -> {
                            IommuDomain d = f.paging();
                            long bm = d.geometry().pgsizeBitmap();
                            long small = Long.lowestOneBit(bm);
                            long big = Long.lowestOneBit(bm & ~small);
                            if (big == 0 || big > ONE_GIB) {
                                throw new RuleNotApplicable(String.format("the domain has one page size up to 1 GiB (bitmap %#x)", bm));
                            }
                            long pa = big;
                            long iova = f.iova(d, big);
                            TckFixture.map(d, iova, pa, big, 1, RW);
                            long r = TckFixture.unmap(d, iova + small, small, 1);
                            Expect.equal(0, r, String.format("unmapPages(%#x inside a %#x page)", small, big),
                                    "refuse (return 0) an unmap that would split a larger leaf");
                            expectTranslates(d, iova, pa, big);
                        }),
                Rule.required("MAP-11", MAP,
                        "The first and the last smallest page of every aperture can be mapped and translated.",
                        "include/linux/iommu.h iommu_domain_geometry (aperture_start/aperture_end inclusive)", f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            for (Aperture a : d.geometry().apertures()) {
                                long last = a.last() - pg + 1;
                                for (long iova : new long[] {a.start(), last}) {
                                    Expect.runs(String.format("mapPages at aperture edge %#x", iova),
                                            "the aperture is inclusive at both ends", () -> TckFixture.map(d, iova, pa, pg, 1, RW));
                                    expectTranslates(d, iova, pa, pg);
                                    Expect.equal(pg, TckFixture.unmap(d, iova, pg, 1), "unmap at aperture edge", "");
                                }
                            }
                        }),
                Rule.required("MAP-12", MAP,
                        "One unmapPages call may cover several adjacent maps (as iommufd unmaps an area mapped in batches); "
                                + "it returns the whole size.",
                        "drivers/iommu/iommufd/pages.c batch_to_domain / iopt_area_unmap_domain_range", f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(6 * pg);
                            long iova = f.iova(d, 6 * pg);
                            for (int i = 0; i < 3; i++) {
                                TckFixture.map(d, iova + 2L * i * pg, pa + 2L * i * pg, pg, 2, RW);
                            }
                            Expect.equal(6 * pg, TckFixture.unmap(d, iova, pg, 6), "unmapPages over three adjacent maps",
                                    "unmap every leaf in range, across map-call boundaries");
                            expectNothing(d, iova, 6 * pg);
                        }),
                Rule.required("MAP-17", MAP,
                        "An IOVA range once mapped with small pages and unmapped can be mapped with a larger page: the driver "
                                + "replaces (and frees) the empty table in the way.",
                        "drivers/iommu/io-pgtable-arm.c arm_lpae_init_pte ('We need to unmap and free the old table before "
                                + "overwriting it with a block entry'); drivers/iommu/intel/iommu.c __domain_mapping ('Ensure that "
                                + "old small page tables are removed to make room for superpage(s)')",
                        MapRules::largerAfterSmaller),
                Rule.optional("MAP-13", MAP,
                        "unmapPages that runs into a hole stops there and returns the bytes unmapped before it.",
                        "IommuDomain.unmapPages javadoc; drivers/iommu/io-pgtable-arm.c __arm_lpae_unmap (returns i * size at a hole)",
                        f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(4 * pg);
                            long iova = f.iova(d, 4 * pg);
                            TckFixture.map(d, iova, pa, pg, 2, RW);
                            IotlbGather g = new IotlbGather();
                            long r = d.unmapPages(iova, pg, 4, g);
                            d.iotlbSync(g);
                            Expect.equal(2 * pg, r, "unmapPages of 4 pages where 2 are mapped", "return the bytes up to the hole");
                        }));
    }

    /** Fails unless every sampled byte of {@code [iova, iova + size)} translates to the same offset from {@code pa}. */
    static void expectTranslates(IommuDomain d, long iova, long pa, long size) {
        long[] offsets = {0, 1, 0x7ff & (size - 1), size / 2, size - 8, size - 1};
        for (long off : offsets) {
            long got = d.iovaToPhys(iova + off);
            Expect.that(got == pa + off, "iovaToPhys(%#x) is %#x, expected %#x (mapping %#x -> %#x, %#x bytes): the leaf must "
                    + "hold the page's address and iova_to_phys must add the offset within the page", iova + off, got, pa + off,
                    iova, pa, size);
        }
    }

    /** Fails unless nothing in {@code [iova, iova + size)} translates (sampled). */
    static void expectNothing(IommuDomain d, long iova, long size) {
        for (long off : new long[] {0, size / 2, size - 1}) {
            long got = d.iovaToPhys(iova + off);
            Expect.that(got == IommuDomain.NO_TRANSLATION, "iovaToPhys(%#x) is %#x but nothing should be mapped there", iova + off, got);
        }
    }

    private static void everyPageSize(TckFixture f) {
        IommuDomain d = f.paging();
        long bm = d.geometry().pgsizeBitmap();
        int k = 0;
        for (long pg = Long.lowestOneBit(bm); pg != 0 && pg <= ONE_GIB; pg = Long.lowestOneBit(bm & ~((pg << 1) - 1))) {
            long size = pg;
            long pa = size <= (2L << 20) ? f.buffer(size) : size;
            long iova = f.iovas(d, size, k + 1)[k]; // a fresh IOVA per size: MAP-17 checks reuse across sizes
            k++;
            long r = Expect.works(String.format("mapPages(pgsize %#x)", size), "every size in pgsize_bitmap must map",
                    () -> TckFixture.map(d, iova, pa, size, 1, RW));
            Expect.equal(size, r, String.format("mapPages(pgsize %#x) return value", size), "return pgsize * pgcount");
            expectTranslates(d, iova, pa, size);
            Expect.equal(size, TckFixture.unmap(d, iova, size, 1), String.format("unmapPages(pgsize %#x)", size),
                    "unmap the leaf whole and return its size");
            expectNothing(d, iova, size);
        }
    }

    private static void largerAfterSmaller(TckFixture f) {
        IommuDomain d = f.paging();
        long bm = d.geometry().pgsizeBitmap();
        long small = Long.lowestOneBit(bm);
        long big = Long.lowestOneBit(bm & ~small);
        if (big == 0 || big > ONE_GIB) {
            throw new RuleNotApplicable(String.format("the domain has one page size up to 1 GiB (bitmap %#x)", bm));
        }
        long iova = f.iova(d, big);
        long smallPa = f.buffer(small);
        long base = f.allocatedFrames();
        TckFixture.map(d, iova, smallPa, small, 1, RW);
        TckFixture.map(d, iova + big - small, smallPa, small, 1, RW);
        TckFixture.unmap(d, iova, small, 1);
        TckFixture.unmap(d, iova + big - small, small, 1);
        long bigPa = big;
        long r = Expect.works(String.format("mapPages(pgsize %#x) where %#x pages were mapped and unmapped", big, small),
                "a table left empty by unmaps must not block a larger leaf: free or replace it",
                () -> TckFixture.map(d, iova, bigPa, big, 1, RW));
        Expect.equal(big, r, "mapPages return value", "");
        expectTranslates(d, iova, bigPa, big);
        Expect.equal(big, TckFixture.unmap(d, iova, big, 1), "unmapPages of the larger page", "");
        expectNothing(d, iova, big);
        f.free(d);
        Expect.that(f.allocatedFrames() <= base, "after replacing small-page tables with a larger page, unmapping and freeing, %d "
                + "frames are still allocated: the replaced table must be freed (after an IOTLB sync)", f.allocatedFrames() - base);
    }

    private static void outsideAperture(TckFixture f) {
        IommuDomain d = f.paging();
        long pg = TckFixture.minPage(d);
        long pa = f.buffer(2 * pg);
        Aperture a = d.geometry().apertures().get(d.geometry().apertures().size() - 1);
        Aperture first = d.geometry().apertures().get(0);
        boolean checked = false;
        if (a.last() != -1L && Long.compareUnsigned(a.last() + 1 + pg, a.last()) > 0) {
            long beyond = a.last() + 1;
            Expect.errnoIn(OUT_OF_RANGE, String.format("mapPages at %#x, past the aperture's last %#x", beyond, a.last()),
                    "check the range against the aperture (the walk must not truncate the IOVA)",
                    () -> d.mapPages(beyond, pa, pg, 1, RW));
            long straddle = a.last() + 1 - pg;
            Expect.errnoIn(OUT_OF_RANGE, String.format("mapPages of 2 pages at %#x, straddling the aperture's end", straddle),
                    "check the whole range, not only its first page", () -> d.mapPages(straddle, pa, pg, 2, RW));
            expectNothing(d, straddle, pg);
            checked = true;
        }
        if (first.start() != 0) {
            long below = first.start() - pg;
            Expect.errnoIn(OUT_OF_RANGE, String.format("mapPages at %#x, below the aperture's start %#x", below, first.start()),
                    "check the range against the aperture", () -> d.mapPages(below, pa, pg, 1, RW));
            checked = true;
        }
        if (!checked) {
            throw new RuleNotApplicable("the aperture covers the whole 64-bit IOVA space");
        }
    }
}
