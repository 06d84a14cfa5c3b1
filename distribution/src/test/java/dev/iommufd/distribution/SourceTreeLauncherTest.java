package dev.iommufd.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command ends in {@code ./iommufd-sim drivers} at the repository root; in a reactor build
 * sim-cli is packaged before this module's tests, so the script must run and list every bundled driver.
 */
class SourceTreeLauncherTest {

    @TempDir
    Path tmp;

    @Test
    void theRootScriptListsTheDriversOfTheBuiltTree() throws Exception {
        Path root = Path.of("..").toAbsolutePath().normalize();
        Path script = root.resolve("iommufd-sim");
        Path classpath = root.resolve("sim-cli/target/iommufd-sim.classpath");
        assumeTrue(Files.isRegularFile(classpath), "sim-cli is packaged in this build (reactor build)");
        Path bash = Path.of("/bin/bash");
        assumeTrue(Files.isExecutable(bash), "the launcher test needs bash");

        ProcessBuilder pb = new ProcessBuilder(bash.toString(), script.toString(), "drivers");
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Path out = tmp.resolve("out.txt");
        Path err = tmp.resolve("err.txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the script ends");
        String stdout = Files.readString(out, StandardCharsets.UTF_8);
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), () -> stdout + stderr);
        assertEquals("", stderr);
        assertTrue(Pattern.compile("(?m)^\\d+ drivers? found \\(SPI version \\d+\\)$").matcher(stdout).find(), stdout);
        for (String entry : Files.readString(classpath, StandardCharsets.UTF_8).strip().split(":")) {
            String name = Path.of(entry).getFileName().toString();
            if (name.startsWith("driver-") && BinaryDistributionTest.hasProviderService(Path.of(entry))) {
                String id = name.replaceFirst("^driver-(.*)-\\d.*\\.jar$", "$1");
                assertTrue(stdout.contains(id + " - "), () -> id + " listed: " + stdout);
            }
        }
    }
}
