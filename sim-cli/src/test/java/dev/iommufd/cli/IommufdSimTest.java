package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The command dispatch: help, version, unknown commands and options, commands that are not available yet. */
class IommufdSimTest {

    /** The commands of the design that this build does not implement. */
    private static final String[] UNAVAILABLE = {"tck", "bench"};

    @Test
    void noArgumentsIsAUsageErrorWithTheUsageOnStandardError() {
        CommandLineRun r = CommandLineRun.of();
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertTrue(r.err().contains("Usage: iommufd-sim <command>"), r::toString);
        assertTrue(r.err().contains("iommufd-sim: no command given"), r::toString);
        assertEquals("", r.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"--help", "-h", "help"})
    void helpListsEveryCommandAndMarksTheUnavailableOnes(String flag) {
        CommandLineRun r = CommandLineRun.of(flag);
        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        assertTrue(r.out().contains("\n  drivers "), r::toString);
        for (String c : UNAVAILABLE) {
            assertTrue(r.out().matches("(?s).*\\n  " + c + " +\\(not available yet\\) .*"), () -> c + " in " + r);
        }
        assertTrue(r.out().contains("2 usage error"), r::toString);
        assertEquals("", r.err());
    }

    @Test
    void versionIsTheProjectVersion() {
        String expected = System.getProperty("project.version");
        CommandLineRun r = CommandLineRun.of("--version");
        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        assertEquals("iommufd-sim " + expected + "\n", r.out().replace("\r\n", "\n"));
    }

    @Test
    void unknownCommandNamesItAndListsTheCommands() {
        CommandLineRun r = CommandLineRun.of("frobnicate", "--x");
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertTrue(r.err().startsWith("iommufd-sim: unknown command 'frobnicate' (commands: drivers, demo, tck"),
                r::toString);
        assertFalse(r.err().contains("Exception"), r::toString);
    }

    @Test
    void unknownTopLevelOptionIsAUsageError() {
        CommandLineRun r = CommandLineRun.of("--frobnicate");
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertEquals("iommufd-sim: unknown option '--frobnicate' (see 'iommufd-sim --help')\n",
                r.err().replace("\r\n", "\n"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tck", "bench"})
    void unavailableCommandSaysSoAndFails(String command) {
        CommandLineRun r = CommandLineRun.of(command, "--driver", "vtd");
        assertEquals(ExitCode.NOT_AVAILABLE, r.exitCode(), r::toString);
        assertTrue(r.err().startsWith("iommufd-sim: '" + command + "' is not available yet (see issue: "), r::toString);
        assertEquals("", r.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"drivers", "demo", "tck", "run", "snapshot", "decode", "bench"})
    void everyCommandHasHelp(String command) {
        for (CommandLineRun r : new CommandLineRun[] {
                CommandLineRun.of(command, "--help"), CommandLineRun.of(command, "-h"), CommandLineRun.of("help", command)}) {
            assertEquals(ExitCode.OK, r.exitCode(), r::toString);
            assertTrue(r.out().startsWith("Usage: iommufd-sim " + command), r::toString);
            assertTrue(r.out().contains("  --help"), r::toString);
            assertEquals("", r.err());
        }
    }

    @Test
    void helpOfAnUnavailableCommandSaysItIsNotAvailable() {
        CommandLineRun r = CommandLineRun.of("tck", "--help");
        assertTrue(r.out().contains("iommufd-sim: 'tck' is not available yet"), r::toString);
    }

    @Test
    void helpOfAnUnknownCommandIsAUsageError() {
        CommandLineRun r = CommandLineRun.of("help", "nope");
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertTrue(r.err().contains("unknown command 'nope'"), r::toString);
    }
}
