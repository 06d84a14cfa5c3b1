package dev.iommufd.cli;

/**
 * A wrong command line. The message is complete and names the offending argument; {@link IommufdSim} prints it
 * after the program and command name and exits with {@link ExitCode#USAGE}.
 */
final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
        super(message);
    }
}
