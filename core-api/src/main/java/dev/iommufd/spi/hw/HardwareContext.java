package dev.iommufd.spi.hw;

import dev.iommufd.platform.InterruptController;
import dev.iommufd.platform.PciTopology;
import dev.iommufd.platform.PhysicalMemory;

/** What a hardware model may touch: memory (the tables it walks, the queues it reads), interrupts, and PCI. */
public interface HardwareContext {

    PhysicalMemory memory();

    /** Where the unit signals MSIs that software programmed into its registers. */
    InterruptController interrupts();

    /** The functions (for ATS/PRI behaviour and to know which RIDs exist). */
    PciTopology pci();

    /** The profile's id ({@code q35}, {@code virt}, ...). */
    String profile();
}
