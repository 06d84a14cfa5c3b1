package dev.iommufd.platform;

import java.util.List;

/** The machine's PCI functions and their IOMMU groups. */
public interface PciTopology {

    /**
     * Hot-adds a function.
     *
     * @throws dev.iommufd.api.ErrnoException EEXIST when the address is taken, ENODEV when the IOMMU unit is unknown
     */
    PciFunction add(PciFunctionSpec spec);

    /**
     * The function at an address.
     *
     * @throws dev.iommufd.api.ErrnoException ENODEV when there is none
     */
    PciFunction function(PciAddress address);

    /** Every function, sorted by address. */
    List<PciFunction> functions();

    /** Every IOMMU group, sorted by id. */
    List<IommuGroup> groups();
}
