package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * The descriptor table of the event queue files of one context. The kernel installs these files in the calling
 * process's table; the model numbers them per context (lowest free number from {@link #FIRST_FD}, as
 * {@code get_unused_fd_flags} picks the lowest free descriptor), which is enough for everything iommufd does with
 * them. Guarded by {@code this}.
 */
final class EventFiles {
    /** Descriptors 0..2 are stdio; the model starts above them. */
    static final int FIRST_FD = 3;

    private final TreeMap<Integer, EventFile> files = new TreeMap<>();

    /** {@code get_unused_fd_flags} + {@code fd_install}. */
    synchronized int install(EventFile f) {
        int fd = FIRST_FD;
        while (files.containsKey(fd)) {
            fd++;
        }
        files.put(fd, f);
        f.setFd(fd);
        return fd;
    }

    /** @throws ErrnoException EBADF */
    synchronized EventFile get(int fd) {
        EventFile f = files.get(fd);
        if (f == null) {
            throw ErrnoException.of(Errno.EBADF, "no event queue file with descriptor %d", fd);
        }
        return f;
    }

    synchronized void remove(EventFile f) {
        files.remove(f.fd(), f);
    }

    /** Every open file (for process exit in tests). */
    synchronized List<EventFile> all() {
        return new ArrayList<>(files.values());
    }
}
