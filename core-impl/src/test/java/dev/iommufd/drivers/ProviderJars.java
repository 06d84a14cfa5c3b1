package dev.iommufd.drivers;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Enumeration;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

/**
 * Builds provider jars at test time from compiled fixture classes, and a class loader that sees only those jars'
 * service files and fixture classes (plus core-api from the test class path).
 */
final class ProviderJars {

    static final String FIXTURE_PACKAGE = "dev.iommufd.drivers.fixture.";

    private ProviderJars() {
    }

    /** Writes a jar holding {@code classes} and a service file registering them for {@code service}. */
    static Path jar(Path dir, String fileName, Class<?> service, Class<?>... classes) throws IOException {
        Path jar = dir.resolve(fileName);
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out)) {
            StringBuilder services = new StringBuilder("# test providers\n");
            for (Class<?> c : classes) {
                String path = c.getName().replace('.', '/') + ".class";
                j.putNextEntry(new JarEntry(path));
                try (InputStream in = c.getClassLoader().getResourceAsStream(path)) {
                    in.transferTo(j);
                }
                j.closeEntry();
                services.append(c.getName()).append('\n');
            }
            j.putNextEntry(new JarEntry("META-INF/services/" + service.getName()));
            j.write(services.toString().getBytes(StandardCharsets.UTF_8));
            j.closeEntry();
        }
        return jar;
    }

    /** A loader over {@code jars} whose parent hides the fixture classes and every service file of the class path. */
    static URLClassLoader loader(Path... jars) throws IOException {
        URL[] urls = new URL[jars.length];
        for (int i = 0; i < jars.length; i++) {
            urls[i] = jars[i].toUri().toURL();
        }
        return new URLClassLoader(urls, new Hiding(ProviderJars.class.getClassLoader()));
    }

    private static final class Hiding extends ClassLoader {
        Hiding(ClassLoader parent) {
            super(parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.startsWith(FIXTURE_PACKAGE)) {
                throw new ClassNotFoundException(name);
            }
            return super.loadClass(name, resolve);
        }

        @Override
        public URL getResource(String name) {
            return name.startsWith("META-INF/services/") ? null : super.getResource(name);
        }

        @Override
        public Enumeration<URL> getResources(String name) throws IOException {
            return name.startsWith("META-INF/services/") ? Collections.emptyEnumeration() : super.getResources(name);
        }
    }
}
