package dev.iommufd.tck;

import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.spi.IommuDriverProvider;
import java.util.Objects;

/**
 * What the contract runs against: a driver provider and the machine it needs.
 *
 * @param provider the driver under test
 * @param machine the machine every rule builds afresh, or {@code null} when the driver declares none (then
 *        DISC-4 fails and every rule needing a machine is skipped, naming DISC-4)
 * @param origin where the provider came from (its jar), for reports
 */
public record TckTarget(IommuDriverProvider provider, MachineConfig machine, String origin) {
    public TckTarget {
        Objects.requireNonNull(provider, "provider");
        Objects.requireNonNull(origin, "origin");
    }

    /** The provider's reference machine ({@link IommuDriverProvider#referenceMachine()}), or none. */
    public static TckTarget of(IommuDriverProvider provider, String origin) {
        MachineConfig cfg;
        try {
            cfg = provider.referenceMachine().orElse(null);
        } catch (RuntimeException e) {
            cfg = null;
        }
        return new TckTarget(provider, cfg, origin);
    }

    /**
     * This target on the same machine with every unit the driver drives ({@link IommuDriverProvider#hardwareModels()})
     * switched to hardware preset {@code preset} (other units, RAM and PCI functions unchanged): to check the contract
     * on a weaker or different implementation of the hardware than the reference machine's. Without a machine, this
     * target unchanged (DISC-4 reports it).
     */
    public TckTarget withPreset(String preset) {
        Objects.requireNonNull(preset, "preset");
        return machine == null ? this : new TckTarget(provider, withPreset(machine, provider.hardwareModels(), preset), origin);
    }

    /** {@code config} with every unit whose model is in {@code models} switched to {@code preset}. */
    public static MachineConfig withPreset(MachineConfig config, java.util.Set<String> models, String preset) {
        java.util.List<IommuUnitConfig> units = new java.util.ArrayList<>();
        for (IommuUnitConfig u : config.iommus()) {
            units.add(models.contains(u.model()) ? new IommuUnitConfig(u.name(), u.model(), u.mmioBase(), preset, u.overrides()) : u);
        }
        return new MachineConfig(config.profile(), config.ramSize(), units, config.devices());
    }

    /** A short description of a machine for reports: its profile and units ({@code q35 dmar0=vtd/qemu}). */
    public static String describe(MachineConfig config) {
        StringBuilder sb = new StringBuilder(String.valueOf(config.profile()).toLowerCase(java.util.Locale.ROOT));
        for (IommuUnitConfig u : config.iommus()) {
            sb.append(' ').append(u.name()).append('=').append(u.model()).append('/').append(u.preset());
        }
        return sb.toString();
    }
}
