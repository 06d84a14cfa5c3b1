package dev.iommufd.drivers;

import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The IOMMU drivers on a class path: every {@link IommuDriverProvider} registered with {@link java.util.ServiceLoader}.
 *
 * <p>Discovery checks the rules of {@link IommuDriverProvider}: the id matches {@link IommuDriverProvider#ID_PATTERN},
 * {@link IommuDriverProvider#spiVersion()} equals {@link SpiVersion#CURRENT}, and no two providers share an id. A
 * violation fails discovery with an {@link dev.iommufd.api.ErrnoException} naming the provider's jar (both jars for a
 * duplicate id). Immutable once loaded.
 */
public final class DriverCatalog {

    private final Map<String, IommuDriverProvider> byId;

    private DriverCatalog(Map<String, IommuDriverProvider> byId) {
        this.byId = byId;
    }

    /** Discovers the drivers visible to {@code loader}. */
    public static DriverCatalog load(ClassLoader loader) {
        return new DriverCatalog(ProviderDiscovery.load(IommuDriverProvider.class, loader, IommuDriverProvider::id,
                DriverCatalog::check));
    }

    /** Discovers the drivers visible to this class's loader. */
    public static DriverCatalog load() {
        return load(DriverCatalog.class.getClassLoader());
    }

    private static String check(IommuDriverProvider p) {
        String id = p.id();
        if (id == null || !IommuDriverProvider.ID_PATTERN.matcher(id).matches()) {
            return "id '" + id + "' does not match " + IommuDriverProvider.ID_PATTERN.pattern();
        }
        if (p.spiVersion() != SpiVersion.CURRENT) {
            return "driver '" + id + "' was built for SPI version " + p.spiVersion() + ", this core speaks " + SpiVersion.CURRENT;
        }
        if (p.capabilities() == null) {
            return "driver '" + id + "' reports null capabilities";
        }
        return null;
    }

    /**
     * The driver with that id.
     *
     * @throws dev.iommufd.api.ErrnoException ENODEV listing the known ids
     */
    public IommuDriverProvider get(String id) {
        Objects.requireNonNull(id, "id");
        IommuDriverProvider p = byId.get(id);
        if (p == null) {
            throw ProviderDiscovery.unknown("IOMMU driver", id, byId.keySet());
        }
        return p;
    }

    /** Every driver, sorted by id. */
    public List<IommuDriverProvider> all() {
        return List.copyOf(byId.values());
    }

    /** The ids, sorted. */
    public List<String> ids() {
        return List.copyOf(byId.keySet());
    }

    /** Where a provider was loaded from (its jar or class directory). */
    public static String location(IommuDriverProvider provider) {
        return ProviderDiscovery.location(provider.getClass());
    }

    @Override
    public String toString() {
        return "DriverCatalog" + byId.keySet();
    }
}
