package dev.iommufd.drivers;

import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.hw.HardwareModelProvider;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;

/**
 * The IOMMU hardware models on a class path: every {@link HardwareModelProvider} registered with
 * {@link java.util.ServiceLoader}.
 *
 * <p>Discovery checks that each id matches {@link IommuDriverProvider#ID_PATTERN} (model ids share the driver id
 * syntax), that each model names at least one preset, and that no two providers share an id; a violation fails
 * discovery with an {@link dev.iommufd.api.ErrnoException} naming the provider's jar (both jars for a duplicate id).
 * Immutable once loaded.
 */
public final class HardwareModelCatalog {

    /** Catalogs by class loader, for {@link #shared}; guarded by its own monitor. */
    private static final Map<ClassLoader, HardwareModelCatalog> SHARED = new WeakHashMap<>();

    private final Map<String, HardwareModelProvider> byId;

    private HardwareModelCatalog(Map<String, HardwareModelProvider> byId) {
        this.byId = byId;
    }

    /** Discovers the hardware models visible to {@code loader}. */
    public static HardwareModelCatalog load(ClassLoader loader) {
        return new HardwareModelCatalog(ProviderDiscovery.load(HardwareModelProvider.class, loader, HardwareModelProvider::id,
                HardwareModelCatalog::check));
    }

    /**
     * The catalog of {@code loader}, discovered once and cached for the life of the JVM (the cached providers keep
     * their loader reachable, which suits the application and test class loaders this is meant for).
     */
    public static HardwareModelCatalog shared(ClassLoader loader) {
        Objects.requireNonNull(loader, "loader");
        synchronized (SHARED) {
            HardwareModelCatalog c = SHARED.get(loader);
            if (c == null) {
                c = load(loader);
                SHARED.put(loader, c);
            }
            return c;
        }
    }

    private static String check(HardwareModelProvider p) {
        String id = p.id();
        if (id == null || !IommuDriverProvider.ID_PATTERN.matcher(id).matches()) {
            return "id '" + id + "' does not match " + IommuDriverProvider.ID_PATTERN.pattern();
        }
        List<String> presets = p.presets();
        if (presets == null || presets.isEmpty()) {
            return "hardware model '" + id + "' names no preset";
        }
        return null;
    }

    /**
     * The model with that id.
     *
     * @throws dev.iommufd.api.ErrnoException ENODEV naming the known models
     */
    public HardwareModelProvider get(String id) {
        Objects.requireNonNull(id, "id");
        HardwareModelProvider p = byId.get(id);
        if (p == null) {
            throw ProviderDiscovery.unknown("IOMMU hardware model", id, byId.keySet());
        }
        return p;
    }

    /** Every model, sorted by id. */
    public List<HardwareModelProvider> all() {
        return List.copyOf(byId.values());
    }

    /** The ids, sorted. */
    public List<String> ids() {
        return List.copyOf(byId.keySet());
    }

    @Override
    public String toString() {
        return "HardwareModelCatalog" + byId.keySet();
    }
}
