package dev.iommufd.cli;

import dev.iommufd.spi.Capability;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URLClassLoader;
import java.util.List;
import java.util.Set;
import java.util.StringJoiner;

/**
 * {@code iommufd-sim drivers}: every {@link IommuDriverProvider} on the class path (and in {@code --driver-path}
 * directories) with its id, version, SPI version, capabilities and where it came from; providers that break a
 * discovery rule are reported on standard error and make the command fail.
 */
final class DriversCommand implements Command {
    private static final Option DRIVER_PATH = Option.repeatableValue("driver-path", "DIR",
            "also load the driver jars (*.jar) in DIR");

    @Override
    public String name() {
        return "drivers";
    }

    @Override
    public String summary() {
        return "List the IOMMU drivers found on the class path";
    }

    @Override
    public String synopsis() {
        return "[--driver-path DIR]...";
    }

    @Override
    public String description() {
        return """
                Lists every IOMMU driver provider (dev.iommufd.spi.IommuDriverProvider) that ServiceLoader finds:
                the bundled drivers, and the jars in each --driver-path directory. For each driver: its id,
                description, version, the SPI version it was built for, its declared capabilities, the hardware
                models it drives and the jar it came from.

                A provider that breaks a discovery rule (cannot be loaded, malformed id, another SPI version, an id
                provided twice) is reported on standard error and the command exits with 1.
                """;
    }

    @Override
    public List<Option> options() {
        return List.of(DRIVER_PATH);
    }

    @Override
    public int run(ParsedArguments args, Terminal terminal) throws UsageException {
        if (!args.positional().isEmpty()) {
            throw new UsageException("unexpected argument '" + args.positional().get(0) + "'");
        }
        ClassLoader base = IommufdSim.class.getClassLoader();
        List<String> dirs = args.values(DRIVER_PATH.name());
        if (dirs.isEmpty()) {
            return list(DriverDiscovery.scan(base), terminal);
        }
        DriverPath path = DriverPath.of(dirs);
        try (URLClassLoader loader = path.classLoader(base)) {
            return list(DriverDiscovery.scan(loader), terminal);
        } catch (IOException e) {
            terminal.err().println("iommufd-sim drivers: cannot close the driver path class loader: " + e.getMessage());
            return ExitCode.FAILURE;
        }
    }

    private static int list(DriverDiscovery discovery, Terminal terminal) {
        PrintStream out = terminal.out();
        List<DriverDiscovery.Found> found = discovery.found();
        for (DriverDiscovery.Found f : found) {
            IommuDriverProvider p = f.provider();
            out.println(p.id() + " - " + p.description());
            out.println("  version:         " + p.version());
            out.println("  SPI version:     " + p.spiVersion());
            out.println("  capabilities:    " + capabilities(p.capabilities()));
            out.println("  hardware models: " + String.join(", ", p.hardwareModels()));
            out.println("  jar:             " + f.origin());
        }
        out.println(found.size() + (found.size() == 1 ? " driver" : " drivers") + " found (SPI version "
                + SpiVersion.CURRENT + ")");
        if (discovery.problems().isEmpty()) {
            return ExitCode.OK;
        }
        for (DriverDiscovery.Problem problem : discovery.problems()) {
            terminal.err().println("iommufd-sim drivers: " + problem.origin() + ": " + problem.message());
        }
        terminal.err().println("iommufd-sim drivers: " + discovery.problems().size()
                + (discovery.problems().size() == 1 ? " provider breaks" : " providers break")
                + " a discovery rule (see dev.iommufd.spi.IommuDriverProvider)");
        return ExitCode.FAILURE;
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
