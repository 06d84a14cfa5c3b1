package dev.iommufd.vtd;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.PasidTableEntry;

/**
 * The identity domain (Linux {@code identity_domain}): pass-through, legacy TT = 2 or scalable-mode PGTT = 4,
 * with domain ID {@link DmarUnit#FLPT_DEFAULT_DID}. Needs ECAP.PT.
 */
final class IdentityDomain extends VtdDomain {

    IdentityDomain(VtdDriver driver) {
        super(driver);
    }

    @Override
    public DomainType type() {
        return DomainType.IDENTITY;
    }

    private void check(VtdDevice d) {
        if (!d.unit.has(ExtendedCapabilityRegister.PT)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: %s has no pass-through support (ECAP.PT)", d.unit.name);
        }
    }

    private long q0(DmarUnit u) {
        return PasidTableEntry.encodeQ0(0, u.agaw, PasidTableEntry.PGTT_PASS_THROUGH, false, false);
    }

    private long q1(DmarUnit u) {
        return PasidTableEntry.encodeQ1(DmarUnit.FLPT_DEFAULT_DID, u.has(ExtendedCapabilityRegister.SMPWC), false);
    }

    @Override
    public void attachDevice(DeviceHandle handle) {
        VtdDevice d = device(handle);
        check(d);
        synchronized (driver.configLock) {
            VtdDomain old = d.domain;
            if (old == this) {
                return;
            }
            if (d.unit.scalable) {
                d.writePasidEntry(0, q0(d.unit), q1(d.unit), 0);
            } else {
                d.clearLegacyContext();
                d.writeLegacyContext(0, ContextEntry.TT_PASS_THROUGH, d.unit.agaw, DmarUnit.FLPT_DEFAULT_DID);
            }
            becomeRidDomain(d, old);
        }
    }

    @Override
    public void setDevicePasid(DeviceHandle handle, int pasid, IommuDomain oldDomain) {
        VtdDevice d = device(handle);
        check(d);
        d.checkPasid(pasid);
        synchronized (driver.configLock) {
            VtdDomain old = d.pasidDomains.get(pasid);
            if (old == this) {
                return;
            }
            d.writePasidEntry(pasid, q0(d.unit), q1(d.unit), 0);
            becomePasidDomain(d, pasid, old);
        }
    }

    @Override
    void detach(VtdDevice device, int pasid) {
    }

    @Override
    public void free() {
    }
}
