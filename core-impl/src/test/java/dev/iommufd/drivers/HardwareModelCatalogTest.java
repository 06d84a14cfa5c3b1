package dev.iommufd.drivers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.drivers.fixture.DupModelA;
import dev.iommufd.drivers.fixture.DupModelB;
import dev.iommufd.drivers.fixture.NoPresetModel;
import dev.iommufd.spi.hw.HardwareModelProvider;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hardware model discovery. */
class HardwareModelCatalogTest {

    @TempDir
    Path dir;

    @Test
    void aDuplicateModelIdFailsDiscoveryNamingBothJars() throws Exception {
        Path a = ProviderJars.jar(dir, "model-a.jar", HardwareModelProvider.class, DupModelA.class);
        Path b = ProviderJars.jar(dir, "model-b.jar", HardwareModelProvider.class, DupModelB.class);
        try (URLClassLoader loader = ProviderJars.loader(a, b)) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> HardwareModelCatalog.load(loader));
            assertEquals(Errno.EEXIST, e.errno());
            assertTrue(e.getMessage().contains(a.toAbsolutePath().toString()) && e.getMessage().contains(b.toAbsolutePath().toString()),
                    e.getMessage());
        }
    }

    @Test
    void aModelWithoutPresetsIsRefused() throws Exception {
        Path jar = ProviderJars.jar(dir, "bare.jar", HardwareModelProvider.class, NoPresetModel.class);
        try (URLClassLoader loader = ProviderJars.loader(jar)) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> HardwareModelCatalog.load(loader));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().contains("bare.jar"), e.getMessage());
        }
    }

    @Test
    void oneModelPerJarIsFoundAndUnknownIdsAreEnodev() throws Exception {
        Path jar = ProviderJars.jar(dir, "model-a.jar", HardwareModelProvider.class, DupModelA.class);
        try (URLClassLoader loader = ProviderJars.loader(jar)) {
            HardwareModelCatalog c = HardwareModelCatalog.load(loader);
            assertEquals(List.of("twin"), c.ids());
            assertEquals(List.of("qemu"), c.get("twin").presets());
            ErrnoException e = assertThrows(ErrnoException.class, () -> c.get("smmuv3"));
            assertEquals(Errno.ENODEV, e.errno());
            assertTrue(e.getMessage().contains("[twin]"), e.getMessage());
        }
    }

    @Test
    void theSharedCatalogIsDiscoveredOncePerLoader() {
        ClassLoader loader = getClass().getClassLoader();
        HardwareModelCatalog c = HardwareModelCatalog.shared(loader);
        assertSame(c, HardwareModelCatalog.shared(loader));
        assertTrue(c.ids().contains("test-offset"), "the test-only model registered with @AutoService: " + c.ids());
    }
}
