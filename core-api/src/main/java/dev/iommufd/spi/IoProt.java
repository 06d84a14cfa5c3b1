package dev.iommufd.spi;

/** Mapping permissions passed to {@link IommuDomain#mapPages}; the kernel's {@code IOMMU_*} prot bits. */
public final class IoProt {
    public static final int READ = 1 << 0;
    public static final int WRITE = 1 << 1;
    /** Cache-coherent (snooped) DMA. */
    public static final int CACHE = 1 << 2;
    public static final int NOEXEC = 1 << 3;
    public static final int MMIO = 1 << 4;
    public static final int PRIV = 1 << 5;

    private IoProt() {
    }
}
