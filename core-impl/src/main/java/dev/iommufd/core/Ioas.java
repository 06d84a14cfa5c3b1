package dev.iommufd.core;

import dev.iommufd.platform.PhysicalMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An I/O address space object ({@code struct iommufd_ioas}): an {@link IoPageTable} that user space maps into and
 * that HWPT_PAGINGs (domains) and accesses mirror.
 *
 * <p>Destroying an IOAS unmaps every area; it is refused (EBUSY, by the object table) while an HWPT or an access
 * holds a reference. Mappings do not block destruction.
 */
public final class Ioas extends IommufdObject {
    private final IoPageTable iopt;
    /**
     * {@code ioas->mutex}: serialises HWPT_PAGING creation and automatic domain selection for this IOAS. Lock
     * order: mutex, then an igroup's lock, then the table's lock.
     */
    final ReentrantLock mutex = new ReentrantLock();
    /** {@code ioas->hwpt_list}: the paging HWPTs mirroring this IOAS, in creation order (guarded by mutex). */
    final List<HwptPaging> hwpts = new ArrayList<>();

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
