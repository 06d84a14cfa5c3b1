package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.CAPABILITIES;

import dev.iommufd.api.Errno;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.PageResponse;
import dev.iommufd.spi.UserData;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.List;

/**
 * CAP: every capability both ways. Declared means the behaviour works; not declared means the operation fails with
 * EOPNOTSUPP. These rules run for every driver, whatever it declares.
 */
final class CapabilityRules {
    private CapabilityRules() {
    }

    private static final String UNDECLARED = "an undeclared capability must fail with EOPNOTSUPP (Capability javadoc); "
            + "either declare %s in capabilities() or make the operation throw ErrnoException(EOPNOTSUPP)";

    static List<Rule> rules() {
        return List.of(
                Rule.required("CAP-1", CAPABILITIES,
                        "BLOCKED_DOMAIN: declared, blockedDomain() is a BLOCKED domain and an attached device reaches nothing; "
                                + "undeclared, blockedDomain() fails with EOPNOTSUPP.",
                        "include/linux/iommu.h iommu_ops.blocked_domain; drivers/iommu/iommu.c __iommu_group_alloc_blocking_domain",
                        CapabilityRules::blocked),
                Rule.required("CAP-2", CAPABILITIES,
                        "IDENTITY_DOMAIN: declared, identityDomain() is an IDENTITY domain and an attached device's IOVA is its "
                                + "physical address; undeclared, EOPNOTSUPP.",
                        "include/linux/iommu.h iommu_ops.identity_domain; IOMMU_DOMAIN_IDENTITY", CapabilityRules::identity),
                Rule.required("CAP-3", CAPABILITIES,
                        "ENFORCE_CACHE_COHERENCY: declared, enforceCacheCoherency() on a fresh paging domain returns true; "
                                + "undeclared, it returns false.",
                        "include/linux/iommu.h enforce_cache_coherency; drivers/iommu/iommufd/hw_pagetable.c iommufd_hwpt_paging_enforce_cc",
                        CapabilityRules::coherency),
                Rule.required("CAP-4", CAPABILITIES,
                        "NESTING: declared, a NEST_PARENT paging domain can be allocated and reports the flag; undeclared, "
                                + "NEST_PARENT and allocNestedDomain fail with EOPNOTSUPP.",
                        "uAPI IOMMU_HWPT_ALLOC_NEST_PARENT; include/linux/iommu.h domain_alloc_nested", CapabilityRules::nesting),
                Rule.required("CAP-5", CAPABILITIES,
                        "DIRTY_TRACKING: declared, a DIRTY_TRACKING domain can be allocated and tracking switched on and off; "
                                + "undeclared, the flag fails with EOPNOTSUPP.",
                        "uAPI IOMMU_HWPT_ALLOC_DIRTY_TRACKING; drivers/iommu/iommufd/hw_pagetable.c (EOPNOTSUPP without dirty_ops)",
                        CapabilityRules::dirty),
                Rule.required("CAP-6", CAPABILITIES,
                        "PASID: declared, a PASID-flagged domain can be allocated; undeclared, the flag and set_dev_pasid fail "
                                + "with EOPNOTSUPP.",
                        "uAPI IOMMU_HWPT_ALLOC_PASID; include/linux/iommu.h set_dev_pasid", CapabilityRules::pasid),
                Rule.required("CAP-7", CAPABILITIES,
                        "IOPF: undeclared, pageResponse() fails with EOPNOTSUPP (declared behaviour: FAULT rules).",
                        "include/linux/iommu.h page_response", f -> {
                            if (f.declares(Capability.IOPF)) {
                                return;
                            }
                            Expect.errno(Errno.EOPNOTSUPP, "pageResponse() on a driver without IOPF", String.format(UNDECLARED, "IOPF"),
                                    () -> f.driver().pageResponse(f.device(0), new PageResponse(0, false, 0, PageResponse.INVALID)));
                        }),
                Rule.required("CAP-8", CAPABILITIES,
                        "VIOMMU: undeclared, allocViommu() fails with EOPNOTSUPP; declared, NESTING is declared too (a vIOMMU "
                                + "sits on a nest parent).",
                        "include/linux/iommu.h viommu_init; drivers/iommu/iommufd/viommu.c iommufd_viommu_alloc_ioctl",
                        CapabilityRules::viommu),
                Rule.required("CAP-9", CAPABILITIES,
                        "HW_INFO: declared, hwInfo() returns a vendor type (not NONE) with data; undeclared, type NONE and no data.",
                        "uAPI IOMMU_GET_HW_INFO, enum iommu_hw_info_type; drivers/iommu/iommufd/device.c iommufd_get_hw_info",
                        CapabilityRules::hwInfo),
                Rule.required("CAP-10", CAPABILITIES,
                        "deviceCapable(dev, c) is never true for a capability c the driver does not declare.",
                        "include/linux/iommu.h capable(); Capability javadoc", f -> {
                            for (PciFunction fn : f.functions()) {
                                DeviceHandle h = f.probe(fn);
                                for (Capability c : Capability.values()) {
                                    if (!f.declares(c)) {
                                        Expect.that(!f.driver().deviceCapable(h, c),
                                                "deviceCapable(%s, %s) is true but %s is not declared in capabilities()", fn.address(), c, c);
                                    }
                                }
                            }
                        }));
    }

