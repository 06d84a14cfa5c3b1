package dev.iommufd.platform;

/**
 * One register address on an {@link MmioBus}, resolved once ({@link MmioBus#resolve}) so that a driver's hot
 * accesses (a queue's tail doorbell rung on every invalidation, a head register polled for completion) skip the
 * bus's window lookup.
 *
 * <h2>Specification</h2>
 * A handle is only a faster spelling of the bus access at its {@link #address()}: for every width and value,
 * {@code reg.read(width)} returns what {@code bus.read(reg.address(), width)} would return at that moment, and
 * {@code reg.write(width, value)} has exactly the effect of {@code bus.write(reg.address(), width, value)},
 * including every failure:
 * <ul>
 *   <li>a width other than 1, 2, 4 or 8: {@link dev.iommufd.api.ErrnoException} EINVAL, nothing accessed;</li>
 *   <li>no window holds the address, or the access runs past the end of its window: {@link BusErrorException};</li>
 *   <li>the window's {@link MmioRegion} refuses the width or offset: whatever the region throws (a bus error).</li>
 * </ul>
 * The window is looked up when the access happens, not when the handle was made: a handle resolved before its
 * window was mapped, or used after the window was unmapped or replaced, behaves as the bus does at the time of
 * the access (an implementation may cache the lookup, but must notice every {@link MmioBus#map}/{@link
 * MmioBus#unmap} that happened before the access). A value read is zero-extended from {@code width} bytes; of a
 * value written only the low {@code width} bytes reach the register.
 *
 * <p>Thread-safe; an access allocates nothing (the simulated bus's handles, see {@code SimulatedMmioBus}); handles
 * are small and meant to be created once, at probe time, and kept for the device's lifetime.
 */
public interface MmioRegister {

    /** The register's physical address. */
    long address();

    /** A read of {@code width} bytes (1, 2, 4, 8), zero-extended: {@code bus.read(address(), width)}. */
    long read(int width);

    /** A write of the low {@code width} bytes (1, 2, 4, 8) of {@code value}: {@code bus.write(address(), width, value)}. */
    void write(int width, long value);

    /** A 32-bit read: {@code bus.read32(address())}. */
    default int read32() {
        return (int) read(4);
    }

    /** A 64-bit read: {@code bus.read64(address())}. */
    default long read64() {
        return read(8);
    }

    /** A 32-bit write: {@code bus.write32(address(), value)}. */
    default void write32(int value) {
        write(4, value & 0xffff_ffffL);
    }

    /** A 64-bit write: {@code bus.write64(address(), value)}. */
    default void write64(long value) {
        write(8, value);
    }
}
