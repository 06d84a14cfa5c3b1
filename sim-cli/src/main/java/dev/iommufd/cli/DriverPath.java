package dev.iommufd.cli;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Directories of third-party driver jars ({@code --driver-path DIR}): every {@code *.jar} directly inside each
 * directory, in name order, is added to a class loader above the application class loader, so that a dropped-in
 * jar is found by {@link java.util.ServiceLoader} like a bundled one.
 */
final class DriverPath {
    private final List<Path> jars;

    private DriverPath(List<Path> jars) {
        this.jars = List.copyOf(jars);
    }

    /**
     * Collects the jars of {@code directories}.
     *
     * @throws UsageException when a directory does not exist, is not a directory, cannot be read or holds no jar
     */
    static DriverPath of(List<String> directories) throws UsageException {
        List<Path> jars = new ArrayList<>();
        for (String d : directories) {
            Path dir = Path.of(d);
            if (!Files.exists(dir)) {
                throw new UsageException("--driver-path " + d + ": no such directory");
            }
            if (!Files.isDirectory(dir)) {
                throw new UsageException("--driver-path " + d + ": not a directory");
            }
            List<Path> found = new ArrayList<>();
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "*.jar")) {
                for (Path p : entries) {
                    if (Files.isRegularFile(p)) {
                        found.add(p.toAbsolutePath().normalize());
                    }
                }
            } catch (IOException e) {
                throw new UsageException("--driver-path " + d + ": cannot read the directory: " + e.getMessage());
            }
            if (found.isEmpty()) {
                throw new UsageException("--driver-path " + d + ": no .jar file in this directory");
            }
            found.sort(null);
            jars.addAll(found);
        }
        return new DriverPath(jars);
    }

    /** The jars, in the order they are searched. */
    List<Path> jars() {
        return jars;
    }

    /** A class loader over the jars whose parent is {@code parent}; the caller closes it. */
    URLClassLoader classLoader(ClassLoader parent) {
        URL[] urls = new URL[jars.size()];
        for (int i = 0; i < urls.length; i++) {
            try {
                urls[i] = jars.get(i).toUri().toURL();
            } catch (MalformedURLException e) {
                throw new IllegalStateException("a file path is not a URL: " + jars.get(i), e);
            }
        }
        return new URLClassLoader("iommufd-sim driver path", urls, parent);
    }
}
