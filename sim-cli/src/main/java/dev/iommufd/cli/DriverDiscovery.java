package dev.iommufd.cli;

import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * The {@link IommuDriverProvider}s that {@link ServiceLoader} finds through a class loader, each with the jar (or
 * directory) it came from, and the providers that break a discovery rule of {@link IommuDriverProvider} (a class
 * that cannot be loaded or instantiated, an id outside {@link IommuDriverProvider#ID_PATTERN}, an SPI version
 * other than {@link SpiVersion#CURRENT}, an id found in two jars). A provider that breaks a rule is reported,
 * never listed as usable.
 */
final class DriverDiscovery {

    /**
     * A provider that passed the discovery rules.
     *
     * @param provider the provider
     * @param origin the jar or class directory it was loaded from
     */
    record Found(IommuDriverProvider provider, String origin) {
    }

    /**
     * A rule a provider broke.
     *
     * @param origin the jar or class directory concerned (both jars for a duplicate id)
     * @param message what is wrong
     */
    record Problem(String origin, String message) {
    }

    /** Guards against a ServiceLoader iterator that keeps failing on the same entry. */
    private static final int MAX_ERRORS = 1000;

    private final List<Found> found;
    private final List<Problem> problems;

    private DriverDiscovery(List<Found> found, List<Problem> problems) {
        this.found = List.copyOf(found);
        this.problems = List.copyOf(problems);
    }

    /** Finds the providers visible to {@code loader}. */
    static DriverDiscovery scan(ClassLoader loader) {
        List<Found> found = new ArrayList<>();
        List<Problem> problems = new ArrayList<>();
        Map<String, Found> byId = new HashMap<>();
        Iterator<ServiceLoader.Provider<IommuDriverProvider>> it =
                ServiceLoader.load(IommuDriverProvider.class, loader).stream().iterator();
        int errors = 0;
        while (errors < MAX_ERRORS) {
            ServiceLoader.Provider<IommuDriverProvider> entry;
            try {
                if (!it.hasNext()) {
                    break;
                }
                entry = it.next();
            } catch (ServiceConfigurationError | LinkageError e) {
                errors++;
                problems.add(new Problem("(class path)", "a provider cannot be loaded: " + describe(e)));
                continue;
            }
            String origin = originOf(entry.type());
            IommuDriverProvider provider;
            String id;
            int spi;
            try {
                provider = entry.get();
                id = provider.id();
                spi = provider.spiVersion();
                provider.version();
                provider.capabilities();
            } catch (ServiceConfigurationError | RuntimeException | LinkageError e) {
                problems.add(new Problem(origin, entry.type().getName() + " cannot be used: " + describe(e)));
                continue;
            }
            if (id == null || !IommuDriverProvider.ID_PATTERN.matcher(id).matches()) {
                problems.add(new Problem(origin, entry.type().getName() + " has the id '" + id
                        + "', which does not match " + IommuDriverProvider.ID_PATTERN.pattern()));
                continue;
            }
            if (spi != SpiVersion.CURRENT) {
                problems.add(new Problem(origin, "driver '" + id + "' was built for SPI version " + spi
                        + ", this core implements SPI version " + SpiVersion.CURRENT));
                continue;
            }
            Found previous = byId.get(id);
            if (previous != null) {
                problems.add(new Problem(previous.origin() + " and " + origin,
                        "the driver id '" + id + "' is provided twice"));
                found.remove(previous);
                continue;
            }
            Found f = new Found(provider, origin);
            byId.put(id, f);
            found.add(f);
        }
        found.sort((a, b) -> a.provider().id().compareTo(b.provider().id()));
        return new DriverDiscovery(found, problems);
    }

    /** The providers that passed every rule, by id. */
    List<Found> found() {
        return found;
    }

    /** The rules broken. */
    List<Problem> problems() {
        return problems;
    }

    private static String originOf(Class<?> type) {
        CodeSource source = type.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            return "(unknown location of " + type.getName() + ")";
        }
        try {
            return Path.of(source.getLocation().toURI()).toString();
        } catch (URISyntaxException | IllegalArgumentException e) {
            return source.getLocation().toString();
        }
    }

    private static String describe(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (b.length() > 0) {
                b.append(" <- ");
            }
            b.append(t.getClass().getSimpleName());
            if (t.getMessage() != null) {
                b.append(": ").append(t.getMessage());
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return b.toString();
    }
}
