package dev.iommufd.platform;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;

/**
 * A bus error: an access to a physical address with no RAM or device behind it, or an MMIO access of a width
 * the register does not accept. Carries {@link Errno#EIO}.
 */
public class BusErrorException extends ErrnoException {
    private static final long serialVersionUID = 1L;

    private final long address;

    public BusErrorException(long address, String message) {
        super(Errno.EIO, String.format("bus error at %#x: %s", address, message));
        this.address = address;
    }

    /** The physical address of the failing access. */
    public long address() {
        return address;
    }
}
