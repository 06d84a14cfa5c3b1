package dev.iommufd.vtd;

import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;

/**
 * The blocking domain (Linux {@code blocking_domain}): a legacy context entry or a scalable-mode PASID entry is
 * torn down, so the unit faults every request of the device (or PASID).
 */
final class BlockedDomain extends VtdDomain {

    BlockedDomain(VtdDriver driver) {
        super(driver);
    }

    @Override
    public DomainType type() {
        return DomainType.BLOCKED;
    }

    @Override
    public void attachDevice(DeviceHandle handle) {
        VtdDevice d = device(handle);
        synchronized (driver.configLock) {
            VtdDomain old = d.domain;
            if (old == this) {
                return;
            }
            if (d.unit.scalable) {
                d.clearPasidEntry(0);
            } else {
                d.clearLegacyContext();
            }
            becomeRidDomain(d, old);
        }
    }

    @Override
    public void setDevicePasid(DeviceHandle handle, int pasid, IommuDomain oldDomain) {
        VtdDevice d = device(handle);
        d.checkPasid(pasid);
        synchronized (driver.configLock) {
            d.clearPasidEntry(pasid);
            VtdDomain old = d.pasidDomains.remove(pasid);
            if (old != null) {
                old.detach(d, pasid);
            }
        }
    }

    @Override
    void detach(VtdDevice device, int pasid) {
    }

    @Override
    public void free() {
    }
}
