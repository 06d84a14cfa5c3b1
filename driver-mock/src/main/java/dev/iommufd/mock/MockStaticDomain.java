package dev.iommufd.mock;

import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;

/**
 * One of the mock's two static domains, which differ only in the context-entry MODE the driver writes for them:
 * <ul>
 *   <li>{@link DomainType#BLOCKED} ({@code mock_blocking_domain}), also every device's default domain: MODE =
 *       blocked. Attaching never fails; on a PASID it removes the PASID's attachment.</li>
 *   <li>{@link DomainType#IDENTITY}: MODE = identity, so IOVA equals the physical address.</li>
 * </ul>
 * Static: one of each per driver, never freed ({@link #free()} does nothing).
 */
public final class MockStaticDomain implements IommuDomain {
    private final MockIommu driver;
    /** BLOCKED or IDENTITY; fixed at construction. */
    private final DomainType type;

    MockStaticDomain(MockIommu driver, DomainType type) {
        if (type != DomainType.BLOCKED && type != DomainType.IDENTITY) {
            throw new IllegalArgumentException("a static mock domain is BLOCKED or IDENTITY, not " + type);
        }
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
