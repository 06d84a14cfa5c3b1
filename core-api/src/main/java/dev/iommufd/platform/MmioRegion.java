package dev.iommufd.platform;

/**
 * A device's register window on the MMIO bus. Offsets are relative to the window's base.
 *
 * <p>A register accepts only the access widths its architecture defines (for example VT-d 64-bit registers
 * accept 32- and 64-bit accesses, 32-bit registers only 32-bit ones). An access of another width, or at an
 * offset with no register, is a bus error ({@link BusErrorException}); a hardware model must not silently
 * accept it. Writes to read-only registers and reads of write-only registers behave as the architecture says
 * (usually ignored / zero).
 */
public interface MmioRegion {

    /** Size of the window in bytes. */
    long size();

    /**
     * Reads a register.
     *
     * @param offset byte offset in the window
     * @param width access width in bytes: 1, 2, 4 or 8
     * @return the value, zero-extended
     */
    long read(long offset, int width);

    /**
     * Writes a register.
     *
     * @param offset byte offset in the window
     * @param width access width in bytes: 1, 2, 4 or 8
     * @param value the value (low {@code width} bytes are used)
     */
    void write(long offset, int width, long value);
}
