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
 * {@code iommufd-sim drivers}: third-party jars through {@code --driver-path}, availability probed on a simulated
 * machine, the discovery rules of {@link dev.iommufd.spi.IommuDriverProvider} (id pattern, SPI version, unique
 * ids: a violation fails discovery naming the jars), and its usage errors.
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
    void aJarInTheDriverPathIsListedWithEveryFieldAndProbedOnItsMachine() throws IOException {
        int bundled = count(CommandLineRun.of("drivers"));
        Path dir = dir("drivers");
        // The VT-d hardware model is on the class path (driver-vtd is a runtime dependency): a q35 machine with one
        // vtd unit is built and the driver's probe sees it.
        Path jar = TestDriverJar.write(dir, "acme-iommu-9.8.7.jar", "AcmeProvider", "acme", SpiVersion.CURRENT, "vtd");

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", dir.toString());

        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        assertEquals(bundled + 1, count(r), r::toString);
        String out = r.out().replace("\r\n", "\n");
        assertTrue(out.contains("acme - Test vendor IOMMU acme\n"
                + "  version:         9.8.7\n"
                + "  SPI version:     " + SpiVersion.CURRENT + "\n"
                + "  capabilities:    PAGING, PASID\n"
                + "  hardware models: vtd\n"
                + "  jar:             " + jar.toAbsolutePath().normalize() + "\n"
                + "  available:       no: test driver saw q35 dmar0=vtd (probed on q35 with vtd unit dmar0 (preset qemu))\n"),
                r::toString);
        assertEquals("", r.err());
    }

    @Test
    void aDriverWhoseHardwareModelIsMissingIsUnavailableAndSaysWhy() throws IOException {
        Path dir = dir("orphan");
        TestDriverJar.write(dir, "orphan.jar", "OrphanProvider", "orphan", SpiVersion.CURRENT, "no-such-model");

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", dir.toString());

        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        assertTrue(r.out().contains("  available:       no: no hardware model 'no-such-model' on the class path (known: "),
                r::toString);
    }

    @Test
    void noProbeLeavesOutAvailability() throws IOException {
        Path dir = dir("quiet");
        TestDriverJar.write(dir, "quiet.jar", "QuietProvider", "quiet", SpiVersion.CURRENT, "vtd");

        CommandLineRun r = CommandLineRun.of("drivers", "--no-probe", "--driver-path", dir.toString());

        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        assertTrue(r.out().contains("quiet - "), r::toString);
        assertFalse(r.out().contains("available:"), r::toString);
    }

    @Test
    void driverPathIsRepeatable() throws IOException {
        int bundled = count(CommandLineRun.of("drivers", "--no-probe"));
        Path a = dir("a");
        Path b = dir("b");
        TestDriverJar.write(a, "one.jar", "OneProvider", "one", SpiVersion.CURRENT, "vtd");
        TestDriverJar.write(b, "two.jar", "TwoProvider", "two", SpiVersion.CURRENT, "vtd");

        CommandLineRun r = CommandLineRun.of("drivers", "--no-probe", "--driver-path", a.toString(), "--driver-path=" + b);

        assertEquals(ExitCode.OK, r.exitCode(), r::toString);
        assertEquals(bundled + 2, count(r));
        assertTrue(r.out().contains("one - ") && r.out().contains("two - "), r::toString);
    }

    @Test
    void aProviderBuiltForAnotherSpiVersionFailsDiscoveryNamingItsJar() throws IOException {
        Path dir = dir("old");
        Path jar = TestDriverJar.write(dir, "old.jar", "OldProvider", "old", SpiVersion.CURRENT + 1, "vtd");

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", dir.toString());

        assertEquals(ExitCode.FAILURE, r.exitCode(), r::toString);
        assertFalse(r.out().contains("old - "), r::toString);
        assertTrue(r.err().startsWith("iommufd-sim drivers: discovery failed: EINVAL: "), r::toString);
        assertTrue(r.err().contains("test.vendor.OldProvider"), r::toString);
        assertTrue(r.err().contains(jar.getFileName().toString()), r::toString);
        assertTrue(r.err().contains("SPI version " + (SpiVersion.CURRENT + 1)), r::toString);
        assertFalse(r.err().contains("\tat "), r::toString);
    }

    @Test
    void aMalformedIdFailsDiscovery() throws IOException {
        Path dir = dir("bad");
        TestDriverJar.write(dir, "bad.jar", "BadProvider", "Bad_Id", SpiVersion.CURRENT, "vtd");

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", dir.toString());

        assertEquals(ExitCode.FAILURE, r.exitCode(), r::toString);
        assertTrue(r.err().contains("test.vendor.BadProvider"), r::toString);
        assertTrue(r.err().contains("'Bad_Id'"), r::toString);
    }

    @Test
    void anIdProvidedByTwoJarsFailsDiscoveryNamingBothJars() throws IOException {
        Path dir = dir("dup");
        TestDriverJar.write(dir, "a-first.jar", "FirstProvider", "twin", SpiVersion.CURRENT, "vtd");
        TestDriverJar.write(dir, "b-second.jar", "SecondProvider", "twin", SpiVersion.CURRENT, "vtd");

        CommandLineRun r = CommandLineRun.of("drivers", "--driver-path", dir.toString());

        assertEquals(ExitCode.FAILURE, r.exitCode(), r::toString);
        assertTrue(r.err().startsWith("iommufd-sim drivers: discovery failed: EEXIST: "), r::toString);
        assertTrue(r.err().contains("'twin'") && r.err().contains("a-first.jar") && r.err().contains("b-second.jar"),
                r::toString);
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

    @Test
    void theProbeProfileIsTheOneWhereTheModelHasItsOwnAddress() {
        assertEquals("q35", ProbeMachine.profileFor("vtd").id());
        assertEquals("q35", ProbeMachine.profileFor("amdvi").id());
        assertEquals("virt", ProbeMachine.profileFor("smmuv3").id());
        assertEquals("pseries", ProbeMachine.profileFor("ppc-spapr").id());
        assertEquals("q35", ProbeMachine.profileFor("sw-nesting").id());
    }
}
