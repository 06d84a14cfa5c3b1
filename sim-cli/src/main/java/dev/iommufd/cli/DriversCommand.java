package dev.iommufd.cli;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.drivers.DriverCatalog;
import dev.iommufd.drivers.HardwareModelCatalog;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import dev.iommufd.spi.hw.HardwareModelProvider;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.StringJoiner;

/**
 * {@code iommufd-sim drivers}: every {@link IommuDriverProvider} on the class path (and in {@code --driver-path}
 * directories), as {@link DriverCatalog} discovers them, with id, version, SPI version, capabilities, where each
 * came from and whether it is available (probed on a {@link ProbeMachine}); then the hardware models.
 */
final class DriversCommand implements Command {
    private static final Option DRIVER_PATH = Option.repeatableValue("driver-path", "DIR",
            "also load the driver jars (*.jar) in DIR");
    private static final Option NO_PROBE = Option.flag("no-probe",
            "do not build a simulated machine to ask each driver whether it is available");

    @Override
    public String name() {
        return "drivers";
    }

    @Override
    public String summary() {
        return "List the IOMMU drivers and hardware models found on the class path";
    }

    @Override
    public String synopsis() {
        return "[--driver-path DIR]... [--no-probe]";
    }

    @Override
    public String description() {
        return """
                Lists every IOMMU driver provider (dev.iommufd.spi.IommuDriverProvider) that ServiceLoader finds:
                the bundled drivers, and the jars in each --driver-path directory. For each driver: its id,
                description, version, the SPI version it was built for, its declared capabilities, the hardware
                models it drives, the jar it came from, and whether it is available: the driver's probe() on a
                simulated machine with one unit of each of its hardware models (q35 for vtd and amdvi, virt for
                smmuv3, pseries for ppc-spapr), or why not. Then every hardware model with its presets.

                Discovery follows the rules of IommuDriverProvider: a provider that cannot be loaded, has a
                malformed id, was built for another SPI version or shares its id with another jar fails discovery;
                the command then prints the reason (naming the jar) and exits with 1.
                """;
    }

    @Override
    public List<Option> options() {
        return List.of(DRIVER_PATH, NO_PROBE);
    }

    @Override
    public int run(ParsedArguments args, Terminal terminal) throws UsageException {
        if (!args.positional().isEmpty()) {
            throw new UsageException("unexpected argument '" + args.positional().get(0) + "'");
        }
        boolean probe = !args.has(NO_PROBE.name());
        ClassLoader base = IommufdSim.class.getClassLoader();
        List<String> dirs = args.values(DRIVER_PATH.name());
        if (dirs.isEmpty()) {
            return list(base, probe, terminal);
        }
        DriverPath path = DriverPath.of(dirs);
        try (URLClassLoader loader = path.classLoader(base)) {
            return list(loader, probe, terminal);
        } catch (IOException e) {
            terminal.err().println("iommufd-sim drivers: cannot close the driver path class loader: " + e.getMessage());
            return ExitCode.FAILURE;
        }
    }

    private static int list(ClassLoader loader, boolean probe, Terminal terminal) {
        DriverCatalog drivers;
        HardwareModelCatalog models;
        try {
            drivers = DriverCatalog.load(loader);
            models = HardwareModelCatalog.load(loader);
        } catch (ErrnoException e) {
            terminal.err().println("iommufd-sim drivers: discovery failed: " + e.getMessage());
            return ExitCode.FAILURE;
        }
        PrintStream out = terminal.out();
        for (IommuDriverProvider p : drivers.all()) {
            out.println(p.id() + " - " + p.description());
            out.println("  version:         " + p.version());
            out.println("  SPI version:     " + p.spiVersion());
            out.println("  capabilities:    " + capabilities(p.capabilities()));
            out.println("  hardware models: " + String.join(", ", sorted(p.hardwareModels())));
            out.println("  jar:             " + readable(DriverCatalog.location(p)));
            if (probe) {
                ProbeMachine.Outcome o = ProbeMachine.probe(p, models);
                Availability a = o.availability();
                String on = o.machine().isEmpty() ? "" : " (probed on " + o.machine() + ")";
                out.println("  available:       " + (a.available() ? "yes" + on : "no: " + a.reason() + on));
            }
        }
        int n = drivers.all().size();
        out.println(n + (n == 1 ? " driver" : " drivers") + " found (SPI version " + SpiVersion.CURRENT + ")");
        for (HardwareModelProvider m : models.all()) {
            out.println("hardware model " + m.id() + ": presets " + String.join(", ", m.presets()) + "; jar "
                    + readable(locationOf(m)));
        }
        return ExitCode.OK;
    }

    private static List<String> sorted(Set<String> s) {
        return s.stream().sorted().toList();
    }

    private static String locationOf(HardwareModelProvider m) {
        var source = m.getClass().getProtectionDomain().getCodeSource();
        return source == null || source.getLocation() == null ? "(unknown)" : source.getLocation().toString();
    }

    /** A {@code file:} URL as a path; anything else as it is. */
    static String readable(String location) {
        if (location.startsWith("file:")) {
            try {
                return Path.of(URI.create(location)).toString();
            } catch (IllegalArgumentException e) {
                return location;
            }
        }
        return location;
    }

    private static String capabilities(Set<Capability> caps) {
        if (caps.isEmpty()) {
            return "(none)";
        }
        StringJoiner j = new StringJoiner(", ");
        for (Capability c : Capability.values()) {
            if (caps.contains(c)) {
                j.add(c.name());
            }
        }
        return j.toString();
    }
}
