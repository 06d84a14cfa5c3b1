package dev.iommufd.spi.hw;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * A unit's register file as a snapshot recorded it: each architected register with its value. What a
 * {@link StructureDecoder} starts from, instead of a live unit.
 */
public final class RegisterValues {
    /** One register and its value. */
    public record Value(RegisterInfo register, long value) {
    }

    private final Map<String, Value> byName = new LinkedHashMap<>();

    public RegisterValues(List<Value> values) {
        for (Value v : values) {
            byName.put(v.register().name(), v);
        }
    }

    /** The register called {@code name} as the architecture writes it, if recorded. */
    public OptionalLong get(String name) {
        Value v = byName.get(name);
        return v == null ? OptionalLong.empty() : OptionalLong.of(v.value());
    }

    /** The register called {@code name} (offset, width), or null when it was not recorded. */
    public RegisterInfo info(String name) {
        Value v = byName.get(name);
        return v == null ? null : v.register();
    }

    /** The register called {@code name}, or 0 when it was not recorded. */
    public long valueOr0(String name) {
        Value v = byName.get(name);
        return v == null ? 0 : v.value();
    }

    /** Every recorded register, in the order given. */
    public List<Value> all() {
        return List.copyOf(byName.values());
    }
}
