package dev.iommufd.cli;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A command's arguments after parsing against the options it accepts. {@code --help} is accepted by every
 * command; {@code --} ends the options.
 */
final class ParsedArguments {
    static final Option HELP = Option.flag("help", "print this help and exit");

    /** Option name to its values (an empty list for a flag that was given). Insertion-ordered. */
    private final Map<String, List<String>> options;
    private final List<String> positional;

    private ParsedArguments(Map<String, List<String>> options, List<String> positional) {
        this.options = options;
        this.positional = positional;
    }

    /**
     * Parses {@code args} of {@code command}.
     *
     * @throws UsageException naming the argument: an unknown option, a flag given a value, a value option given
     *         no value or an empty one, a non-repeatable option given twice
     */
    static ParsedArguments parse(String command, List<String> args, List<Option> accepted) throws UsageException {
        Map<String, List<String>> options = new LinkedHashMap<>();
        List<String> positional = new ArrayList<>();
        boolean optionsEnded = false;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (optionsEnded || !arg.startsWith("-") || arg.equals("-")) {
                positional.add(arg);
                continue;
            }
            if (arg.equals("--")) {
                optionsEnded = true;
                continue;
            }
            if (arg.equals("-h")) {
                arg = "--help";
            }
            if (!arg.startsWith("--")) {
                throw new UsageException("unknown option '" + arg + "' (options are long: --name)");
            }
            int eq = arg.indexOf('=');
            String name = arg.substring(2, eq < 0 ? arg.length() : eq);
            Option option = find(name, accepted);
            if (option == null) {
                throw new UsageException("unknown option '--" + name + "' (see 'iommufd-sim " + command + " --help')");
            }
            String value = null;
            if (option.takesValue()) {
                if (eq >= 0) {
                    value = arg.substring(eq + 1);
                } else if (i + 1 < args.size()) {
                    value = args.get(++i);
                } else {
                    throw new UsageException("option --" + name + " needs a value: " + option.synopsis());
                }
                if (value.isEmpty()) {
                    throw new UsageException("option --" + name + " has an empty value: " + option.synopsis());
                }
            } else if (eq >= 0) {
                throw new UsageException("option --" + name + " takes no value (got '" + arg.substring(eq + 1) + "')");
            }
            if (!option.repeatable() && options.containsKey(name)) {
                throw new UsageException("option --" + name + " given more than once");
            }
            List<String> values = options.computeIfAbsent(name, n -> new ArrayList<>());
            if (value != null) {
                values.add(value);
            }
        }
        return new ParsedArguments(options, Collections.unmodifiableList(positional));
    }

    private static Option find(String name, List<Option> accepted) {
        if (name.equals(HELP.name())) {
            return HELP;
        }
        for (Option o : accepted) {
            if (o.name().equals(name)) {
                return o;
            }
        }
        return null;
    }

    /** Whether the flag or option was given. */
    boolean has(String name) {
        return options.containsKey(name);
    }

    /** Every value given for the option, in order; empty when absent. */
    List<String> values(String name) {
        List<String> v = options.get(name);
        return v == null ? List.of() : Collections.unmodifiableList(v);
    }

    /** Arguments that are not options. */
    List<String> positional() {
        return positional;
    }
}
