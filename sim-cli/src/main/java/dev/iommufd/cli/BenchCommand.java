package dev.iommufd.cli;

import dev.iommufd.benchmarks.BenchSuite;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** {@code iommufd-sim bench}: runs the benchmark suite ({@link BenchSuite}) and prints the table. */
final class BenchCommand implements Command {
    static final Option QUICK = Option.flag("quick", "the short run: in-process, short iterations (under two minutes)");
    static final Option ONLY = Option.value("only", "B4,B6", "run only these scenarios (comma-separated)");
    static final Option JSON = Option.value("json", "FILE", "also write the JSON report to FILE");

    @Override
    public String name() {
        return "bench";
    }

    @Override
    public String summary() {
        return "Run the JMH benchmarks (table walkers, IOTLB, iommufd paths) and compare with their targets";
    }

    @Override
    public String synopsis() {
        return "[--quick] [--only B4,B6] [--json FILE]";
    }

    @Override
    public String description() {
        return """
                Runs the benchmark suite B1-B13 (module benchmarks, dev.iommufd.benchmarks.BenchSuite; see
                docs/benchmarks.md) with JMH, prints every score next to its target, and optionally writes a JSON
                report. Exit status 0 when every target was met, 1 otherwise.
                """;
    }

    @Override
    public List<Option> options() {
        return List.of(QUICK, ONLY, JSON);
    }

    @Override
    public int run(ParsedArguments args, Terminal terminal) throws UsageException {
        if (!args.positional().isEmpty()) {
            throw new UsageException("unexpected argument '" + args.positional().get(0) + "'");
        }
        Set<String> only = new LinkedHashSet<>();
        for (String v : args.values(ONLY.name())) {
            for (String s : v.split(",")) {
                if (!s.isBlank()) {
                    only.add(s.trim());
                }
            }
        }
        Path json = args.values(JSON.name()).isEmpty() ? null : Path.of(args.values(JSON.name()).get(0));
        try {
            Class.forName("dev.iommufd.benchmarks.BenchSuite", false, BenchCommand.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            terminal.err().println("iommufd-sim: 'bench' is not available in this installation: the benchmarks jar"
                    + " (module benchmarks, with JMH) is not on the class path");
            return ExitCode.NOT_AVAILABLE;
        }
        return Suite.run(args.has(QUICK.name()), only, json, terminal);
    }

    /** The calls into the benchmarks module, in their own class so that it is loaded only when present. */
    private static final class Suite {
        static int run(boolean quick, Set<String> only, Path json, Terminal terminal) {
            List<BenchSuite.Row> rows;
            try {
                rows = BenchSuite.run(quick, only, json, terminal.out());
            } catch (java.io.IOException e) {
                terminal.err().println("iommufd-sim bench: " + e.getMessage());
                return ExitCode.FAILURE;
            } catch (Exception e) {
                terminal.err().println("iommufd-sim bench: the benchmark run failed: " + e.getMessage());
                return ExitCode.FAILURE;
            }
            return rows.stream().allMatch(BenchSuite.Row::met) ? ExitCode.OK : ExitCode.FAILURE;
        }
    }
}
