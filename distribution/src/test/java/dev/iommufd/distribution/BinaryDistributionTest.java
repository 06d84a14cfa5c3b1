package dev.iommufd.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.iommufd.cli.TestDriverJar;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zip built in this module's package phase, unpacked and run the way a user runs it: {@code bin/iommufd-sim}
 * lists every driver jar in {@code lib/}, a third-party jar is found in {@code lib/} and through
 * {@code --driver-path}, and nothing is shaded.
 */
class BinaryDistributionTest {
    private static final String SERVICE = "META-INF/services/" + IommuDriverProvider.class.getName();
    private static final Pattern DRIVER_JAR = Pattern.compile("driver-([a-z0-9-]+)-\\d[^/]*\\.jar");
    private static final Pattern COUNT = Pattern.compile("(?m)^(\\d+) drivers? found \\(SPI version (\\d+)\\)$");

    @TempDir
    static Path unpacked;

    static Path zip;
    static Path home;

    @BeforeAll
    static void unpack() throws IOException {
        String property = System.getProperty("distribution.zip");
        assertNotNull(property, "surefire passes distribution.zip");
        zip = Path.of(property);
        assertTrue(Files.isRegularFile(zip), () -> zip + " exists (built in the package phase)");
        try (ZipFile z = new ZipFile(zip.toFile())) {
            Enumeration<? extends ZipEntry> entries = z.entries();
            while (entries.hasMoreElements()) {
                ZipEntry e = entries.nextElement();
                Path target = unpacked.resolve(e.getName()).normalize();
                assertTrue(target.startsWith(unpacked), () -> "entry inside the archive root: " + e.getName());
                if (e.isDirectory()) {
                    Files.createDirectories(target);
                } else {
                    Files.createDirectories(target.getParent());
                    try (InputStream in = z.getInputStream(e)) {
                        Files.copy(in, target);
                    }
                }
            }
        }
        home = unpacked.resolve("iommufd-sim-" + System.getProperty("project.version"));
        assertTrue(Files.isDirectory(home), () -> "the zip has one top directory " + home.getFileName());
    }

    /** {@code <id>} for every lib/driver-<id>-<version>.jar that registers a provider. */
    private static List<String> bundledDriverIds() throws IOException {
        List<String> ids = new ArrayList<>();
        for (Path jar : libJars()) {
            Matcher m = DRIVER_JAR.matcher(jar.getFileName().toString());
            if (m.matches() && hasProviderService(jar)) {
                ids.add(m.group(1));
            }
        }
        return ids;
    }

    private static List<Path> libJars() throws IOException {
        try (Stream<Path> s = Files.list(home.resolve("lib"))) {
            return s.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
        }
    }

    static boolean hasProviderService(Path jar) throws IOException {
        try (ZipFile z = new ZipFile(jar.toFile())) {
            return z.getEntry(SERVICE) != null;
        }
    }

