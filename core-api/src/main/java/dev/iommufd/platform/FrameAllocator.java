package dev.iommufd.platform;

/**
 * Hands out blocks of {@code 2^order} contiguous frames from RAM, naturally aligned (the physical address is a
 * multiple of the block size) and zeroed. Used for kernel-side structures (page tables, stream tables, queues)
 * and for user memory (4 KiB pages, 2 MiB and 1 GiB huge pages).
 *
 * <p>Allocation never touches storage: a fresh block costs only the allocator's bookkeeping until written.
 * Thread-safe.
 */
public interface FrameAllocator {

    /** The largest order served: {@code 2^18} frames, 1 GiB. */
    int MAX_ORDER = 18;

    /**
     * Allocates {@code 2^order} zeroed frames.
     *
     * @return the physical address of the first frame
     * @throws dev.iommufd.api.ErrnoException ENOMEM when no block of that order is free, EINVAL for a bad order
     */
    long allocate(int order);

    /** {@link #allocate allocate(0)}. */
    default long allocateFrame() {
        return allocate(0);
    }

    /**
     * Returns a block. The block's storage is dropped, so a later allocation reads zeros.
     *
     * @throws dev.iommufd.api.ErrnoException EINVAL when {@code pa} is not the start of a live block of that order
     *         (a double free, or a wrong order): state is unchanged
     */
    void free(long pa, int order);

    /** Frames currently allocated (all orders, in 4 KiB frames). */
    long allocatedFrames();

    /** Frames still free. */
    long freeFrames();
}