    private static void blocked(TckFixture f) {
        IommuDriver d = f.driver();
        if (!f.declares(Capability.BLOCKED_DOMAIN)) {
            Expect.errno(Errno.EOPNOTSUPP, "blockedDomain()", String.format(UNDECLARED, "BLOCKED_DOMAIN"), d::blockedDomain);
            return;
        }
        IommuDomain b = Expect.works("blockedDomain()", "BLOCKED_DOMAIN is declared", d::blockedDomain);
        Expect.that(b != null && b.type() == DomainType.BLOCKED, "blockedDomain() returned %s, not a BLOCKED domain",
                b == null ? null : b.type());
        PciFunction fn = f.function(0);
        DeviceHandle h = f.probe(fn);
        IommuDomain p = f.paging(h, 0);
        long pg = TckFixture.minPage(p);
        long buf = f.buffer(pg);
        long iova = f.iova(p, pg);
        TckFixture.map(p, iova, buf, pg, 1, dev.iommufd.spi.IoProt.READ | dev.iommufd.spi.IoProt.WRITE);
        p.attachDevice(h);
        Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, new byte[8]),
                "DMA write to a mapped IOVA of the attached paging domain", "attach_dev must program the device's context");
        Expect.runs("blockedDomain().attachDevice()", "the blocked domain must accept every probed device", () -> b.attachDevice(h));
        byte[] data = TckFixture.pattern(1, 8);
        Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, data),
                "DMA write after attaching the blocked domain", "the blocked domain must block all DMA, including IOVAs the "
                        + "previous domain mapped: switch the context to blocking and invalidate the old domain's cached entries");
        Expect.that(!java.util.Arrays.equals(data, f.readPhys(buf, 8)), "a DMA write through the blocked domain reached memory");
        TckFixture.unmap(p, iova, pg, 1);
    }

    private static void identity(TckFixture f) {
        IommuDriver d = f.driver();
        if (!f.declares(Capability.IDENTITY_DOMAIN)) {
            Expect.errno(Errno.EOPNOTSUPP, "identityDomain()", String.format(UNDECLARED, "IDENTITY_DOMAIN"), d::identityDomain);
            return;
        }
        IommuDomain id = Expect.works("identityDomain()", "IDENTITY_DOMAIN is declared", d::identityDomain);
        Expect.that(id != null && id.type() == DomainType.IDENTITY, "identityDomain() returned %s, not an IDENTITY domain",
                id == null ? null : id.type());
        PciFunction fn = f.function(0);
        DeviceHandle h = f.probe(fn);
        Expect.runs("identityDomain().attachDevice()", "IDENTITY_DOMAIN is declared", () -> id.attachDevice(h));
        long buf = f.buffer(4096);
        byte[] data = TckFixture.pattern(2, 64);
        Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, buf, data),
                "DMA write at IOVA = physical address through the identity domain", "identity means IOVA == PA for all of RAM");
        Expect.bytes(data, f.readPhys(buf, data.length), "memory after an identity DMA write", "the write must land at PA == IOVA");
    }

    private static void coherency(TckFixture f) {
        IommuDomain p = f.paging();
        boolean r = p.enforceCacheCoherency();
        if (f.declares(Capability.ENFORCE_CACHE_COHERENCY)) {
            Expect.that(r, "enforceCacheCoherency() returned false on a fresh paging domain but ENFORCE_CACHE_COHERENCY is "
                    + "declared (iommufd refuses to use the domain for VFIO's no-snoop blocking)");
        } else {
            Expect.that(!r, "enforceCacheCoherency() returned true but ENFORCE_CACHE_COHERENCY is not declared");
        }
    }

    private static void nesting(TckFixture f) {
        DeviceHandle h = f.device(0);
        if (!f.declares(Capability.NESTING)) {
            Expect.errno(Errno.EOPNOTSUPP, "allocPagingDomain(NEST_PARENT)", String.format(UNDECLARED, "NESTING"),
                    () -> f.track(f.driver().allocPagingDomain(h, DomainAllocFlags.NEST_PARENT, null)));
            IommuDomain p = f.paging();
            Expect.errno(Errno.EOPNOTSUPP, "allocNestedDomain()", String.format(UNDECLARED, "NESTING"),
                    () -> f.track(f.driver().allocNestedDomain(h, p, 0, new UserData(1, new byte[8]))));
            return;
        }
        IommuDomain parent = Expect.works("allocPagingDomain(NEST_PARENT)", "NESTING is declared",
                () -> f.paging(h, DomainAllocFlags.NEST_PARENT));
        Expect.that(parent.type() == DomainType.PAGING, "a NEST_PARENT domain must be a PAGING domain, got %s", parent.type());
        Expect.that((parent.allocFlags() & DomainAllocFlags.NEST_PARENT) != 0,
                "allocFlags() of a NEST_PARENT domain is %#x: it must report NEST_PARENT", parent.allocFlags());
    }

    private static void dirty(TckFixture f) {
        DeviceHandle h = f.device(0);
        if (!f.declares(Capability.DIRTY_TRACKING)) {
            Expect.errno(Errno.EOPNOTSUPP, "allocPagingDomain(DIRTY_TRACKING)", String.format(UNDECLARED, "DIRTY_TRACKING"),
                    () -> f.track(f.driver().allocPagingDomain(h, DomainAllocFlags.DIRTY_TRACKING, null)));
            IommuDomain p = f.paging();
            Expect.errno(Errno.EOPNOTSUPP, "setDirtyTracking(true)", String.format(UNDECLARED, "DIRTY_TRACKING"),
                    () -> p.setDirtyTracking(true));
            return;
        }
        IommuDomain d = Expect.works("allocPagingDomain(DIRTY_TRACKING)", "DIRTY_TRACKING is declared",
                () -> f.paging(h, DomainAllocFlags.DIRTY_TRACKING));
        Expect.runs("setDirtyTracking(true)", "DIRTY_TRACKING is declared", () -> d.setDirtyTracking(true));
        Expect.runs("setDirtyTracking(false)", "DIRTY_TRACKING is declared", () -> d.setDirtyTracking(false));
    }

    private static void pasid(TckFixture f) {
        DeviceHandle h = f.device(0);
        if (!f.declares(Capability.PASID)) {
            Expect.errno(Errno.EOPNOTSUPP, "allocPagingDomain(PASID)", String.format(UNDECLARED, "PASID"),
                    () -> f.track(f.driver().allocPagingDomain(h, DomainAllocFlags.PASID, null)));
            IommuDomain p = f.paging();
            IommuDomain old = f.declares(Capability.BLOCKED_DOMAIN) ? f.driver().blockedDomain() : null;
            Expect.errno(Errno.EOPNOTSUPP, "setDevicePasid()", String.format(UNDECLARED, "PASID"),
                    () -> p.setDevicePasid(h, 1, old));
            return;
        }
        IommuDomain d = Expect.works("allocPagingDomain(PASID)", "PASID is declared", () -> f.paging(h, DomainAllocFlags.PASID));
        Expect.that((d.allocFlags() & DomainAllocFlags.PASID) != 0, "allocFlags() of a PASID domain is %#x: it must report PASID",
                d.allocFlags());
    }

    private static void viommu(TckFixture f) {
        if (!f.declares(Capability.VIOMMU)) {
            DeviceHandle h = f.device(0);
            IommuDomain p = f.paging();
            Expect.errno(Errno.EOPNOTSUPP, "allocViommu()", String.format(UNDECLARED, "VIOMMU"),
                    () -> f.driver().allocViommu(h, p, 1, null));
            return;
        }
        Expect.that(f.declares(Capability.NESTING), "VIOMMU is declared without NESTING: a vIOMMU needs a nest-parent domain");
    }

    private static void hwInfo(TckFixture f) {
        DeviceHandle h = f.device(0);
        HwInfo info = Expect.works("hwInfo(dev, 0)", "IOMMU_GET_HW_INFO must always answer the default type",
                () -> f.driver().hwInfo(h, 0));
        Expect.that(info != null, "hwInfo() returned null");
        if (f.declares(Capability.HW_INFO)) {
            Expect.that(info.type() != 0 && info.data().length > 0,
                    "HW_INFO is declared but hwInfo() returned type %d with %d bytes: return the vendor structure",
                    info.type(), info.data().length);
        } else {
            Expect.that(info.type() == 0 && info.data().length == 0,
                    "HW_INFO is not declared but hwInfo() returned type %d with %d bytes", info.type(), info.data().length);
        }
        Expect.that(info.maxPasidLog2() == h.maxPasidLog2(), "hwInfo().maxPasidLog2() is %d but the device handle says %d",
                info.maxPasidLog2(), h.maxPasidLog2());
    }
}
