package dev.iommufd.cli;

import java.util.List;

/** {@code iommufd-sim snapshot SCENARIO [--output OUT]}: the machine snapshot of a scenario's end state. */
final class SnapshotCommand implements Command {
    static final Option OUTPUT = Option.value("output", "OUT", "write the snapshot to OUT instead of standard output");

    @Override
    public String name() {
        return "snapshot";
    }

    @Override
    public String summary() {
        return "Run a scenario quietly and export the machine state at its end as a snapshot (JSON)";
    }

    @Override
    public String synopsis() {
        return "SCENARIO [--output OUT]";
    }

    @Override
    public String description() {
        return """
                Runs the scenario like 'iommufd-sim run' without printing its steps, then writes the machine
                snapshot of its end state (iommufd-sim.snapshot/1, see docs/snapshot.md): the RAM layout, every
                architected register of each IOMMU unit, the devices, the translations iommufd's state gives each
                attached device (IOAS areas and the pages pinned for them), and every memory frame the IOMMU
                hardware may read (its tables and queues), as base64 of whole 4 KiB frames.
                A failing step is reported with its line number and no snapshot is written (exit status 1).
                """;
    }

    @Override
    public List<Option> options() {
        return List.of(OUTPUT);
    }

    @Override
    public int run(ParsedArguments args, Terminal terminal) throws UsageException {
        String file = RunCommand.scenarioFile(args);
        String out = args.values(OUTPUT.name()).isEmpty() ? "-" : args.values(OUTPUT.name()).get(0);
        String text = SnapshotFiles.readText(file);
        int code = RunCommand.runScenario(file, text, RunCommand.quiet(), terminal, out);
        if (code == ExitCode.OK && !out.equals("-")) {
            terminal.out().println("snapshot of the end of " + file + " written to " + out);
        }
        return code;
    }
}
