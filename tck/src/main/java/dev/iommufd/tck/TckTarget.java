package dev.iommufd.tck;

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
}
