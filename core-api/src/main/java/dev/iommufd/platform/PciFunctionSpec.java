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
 * @param virtualFunction whether it is an SR-IOV virtual function (added additively: the six-argument constructor
 *        makes a physical function); a VF's {@code pri} stands for the PRI of its PF, which the VFs share
 */
public record PciFunctionSpec(PciAddress address, String iommuUnit, int pasidBits, boolean ats, boolean pri, boolean acs,
        boolean virtualFunction) {

    /** A physical function ({@code virtualFunction} false). */
    public PciFunctionSpec(PciAddress address, String iommuUnit, int pasidBits, boolean ats, boolean pri, boolean acs) {
        this(address, iommuUnit, pasidBits, ats, pri, acs, false);
    }

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
        return new PciFunctionSpec(address, iommuUnit, bits, ats, pri, acs, virtualFunction);
    }

    public PciFunctionSpec withAts() {
        return new PciFunctionSpec(address, iommuUnit, pasidBits, true, pri, acs, virtualFunction);
    }

    public PciFunctionSpec withPri() {
        return new PciFunctionSpec(address, iommuUnit, pasidBits, true, true, acs, virtualFunction);
    }

    public PciFunctionSpec withoutAcs() {
        return new PciFunctionSpec(address, iommuUnit, pasidBits, ats, pri, false, virtualFunction);
    }

    /** The same function as an SR-IOV virtual function. */
    public PciFunctionSpec asVirtualFunction() {
        return new PciFunctionSpec(address, iommuUnit, pasidBits, ats, pri, acs, true);
    }
}
