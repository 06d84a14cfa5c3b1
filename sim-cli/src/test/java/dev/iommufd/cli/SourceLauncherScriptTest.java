package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code iommufd-sim} script at the repository root, copied into a tree where nothing is built: it must say
 * how to build instead of failing obscurely. (Running it on a built tree is tested by the distribution module,
 * which runs after sim-cli is packaged.)
 */
class SourceLauncherScriptTest {

    @TempDir
    Path tree;

    private int runCopy(Path out) throws IOException, InterruptedException {
        Path bash = Path.of("/bin/bash");
        assumeTrue(Files.isExecutable(bash), "the launcher test needs bash");
        Path script = Path.of("..", "iommufd-sim").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(script), () -> script + " exists");
        Path copy = tree.resolve("iommufd-sim");
        Files.copy(script, copy);
        Process p = new ProcessBuilder(bash.toString(), copy.toString(), "drivers")
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the script ends");
        return p.exitValue();
    }

    @Test
    void anUnbuiltTreeSaysHowToBuild() throws Exception {
        Path out = tree.resolve("out.txt");
        int code = runCopy(out);
        assertEquals(ExitCode.USAGE, code);
        String text = Files.readString(out, StandardCharsets.UTF_8);
        assertTrue(text.contains("iommufd-sim: sim-cli is not built (" + tree.toRealPath()
                + "/sim-cli/target/iommufd-sim.classpath is missing)\n"), text);
        assertTrue(text.endsWith("iommufd-sim: build first: ./mvnw -q package -DskipTests\n"), text);
    }

    @Test
    void aClassPathFileWithoutTheJarSaysHowToBuild() throws Exception {
        Path target = Files.createDirectories(tree.resolve("sim-cli/target"));
        Files.writeString(target.resolve("iommufd-sim.classpath"), "/nonexistent/core-api.jar");
        Path out = tree.resolve("out.txt");
        assertEquals(ExitCode.USAGE, runCopy(out));
        String text = Files.readString(out, StandardCharsets.UTF_8);
        assertTrue(text.contains("iommufd-sim: sim-cli is not built (no sim-cli jar in "), text);
        assertTrue(text.endsWith("iommufd-sim: build first: ./mvnw -q package -DskipTests\n"), text);
    }

    @Test
    void aMissingDependencyJarSaysHowToBuild() throws Exception {
        Path target = Files.createDirectories(tree.resolve("sim-cli/target"));
        Files.writeString(target.resolve("sim-cli-1.0.jar"), "");
        Files.writeString(target.resolve("iommufd-sim.classpath"), "/nonexistent/core-api.jar");
        Path out = tree.resolve("out.txt");
        assertEquals(ExitCode.USAGE, runCopy(out));
        String text = Files.readString(out, StandardCharsets.UTF_8);
        assertTrue(text.contains("iommufd-sim: a jar of the class path is missing: /nonexistent/core-api.jar\n"), text);
    }
}
