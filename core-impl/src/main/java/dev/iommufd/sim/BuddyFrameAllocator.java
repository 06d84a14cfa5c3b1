package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.PhysicalMemory;

/**
 * A binary buddy allocator over every RAM range, orders 0 to {@link #MAX_ORDER}, lowest address first.
 *
 * <h2>Bookkeeping</h2>
 * Blocks are numbered in the dense frame index of {@link RamLayout}: block {@code b} of order {@code k} covers
 * dense frames {@code [b << k, (b + 1) << k)}, and its buddy is block {@code b ^ 1}. Natural alignment in the dense
 * space is natural alignment in physical addresses (see {@link RamLayout}). Per order {@code k}:
 * <pre>
 *   free[k]           LevelledBitmap, bit b set  ⇔  block b of order k is free and not part of a larger free block
 *   allocatedHead[k]  long[] bitmap,  bit b set  ⇔  block b of order k was handed out by allocate(k) and not freed
 * </pre>
 * Both cost about one bit per block, so about 4 bits per frame in all: 8 MiB for 64 GiB (16 Mi frames).
 * Allocation, free and coalescing touch only these primitive arrays and allocate no Java object.
 *
 * <p>Invariant: every RAM frame is in exactly one free block or one allocated block; alignment padding of the
 * dense space is in neither, so it is never handed out or merged.
 *
 * <p>Locking: one monitor (this object) guards the bitmaps and counters. Storage of a freed block is dropped
 * under the monitor before the block becomes free again (so a racing allocation never sees it dropped late);
 * storage of an allocated block is dropped after it leaves the free lists, when the caller owns it.
 */
public final class BuddyFrameAllocator implements FrameAllocator {

    private final RamLayout layout;
    private final SparsePhysicalMemory memory;
    /** Guarded by this. */
    private final LevelledBitmap[] free = new LevelledBitmap[MAX_ORDER + 1];
    /** Guarded by this. */
    private final long[][] allocatedHead = new long[MAX_ORDER + 1][];
    /** Guarded by this. */
    private long allocated;
    /** Guarded by this. */
    private long available;

    BuddyFrameAllocator(RamLayout layout, SparsePhysicalMemory memory) {
        this.layout = layout;
        this.memory = memory;
        long dense = layout.denseFrames();
        for (int k = 0; k <= MAX_ORDER; k++) {
            long blocks = dense >>> k;
            free[k] = new LevelledBitmap(blocks);
            allocatedHead[k] = new long[(int) Math.max(1, (blocks + 63) >>> 6)];
        }
        for (int i = 0; i < layout.rangeCount(); i++) {
            long cur = layout.rangeDenseStart(i);
            long end = cur + layout.rangeFrames(i);
            while (cur < end) {
                int k = MAX_ORDER;
                while (k > 0 && ((cur & ((1L << k) - 1)) != 0 || cur + (1L << k) > end)) {
                    k--;
                }
                free[k].set(cur >>> k);
                cur += 1L << k;
            }
        }
        available = layout.ramFrames();
    }

    @Override
    public long allocate(int order) {
        checkOrder(order);
        dev.iommufd.core.FaultInjection.check("alloc_pages"); // fail_page_alloc (armed threads only)
        long block;
        synchronized (this) {
            int k = order;
            long b = -1;
            while (k <= MAX_ORDER && (b = free[k].first()) < 0) {
                k++;
            }
            if (b < 0) {
                throw ErrnoException.of(Errno.ENOMEM, "no free block of order %d (%d frames free, fragmented or exhausted)",
                        order, available);
            }
            free[k].clear(b);
            while (k > order) {
                k--;
                b <<= 1;
                free[k].set(b | 1); // the upper half stays free
            }
            allocatedHead[order][(int) (b >>> 6)] |= 1L << b;
            allocated += 1L << order;
            available -= 1L << order;
            block = b;
        }
        long dense = block << order;
        memory.releaseStorage(dense, 1L << order); // zeroed: whatever was written while free is gone
        return layout.physicalAddress(dense);
    }

    @Override
    public void free(long pa, int order) {
        checkOrder(order);
        if ((pa & ((1L << (order + PhysicalMemory.FRAME_SHIFT)) - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "free: %#x is not aligned to a block of order %d", pa, order);
        }
        long dense = layout.denseFrame(pa);
        if (dense < 0) {
            throw ErrnoException.of(Errno.EINVAL, "free: %#x is not RAM", pa);
        }
        synchronized (this) {
            long b = dense >>> order;
            if (!isAllocatedHead(order, b)) {
                throw ErrnoException.of(Errno.EINVAL, "free: %#x is not the start of a live block of order %d (%s)",
                        pa, order, describe(dense));
            }
            memory.releaseStorage(dense, 1L << order);
            allocatedHead[order][(int) (b >>> 6)] &= ~(1L << b);
            allocated -= 1L << order;
            available += 1L << order;
            int k = order;
            while (k < MAX_ORDER && free[k].get(b ^ 1)) {
                free[k].clear(b ^ 1);
                b >>>= 1;
                k++;
            }
            free[k].set(b);
        }
    }

    @Override
    public synchronized long allocatedFrames() {
        return allocated;
    }

    @Override
    public synchronized long freeFrames() {
        return available;
    }

    private boolean isAllocatedHead(int order, long b) {
        return (allocatedHead[order][(int) (b >>> 6)] & (1L << b)) != 0;
    }

    /** For the EINVAL message: what the frame is now (caller holds the monitor). */
    private String describe(long dense) {
        for (int k = 0; k <= MAX_ORDER; k++) {
            long b = dense >>> k;
            if (isAllocatedHead(k, b)) {
                return (b << k) == dense ? "it starts a live block of order " + k
                        : "it lies inside a live block of order " + k;
            }
            if (free[k].get(b)) {
                return "it is free";
            }
        }
        return "it is not tracked";
    }

    private static void checkOrder(int order) {
        if (order < 0 || order > MAX_ORDER) {
            throw ErrnoException.of(Errno.EINVAL, "order %d is outside 0..%d", order, MAX_ORDER);
        }
    }
}
