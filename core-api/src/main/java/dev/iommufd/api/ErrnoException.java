package dev.iommufd.api;

import java.util.Objects;

/**
 * A failure that carries a Linux errno and a message naming the offending argument.
 *
 * <p>Every entry point of the project (typed API, ioctl layer, platform, SPI) fails with this exception or a
 * subclass. The ioctl layer turns it into {@code -errno}. A call that throws must have left state as it was,
 * except where the kernel documents partial progress; {@link #progress()} reports that progress (bytes
 * mapped before a driver failed, entries handled by a cache invalidation, bytes unmapped before an unmap
 * stopped), or {@code 0}.
 */
public class ErrnoException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Errno errno;
    private final long progress;

    public ErrnoException(Errno errno, String message) {
        this(errno, message, 0, null);
    }

    public ErrnoException(Errno errno, String message, Throwable cause) {
        this(errno, message, 0, cause);
    }

    public ErrnoException(Errno errno, String message, long progress, Throwable cause) {
        super(Objects.requireNonNull(errno, "errno") + ": " + message, cause);
        this.errno = errno;
        this.progress = progress;
    }

    /** The errno. */
    public Errno errno() {
        return errno;
    }

    /** What was done before the failure, in the unit the throwing method documents; {@code 0} when nothing. */
    public long progress() {
        return progress;
    }

    /** The same failure with a progress count attached. */
    public ErrnoException withProgress(long done) {
        ErrnoException e = new ErrnoException(errno, messageWithoutErrno(), done, getCause());
        e.setStackTrace(getStackTrace());
        return e;
    }

    private String messageWithoutErrno() {
        String m = getMessage();
        String prefix = errno + ": ";
        return m.startsWith(prefix) ? m.substring(prefix.length()) : m;
    }

    /** Shorthand: {@code throw ErrnoException.of(Errno.EINVAL, "iova %#x is not page aligned", iova)}. */
    public static ErrnoException of(Errno errno, String format, Object... args) {
        return new ErrnoException(errno, args.length == 0 ? format : String.format(format, args));
    }

    /** The standard failure of an operation a driver or object does not support. */
    public static ErrnoException notSupported(String what) {
        return new ErrnoException(Errno.EOPNOTSUPP, what + " is not supported");
    }
}
