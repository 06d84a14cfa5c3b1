package dev.iommufd.spi;

import dev.iommufd.platform.Machine;

/** What the core hands a driver at {@link IommuDriverProvider#bind}. */
public interface DriverContext {

    /** The machine: memory and frame allocator, MMIO bus, interrupts, PCI topology. */
    Machine machine();

    /** Where the driver reports I/O page faults. */
    FaultSink faultSink();

    /** Where the driver reports vIOMMU events (for vEVENTQs). */
    ViommuEventSink viommuEventSink();
}
