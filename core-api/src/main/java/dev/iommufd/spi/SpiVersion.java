package dev.iommufd.spi;

/**
 * The driver SPI's version. A provider reports the version it was compiled against
 * ({@link IommuDriverProvider#spiVersion()}); discovery refuses providers built for another major version.
 *
 * <p>Version history: 1 — the first SPI (kernel iommu_ops/iommu_domain_ops/iommu_dirty_ops of about v6.17).
 */
public final class SpiVersion {
    /** The SPI version of this core-api. */
    public static final int CURRENT = 1;

    private SpiVersion() {
    }
}
