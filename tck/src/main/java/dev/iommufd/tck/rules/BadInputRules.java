package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.BAD_INPUT;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.UserData;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.RuleViolation;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.List;

/** BAD: entry points refuse bad input with the kernel's errno, change nothing and leak nothing. */
final class BadInputRules {
    private BadInputRules() {
    }

    static List<Rule> rules() {
        return List.of(
                Rule.required("BAD-1", BAD_INPUT,
                        "allocPagingDomain with an unknown flag bit fails with EOPNOTSUPP and allocates nothing.",
                        "IommuDriver.allocPagingDomain javadoc; drivers/iommu/intel/iommu.c intel_iommu_domain_alloc_paging_flags "
                                + "(unknown flags: -EOPNOTSUPP)",
                        f -> {
                            DeviceHandle h = f.device(0);
                            long base = f.allocatedFrames();
                            Expect.errno(Errno.EOPNOTSUPP, "allocPagingDomain(flags 1 << 20)", "reject flag bits the driver does not know",
                                    () -> f.track(f.driver().allocPagingDomain(h, 1 << 20, null)));
                            Expect.equal(base, f.allocatedFrames(), "frames after a refused allocation", "check flags before allocating");
                        }),
                Rule.required("BAD-2", BAD_INPUT,
                        "allocPagingDomain with vendor data the driver does not take fails with EOPNOTSUPP or EINVAL and allocates nothing.",
                        "include/linux/iommu.h domain_alloc_paging_flags (user_data); drivers/iommu/iommufd/hw_pagetable.c",
                        f -> {
                            DeviceHandle h = f.device(0);
                            long base = f.allocatedFrames();
                            try {
                                f.track(f.driver().allocPagingDomain(h, 0, new UserData(NestingRules.UNKNOWN_TYPE, new byte[32])));
                                throw new RuleViolation("allocPagingDomain with unknown data_type succeeded: check UserData.type()");
                            } catch (ErrnoException e) {
                                Expect.that(e.errno() == Errno.EOPNOTSUPP || e.errno() == Errno.EINVAL,
                                        "allocPagingDomain with unknown data_type failed with %s; use EOPNOTSUPP", e.errno());
                            }
                            Expect.equal(base, f.allocatedFrames(), "frames after a refused allocation", "");
                        }),
                Rule.required("BAD-3", BAD_INPUT,
                        "hwInfo with a requested type that is not the driver's fails with EOPNOTSUPP.",
                        "uAPI IOMMU_HW_INFO_FLAG_INPUT_TYPE; drivers/iommu/iommufd/device.c iommufd_get_hw_info (-EOPNOTSUPP)",
                        f -> Expect.errno(Errno.EOPNOTSUPP, "hwInfo(dev, 0x7ac00001)", "compare the requested type with your own",
                                () -> f.driver().hwInfo(f.device(0), NestingRules.UNKNOWN_TYPE))),
                Rule.required("BAD-4", BAD_INPUT,
                        "Rejected maps (misaligned, outside the aperture, no permission) allocate no frame and leave the "
                                + "domain translating nothing.",
                        "Iommufd javadoc ('A failed call leaves state unchanged'); IommuDomain general contract", f -> {
                            IommuDomain d = f.paging();
                            long pg = TckFixture.minPage(d);
                            long iova = f.iova(d, 2 * pg);
                            long pa = f.buffer(2 * pg);
                            long base = f.allocatedFrames();
                            long last = d.geometry().apertures().get(d.geometry().apertures().size() - 1).last();
                            Runnable[] bad = {
                                () -> d.mapPages(iova + 0x100, pa, pg, 1, MapRules.RW),
                                () -> d.mapPages(iova, pa, pg, 1, 0),
                                () -> d.mapPages(last + 1 - pg, pa, pg, 2, MapRules.RW),
                            };
                            for (int i = 0; i < bad.length; i++) {
                                try {
                                    bad[i].run();
                                    if (i != 2 || last != -1L) {
                                        throw new RuleViolation("bad map #" + i + " (misaligned / prot 0 / past the aperture) succeeded");
                                    }
                                } catch (ErrnoException e) {
                                    Expect.that(e.errno() == Errno.EINVAL || (i == 2 && MapRules.OUT_OF_RANGE.contains(e.errno())),
                                            "bad map #%d failed with %s, expected EINVAL%s", i, e.errno(), i == 2 ? " (or ERANGE/EFAULT)" : "");
                                }
                            }
                            Expect.equal(base, f.allocatedFrames(), "frames after rejected maps", "validate before allocating tables");
                            MapRules.expectNothing(d, iova, 2 * pg);
                        }));
    }
}
