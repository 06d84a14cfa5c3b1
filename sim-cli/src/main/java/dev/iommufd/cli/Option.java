package dev.iommufd.cli;

import java.util.Objects;

/**
 * One option a command accepts: {@code --name} alone (a flag) or {@code --name VALUE} / {@code --name=VALUE}.
 *
 * @param name the long name without dashes
 * @param valueName what the value is, as shown in help ({@code DIR}); {@code null} for a flag
 * @param repeatable whether the option may be given more than once
 * @param description one line for the help text
 */
record Option(String name, String valueName, boolean repeatable, String description) {
    Option {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
    }

    static Option flag(String name, String description) {
        return new Option(name, null, false, description);
    }

    static Option value(String name, String valueName, String description) {
        return new Option(name, valueName, false, description);
    }

    static Option repeatableValue(String name, String valueName, String description) {
        return new Option(name, valueName, true, description);
    }

    boolean takesValue() {
        return valueName != null;
    }

    /** How the option is written in help: {@code --driver-path DIR}. */
    String synopsis() {
        return takesValue() ? "--" + name + " " + valueName : "--" + name;
    }
}
