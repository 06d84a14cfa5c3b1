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

    /**
     * A handle on the register at {@code pa}: every access through it is exactly the bus access at {@code pa} at
     * the time of the access (same values, same errors, windows mapped or unmapped after this call included; see
     * {@link MmioRegister}), without this bus's window lookup when the implementation caches it. Never fails: an
     * address with no window yields a handle whose accesses fail as the bus's would. Create it once (at probe
     * time) and keep it; this default returns a handle that simply calls {@link #read}/{@link #write}.
     */
    default MmioRegister resolve(long pa) {
        MmioBus bus = this;
        return new MmioRegister() {
            @Override
            public long address() {
                return pa;
            }

            @Override
            public long read(int width) {
                return bus.read(pa, width);
            }

            @Override
            public void write(int width, long value) {
                bus.write(pa, width, value);
            }

            @Override
            public String toString() {
                return String.format("MMIO register %#x", pa);
            }
        };
    }
}
