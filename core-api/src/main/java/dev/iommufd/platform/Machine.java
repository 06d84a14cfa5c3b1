package dev.iommufd.platform;

import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.List;

/**
 * A simulated machine: physical memory, the MMIO bus, interrupts, PCI functions, IOMMU hardware units and user
 * processes. Created by the implementation ({@code dev.iommufd.sim.SimulatedMachine} in core-impl).
 */
public interface Machine extends AutoCloseable {

    MachineProfile profile();

    PhysicalMemory memory();

    MmioBus mmio();

    InterruptController interrupts();

    PciTopology pci();

    /** The IOMMU hardware units, in configuration order. */
    List<IommuUnitModel> iommuUnits();

    /**
     * The unit with that name.
     *
     * @throws dev.iommufd.api.ErrnoException ENODEV when there is none
     */
    IommuUnitModel iommuUnit(String name);

    /** The user with that uid; created on first use with no locked memory. */
    UserAccount user(int uid);

    /**
     * Starts a process running as {@code uid} with the default RLIMIT_MEMLOCK (8 MiB, as on current distributions)
     * and no capabilities.
     */
    UserProcess spawn(String name, int uid);

    /** Live processes. */
    List<UserProcess> processes();

    /**
     * Registers {@code hook} to run once when the machine closes, after its processes ended: state kept per machine
     * outside it (iommufd's subsystem of the machine) is released with the machine. Hooks run in registration order on
     * the closing thread, holding no lock of the machine; a hook registered after close runs at once on the caller's
     * thread.
     *
     * <p>Additive in SPI version 1: the default registers nothing and returns {@code false}, and the caller must then
     * not expect a notification.
     *
     * @return whether the hook will run (or ran) when the machine closes
     */
    default boolean onClose(Runnable hook) {
        return false;
    }

    /** Ends every process, runs the {@link #onClose} hooks and releases the machine. */
    @Override
    void close();
}
