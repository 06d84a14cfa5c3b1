package dev.iommufd.core;

import dev.iommufd.platform.PhysicalMemory;

/**
 * An I/O address space object ({@code struct iommufd_ioas}): an {@link IoPageTable} that user space maps into and
 * that HWPT_PAGINGs (domains) and accesses mirror.
 *
 * <p>Destroying an IOAS unmaps every area; it is refused (EBUSY, by the object table) while an HWPT or an access
 * holds a reference. Mappings do not block destruction.
 */
public final class Ioas extends IommufdObject {
    private final IoPageTable iopt;

    Ioas(PhysicalMemory memory) {
        super(ObjectKind.IOAS);
        this.iopt = new IoPageTable(memory);
    }

    /** The IOVA map. */
    public IoPageTable iopt() {
        return iopt;
    }

    @Override
    protected void destroy() {
        iopt.destroy();
    }
}
