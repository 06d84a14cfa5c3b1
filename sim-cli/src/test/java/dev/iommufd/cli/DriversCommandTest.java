package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.spi.SpiVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code iommufd-sim drivers}: third-party jars through {@code --driver-path}, the discovery rules of
 * {@link dev.iommufd.spi.IommuDriverProvider} (id pattern, SPI version, unique ids), and its usage errors.
 */
class DriversCommandTest {
    private static final Pattern COUNT = Pattern.compile("(?m)^(\\d+) drivers? found \\(SPI version (\\d+)\\)$");

    @TempDir
    Path tmp;

    private static int count(CommandLineRun r) {
        Matcher m = COUNT.matcher(r.out().replace("\r\n", "\n"));
        assertTrue(m.find(), r::toString);
        assertEquals(SpiVersion.CURRENT, Integer.parseInt(m.group(2)));
        return Integer.parseInt(m.group(1));
    }

    private Path dir(String name) throws IOException {
        return Files.createDirectory(tmp.resolve(name));
    }

    @Test
    void aJarInTheDriverPathIsListedWithEveryField() throws IOException {
        int bundled = count(CommandLineRun.of("drivers"));
        Path dir = dir("drivers");
        Path jar = TestDriverJar.write(dir, "acme-iommu-9.8.7.jar", "AcmeProvider", "acme", SpiVersion.CURRENT);

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", dir.toString());

        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        assertEquals(bundled + 1, count(r), r::toString);
        String out = r.out().replace("\r\n", "\n");
        assertTrue(out.contains("acme - Test vendor IOMMU acme\n"
                + "  version:         9.8.7\n"
                + "  SPI version:     " + SpiVersion.CURRENT + "\n"
                + "  capabilities:    PAGING, PASID\n"
                + "  hardware models: acme\n"
                + "  jar:             " + jar.toAbsolutePath().normalize() + "\n"), r::toString);
        assertEquals("", r.err());
    }

    @Test
    void driverPathIsRepeatable() throws IOException {
        int bundled = count(CommandLineRun.of("drivers"));
        Path a = dir("a");
        Path b = dir("b");
        TestDriverJar.write(a, "one.jar", "OneProvider", "one", SpiVersion.CURRENT);
        TestDriverJar.write(b, "two.jar", "TwoProvider", "two", SpiVersion.CURRENT);

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", a.toString(), "--driver-path=" + b);

        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        assertEquals(bundled + 2, count(r));
        assertTrue(r.out().contains("one - ") && r.out().contains("two - "), r::toString);
    }

    @Test
    void aProviderBuiltForAnotherSpiVersionIsRefused() throws IOException {
        Path dir = dir("old");
        Path jar = TestDriverJar.write(dir, "old.jar", "OldProvider", "old", SpiVersion.CURRENT + 1);

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", dir.toString());

        assertEquals(ExitCode.FAILURE, r.exitCode(), r::toString);
        assertFalse(r.out().contains("old - "), r::toString);
        assertTrue(r.err().contains(jar.toAbsolutePath().normalize() + ": driver 'old' was built for SPI version "
                + (SpiVersion.CURRENT + 1) + ", this core implements SPI version " + SpiVersion.CURRENT), r::toString);
    }

    @Test
    void aMalformedIdIsRefused() throws IOException {
        Path dir = dir("bad");
        TestDriverJar.write(dir, "bad.jar", "BadProvider", "Bad_Id", SpiVersion.CURRENT);

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", dir.toString());

        assertEquals(ExitCode.FAILURE, r.exitCode(), r::toString);
        assertTrue(r.err().contains("test.vendor.BadProvider has the id 'Bad_Id', which does not match"), r::toString);
    }

    @Test
    void anIdProvidedByTwoJarsIsRefusedNamingBothJars() throws IOException {
        int bundled = count(CommandLineRun.of("drivers"));
        Path dir = dir("dup");
        Path first = TestDriverJar.write(dir, "a-first.jar", "FirstProvider", "twin", SpiVersion.CURRENT);
        Path second = TestDriverJar.write(dir, "b-second.jar", "SecondProvider", "twin", SpiVersion.CURRENT);

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", dir.toString());

        assertEquals(ExitCode.FAILURE, r.exitCode(), r::toString);
        assertEquals(bundled, count(r), r::toString);
        assertFalse(r.out().contains("twin - "), r::toString);
        assertTrue(r.err().contains(first.toAbsolutePath().normalize() + " and " + second.toAbsolutePath().normalize()
                + ": the driver id 'twin' is provided twice"), r::toString);
    }

    @Test
    void aMissingDirectoryIsAUsageError() {
        Path missing = tmp.resolve("missing");
        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", missing.toString());
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertEquals("iommufd-sim drivers: --driver-path " + missing + ": no such directory\n",
                r.err().replace("\r\n", "\n"));
    }

    @Test
    void aFileOrADirectoryWithoutJarsIsAUsageError() throws IOException {
        Path empty = dir("empty");
        Files.writeString(empty.resolve("README.txt"), "not a jar");
        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", empty.toString());
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertTrue(r.err().contains(empty + ": no .jar file in this directory"), r::toString);

        CommandLineRun f = CommandLineRun.of("drivers", "--driver-path", empty.resolve("README.txt").toString());
        assertEquals(ExitCode.USAGE, f.exitCode(), f::toString);
        assertTrue(f.err().contains("README.txt: not a directory"), f::toString);
    }

    @Test
    void unexpectedArgumentsAreUsageErrors() {
        CommandLineRun r = CommandLineRun.of("drivers", "vtd");
        assertEquals(ExitCode.USAGE, r.exitCode(), r::toString);
        assertEquals("iommufd-sim drivers: unexpected argument 'vtd'\n", r.err().replace("\r\n", "\n"));

        CommandLineRun o = CommandLineRun.of("drivers", "--driver-path");
        assertEquals(ExitCode.USAGE, o.exitCode(), o::toString);
        assertEquals("iommufd-sim drivers: option --driver-path needs a value: --driver-path DIR\n",
                o.err().replace("\r\n", "\n"));
    }
}
