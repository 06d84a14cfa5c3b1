package dev.iommufd.cli;

/**
 * The exit codes of {@code iommufd-sim}, the same for every command (and listed by {@code iommufd-sim --help}).
 */
public final class ExitCode {
    /** The command did what was asked. */
    public static final int OK = 0;
    /** The command ran and failed (a driver broke a discovery rule, a simulated operation failed, ...). */
    public static final int FAILURE = 1;
    /** The command line was wrong: unknown command or option, missing or malformed value. */
    public static final int USAGE = 2;
    /** The command exists in the design but is not implemented in this build. */
    public static final int NOT_AVAILABLE = 3;

    private ExitCode() {
    }
}
