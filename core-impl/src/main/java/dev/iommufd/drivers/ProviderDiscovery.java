package dev.iommufd.drivers;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.net.URL;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Finds the providers of one service interface with {@link ServiceLoader}, in the manner of Lucene's
 * {@code NamedSPILoader}: every provider has a unique id; each is validated as it is found; a violation fails the
 * whole discovery with a message naming the provider class and where it was loaded from (its jar).
 *
 * @param <P> the service interface
 */
final class ProviderDiscovery<P> {

    /** A provider that failed validation: the reason, without the location (added by discovery). */
    @FunctionalInterface
    interface Validator<P> {
        /** Returns null when valid, else what is wrong. */
        String check(P provider);
    }

    private ProviderDiscovery() {
    }

    /**
     * Loads every provider of {@code service} visible to {@code loader}, keyed by id (sorted).
     *
     * @throws ErrnoException EINVAL when a provider cannot be loaded or fails {@code validator};
     *         EEXIST when two providers share an id, naming both classes and both locations
     */
    static <P> Map<String, P> load(Class<P> service, ClassLoader loader, Function<P, String> id, Validator<P> validator) {
        Objects.requireNonNull(loader, "loader");
        TreeMap<String, P> byId = new TreeMap<>();
        Iterator<P> it = ServiceLoader.load(service, loader).iterator();
        while (true) {
            P provider;
            try {
                if (!it.hasNext()) {
                    break;
                }
                provider = it.next();
            } catch (ServiceConfigurationError e) {
                throw new ErrnoException(Errno.EINVAL, "discovery of " + service.getSimpleName() + " failed: " + e.getMessage(), e);
            }
            String problem = validator.check(provider);
            if (problem != null) {
                throw ErrnoException.of(Errno.EINVAL, "%s %s from %s: %s", service.getSimpleName(), provider.getClass().getName(),
                        location(provider.getClass()), problem);
            }
            String key = id.apply(provider);
            P previous = byId.putIfAbsent(key, provider);
            if (previous != null) {
                throw ErrnoException.of(Errno.EEXIST, "two %s providers have the id '%s': %s from %s and %s from %s",
                        service.getSimpleName(), key, previous.getClass().getName(), location(previous.getClass()),
                        provider.getClass().getName(), location(provider.getClass()));
            }
        }
        return Collections.unmodifiableMap(byId);
    }

    /** Where a class was loaded from: its jar or class directory. */
    static String location(Class<?> type) {
        try {
            CodeSource source = type.getProtectionDomain().getCodeSource();
            if (source != null && source.getLocation() != null) {
                return source.getLocation().toString();
            }
        } catch (SecurityException e) {
            // fall through to the resource URL
        }
        URL resource = type.getResource(type.getSimpleName() + ".class");
        return resource != null ? resource.toString() : "an unknown location";
    }

    /** The ENODEV failure of a lookup by an unknown id. */
    static ErrnoException unknown(String what, String id, Iterable<String> known) {
        List<String> ids = new ArrayList<>();
        known.forEach(ids::add);
        return ErrnoException.of(Errno.ENODEV, "no %s with id '%s' (known: %s)", what, id, ids);
    }
}
