package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The command dispatch: help, version, unknown commands and options, commands that are not available yet. */
class IommufdSimTest {

    /** Every command of the design; all are implemented in this build. */
    private static final String[] COMMANDS = {"drivers", "demo", "tck", "run", "snapshot", "decode", "bench"};

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
    void helpListsEveryCommand(String flag) {
        CommandLineRun r = CommandLineRun.of(flag);
        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        for (String c : COMMANDS) {
            assertTrue(r.out().matches("(?s).*\\n  " + c + " +[A-Z].*"), () -> c + " in " + r);
        }
        assertFalse(r.out().contains("(not available yet)"), r::toString);
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

    @Test
    void unavailableCommandSaysSoAndFails() {
        UnavailableCommand c = new UnavailableCommand("later", "", "Does something later", "issue 7");
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int code = c.run(null, new Terminal(new java.io.PrintStream(out, true), new java.io.PrintStream(err, true)));
        assertEquals(ExitCode.NOT_AVAILABLE, code);
        assertTrue(err.toString().startsWith("iommufd-sim: 'later' is not available yet (see issue: issue 7)"), err::toString);
        assertEquals("", out.toString());
        assertTrue(c.summary().startsWith("(not available yet) "));
        assertTrue(c.help().contains("iommufd-sim: 'later' is not available yet"), c::help);
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
    void tckListsItsRulesThroughTheLauncher() {
        CommandLineRun r = CommandLineRun.of("tck", "--list-rules");
        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        assertFalse(r.out().isBlank(), r::toString);
        r = CommandLineRun.of("tck", "--driver", "nosuch");
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertTrue(r.err().contains("no IOMMU driver with id 'nosuch'"), r::toString);
        r = CommandLineRun.of("tck", "--markdown");
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertTrue(r.err().contains("--markdown only applies to --list-rules"), r::toString);
    }

    @Test
    void helpOfAnUnknownCommandIsAUsageError() {
        CommandLineRun r = CommandLineRun.of("help", "nope");
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertTrue(r.err().contains("unknown command 'nope'"), r::toString);
    }
}
