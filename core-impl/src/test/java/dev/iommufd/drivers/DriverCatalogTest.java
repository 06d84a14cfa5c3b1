package dev.iommufd.drivers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.drivers.fixture.AlphaDriver;
import dev.iommufd.drivers.fixture.BadIdDriver;
import dev.iommufd.drivers.fixture.DupDriverA;
import dev.iommufd.drivers.fixture.DupDriverB;
import dev.iommufd.drivers.fixture.OldSpiDriver;
import dev.iommufd.drivers.fixture.ZetaDriver;
import dev.iommufd.spi.IommuDriverProvider;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Driver discovery: the rules of {@link IommuDriverProvider} checked on jars built at test time. */
class DriverCatalogTest {

    @TempDir
    Path dir;

    @Test
    void driversAreSortedByIdAndLookedUpByIt() throws Exception {
        Path jar = ProviderJars.jar(dir, "two-drivers.jar", IommuDriverProvider.class, ZetaDriver.class, AlphaDriver.class);
        try (URLClassLoader loader = ProviderJars.loader(jar)) {
            DriverCatalog catalog = DriverCatalog.load(loader);
            assertEquals(List.of("alpha", "zeta"), catalog.ids());
            assertEquals(List.of("alpha", "zeta"), catalog.all().stream().map(IommuDriverProvider::id).toList());
            assertEquals("zeta", catalog.get("zeta").id());
            assertTrue(DriverCatalog.location(catalog.get("alpha")).endsWith("two-drivers.jar"));
            ErrnoException e = assertThrows(ErrnoException.class, () -> catalog.get("vtd"));
            assertEquals(Errno.ENODEV, e.errno());
            assertTrue(e.getMessage().contains("'vtd'") && e.getMessage().contains("[alpha, zeta]"), e.getMessage());
        }
    }

    @Test
    void aDuplicateIdFailsDiscoveryNamingBothJars() throws Exception {
        Path a = ProviderJars.jar(dir, "vendor-a-iommu.jar", IommuDriverProvider.class, DupDriverA.class);
        Path b = ProviderJars.jar(dir, "vendor-b-iommu.jar", IommuDriverProvider.class, DupDriverB.class);
        try (URLClassLoader loader = ProviderJars.loader(a, b)) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> DriverCatalog.load(loader));
            assertEquals(Errno.EEXIST, e.errno());
            String m = e.getMessage();
            assertTrue(m.contains("'dup'"), m);
            assertTrue(m.contains(a.toAbsolutePath().toString()) && m.contains(b.toAbsolutePath().toString()), "names both jars: " + m);
            assertTrue(m.contains(DupDriverA.class.getName()) && m.contains(DupDriverB.class.getName()), m);
        }
    }

    @Test
    void anIdOutsideThePatternFailsDiscoveryNamingTheJar() throws Exception {
        Path jar = ProviderJars.jar(dir, "bad-id.jar", IommuDriverProvider.class, AlphaDriver.class, BadIdDriver.class);
        try (URLClassLoader loader = ProviderJars.loader(jar)) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> DriverCatalog.load(loader));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().contains("Bad_Id") && e.getMessage().contains("bad-id.jar"), e.getMessage());
        }
    }

    @Test
    void anotherSpiVersionFailsDiscoveryNamingTheJar() throws Exception {
        Path jar = ProviderJars.jar(dir, "old.jar", IommuDriverProvider.class, OldSpiDriver.class);
        try (URLClassLoader loader = ProviderJars.loader(jar)) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> DriverCatalog.load(loader));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().contains("SPI version 0") && e.getMessage().contains("old.jar"), e.getMessage());
        }
    }

    @Test
    void aServiceFileNamingAMissingClassFailsDiscovery() throws Exception {
        // A service file naming a class its jar does not hold (a ServiceConfigurationError).
        Path jar = ProviderJars.jar(dir, "good.jar", IommuDriverProvider.class, AlphaDriver.class);
        Path other = dir.resolve("names-missing.jar");
        try (java.util.jar.JarOutputStream j = new java.util.jar.JarOutputStream(java.nio.file.Files.newOutputStream(other))) {
            j.putNextEntry(new java.util.jar.JarEntry("META-INF/services/" + IommuDriverProvider.class.getName()));
            j.write("dev.iommufd.drivers.fixture.NoSuchDriver\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            j.closeEntry();
        }
        try (URLClassLoader loader = ProviderJars.loader(jar, other)) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> DriverCatalog.load(loader));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().contains("NoSuchDriver"), e.getMessage());
        }
    }

    @Test
    void theTestClassPathItselfDiscoversCleanly() {
        DriverCatalog catalog = DriverCatalog.load();
        List<String> ids = catalog.ids();
        assertEquals(ids.stream().sorted().toList(), ids);
        for (String id : ids) {
            assertTrue(IommuDriverProvider.ID_PATTERN.matcher(id).matches(), id);
        }
    }
}
