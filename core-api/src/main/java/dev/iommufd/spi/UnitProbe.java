package dev.iommufd.spi;

import dev.iommufd.platform.Machine;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.Set;

/**
 * The usual body of {@link IommuDriverProvider#probe}: find the machine's units of the driver's hardware models,
 * read each one's identification registers through MMIO, and turn the outcome into an {@link Availability}
 * without throwing. Not a hot path.
 *
 * <p>Outcome, in this order: the first unit whose check gives a reason makes the answer {@code no(reason)}; a
 * {@link RuntimeException} from reading the machine (a bus error, for instance) makes it
 * {@code no(readFailure + ": " + message, exception)}; a machine with no unit of {@code models} makes it
 * {@code no(noUnit)}; otherwise {@code yes()}. Units are visited in {@link Machine#iommuUnits()} order.
 */
public final class UnitProbe {
    private UnitProbe() {
    }

    /** Whether one unit of the driver's model is usable. */
    @FunctionalInterface
    public interface UnitCheck {
        /**
         * Reads {@code unit}'s registers through {@code machine}'s MMIO.
         *
         * @return null when the driver can use the unit, else a sentence naming the unit and why not
         */
        String unusableBecause(Machine machine, IommuUnitModel unit);
    }

    /**
     * Checks only the first unit of {@code models} (a driver that is available as soon as one unit is usable):
     * its check decides the answer.
     */
    public static Availability firstUnit(Machine machine, Set<String> models, UnitCheck check, String noUnit,
            String readFailure) {
        return probe(machine, models, check, noUnit, readFailure, false);
    }

    /** Checks every unit of {@code models} (a driver that needs all of them usable). */
    public static Availability everyUnit(Machine machine, Set<String> models, UnitCheck check, String noUnit,
            String readFailure) {
        return probe(machine, models, check, noUnit, readFailure, true);
    }

    private static Availability probe(Machine machine, Set<String> models, UnitCheck check, String noUnit,
            String readFailure, boolean every) {
        try {
            boolean found = false;
            for (IommuUnitModel unit : machine.iommuUnits()) {
                if (!models.contains(unit.model())) {
                    continue;
                }
                String reason = check.unusableBecause(machine, unit);
                if (reason != null) {
                    return Availability.no(reason);
                }
                if (!every) {
                    return Availability.yes();
                }
                found = true;
            }
            return found ? Availability.yes() : Availability.no(noUnit);
        } catch (RuntimeException e) {
            return Availability.no(readFailure + ": " + e.getMessage(), e);
        }
    }
}
