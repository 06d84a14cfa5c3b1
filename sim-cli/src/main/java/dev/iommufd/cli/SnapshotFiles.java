package dev.iommufd.cli;

import dev.iommufd.snapshot.MachineSnapshot;
import dev.iommufd.snapshot.SnapshotFormatException;
import dev.iommufd.snapshot.SnapshotJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading and writing snapshot and picture files, with errors as {@link UsageException}s naming the file. */
final class SnapshotFiles {
    private SnapshotFiles() {
    }

    static void write(String file, String text) throws UsageException {
        try {
            Files.writeString(Path.of(file), text, StandardCharsets.UTF_8);
        } catch (IOException | java.nio.file.InvalidPathException e) {
            throw new UsageException("cannot write " + file + ": " + e.getMessage());
        }
    }

    static String readText(String file) throws UsageException {
        try {
            return Files.readString(Path.of(file), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UsageException(file + ": no such file");
        } catch (IOException | java.nio.file.InvalidPathException e) {
            throw new UsageException("cannot read " + file + ": " + e.getMessage());
        }
    }

    static MachineSnapshot read(String file) throws UsageException {
        String text = readText(file);
        try {
            return SnapshotJson.read(text);
        } catch (SnapshotFormatException e) {
            throw new UsageException(file + ": not a valid snapshot: " + e.getMessage());
        }
    }
}
