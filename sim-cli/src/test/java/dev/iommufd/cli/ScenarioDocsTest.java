package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.snapshot.MachineSnapshot;
import dev.iommufd.snapshot.SnapshotJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every worked example in docs/scenarios/*.scn runs green, and its end state exports a snapshot that decodes. */
class ScenarioDocsTest {
    static final Path DOCS = Path.of("..", "docs", "scenarios");

    static Stream<String> scenarios() throws IOException {
        try (Stream<Path> s = Files.list(DOCS)) {
            List<String> names = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".scn")).sorted().toList();
            assertFalse(names.isEmpty(), "docs/scenarios holds the worked examples");
            return names.stream();
        }
    }

    @ParameterizedTest
    @MethodSource("scenarios")
    void runsGreenAndItsSnapshotDecodes(String name, @TempDir Path dir) throws Exception {
        String file = DOCS.resolve(name).toString();
        Path snap = dir.resolve("s.json");
        CommandLineRun r = CommandLineRun.of("run", file, "--snapshot", snap.toString());
        assertEquals(ExitCode.OK, r.exitCode(), r.toString());
        assertTrue(r.out().contains(" steps passed"), r.out());
        MachineSnapshot s = SnapshotJson.read(Files.readString(snap));
        assertFalse(s.frames().isEmpty());
        CommandLineRun d = CommandLineRun.of("decode", snap.toString());
        assertEquals(ExitCode.OK, d.exitCode(), d.toString());
        assertTrue(d.out().contains("0000:00:04.0"), d.out());
    }
}
