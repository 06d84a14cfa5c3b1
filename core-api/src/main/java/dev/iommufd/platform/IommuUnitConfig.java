package dev.iommufd.platform;

import java.util.Map;
import java.util.Objects;

/**
 * One IOMMU unit to instantiate on a machine.
 *
 * @param name the unit's name ({@code dmar0}, {@code smmu0}, ...)
 * @param model the hardware model id, matching a {@link dev.iommufd.spi.hw.HardwareModelProvider#id()}
 * @param mmioBase where its register window goes; 0 for the profile's default
 * @param preset a named parameter set the model defines ({@code qemu}, {@code server}, ...)
 * @param overrides per-parameter overrides, by the model's parameter names (for example {@code CAP_REG},
 *        {@code ECAP_REG}, {@code IDR0}); unknown names fail at creation
 */
public record IommuUnitConfig(String name, String model, long mmioBase, String preset, Map<String, Long> overrides) {

    public IommuUnitConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(preset, "preset");
        overrides = Map.copyOf(overrides);
    }

    public static IommuUnitConfig of(String name, String model, String preset) {
        return new IommuUnitConfig(name, model, 0, preset, Map.of());
    }
}
