package dev.iommufd.cli;

import java.util.List;
import java.util.Objects;

/**
 * A command of the design that this build does not implement yet. It never pretends: running it prints
 * {@code iommufd-sim: '<name>' is not available yet (see ...)} and exits with {@link ExitCode#NOT_AVAILABLE};
 * {@code --help} says the same.
 */
final class UnavailableCommand implements Command {
    private final String name;
    private final String synopsis;
    private final String summary;
    private final String tracking;

    /**
     * @param name the command word
     * @param synopsis the arguments it will take
     * @param summary what it will do, one line
     * @param tracking where the work is tracked (an issue), shown to the user
     */
    UnavailableCommand(String name, String synopsis, String summary, String tracking) {
        this.name = Objects.requireNonNull(name);
        this.synopsis = Objects.requireNonNull(synopsis);
        this.summary = Objects.requireNonNull(summary);
        this.tracking = Objects.requireNonNull(tracking);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String summary() {
        return "(not available yet) " + summary;
    }

    @Override
    public String synopsis() {
        return synopsis;
    }

    @Override
    public String description() {
        return summary + ".\n\n" + notAvailableMessage();
    }

    @Override
    public List<Option> options() {
        return List.of();
    }

    @Override
    public boolean available() {
        return false;
    }

    @Override
    public int run(ParsedArguments args, Terminal terminal) {
        terminal.err().println(notAvailableMessage());
        return ExitCode.NOT_AVAILABLE;
    }

    String notAvailableMessage() {
        return "iommufd-sim: '" + name + "' is not available yet (see issue: " + tracking + ")";
    }
}
