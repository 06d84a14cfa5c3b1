package dev.iommufd.platform;

import java.util.List;

/**
 * The smallest set of PCI functions the IOMMU can isolate from each other. Functions of one multi-function
 * device without ACS share a group; so do functions behind a conventional PCI bridge. All members of a group
 * must be attached to the same domain (per PASID).
 */
public interface IommuGroup {

    /** A machine-wide group number. */
    int id();

    /** The member functions, sorted by address. */
    List<PciFunction> members();
}
