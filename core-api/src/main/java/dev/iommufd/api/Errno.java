package dev.iommufd.api;

/**
 * Linux errno values (x86-64/arm64 generic numbering), as iommufd returns them.
 *
 * <p>The ioctl layer returns {@code -errno()}; the typed API throws {@link ErrnoException} carrying one of
 * these. Only the values the iommu subsystem can return are listed.
 */
public enum Errno {
    EPERM(1), ENOENT(2), ESRCH(3), EINTR(4), EIO(5), ENXIO(6), E2BIG(7), EBADF(9), EAGAIN(11), ENOMEM(12),
    EACCES(13), EFAULT(14), EBUSY(16), EEXIST(17), EXDEV(18), ENODEV(19), EINVAL(22), ENFILE(23), EMFILE(24),
    ENOTTY(25), EFBIG(27), ENOSPC(28), ESPIPE(29), ERANGE(34),
    /** Also spelled EDEADLOCK on x86 and arm64 (same number). */
    EDEADLK(35), ENAMETOOLONG(36), ENOSYS(38), ENODATA(61), EOVERFLOW(75), EMSGSIZE(90), EOPNOTSUPP(95),
    EADDRINUSE(98), EADDRNOTAVAIL(99), ETIMEDOUT(110), EALREADY(114), EINPROGRESS(115);

    /** x86-64 and arm64 use the same number for EDEADLOCK and EDEADLK. */
    public static final Errno EDEADLOCK = EDEADLK;

    private static final Errno[] BY_NUMBER = new Errno[128];
    static {
        for (Errno e : values()) {
            BY_NUMBER[e.number] = e;
        }
    }

    private final int number;

    Errno(int number) {
        this.number = number;
    }

    /** The positive errno number. */
    public int number() {
        return number;
    }

    /** The errno for a positive or negative number, or {@code null} when this enum does not list it. */
    public static Errno of(int number) {
        int n = Math.abs(number);
        return n < BY_NUMBER.length ? BY_NUMBER[n] : null;
    }
}
