package dev.iommufd.tck;

/** The areas the contract is grouped in; the prefix is the first part of every rule id in the area. */
public enum Area {
    DISCOVERY("DISC", "Discovery and identity"),
    CAPABILITIES("CAP", "Capabilities (declared works, undeclared fails with EOPNOTSUPP)"),
    DOMAIN("DOM", "Domain lifecycle"),
    MAP("MAP", "map_pages / unmap_pages"),
    IOVA_TO_PHYS("I2P", "iova_to_phys"),
    IOTLB("TLB", "IOTLB semantics observed through DMA"),
    ATTACH("ATT", "Attach, detach and replace, with and without PASID"),
    NESTING("NEST", "Nesting and user cache invalidation"),
    DIRTY("DIRTY", "Dirty tracking"),
    FAULTS("FAULT", "I/O page faults and page requests"),
    CONCURRENCY("CONC", "Concurrency"),
    BAD_INPUT("BAD", "Bad input (errno, state unchanged, nothing leaked)"),
    END_TO_END("E2E", "End to end through iommufd with DMA from simulated devices");

    private final String prefix;
    private final String title;

    Area(String prefix, String title) {
        this.prefix = prefix;
        this.title = title;
    }

    /** The id prefix ({@code MAP}). */
    public String prefix() {
        return prefix;
    }

    public String title() {
        return title;
    }
}
