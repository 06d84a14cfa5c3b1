package dev.iommufd.spi;

/**
 * A range of IOVA that a device's DMA must not be mapped into, or that must be mapped 1:1 (the kernel's
 * {@code struct iommu_resv_region}).
 *
 * @param start first IOVA
 * @param length bytes
 * @param prot {@link IoProt} bits for DIRECT regions
 * @param type what it is
 */
public record ReservedRegion(long start, long length, int prot, Type type) {

    /** {@code enum iommu_resv_type}. */
    public enum Type {
        /** Must be identity-mapped at all times. */
        DIRECT,
        /** Identity-mapped but may be relaxed for device assignment (iommufd ignores these). */
        DIRECT_RELAXABLE,
        /** Never mapped. */
        RESERVED,
        /** The hardware MSI window (untranslated, e.g. x86's 0xfee0_0000..0xfeef_ffff). */
        MSI,
        /** A software-managed MSI window that the OS maps (Arm ITS doorbells). */
        SW_MSI
    }

    public long last() {
        return start + length - 1;
    }

    /** x86's interrupt window, reserved in every x86 IOAS. */
    public static final ReservedRegion X86_MSI_WINDOW = new ReservedRegion(0xfee0_0000L, 0x10_0000L, IoProt.MMIO, Type.MSI);

    /** Linux's Arm software MSI IOVA window (MSI_IOVA_BASE 0x800_0000, 1 MiB). */
    public static final ReservedRegion ARM_SW_MSI_WINDOW = new ReservedRegion(0x0800_0000L, 0x10_0000L, IoProt.WRITE | IoProt.MMIO, Type.SW_MSI);
}
