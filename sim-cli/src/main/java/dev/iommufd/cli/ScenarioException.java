package dev.iommufd.cli;

/**
 * A scenario line that cannot be parsed or run, or whose expectation failed. The message names the line:
 * {@code FILE:LINE: what}.
 */
final class ScenarioException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int line;

    ScenarioException(int line, String message) {
        super(message);
        this.line = line;
    }

    /** The 1-based line number in the scenario file. */
    int line() {
        return line;
    }
}
