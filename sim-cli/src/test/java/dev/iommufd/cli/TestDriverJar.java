package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.spi.IommuDriverProvider;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds a third-party driver jar the way a vendor would: a provider class compiled against core-api only, plus
 * its {@code META-INF/services} entry. The class exists only inside the jar (not on the test class path), so the
 * jar is really what the command loads.
 */
public final class TestDriverJar {
    private TestDriverJar() {
    }

    /**
     * Writes {@code dir/<jarName>} with one provider {@code test.vendor.<className>} whose {@code id()} is {@code id},
     * whose {@code spiVersion()} is {@code spi} and whose {@code hardwareModels()} is {@code model} alone. Its probe
     * answers "no" with the machine's profile and unit names, so a test sees that it ran on a real machine.
     */
    public static Path write(Path dir, String jarName, String className, String id, int spi, String model) throws IOException {
        String source = """
                package test.vendor;

                import dev.iommufd.api.Errno;
                import dev.iommufd.api.ErrnoException;
                import dev.iommufd.platform.Machine;
                import dev.iommufd.spi.Availability;
                import dev.iommufd.spi.Capability;
                import dev.iommufd.spi.DriverContext;
                import dev.iommufd.spi.IommuDriver;
                import dev.iommufd.spi.IommuDriverProvider;
                import java.util.Set;

                public final class %1$s implements IommuDriverProvider {
                    public String id() { return "%2$s"; }
                    public String description() { return "Test vendor IOMMU %2$s"; }
                    public String version() { return "9.8.7"; }
                    public int spiVersion() { return %3$d; }
                    public Set<Capability> capabilities() { return Set.of(Capability.PAGING, Capability.PASID); }
                    public Set<String> hardwareModels() { return Set.of("%4$s"); }
                    public Availability probe(Machine machine) {
                        StringBuilder units = new StringBuilder();
                        machine.iommuUnits().forEach(u -> units.append(' ').append(u.name()).append('=').append(u.model()));
                        return Availability.no("test driver saw " + machine.profile().id() + units);
                    }
                    public IommuDriver bind(DriverContext context) {
                        throw new ErrnoException(Errno.ENODEV, "a test driver has no hardware");
                    }
                }
                """.formatted(className, id, spi, model);
        Path work = Files.createTempDirectory(dir, "src-" + className);
        Path src = work.resolve("test/vendor/" + className + ".java");
        Files.createDirectories(src.getParent());
        Files.writeString(src, source, StandardCharsets.UTF_8);
        Path classes = work.resolve("classes");
        Files.createDirectories(classes);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "the tests need a JDK (javax.tools compiler)");
        String coreApi = Path.of(jarOrDirectoryOf(IommuDriverProvider.class)).toString();
        int rc = javac.run(null, null, null, "-proc:none", "--release", "17", "-classpath", coreApi,
                "-d", classes.toString(), src.toString());
        assertTrue(rc == 0, "the test provider compiles");

        Path jar = dir.resolve(jarName);
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file)) {
            out.putNextEntry(new JarEntry("META-INF/services/" + IommuDriverProvider.class.getName()));
            out.write(("test.vendor." + className + "\n").getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
            List<Path> files;
            try (Stream<Path> walk = Files.walk(classes)) {
                files = walk.filter(Files::isRegularFile).sorted().toList();
            }
            for (Path f : files) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                out.write(Files.readAllBytes(f));
                out.closeEntry();
            }
        }
        return jar;
    }

    private static java.net.URI jarOrDirectoryOf(Class<?> type) {
        try {
            return type.getProtectionDomain().getCodeSource().getLocation().toURI();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
