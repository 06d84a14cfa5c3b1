package dev.iommufd.sim;

/**
 * Physical pages a driver mapped into a process ({@code io_remap_pfn_range}, VM_IO | VM_PFNMAP): the base physical
 * address and the driver's {@code vm_ops->close}, shared by every piece a partial munmap splits the mapping into.
 *
 * <p>{@code vmas} counts those pieces; it is guarded by the owning process's mmap lock (write side). When it falls
 * to zero the process runs {@code onClose} once, after releasing that lock.
 */
final class PfnRegion {
    final long pa;
    final Runnable onClose;
    /** Live mappings of the region; guarded by the process's mmap lock. */
    int vmas = 1;

    PfnRegion(long pa, Runnable onClose) {
        this.pa = pa;
        this.onClose = onClose;
    }

    @Override
    public String toString() {
        return String.format("pfnmap@%#x", pa);
    }
}
