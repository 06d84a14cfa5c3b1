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

    /** Ends every process and releases the machine. */
    @Override
    void close();
}
