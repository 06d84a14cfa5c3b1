package dev.iommufd.platform;

/**
 * The MMIO address space: register windows at physical addresses, outside RAM. This is the only way a software
 * driver talks to its hardware model's registers.
 */
public interface MmioBus {

    /**
     * Places a window at {@code base}.
     *
     * @throws dev.iommufd.api.ErrnoException EBUSY when it overlaps RAM or another window
     */
    void map(long base, MmioRegion region);

    /** Removes the window at {@code base}. */
    void unmap(long base);

    /** A 32-bit read at a physical address. Bus error when no window or the width is refused. */
    default int read32(long pa) {
        return (int) read(pa, 4);
    }

    /** A 64-bit read at a physical address. */
    default long read64(long pa) {
        return read(pa, 8);
    }

    default void write32(long pa, int value) {
        write(pa, 4, value & 0xffff_ffffL);
    }

    default void write64(long pa, long value) {
        write(pa, 8, value);
    }

    /** A read of {@code width} bytes (1, 2, 4, 8) at a physical address. */
    long read(long pa, int width);

    /** A write of {@code width} bytes (1, 2, 4, 8) at a physical address. */
    void write(long pa, int width, long value);
}
