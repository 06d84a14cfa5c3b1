package dev.iommufd.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The {@code iommufd-sim} command line: {@code iommufd-sim <command> [options]}.
 *
 * <p>Every failure ends in one precise line on standard error and an {@link ExitCode}, never a stack trace
 * (set the environment variable {@code IOMMUFD_SIM_DEBUG=1} to see the stack trace of an internal error).
 */
public final class IommufdSim {

    private final Map<String, Command> commands = new LinkedHashMap<>();
    private final Terminal terminal;
    private final boolean debug;

    IommufdSim(Terminal terminal, boolean debug) {
        this.terminal = terminal;
        this.debug = debug;
        add(new DriversCommand());
        add(new DemoCommand());
        add(new TckCommand());
        add(new RunCommand());
        add(new SnapshotCommand());
        add(new DecodeCommand());
        add(new BenchCommand());
    }

    private void add(Command c) {
        commands.put(c.name(), c);
    }

    public static void main(String[] args) {
        Terminal terminal = new Terminal(System.out, System.err);
        boolean debug = "1".equals(System.getenv("IOMMUFD_SIM_DEBUG"));
        int code = new IommufdSim(terminal, debug).run(args);
        System.out.flush();
        System.exit(code);
    }

    /** Runs one command line and returns its {@link ExitCode}. */
    int run(String... args) {
        if (args.length == 0) {
            terminal.err().print(usage());
            terminal.err().println("\niommufd-sim: no command given");
            return ExitCode.USAGE;
        }
        String first = args[0];
        List<String> rest = Arrays.asList(args).subList(1, args.length);
        switch (first) {
            case "--help", "-h" -> {
                terminal.out().print(usage());
                return ExitCode.OK;
            }
            case "--version", "-V" -> {
                terminal.out().println("iommufd-sim " + version());
                return ExitCode.OK;
            }
            case "help" -> {
                return help(rest);
            }
            default -> {
                return dispatch(first, rest);
            }
        }
    }

    private int help(List<String> rest) {
        if (rest.isEmpty()) {
            terminal.out().print(usage());
            return ExitCode.OK;
        }
        Command c = commands.get(rest.get(0));
        if (c == null || rest.size() > 1) {
            terminal.err().println(c == null ? unknownCommand(rest.get(0)) : "iommufd-sim help: one command at a time");
            return ExitCode.USAGE;
        }
        terminal.out().print(c.help());
        return ExitCode.OK;
    }

    private int dispatch(String name, List<String> rest) {
        if (name.startsWith("-")) {
            terminal.err().println("iommufd-sim: unknown option '" + name + "' (see 'iommufd-sim --help')");
            return ExitCode.USAGE;
        }
        Command c = commands.get(name);
        if (c == null) {
            terminal.err().println(unknownCommand(name));
            return ExitCode.USAGE;
        }
        try {
            if (!c.available()) {
                if (rest.contains("--help") || rest.contains("-h")) {
                    terminal.out().print(c.help());
                    return ExitCode.OK;
                }
                return c.run(null, terminal);
            }
            ParsedArguments parsed = ParsedArguments.parse(name, rest, c.options());
            if (parsed.has(ParsedArguments.HELP.name())) {
                terminal.out().print(c.help());
                return ExitCode.OK;
            }
            return c.run(parsed, terminal);
        } catch (UsageException e) {
            terminal.err().println("iommufd-sim " + name + ": " + e.getMessage());
            return ExitCode.USAGE;
        } catch (RuntimeException | LinkageError e) {
            // dev.iommufd.api.ErrnoException's message starts with its errno: "EINVAL: iova ... is not aligned".
            terminal.err().println("iommufd-sim " + name + ": " + (e instanceof dev.iommufd.api.ErrnoException
                    ? e.getMessage() : "internal error: " + e));
            if (debug) {
                e.printStackTrace(terminal.err());
            } else if (!(e instanceof dev.iommufd.api.ErrnoException)) {
                terminal.err().println("iommufd-sim " + name + ": set IOMMUFD_SIM_DEBUG=1 to see the stack trace");
            }
            return ExitCode.FAILURE;
        }
    }

    private String unknownCommand(String name) {
        return "iommufd-sim: unknown command '" + name + "' (commands: " + String.join(", ", commands.keySet())
                + "; see 'iommufd-sim --help')";
    }

    /** The top-level help: usage, commands (unavailable ones marked), exit codes. */
    String usage() {
        StringBuilder b = new StringBuilder();
        b.append("iommufd-sim ").append(version())
                .append(" - the Linux iommufd subsystem and IOMMU hardware, simulated in Java\n\n");
        b.append("Usage: iommufd-sim <command> [options]\n");
        b.append("       iommufd-sim <command> --help\n");
        b.append("       iommufd-sim --version\n\n");
        b.append("Commands:\n");
        int width = 0;
        for (String n : commands.keySet()) {
            width = Math.max(width, n.length());
        }
        for (Command c : commands.values()) {
            b.append("  ").append(c.name()).append(" ".repeat(width - c.name().length() + 2)).append(c.summary())
                    .append('\n');
        }
        b.append("\nExit codes: ").append(ExitCode.OK).append(" success, ").append(ExitCode.FAILURE)
                .append(" failure, ").append(ExitCode.USAGE).append(" usage error, ")
                .append(ExitCode.NOT_AVAILABLE).append(" command not available yet\n");
        return b.toString();
    }

    /** The project version this jar was built from. */
    static String version() {
        try (InputStream in = IommufdSim.class.getResourceAsStream("version.properties")) {
            if (in == null) {
                return "(unknown version)";
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "(unknown version)");
        } catch (IOException e) {
            return "(unknown version)";
        }
    }
}
