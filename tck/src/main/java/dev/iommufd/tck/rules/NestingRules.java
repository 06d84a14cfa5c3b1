package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.NESTING;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.Errno;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.UserDataArray;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.RuleViolation;
import dev.iommufd.tck.fixture.TckFixture;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * NEST: the vendor-independent part of nesting. Vendor structures (stage-1 table formats, invalidation entries) are
 * checked by each driver's own tests; the TCK checks what every nesting driver shares.
 */
final class NestingRules {
    private NestingRules() {
    }

    /** A data type no vendor uses (the uAPI's types are small integers and 0xdead... selftest values). */
    static final int UNKNOWN_TYPE = 0x7ac0_0001;

    static List<Rule> rules() {
        return List.of(
                Rule.requiredWith(Capability.NESTING, "NEST-1", NESTING,
                        "A NEST_PARENT domain is a full paging domain: maps, translates and serves DMA like any other.",
                        "uAPI IOMMU_HWPT_ALLOC_NEST_PARENT; VT-d 3.8 (nested translation, second stage), SMMUv3 3.3.1 (stage 2)",
                        f -> {
                            PciFunction fn = f.capableFunction(Capability.NESTING);
                            DeviceHandle h = f.probe(fn);
                            IommuDomain d = f.paging(h, DomainAllocFlags.NEST_PARENT);
                            long pg = TckFixture.minPage(d);
                            long pa = f.buffer(pg);
                            long iova = f.iova(d, pg);
                            TckFixture.map(d, iova, pa, pg, 1, IoProt.READ | IoProt.WRITE);
                            MapRules.expectTranslates(d, iova, pa, pg);
                            Expect.runs("attachDevice(NEST_PARENT domain)", "a nest parent can be attached directly, as a plain "
                                    + "stage-2 domain", () -> d.attachDevice(h));
                            byte[] w = TckFixture.pattern(20, 16);
                            Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, w), "DMA through a nest parent", "");
                            Expect.bytes(w, f.readPhys(pa, 16), "nest parent page", "");
                            TckFixture.unmap(d, iova, pg, 1);
                            Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, w), "DMA after unmap from a nest parent",
                                    "stage-2 invalidation (by VMID/domain ID) after unmap");
                        }),
                Rule.requiredWith(Capability.NESTING, "NEST-2", NESTING,
                        "allocNestedDomain with a data type the driver does not know fails with EOPNOTSUPP (or EINVAL) and allocates nothing.",
                        "include/linux/iommu.h domain_alloc_nested; drivers/iommu/intel/nested.c intel_iommu_domain_alloc_nested "
                                + "(data type mismatch: -EOPNOTSUPP); arm-smmu-v3-iommufd.c (-EOPNOTSUPP)",
                        f -> {
                            DeviceHandle h = f.probe(f.capableFunction(Capability.NESTING));
                            IommuDomain parent = f.paging(h, DomainAllocFlags.NEST_PARENT);
                            long base = f.allocatedFrames();
                            try {
                                IommuDomain n = f.driver().allocNestedDomain(h, parent, 0, new UserData(UNKNOWN_TYPE, new byte[64]));
                                f.track(n);
                                throw new RuleViolation("allocNestedDomain with data_type " + Integer.toHexString(UNKNOWN_TYPE)
                                        + " succeeded: check UserData.type() before reading it (UserData.copyStruct)");
                            } catch (ErrnoException e) {
                                Expect.that(e.errno() == Errno.EOPNOTSUPP || e.errno() == Errno.EINVAL,
                                        "allocNestedDomain with an unknown data type failed with %s: use EOPNOTSUPP", e.errno());
                            }
                            Expect.equal(base, f.allocatedFrames(), "frames after the refused nested allocation", "nothing may leak");
                        }),
                Rule.required("NEST-3", NESTING,
                        "cacheInvalidateUser on a PAGING domain fails with EOPNOTSUPP (user invalidation is for NESTED domains).",
                        "include/linux/iommu.h cache_invalidate_user; drivers/iommu/iommufd/hw_pagetable.c "
                                + "iommufd_hwpt_invalidate (-EOPNOTSUPP without the op)",
                        f -> {
                            IommuDomain d = f.paging();
                            Expect.errno(Errno.EOPNOTSUPP, "cacheInvalidateUser on a PAGING domain",
                                    "paging domains are invalidated by the driver itself", () -> d.cacheInvalidateUser(emptyArray()));
                        }),
                Rule.requiredWith(Capability.VIOMMU, "NEST-4", NESTING,
                        "allocViommu with a vIOMMU type the driver does not know fails with EOPNOTSUPP.",
                        "include/linux/iommu.h get_viommu_size/viommu_init; drivers/iommu/iommufd/viommu.c (-EOPNOTSUPP)",
                        f -> {
                            DeviceHandle h = f.probe(f.capableFunction(Capability.VIOMMU, Capability.NESTING));
                            IommuDomain parent = f.paging(h, DomainAllocFlags.NEST_PARENT);
                            Expect.errno(Errno.EOPNOTSUPP, "allocViommu(type " + Integer.toHexString(UNKNOWN_TYPE) + ")",
                                    "check the vIOMMU type first", () -> f.driver().allocViommu(h, parent, UNKNOWN_TYPE, null));
                        }));
    }

    static UserDataArray emptyArray() {
        return new UserDataArray() {
            @Override
            public int type() {
                return UNKNOWN_TYPE;
            }

            @Override
            public int entryLength() {
                return 8;
            }

            @Override
            public int entryCount() {
                return 1;
            }

            @Override
            public ByteBuffer copyEntry(int index, int expectedType, int kernelSize, int minSize) {
                throw ErrnoException.of(Errno.EINVAL, "data_type %#x is not %#x", UNKNOWN_TYPE, expectedType);
            }
        };
    }
}
