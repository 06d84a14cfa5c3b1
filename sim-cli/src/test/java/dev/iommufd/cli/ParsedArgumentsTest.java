package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ParsedArgumentsTest {
    private static final List<Option> OPTIONS = List.of(
            Option.flag("verbose", "talk"),
            Option.value("machine", "PROFILE", "the machine"),
            Option.repeatableValue("driver-path", "DIR", "jars"));

    private static ParsedArguments parse(String... args) throws UsageException {
        return ParsedArguments.parse("test", List.of(args), OPTIONS);
    }

    @Test
    void valuesFlagsAndPositionalsInBothSpellings() throws UsageException {
        ParsedArguments a = parse("x", "--machine=q35", "--driver-path", "a", "--verbose", "--driver-path=b", "y");
        assertTrue(a.has("verbose"));
        assertEquals(List.of("q35"), a.values("machine"));
        assertEquals(List.of("a", "b"), a.values("driver-path"));
        assertEquals(List.of("x", "y"), a.positional());
        assertFalse(a.has("help"));
    }

    @Test
    void doubleDashEndsOptions() throws UsageException {
        ParsedArguments a = parse("--", "--verbose", "-");
        assertFalse(a.has("verbose"));
        assertEquals(List.of("--verbose", "-"), a.positional());
    }

    @Test
    void helpIsAcceptedEverywhere() throws UsageException {
        assertTrue(parse("-h").has("help"));
        assertTrue(parse("x", "--help").has("help"));
    }

    @Test
    void errorsNameTheArgument() {
        assertEquals("unknown option '--nope' (see 'iommufd-sim test --help')",
                assertThrows(UsageException.class, () -> parse("--nope")).getMessage());
        assertEquals("unknown option '-v' (options are long: --name)",
                assertThrows(UsageException.class, () -> parse("-v")).getMessage());
        assertEquals("option --machine needs a value: --machine PROFILE",
                assertThrows(UsageException.class, () -> parse("--machine")).getMessage());
        assertEquals("option --machine has an empty value: --machine PROFILE",
                assertThrows(UsageException.class, () -> parse("--machine=")).getMessage());
        assertEquals("option --verbose takes no value (got 'yes')",
                assertThrows(UsageException.class, () -> parse("--verbose=yes")).getMessage());
        assertEquals("option --machine given more than once",
                assertThrows(UsageException.class, () -> parse("--machine", "q35", "--machine=virt")).getMessage());
        assertEquals("option --verbose given more than once",
                assertThrows(UsageException.class, () -> parse("--verbose", "--verbose")).getMessage());
    }
}
