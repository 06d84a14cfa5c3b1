package dev.iommufd.cli;

import java.util.List;

/** One subcommand of {@code iommufd-sim}. */
interface Command {

    /** The word that selects the command. */
    String name();

    /** One line for the command list of {@code iommufd-sim --help}. */
    String summary();

    /** The arguments after the command name, for the usage line ({@code [--driver-path DIR]...}). */
    String synopsis();

    /** What the command does, as paragraphs for {@code iommufd-sim <command> --help}. */
    String description();

    /** The options accepted besides {@code --help}. */
    List<Option> options();

    /** Whether this build implements the command. */
    default boolean available() {
        return true;
    }

    /**
     * Runs the command.
     *
     * @return an {@link ExitCode}
     * @throws UsageException when the arguments are wrong (the message names the argument)
     */
    int run(ParsedArguments args, Terminal terminal) throws UsageException;

    /** The full help text: usage line, description, options. */
    default String help() {
        StringBuilder b = new StringBuilder();
        b.append("Usage: iommufd-sim ").append(name());
        if (!synopsis().isEmpty()) {
            b.append(' ').append(synopsis());
        }
        b.append("\n\n").append(description().strip()).append('\n');
        b.append("\nOptions:\n");
        int width = ParsedArguments.HELP.synopsis().length();
        for (Option o : options()) {
            width = Math.max(width, o.synopsis().length());
        }
        for (Option o : options()) {
            appendOption(b, o, width);
        }
        appendOption(b, ParsedArguments.HELP, width);
        return b.toString();
    }

    private static void appendOption(StringBuilder b, Option o, int width) {
        b.append("  ").append(o.synopsis());
        b.append(" ".repeat(width - o.synopsis().length() + 2));
        b.append(o.description());
        if (o.repeatable()) {
            b.append(" (repeatable)");
        }
        b.append('\n');
    }
}
