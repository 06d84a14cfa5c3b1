package dev.iommufd.platform;

/**
 * The attributes a PCIe DMA request carries besides its address.
 *
 * @param pasid the PASID in the TLP prefix, or {@link #NO_PASID} for a request without one
 * @param privileged the PASID prefix's privileged-mode bit (VT-d first stage U/S, SMMU PnU)
 * @param execute the PASID prefix's execute-requested bit (instruction fetch)
 */
public record DmaAttributes(int pasid, boolean privileged, boolean execute) {

    /** A request without a PASID prefix. Distinct from PASID 0. */
    public static final int NO_PASID = -1;

    /** A plain untagged request: no PASID, user mode, data access. */
    public static final DmaAttributes NONE = new DmaAttributes(NO_PASID, false, false);

    public DmaAttributes {
        if (pasid < NO_PASID || pasid >= (1 << 20)) {
            throw new IllegalArgumentException("PASID out of the 20-bit range: " + pasid);
        }
    }

    /** An untagged-mode request with this PASID. */
    public static DmaAttributes pasid(int pasid) {
        return new DmaAttributes(pasid, false, false);
    }

    public boolean hasPasid() {
        return pasid != NO_PASID;
    }
}
