package dev.iommufd.cli;

import dev.iommufd.tck.TckLauncher;
import java.util.ArrayList;
import java.util.List;

/** {@code iommufd-sim tck}: runs the driver TCK ({@link TckLauncher}) and prints its report. */
final class TckCommand implements Command {
    static final Option DRIVER = Option.repeatableValue("driver", "ID",
            "check driver ID (default: every driver on the class path)");
    static final Option REPORT = Option.value("report", "DIR",
            "also write TEST-tck-<id>.xml (JUnit XML) per driver and tck-report.txt / tck-report.html into DIR");
    static final Option LIST_RULES = Option.flag("list-rules", "print the rule catalogue and exit");
    static final Option MARKDOWN = Option.flag("markdown", "with --list-rules: print it as a Markdown table");

    @Override
    public String name() {
        return "tck";
    }

    @Override
    public String summary() {
        return "Run the driver TCK against one or every driver and print the report";
    }

    @Override
    public String synopsis() {
        return "[--driver ID]... [--report DIR] [--list-rules [--markdown]]";
    }

    @Override
    public String description() {
        return """
                Runs the driver conformance kit (module tck, dev.iommufd.tck.TckLauncher) against each driver on
                the class path (or the ones given with --driver), each on its reference machine, and prints one
                line per rule and a summary. Exit status 0 when every REQUIRED rule passed (or did not apply),
                1 when one failed, 2 on a usage error.
                """;
    }

    @Override
    public List<Option> options() {
        return List.of(DRIVER, REPORT, LIST_RULES, MARKDOWN);
    }

    @Override
    public int run(ParsedArguments args, Terminal terminal) throws UsageException {
        if (!args.positional().isEmpty()) {
            throw new UsageException("unexpected argument '" + args.positional().get(0) + "'");
        }
        if (args.has(MARKDOWN.name()) && !args.has(LIST_RULES.name())) {
            throw new UsageException("--markdown only applies to --list-rules");
        }
        List<String> a = new ArrayList<>();
        for (String d : args.values(DRIVER.name())) {
            a.add("--driver");
            a.add(d);
        }
        for (String r : args.values(REPORT.name())) {
            a.add("--report");
            a.add(r);
        }
        if (args.has(LIST_RULES.name())) {
            a.add("--list-rules");
        }
        if (args.has(MARKDOWN.name())) {
            a.add("--markdown");
        }
        int code = TckLauncher.run(a.toArray(new String[0]), terminal.out(), terminal.err());
        return switch (code) {
            case 0 -> ExitCode.OK;
            case 2 -> ExitCode.USAGE;
            default -> ExitCode.FAILURE;
        };
    }
}
