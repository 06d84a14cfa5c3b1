package dev.iommufd.mock;

import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;

/** The mock's identity domain: context MODE = identity, so IOVA equals the physical address. Static. */
public final class MockIdentityDomain implements IommuDomain {
    private final MockIommu driver;

    MockIdentityDomain(MockIommu driver) {
        this.driver = driver;
    }

    @Override
    public DomainType type() {
        return DomainType.IDENTITY;
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
