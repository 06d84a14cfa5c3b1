package dev.iommufd.core.selftest;

import dev.iommufd.mock.MockIommu;
import dev.iommufd.mock.MockIommuProvider;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.IommuDriverProvider;
import java.util.Map;

/**
 * The kernel's own choice: the selftest mock domain (driver-mock) on q35, 2 KiB IO pages (MOCK_IO_PAGE_SIZE),
 * aperture [MOCK_APERTURE_START, MOCK_APERTURE_LAST] = [16 MiB, 2 GiB), every mock test op.
 */
public final class MockSelftestDomainProvider implements SelftestDomainProvider {
    public static final MockSelftestDomainProvider INSTANCE = new MockSelftestDomainProvider();

    @Override
    public String name() {
        return "mock";
    }

    @Override
    public MachineConfig machineConfig(long ramSize) {
        return MachineConfig.builder(MachineProfile.Q35).ramSize(ramSize)
                .iommu(new IommuUnitConfig(unit(), "mock", 0xfed9_0000L, "default", Map.of())).build();
    }

    @Override
    public String unit() {
        return "mock0";
    }

    @Override
    public IommuDriverProvider driver() {
        return new MockIommuProvider();
    }

    @Override
    public PciFunction createDevice(Machine machine, int mockFlags) {
        return MockIommu.createDevice(machine, mockFlags);
    }

    @Override
    public long ioPageSize() {
        return 2048; // MOCK_IO_PAGE_SIZE = PAGE_SIZE / 2
    }

    @Override
    public long apertureStart() {
        return MockSelftestUapi.MOCK_APERTURE_START;
    }

    @Override
    public long apertureLast() {
        return MockSelftestUapi.MOCK_APERTURE_LAST;
    }

    @Override
    public int hwInfoType() {
        return MockSelftestUapi.IOMMU_HW_INFO_TYPE_SELFTEST;
    }

    @Override
    public boolean supports(Feature feature) {
        return true;
    }

    @Override
    public java.util.List<long[]> reservedIovas() {
        return java.util.List.of(); // the mock reports no reserved region
    }

    @Override
    public String toString() {
        return name();
    }
}
