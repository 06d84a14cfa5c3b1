package dev.iommufd.mock;

import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;

/**
 * The mock's blocking domain ({@code mock_blocking_domain}), also every device's default domain: its context
 * entries have MODE = blocked. Attaching never fails; on a PASID it removes the PASID's attachment. Static: never
 * freed.
 */
public final class MockBlockedDomain implements IommuDomain {
    private final MockIommu driver;

    MockBlockedDomain(MockIommu driver) {
        this.driver = driver;
    }

    @Override
    public DomainType type() {
        return DomainType.BLOCKED;
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    @Override
    public void attachDevice(DeviceHandle device) {
        driver.attach(device, this);
    }

    @Override
    public void setDevicePasid(DeviceHandle device, int pasid, IommuDomain old) {
        driver.setPasid(device, pasid, this);
    }

    @Override
    public void free() {
        // a static domain: nothing to free
    }
}
