package dev.iommufd.cli;

import dev.iommufd.snapshot.MachineSnapshot;
import dev.iommufd.snapshot.SnapshotJson;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;

/** {@code iommufd-sim run SCENARIO [--snapshot OUT]}: runs a scenario file step by step ({@link ScenarioRun}). */
final class RunCommand implements Command {
    static final Option SNAPSHOT = Option.value("snapshot", "OUT",
            "after the last step, write the machine snapshot (iommufd-sim.snapshot/1 JSON) to OUT");

    @Override
    public String name() {
        return "run";
    }

    @Override
    public String summary() {
        return "Run a scenario file (machine, process, iommufd ioctls, DMA, expectations) and print each step";
    }

    @Override
    public String synopsis() {
        return "SCENARIO [--snapshot OUT]";
    }

    @Override
    public String description() {
        return """
                Runs a scenario: a line-oriented script whose commands mirror the uAPI one to one. It describes a
                machine (machine, iommu, device, driver), a process and its memory (process, mmap, write, read),
                each iommufd ioctl and VFIO device operation with its struct fields by name
                (IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP ioas_id=$ioas flags=READABLE|WRITEABLE|FIXED_IOVA ...,
                VFIO_DEVICE_BIND_IOMMUFD device=0000:00:04.0 -> $dev, ...), device DMA (dma read|write), and
                expectations (expect=EINVAL, expect=FAULT, data="..."). The language is documented in docs/cli.md;
                worked examples are in docs/scenarios/.

                Each step's result is printed with its line number. The first step that fails (an unexpected
                errno, DMA status or data, or a line that does not parse) stops the run with a message naming
                the line; the exit status is then 1 (2 when the file cannot be read).
                """;
    }

    @Override
    public List<Option> options() {
        return List.of(SNAPSHOT);
    }

    @Override
    public int run(ParsedArguments args, Terminal terminal) throws UsageException {
        String file = scenarioFile(args);
        String out = args.values(SNAPSHOT.name()).isEmpty() ? null : args.values(SNAPSHOT.name()).get(0);
        String text = SnapshotFiles.readText(file);
        return runScenario(file, text, terminal.out(), terminal, out);
    }

    static String scenarioFile(ParsedArguments args) throws UsageException {
        if (args.positional().size() != 1) {
            throw new UsageException(args.positional().isEmpty() ? "missing SCENARIO (a scenario file)"
                    : "unexpected argument '" + args.positional().get(1) + "'");
        }
        return args.positional().get(0);
    }

    /** Runs {@code text}, printing steps to {@code steps}; writes the snapshot to {@code snapshotOut} ("-": stdout). */
    static int runScenario(String file, String text, PrintStream steps, Terminal terminal, String snapshotOut)
            throws UsageException {
        try (ScenarioRun run = new ScenarioRun(steps, IommufdSim.class.getClassLoader())) {
            run.run(text);
            steps.println(file + ": " + run.steps() + " steps passed");
            if (snapshotOut != null) {
                MachineSnapshot s = run.snapshot(text.split("\r?\n", -1).length);
                String json = SnapshotJson.write(s);
                if (snapshotOut.equals("-")) {
                    terminal.out().print(json);
                } else {
                    SnapshotFiles.write(snapshotOut, json);
                    steps.println("snapshot written to " + snapshotOut + " (" + s.frames().size() + " structure frames, "
                            + s.translations().size() + " translations)");
                }
            }
            return ExitCode.OK;
        } catch (ScenarioException e) {
            terminal.err().println(file + ":" + e.line() + ": " + e.getMessage());
            return ExitCode.FAILURE;
        }
    }

    /** A stream that drops everything (the snapshot command's steps). */
    static PrintStream quiet() {
        return new PrintStream(OutputStream.nullOutputStream());
    }
}
