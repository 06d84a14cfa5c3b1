package dev.iommufd.cli;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.drivers.HardwareModelCatalog;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.hw.HardwareModelProvider;
import java.util.ArrayList;
import java.util.List;

/**
 * The machine {@code iommufd-sim drivers} probes a driver on: the profile where its first hardware model has a
 * fixed MMIO address (q35 for vtd and amdvi, virt for smmuv3, pseries for ppc-spapr; q35 otherwise), 1 GiB of RAM
 * and one unit of each of the driver's hardware models with the model's default preset.
 */
final class ProbeMachine {
    private ProbeMachine() {
    }

    /**
     * The outcome of probing one driver.
     *
     * @param availability what {@link IommuDriverProvider#probe} said, or why it could not be asked
     * @param machine the machine it was probed on, for the user ({@code q35 with vtd unit vtd0 (preset qemu)});
     *        empty when no machine could be built
     */
    record Outcome(Availability availability, String machine) {
    }

    /** Builds the machine for {@code provider}, probes it and closes the machine. Never throws. */
    static Outcome probe(IommuDriverProvider provider, HardwareModelCatalog models) {
        List<String> wanted = new ArrayList<>(provider.hardwareModels());
        wanted.sort(null);
        if (wanted.isEmpty()) {
            return new Outcome(Availability.no("the driver names no hardware model"), "");
        }
        MachineProfile profile = profileFor(wanted.get(0));
        MachineConfig.Builder config = MachineConfig.builder(profile);
        StringBuilder description = new StringBuilder(profile.id());
        for (String model : wanted) {
            HardwareModelProvider hw;
            try {
                hw = models.get(model);
            } catch (ErrnoException e) {
                return new Outcome(Availability.no("no hardware model '" + model + "' on the class path (known: "
                        + String.join(", ", models.ids()) + ")"), "");
            }
            String preset = hw.presets().get(0);
            String unit = unitName(model);
            config.iommu(IommuUnitConfig.of(unit, model, preset));
            description.append(description.length() == profile.id().length() ? " with " : ", ")
                    .append(model).append(" unit ").append(unit).append(" (preset ").append(preset).append(')');
        }
        try (SimulatedMachine machine = SimulatedMachine.create(config.build(), models)) {
            Availability a = provider.probe(machine);
            return new Outcome(a != null ? a : Availability.no("probe returned null (a driver bug)"),
                    description.toString());
        } catch (ErrnoException e) {
            return new Outcome(Availability.no("cannot build the machine: " + e.getMessage(), e), description.toString());
        } catch (RuntimeException | LinkageError e) {
            return new Outcome(Availability.no("probe failed: " + e, e), description.toString());
        }
    }

    /**
     * The name of the probe machine's unit of {@code model}: {@code dmar0} for VT-d and {@code ivhd0} for AMD-Vi
     * (as Linux names them in /sys/class/iommu), {@code smmu0} for SMMUv3, else {@code <model>-0}.
     */
    static String unitName(String model) {
        return switch (model) {
            case "vtd" -> "dmar0";
            case "amdvi" -> "ivhd0";
            case "smmuv3" -> "smmu0";
            default -> model + "-0";
        };
    }

    /** The profile on which {@code model} has its own default MMIO address, else q35. */
    static MachineProfile profileFor(String model) {
        for (MachineProfile p : MachineProfile.values()) {
            if (p.defaultIommuBase(model) != p.defaultIommuBase("")) {
                return p;
            }
        }
        return MachineProfile.Q35;
    }
}
