package dev.iommufd.core.selftest;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.spi.IommuDriverProvider;
import java.util.HashSet;
import java.util.Set;

/**
 * The driver that provides the paging domains of the ported kernel selftests. The kernel runs them against its
 * mock domain only (drivers/iommu/iommufd/selftest.c, CONFIG_IOMMUFD_TEST); here the device-creating test op
 * (IOMMU_TEST_OP_MOCK_DOMAIN and friends) asks this provider for a function behind its IOMMU unit, so that the
 * generic part of each test (map/unmap/copy rules, attach/replace, iova_ranges, dirty tracking through the uAPI)
 * runs unchanged against a real driver. Every expected value a test derives from the domain comes from
 * {@link #ioPageSize()}, {@link #apertureStart()}, {@link #apertureLast()}: the facts of the architecture and the
 * machine preset, stated by the provider, never read back from the driver under test.
 */
public interface SelftestDomainProvider {

    /** What a ported test may need beyond plain paging; a test that needs an unsupported one is not run. */
    enum Feature {
        /** IOMMU_HWPT_ALLOC_DIRTY_TRACKING, SET_DIRTY_TRACKING, GET_DIRTY_BITMAP driven by real DMA. */
        DIRTY_TRACKING,
        /** IOMMU_HWPT_ALLOC_NEST_PARENT (VT-d: scalable mode with ECAP.NEST; SMMUv3: stage 2). */
        NEST_PARENT,
        /** Attaching paging domains at a PASID of a PASID-capable function (VT-d: scalable mode; SMMUv3: SSIDs). */
        PASID,
        /** A device without dirty-tracking support (MOCK_FLAGS_DEVICE_NO_DIRTY). */
        DEVICE_WITHOUT_DIRTY,
        /** The mock-only IOMMU_TEST_CMD ops (MD_CHECK_MAP, MD_CHECK_IOTLB, DEV_CHECK_CACHE, DIRTY, TRIGGER_*). */
        MOCK_TEST_OPS
    }

    /** For test names and messages. */
    String name();

    /** The machine: its profile, RAM of {@code ramSize} bytes and exactly one IOMMU unit named {@link #unit()}. */
    MachineConfig machineConfig(long ramSize);

    /** The IOMMU unit devices are plugged behind. */
    String unit();

    /** The driver bound to the subsystem. */
    IommuDriverProvider driver();

    /**
     * Hot-adds a PCI function behind {@link #unit()}, as {@code mock_dev_create} does for the mock: the mock device
     * flags ({@code MOCK_FLAGS_DEVICE_*}) map to the function's spec (PASID) or are refused.
     *
     * @throws ErrnoException EINVAL for unknown flags; EOPNOTSUPP for a flag this provider cannot express
     */
    PciFunction createDevice(Machine machine, int mockFlags);

    /** The domain's smallest page size: the IOVA and length granule of IOAS_MAP on an IOAS with a domain. */
    long ioPageSize();

    /** The first IOVA of the paging domain's aperture. */
    long apertureStart();

    /** The last IOVA of the paging domain's aperture. */
    long apertureLast();

    /** IOMMU_GET_HW_INFO's out_data_type for a device behind the unit. */
    int hwInfoType();

    boolean supports(Feature feature);

    /**
     * The IOVAs a device behind the unit can never use (the architecture's interrupt window: iommu_get_resv_regions),
     * each {start, last}.
     */
    java.util.List<long[]> reservedIovas();

    /**
     * The PCI function a real driver's provider plugs for mock device flags: MOCK_FLAGS_DEVICE_PASID becomes a
     * 20-bit PASID capability (MOCK_PASID_WIDTH); NO_DIRTY and HUGE_IOVA describe the mock's page table and have no
     * PCI equivalent.
     *
     * @throws ErrnoException EINVAL for unknown flags; EOPNOTSUPP for NO_DIRTY / HUGE_IOVA
     */
    static PciFunction plugForMockFlags(Machine machine, String unit, String provider, int mockFlags) {
        if ((mockFlags & ~dev.iommufd.mock.MockSelftestUapi.MOCK_FLAGS_DEVICE_VALID) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "mock device flags %#x has unknown bits", mockFlags);
        }
        int unsupported = mockFlags & (dev.iommufd.mock.MockSelftestUapi.MOCK_FLAGS_DEVICE_NO_DIRTY
                | dev.iommufd.mock.MockSelftestUapi.MOCK_FLAGS_DEVICE_HUGE_IOVA);
        if (unsupported != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "%s: mock device flags %#x (NO_DIRTY / HUGE_IOVA) not implemented: "
                    + "they describe the mock's page table, not a PCI function", provider, unsupported);
        }
        boolean pasid = (mockFlags & dev.iommufd.mock.MockSelftestUapi.MOCK_FLAGS_DEVICE_PASID) != 0;
        return plugEndpoint(machine, unit, pasid ? dev.iommufd.mock.MockSelftestUapi.MOCK_PASID_WIDTH : 0);
    }

    /**
     * Plugs an endpoint behind {@code unit} at the first free address of bus 1..255 (device 0..31, function 0).
     *
     * @throws ErrnoException ENOSPC when no address is free
     */
    static PciFunction plugEndpoint(Machine machine, String unit, int pasidBits) {
        Set<Integer> used = new HashSet<>();
        for (PciFunction f : machine.pci().functions()) {
            if (f.address().segment() == 0) {
                used.add(f.rid());
            }
        }
        for (int bus = 1; bus < 256; bus++) {
            for (int dev = 0; dev < 32; dev++) {
                PciAddress a = new PciAddress(0, bus, dev, 0);
                if (used.contains(a.rid())) {
                    continue;
                }
                PciFunctionSpec spec = new PciFunctionSpec(a, unit, pasidBits, false, false, true);
                try {
                    return machine.pci().add(spec);
                } catch (ErrnoException e) {
                    if (e.errno() != Errno.EEXIST) {
                        throw e;
                    }
                    used.add(a.rid());
                }
            }
        }
        throw ErrnoException.of(Errno.ENOSPC, "no free PCI address behind %s", unit);
    }
}
