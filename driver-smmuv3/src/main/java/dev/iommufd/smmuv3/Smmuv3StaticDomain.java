package dev.iommufd.smmuv3;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;

/**
 * The blocking domain ({@code arm_smmu_blocked_domain}: an abort STE, V=1 Config=abort) and the identity domain
 * ({@code arm_smmu_identity_domain}: a bypass STE). One of each per driver; never freed.
 */
final class Smmuv3StaticDomain implements IommuDomain {
    private final Smmuv3Driver driver;
    private final DomainType type;

    Smmuv3StaticDomain(Smmuv3Driver driver, DomainType type) {
        this.driver = driver;
        this.type = type;
    }

    @Override
    public DomainType type() {
        return type;
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    @Override
    public void attachDevice(DeviceHandle device) {
        driver.master(device).attachStatic(this);
    }

    /** The blocked domain removes a PASID attachment ({@code arm_smmu_blocking_set_dev_pasid}). */
    @Override
    public void setDevicePasid(DeviceHandle device, int pasid, IommuDomain old) {
        if (type != DomainType.BLOCKED) {
            throw ErrnoException.notSupported("attaching the identity domain to a PASID");
        }
        driver.master(device).removePasid(pasid);
    }

    @Override
    public void free() {
        // static domains live as long as the driver
    }
}