    private record Run(int exitCode, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- out\n" + out + "--- err\n" + err;
        }
    }

    private static Run launch(String... args) throws IOException, InterruptedException {
        Path bash = Path.of("/bin/bash");
        assumeTrue(Files.isExecutable(bash), "the launcher test needs bash");
        List<String> command = new ArrayList<>(List.of(bash.toString(), home.resolve("bin/iommufd-sim").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("IOMMUFD_SIM_JAVA_OPTS");
        Path out = Files.createTempFile(unpacked, "out", ".txt");
        Path err = Files.createTempFile(unpacked, "err", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("bin/iommufd-sim " + String.join(" ", args) + " did not end in 120 s");
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    private static int count(Run r) {
        Matcher m = COUNT.matcher(r.out());
        assertTrue(m.find(), r::toString);
        return Integer.parseInt(m.group(1));
    }

    @Test
    void layoutIsBinLibAndAReadme() throws IOException {
        assertTrue(Files.isRegularFile(home.resolve("bin/iommufd-sim")));
        assertTrue(Files.isRegularFile(home.resolve("bin/iommufd-sim.cmd")));
        assertTrue(Files.readString(home.resolve("README.txt"))
                .startsWith("iommufd-sim " + System.getProperty("project.version") + "\n"));
        List<String> names = new ArrayList<>();
        for (Path jar : libJars()) {
            names.add(jar.getFileName().toString());
        }
        String v = System.getProperty("project.version");
        for (String module : List.of("sim-cli", "core-api", "core-impl")) {
            assertTrue(names.contains(module + "-" + v + ".jar"), () -> module + " in lib/: " + names);
        }
        assertTrue(names.stream().anyMatch(n -> n.startsWith("guice-")), () -> "Guice in lib/: " + names);
        // 'iommufd-sim tck' runs the TCK on the JUnit Platform: tck and JUnit are runtime jars; test-only ones are not.
        assertTrue(names.contains("tck-" + v + ".jar"), () -> "tck in lib/: " + names);
        assertTrue(names.contains("benchmarks-" + v + ".jar") && names.contains("jmh-core-1.37.jar"),
                () -> "benchmarks and JMH in lib/ for 'iommufd-sim bench': " + names);
        assertFalse(names.stream().anyMatch(n -> n.startsWith("driver-mock") || n.startsWith("mockito")
                || n.startsWith("byte-buddy")), () -> "no test-only artifact in lib/: " + names);
    }

    @Test
    void theLauncherIsExecutableInTheZip() throws IOException {
        Map<String, Integer> modes = ZipCentralDirectory.unixModes(zip);
        String top = home.getFileName() + "/";
        assertEquals(Integer.valueOf(0755), modes.get(top + "bin/iommufd-sim"), modes::toString);
        assertEquals(Integer.valueOf(0644), modes.get(top + "bin/iommufd-sim.cmd"), modes::toString);
    }

    @Test
    void nothingIsShadedAndEachClassLivesInOneJar() throws IOException {
        Map<String, String> owner = new HashMap<>();
        for (Path jar : libJars()) {
            try (ZipFile z = new ZipFile(jar.toFile())) {
                Enumeration<? extends ZipEntry> entries = z.entries();
                while (entries.hasMoreElements()) {
                    String name = entries.nextElement().getName();
                    if (!name.endsWith(".class") || name.endsWith("module-info.class") || name.startsWith("META-INF/")) {
                        continue;
                    }
                    String previous = owner.putIfAbsent(name, jar.getFileName().toString());
                    assertTrue(previous == null, () -> name + " is in " + previous + " and " + jar.getFileName());
                }
            }
        }
        assertEquals("core-api-" + System.getProperty("project.version") + ".jar",
                owner.get(IommuDriverProvider.class.getName().replace('.', '/') + ".class"));
    }

    @Test
    void driversListsEveryBundledDriverJar() throws Exception {
        List<String> expected = bundledDriverIds();

        Run r = launch("drivers");

        assertEquals(0, r.exitCode(), r::toString);
        assertEquals("", r.err(), r::toString);
        assertEquals(expected.size(), count(r), r::toString);
        for (String id : expected) {
            assertTrue(r.out().contains("\n" + id + " - ") || r.out().startsWith(id + " - "), () -> id + " in " + r);
            assertTrue(Pattern.compile("(?m)^  jar: +.*/lib/driver-" + Pattern.quote(id) + "-[^/]*\\.jar$")
                    .matcher(r.out()).find(), () -> id + " comes from its lib/ jar: " + r);
            assertTrue(Pattern.compile("(?m)^" + Pattern.quote(id) + " - (?:.*\\n  .*)*\\n  available: +(?:yes|no: .+).*$")
                    .matcher(r.out()).find(), () -> id + " was probed: " + r);
        }
    }

    @Test
    void aThirdPartyJarIsFoundThroughDriverPathAndInLib() throws Exception {
        int bundled = bundledDriverIds().size();
        Path vendor = Files.createDirectory(unpacked.resolve("vendor-drivers"));
        Path jar = TestDriverJar.write(vendor, "acme-iommu-1.0.jar", "AcmeProvider", "acme", SpiVersion.CURRENT, "vtd");

        Run viaPath = launch("drivers", "--driver-path", vendor.toString());
        assertEquals(0, viaPath.exitCode(), viaPath::toString);
        assertEquals(bundled + 1, count(viaPath), viaPath::toString);
        assertTrue(viaPath.out().contains("acme - Test vendor IOMMU acme\n"), viaPath::toString);
        assertTrue(viaPath.out().contains("  jar:             " + jar.toAbsolutePath().normalize() + "\n"),
                viaPath::toString);

        Path dropped = home.resolve("lib").resolve(jar.getFileName());
        Files.copy(jar, dropped, StandardCopyOption.REPLACE_EXISTING);
        try {
            Run inLib = launch("drivers");
            assertEquals(0, inLib.exitCode(), inLib::toString);
            assertEquals(bundled + 1, count(inLib), inLib::toString);
            assertTrue(inLib.out().contains("acme - Test vendor IOMMU acme\n"), inLib::toString);
        } finally {
            Files.delete(dropped);
        }
    }

    @Test
    void versionAndUsageErrorsComeThroughTheLauncher() throws Exception {
        Run v = launch("--version");
        assertEquals(0, v.exitCode(), v::toString);
        assertEquals("iommufd-sim " + System.getProperty("project.version") + "\n", v.out());

        Run bad = launch("frobnicate");
        assertEquals(2, bad.exitCode(), bad::toString);
        assertTrue(bad.err().startsWith("iommufd-sim: unknown command 'frobnicate'"), bad::toString);
        assertFalse(bad.err().contains("\tat "), () -> "no stack trace: " + bad);

        Run badOption = launch("tck", "--frobnicate");
        assertEquals(2, badOption.exitCode(), badOption::toString);
        assertTrue(badOption.err().startsWith("iommufd-sim tck: unknown option '--frobnicate'"), badOption::toString);

        // The TCK's rule catalogue comes from the tck jar through the JUnit Platform jars in lib/.
        Run rules = launch("tck", "--list-rules");
        assertEquals(0, rules.exitCode(), rules::toString);
        assertTrue(rules.out().contains("MAP-1"), rules::toString);

        // 'bench' needs the benchmarks jar and JMH in lib/ (sim-cli depends on them only optionally); selecting no
        // scenario loads the suite without running a benchmark.
        Run bench = launch("bench", "--only", "NO-SUCH-SCENARIO");
        assertFalse(bench.err().contains("internal error") || bench.err().contains("NoClassDefFoundError"),
                bench::toString);
        assertTrue(bench.out().contains("benchmarks"), bench::toString);
    }

    @Test
    void everyBundledDriverJarKeepsItsOwnServiceFile() throws IOException {
        List<String> ids = bundledDriverIds();
        TreeSet<String> providers = new TreeSet<>();
        for (Path jar : libJars()) {
            if (!hasProviderService(jar)) {
                continue;
            }
            try (ZipFile z = new ZipFile(jar.toFile());
                    InputStream in = z.getInputStream(z.getEntry(SERVICE))) {
                for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                    String c = line.strip();
                    if (!c.isEmpty() && !c.startsWith("#")) {
                        assertTrue(z.getEntry(c.replace('.', '/') + ".class") != null,
                                () -> jar.getFileName() + " registers " + c + ", which it contains");
                        providers.add(c);
                    }
                }
            }
        }
        assertTrue(providers.size() >= ids.size(), () -> providers + " vs " + ids);
    }
}
