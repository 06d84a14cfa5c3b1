package dev.iommufd.spi;

/**
 * What {@code IOMMU_GET_HW_INFO} returns for a device.
 *
 * @param type {@code enum iommu_hw_info_type} (0 NONE, 1 INTEL_VTD, 2 ARM_SMMUV3, ...)
 * @param data the vendor structure, little-endian, as the uAPI lays it out (empty for NONE)
 * @param capabilities {@code out_capabilities}: {@code IOMMU_HW_CAP_*} bits (DIRTY_TRACKING 1, PCI_PASID_EXEC 2,
 *        PCI_PASID_PRIV 4)
 * @param maxPasidLog2 {@code out_max_pasid_log2}: 0 when the device cannot use PASIDs
 */
public record HwInfo(int type, byte[] data, long capabilities, int maxPasidLog2) {
    public HwInfo {
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    /** IOMMU_HW_CAP_DIRTY_TRACKING. */
    public static final long CAP_DIRTY_TRACKING = 1L << 0;
    /** IOMMU_HW_CAP_PCI_PASID_EXEC. */
    public static final long CAP_PCI_PASID_EXEC = 1L << 1;
    /** IOMMU_HW_CAP_PCI_PASID_PRIV. */
    public static final long CAP_PCI_PASID_PRIV = 1L << 2;
}
