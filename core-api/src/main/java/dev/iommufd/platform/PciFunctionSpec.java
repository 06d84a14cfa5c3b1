package dev.iommufd.platform;

import java.util.Objects;

/**
 * How to place a PCI function on a machine.
 *
 * @param address where it sits
 * @param iommuUnit the name of the IOMMU unit it sits behind
 * @param pasidBits PASID capability width (0 = none, else 1..20)
 * @param ats whether it has an ATS capability
 * @param pri whether it has a PRI capability (requires ATS)
 * @param acs whether the function is isolated by ACS; functions of one device without ACS share an IOMMU group
 */
public record PciFunctionSpec(PciAddress address, String iommuUnit, int pasidBits, boolean ats, boolean pri, boolean acs) {

    public PciFunctionSpec {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(iommuUnit, "iommuUnit");
        if (pasidBits < 0 || pasidBits > 20) {
            throw new IllegalArgumentException("pasidBits must be 0..20: " + pasidBits);
        }
        if (pri && !ats) {
            throw new IllegalArgumentException("a PRI-capable function needs ATS: " + address);
        }
    }

    /** A plain isolated endpoint without PASID, ATS or PRI. */
    public static PciFunctionSpec endpoint(String bdf, String iommuUnit) {
        return new PciFunctionSpec(PciAddress.parse(bdf), iommuUnit, 0, false, false, true);
    }

    public PciFunctionSpec withPasid(int bits) {
        return new PciFunctionSpec(address, iommuUnit, bits, ats, pri, acs);
    }

    public PciFunctionSpec withAts() {
        return new PciFunctionSpec(address, iommuUnit, pasidBits, true, pri, acs);
    }

    public PciFunctionSpec withPri() {
        return new PciFunctionSpec(address, iommuUnit, pasidBits, true, true, acs);
    }

    public PciFunctionSpec withoutAcs() {
        return new PciFunctionSpec(address, iommuUnit, pasidBits, ats, pri, false);
    }
}
