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
 * CAP: every capability both ways, per device. {@code capabilities()} is the static maximum the driver can ever do;
 * {@code deviceCapable(dev, c)} is the truth for one device on one machine (the kernel's per-device {@code capable()}
 * and feature checks). The contract:
 * <ul>
 *   <li>CAP-10: {@code deviceCapable(d, c)} implies {@code c} is declared;
 *   <li>declared and deviceCapable: the behaviour works (CAP-1..CAP-9 and the area rules, run on a capable function);
 *   <li>CAP-12: declared but not deviceCapable: the capability's operations fail for that device with EOPNOTSUPP (or
 *       the errno the kernel uses for an attach-time check), never silently succeed, never crash;
 *   <li>not declared: EOPNOTSUPP (CAP-1..CAP-9);
 *   <li>CAP-11: on the driver's reference machine every declared capability is deviceCapable for at least one
 *       function, so the reference machine exercises the whole declared contract.
 * </ul>
 * These rules run for every driver, whatever it declares.
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
                        "deviceCapable(dev, c) implies c is declared: a driver never claims per device what capabilities() "
                                + "(the static maximum) does not declare.",
                        "include/linux/iommu.h capable(); IommuDriver.deviceCapable and Capability javadoc", f -> {
                            for (PciFunction fn : f.functions()) {
                                DeviceHandle h = f.probe(fn);
                                for (Capability c : Capability.values()) {
                                    if (!f.declares(c)) {
                                        Expect.that(!f.driver().deviceCapable(h, c),
                                                "deviceCapable(%s, %s) is true but %s is not declared in capabilities(): "
                                                        + "capabilities() is the static maximum, deviceCapable may only narrow it "
                                                        + "(declare %s or return false)", fn.address(), c, c, c);
                                    }
                                }
                            }
                        }),
                Rule.required("CAP-11", CAPABILITIES,
                        "On the driver's reference machine every declared capability is deviceCapable for at least one PCI "
                                + "function, so the reference machine exercises the whole declared contract.",
                        "IommuDriverProvider.referenceMachine javadoc; include/linux/iommu.h capable()",
                        CapabilityRules::referenceCoverage),
                Rule.required("CAP-12", CAPABILITIES,
                        "Declared but not deviceCapable on a function: the capability's operations fail for that device "
                                + "(NEST_PARENT / DIRTY_TRACKING allocation: EOPNOTSUPP; set_dev_pasid: EINVAL or EOPNOTSUPP; "
                                + "attaching a coherency-enforcing or dirty-tracking domain: EINVAL; no page requests without "
                                + "IOPF), never silently succeed, never crash.",
                        "drivers/iommu/intel/iommu.c intel_iommu_domain_alloc_paging_flags and paging_domain_compatible; "
                                + "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c arm_smmu_domain_alloc_paging_flags and "
                                + "arm_smmu_attach_dev (enforce_cache_coherency && !canwbs: -EINVAL); drivers/iommu/iommu.c "
                                + "iommu_attach_device_pasid (pasid >= max_pasids: -EINVAL); iommufd selftest "
                                + "mock_domain_alloc_paging_flags / mock_domain_nop_attach (MOCK_FLAGS_DEVICE_NO_DIRTY)",
                        CapabilityRules::declaredNotCapable));
    }

    /** The capabilities CAP-12 checks per device; the others have no per-device operation in the SPI. */
    private static final Capability[] PER_DEVICE = {Capability.NESTING, Capability.DIRTY_TRACKING, Capability.PASID,
        Capability.ENFORCE_CACHE_COHERENCY, Capability.IOPF, Capability.IDENTITY_DOMAIN};

    private static final String NOT_CAPABLE = "%s is declared but deviceCapable(%s, %s) is false: the operation must fail "
            + "for this device as the kernel's per-device check does, never silently succeed";

    /** CAP-11: builds the provider's reference machine (whatever machine this run targets) and asks every function. */
    private static void referenceCoverage(TckFixture run) {
        dev.iommufd.platform.MachineConfig ref = run.provider().referenceMachine().orElse(null);
        if (ref == null) {
            throw new dev.iommufd.tck.RuleNotApplicable("driver '" + run.provider().id()
                    + "' declares no reference machine (IommuDriverProvider.referenceMachine()); see DISC-4");
        }
        try (TckFixture f = new TckFixture(new dev.iommufd.tck.TckTarget(run.provider(), ref, run.target().origin()), run.rule())) {
            List<Capability> missing = new java.util.ArrayList<>();
            for (Capability c : Capability.values()) {
                if (f.declares(c) && f.firstCapable(c) == null) {
                    missing.add(c);
                }
            }
            Expect.that(missing.isEmpty(), "on the reference machine no PCI function is deviceCapable for declared %s: the "
                    + "reference machine must exercise every declared capability (a unit preset with the features, e.g. "
                    + "ECAP.NEST/SLADS/SC or SMMU stage 2/HTTU/SSID/PRI, and functions withPasid(n) / withPri()); or stop "
                    + "declaring them", missing);
        }
    }

    /** CAP-12: every function, every declared capability it is not deviceCapable for. */
    private static void declaredNotCapable(TckFixture f) {
        IommuDriver d = f.driver();
        for (PciFunction fn : f.functions()) {
            DeviceHandle h = f.probe(fn);
            for (Capability c : PER_DEVICE) {
                if (!f.declares(c) || f.deviceCapable(fn, c)) {
                    continue;
                }
                String hint = String.format(NOT_CAPABLE, c, fn.address(), c);
                String on = " for " + fn.address() + ", not deviceCapable(" + c + ")";
                switch (c) {
                    case NESTING:
                        Expect.errno(Errno.EOPNOTSUPP, "allocPagingDomain(NEST_PARENT)" + on, hint,
                                () -> f.track(d.allocPagingDomain(h, DomainAllocFlags.NEST_PARENT, null)));
                        break;
                    case DIRTY_TRACKING:
                        Expect.errno(Errno.EOPNOTSUPP, "allocPagingDomain(DIRTY_TRACKING)" + on, hint,
                                () -> f.track(d.allocPagingDomain(h, DomainAllocFlags.DIRTY_TRACKING, null)));
                        PciFunction other = f.firstCapable(Capability.DIRTY_TRACKING);
                        if (other != null) {
                            IommuDomain dirty = f.paging(f.probe(other), DomainAllocFlags.DIRTY_TRACKING);
                            Expect.errno(Errno.EINVAL, "attachDevice(" + fn.address() + ") of a DIRTY_TRACKING domain allocated for "
                                    + other.address(), hint + " (attach-time check: intel paging_domain_compatible, "
                                    + "mock_domain_nop_attach: -EINVAL)", () -> dirty.attachDevice(h));
                        }
                        break;
                    case PASID:
                        IommuDomain p = f.paging(h, 0);
                        IommuDomain old = f.declares(Capability.BLOCKED_DOMAIN) ? d.blockedDomain() : null;
                        Expect.errnoIn(java.util.Set.of(Errno.EINVAL, Errno.EOPNOTSUPP), "setDevicePasid(pasid 1)" + on, hint
                                + " (iommu_attach_device_pasid: pasid >= max_pasids is -EINVAL; a unit without PASID support: "
                                + "-EOPNOTSUPP)", () -> p.setDevicePasid(h, 1, old));
                        break;
                    case ENFORCE_CACHE_COHERENCY:
                        IommuDomain cc = f.paging(h, 0);
                        boolean enforced = cc.enforceCacheCoherency();
                        if (enforced) {
                            Expect.errno(Errno.EINVAL, "attachDevice" + on + " of a domain enforcing cache coherency", hint
                                    + " (attach-time check: intel paging_domain_compatible force_snooping && !ecap_sc, "
                                    + "arm_smmu_attach_dev enforce_cache_coherency && !canwbs: -EINVAL)", () -> cc.attachDevice(h));
                        }
                        break;
                    case IOPF:
                        IommuDomain pf = f.paging(h, 0);
                        long iova = f.iova(pf, TckFixture.minPage(pf));
                        Expect.runs("attachDevice" + on, "a paging domain attaches whatever the device's IOPF support",
                                () -> pf.attachDevice(h));
                        f.sink().clear();
                        Expect.dma(DmaStatus.FAULT, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, iova, new byte[8]),
                                "DMA to an unmapped IOVA" + on, hint + ": do not enable PRI for a device that is not IOPF capable");
                        Expect.that(f.sink().faults().isEmpty(), "%d page requests were reported%s. %s",
                                f.sink().faults().size(), on, hint);
                        break;
                    case IDENTITY_DOMAIN:
                        IommuDomain id = d.identityDomain();
                        Expect.errnoIn(java.util.Set.of(Errno.EINVAL, Errno.EOPNOTSUPP), "identityDomain().attachDevice" + on,
                                hint + " (no pass-through for this device: the core cannot use the identity domain)",
                                () -> id.attachDevice(h));
                        break;
                    default:
                        throw new IllegalStateException(c.name());
                }
            }
        }
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
        PciFunction fn = f.capableFunction(Capability.IDENTITY_DOMAIN);
        DeviceHandle h = f.probe(fn);
        Expect.runs("identityDomain().attachDevice()", "IDENTITY_DOMAIN is declared", () -> id.attachDevice(h));
        long buf = f.buffer(4096);
        byte[] data = TckFixture.pattern(2, 64);
        Expect.dma(DmaStatus.OK, TckFixture.dmaWrite(fn, TckFixture.UNTAGGED, buf, data),
                "DMA write at IOVA = physical address through the identity domain", "identity means IOVA == PA for all of RAM");
        Expect.bytes(data, f.readPhys(buf, data.length), "memory after an identity DMA write", "the write must land at PA == IOVA");
    }

    private static void coherency(TckFixture f) {
        if (f.declares(Capability.ENFORCE_CACHE_COHERENCY)) {
            IommuDomain p = f.paging(f.probe(f.capableFunction(Capability.ENFORCE_CACHE_COHERENCY)), 0);
            boolean r = p.enforceCacheCoherency();
            Expect.that(r, "enforceCacheCoherency() returned false on a fresh paging domain but ENFORCE_CACHE_COHERENCY is "
                    + "declared and the device is deviceCapable (iommufd refuses to use the domain for VFIO's no-snoop blocking)");
        } else {
            boolean r = f.paging().enforceCacheCoherency();
            Expect.that(!r, "enforceCacheCoherency() returned true but ENFORCE_CACHE_COHERENCY is not declared");
        }
    }

    private static void nesting(TckFixture f) {
        if (!f.declares(Capability.NESTING)) {
            DeviceHandle h = f.device(0);
            Expect.errno(Errno.EOPNOTSUPP, "allocPagingDomain(NEST_PARENT)", String.format(UNDECLARED, "NESTING"),
                    () -> f.track(f.driver().allocPagingDomain(h, DomainAllocFlags.NEST_PARENT, null)));
            IommuDomain p = f.paging();
            Expect.errno(Errno.EOPNOTSUPP, "allocNestedDomain()", String.format(UNDECLARED, "NESTING"),
                    () -> f.track(f.driver().allocNestedDomain(h, p, 0, new UserData(1, new byte[8]))));
            return;
        }
        DeviceHandle h = f.probe(f.capableFunction(Capability.NESTING));
        IommuDomain parent = Expect.works("allocPagingDomain(NEST_PARENT)", "NESTING is declared and deviceCapable",
                () -> f.paging(h, DomainAllocFlags.NEST_PARENT));
        Expect.that(parent.type() == DomainType.PAGING, "a NEST_PARENT domain must be a PAGING domain, got %s", parent.type());
        Expect.that((parent.allocFlags() & DomainAllocFlags.NEST_PARENT) != 0,
                "allocFlags() of a NEST_PARENT domain is %#x: it must report NEST_PARENT", parent.allocFlags());
    }

    private static void dirty(TckFixture f) {
        if (!f.declares(Capability.DIRTY_TRACKING)) {
            DeviceHandle h = f.device(0);
            Expect.errno(Errno.EOPNOTSUPP, "allocPagingDomain(DIRTY_TRACKING)", String.format(UNDECLARED, "DIRTY_TRACKING"),
                    () -> f.track(f.driver().allocPagingDomain(h, DomainAllocFlags.DIRTY_TRACKING, null)));
            IommuDomain p = f.paging();
            Expect.errno(Errno.EOPNOTSUPP, "setDirtyTracking(true)", String.format(UNDECLARED, "DIRTY_TRACKING"),
                    () -> p.setDirtyTracking(true));
            return;
        }
        DeviceHandle h = f.probe(f.capableFunction(Capability.DIRTY_TRACKING));
        IommuDomain d = Expect.works("allocPagingDomain(DIRTY_TRACKING)", "DIRTY_TRACKING is declared and deviceCapable",
                () -> f.paging(h, DomainAllocFlags.DIRTY_TRACKING));
        Expect.runs("setDirtyTracking(true)", "DIRTY_TRACKING is declared", () -> d.setDirtyTracking(true));
        Expect.runs("setDirtyTracking(false)", "DIRTY_TRACKING is declared", () -> d.setDirtyTracking(false));
    }

    private static void pasid(TckFixture f) {
        if (!f.declares(Capability.PASID)) {
            DeviceHandle h = f.device(0);
            Expect.errno(Errno.EOPNOTSUPP, "allocPagingDomain(PASID)", String.format(UNDECLARED, "PASID"),
                    () -> f.track(f.driver().allocPagingDomain(h, DomainAllocFlags.PASID, null)));
            IommuDomain p = f.paging();
            IommuDomain old = f.declares(Capability.BLOCKED_DOMAIN) ? f.driver().blockedDomain() : null;
            Expect.errno(Errno.EOPNOTSUPP, "setDevicePasid()", String.format(UNDECLARED, "PASID"),
                    () -> p.setDevicePasid(h, 1, old));
            return;
        }
        DeviceHandle h = f.probe(f.capableFunction(Capability.PASID));
        IommuDomain d = Expect.works("allocPagingDomain(PASID)", "PASID is declared and deviceCapable",
                () -> f.paging(h, DomainAllocFlags.PASID));
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
