package dev.iommufd.benchmarks;

import java.util.HashMap;
import java.util.Map;

/**
 * Fixtures with a large read-mostly mapping (64 GiB in 4 KiB pages takes seconds to build and ~128 MiB of table
 * memory), built once per JVM and shared by the benchmarks that only translate through them or harvest and
 * restore their dirty bits. In a forked JMH run each benchmark has its own JVM, so sharing only matters for the
 * in-process quick run. Never closed: they live as long as the JVM.
 */
final class SharedFixtures {
    private static final Map<String, AutoCloseable> FIXTURES = new HashMap<>();

    private SharedFixtures() {
    }

    /** A domain with {@code [base, base + span)} mapped in 4 KiB pages, {@code devices} devices attached. */
    static synchronized DomainFixture mapped4k(Format format, boolean dirtyTracking, int devices, long base, long span) {
        String key = format + "/" + dirtyTracking + "/" + devices + "/" + base + "/" + span;
        DomainFixture f = (DomainFixture) FIXTURES.get(key);
        if (f == null) {
            f = new DomainFixture(format, dirtyTracking, devices);
            f.mapSpan(base, span, DomainFixture.PAGE);
            FIXTURES.put(key, f);
        }
        return f;
    }

    /** A nested setup ({@link NestedFixture}) over {@code span} bytes of guest IOVA. */
    static synchronized NestedFixture nested(Format format, long span) {
        String key = "nested/" + format + "/" + span;
        NestedFixture f = (NestedFixture) FIXTURES.get(key);
        if (f == null) {
            f = new NestedFixture(format, span);
            FIXTURES.put(key, f);
        }
        return f;
    }

    /** Drops every fixture (the smoke test, so that its small fixtures do not linger). */
    static synchronized void clear() {
        for (AutoCloseable f : FIXTURES.values()) {
            try {
                f.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        FIXTURES.clear();
    }
}
