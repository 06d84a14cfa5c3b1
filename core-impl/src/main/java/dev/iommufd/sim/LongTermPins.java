package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.PhysicalMemory;
import java.util.Objects;

/**
 * The machine's long-term page pins ({@code FOLL_LONGTERM}) and the user pages they keep alive.
 *
 * <h2>Data</h2>
 * <pre>
 *   frameCount : OpenLongMap  4 KiB frame PA                    → pins on that frame
 *   blockCount : OpenLongMap  huge page head PA | order (9, 18)  → pins on any base frame of that huge page
 *   orphans    : OpenLongMap  block head PA | order (0, 9, 18)   → 1 for a user page no longer owned by any mapping
 *                                                                  or file, kept only because it is pinned
 * </pre>
 * A user page is a block of order 0 (4 KiB), 9 (2 MiB) or 18 (1 GiB) from the frame allocator; heads are aligned
 * to their size, so the low 12 bits of a head PA are free to carry the order in a key. A page whose owner drops it
 * while pinned becomes an orphan; the unpin that brings its pins to zero frees it. Invariant: every key of
 * {@code orphans} has a positive pin count.
 *
 * <p>Locking: this object's monitor guards all three maps; it is taken inside a process's mmap lock or a
 * memfd's lock, and the frame allocator's monitor is taken inside it.
 */
final class LongTermPins {

    private static final int[] HUGE_ORDERS = {9, 18};
    private static final long PAGE_MASK = PhysicalMemory.FRAME_SIZE - 1;

    private final FrameAllocator frames;
    private final OpenLongMap frameCount = new OpenLongMap(1024);
    private final OpenLongMap blockCount = new OpenLongMap(16);
    private final OpenLongMap orphans = new OpenLongMap(16);

    LongTermPins(FrameAllocator frames) {
        this.frames = Objects.requireNonNull(frames, "frames");
    }

    /** Adds a pin to the 4 KiB frame {@code pa}, part of the user page of {@code order} at {@code head}. */
    synchronized void pin(long pa, long head, int order) {
        frameCount.add(pa & ~PAGE_MASK, 1);
        if (order > 0) {
            blockCount.add(head | order, 1);
        }
    }

    /** Pins on the 4 KiB frame holding {@code pa}. */
    synchronized int count(long pa) {
        long c = frameCount.get(pa & ~PAGE_MASK);
        return c == OpenLongMap.ABSENT ? 0 : (int) c;
    }

    /** Whether any base frame of the user page of {@code order} at {@code head} is pinned. */
    private boolean blockPinned(long head, int order) {
        return order == 0 ? frameCount.containsKey(head) : blockCount.containsKey(head | order);
    }

    /**
     * The owner (a mapping or a file) lets go of its page of {@code order} at {@code head}: freed now when unpinned,
     * otherwise kept until the last unpin.
     */
    synchronized void release(long head, int order) {
        if (blockPinned(head, order)) {
            orphans.put(head | order, 1);
        } else {
            frames.free(head, order);
        }
    }

    /**
     * Removes one pin from each of {@code n} frames; all or nothing.
     *
     * @throws ErrnoException EINVAL naming the first frame without a pin (counting repeats in {@code pas}); then no
     *         pin is removed
     */
    synchronized void unpin(long[] pas, int offset, int n) {
        if (n < 0) {
            throw ErrnoException.of(Errno.EINVAL, "unpin of %d pages", n);
        }
        Objects.checkFromIndexSize(offset, n, pas.length);
        int done = 0;
        for (; done < n; done++) { // pass 1: frame counts, undone on failure
            long pa = pas[offset + done] & ~PAGE_MASK;
            if (!frameCount.containsKey(pa)) {
                break;
            }
            frameCount.add(pa, -1);
        }
        if (done < n) {
            for (int i = 0; i < done; i++) {
                frameCount.add(pas[offset + i] & ~PAGE_MASK, 1);
            }
            throw ErrnoException.of(Errno.EINVAL, "unpin: page %#x (index %d) is not pinned", pas[offset + done], done);
        }
        for (int i = 0; i < n; i++) { // pass 2: huge page counts (a frame of a pinned huge page belongs to it alone)
            long pa = pas[offset + i] & ~PAGE_MASK;
            for (int k : HUGE_ORDERS) {
                long key = (pa & ~((PhysicalMemory.FRAME_SIZE << k) - 1)) | k;
                if (blockCount.containsKey(key)) {
                    blockCount.add(key, -1);
                }
            }
        }
        for (int i = 0; i < n; i++) { // pass 3: free orphans whose last pin went
            long pa = pas[offset + i] & ~PAGE_MASK;
            freeIfOrphanUnpinned(pa, 0);
            for (int k : HUGE_ORDERS) {
                freeIfOrphanUnpinned(pa & ~((PhysicalMemory.FRAME_SIZE << k) - 1), k);
            }
        }
    }

    private void freeIfOrphanUnpinned(long head, int order) {
        long key = head | order;
        if (orphans.containsKey(key) && !blockPinned(head, order)) {
            orphans.remove(key);
            frames.free(head, order);
        }
    }

    /** Frames with at least one pin. */
    synchronized int pinnedFrames() {
        return frameCount.size();
    }

    /** User pages kept alive only by pins. */
    synchronized int orphanPages() {
        return orphans.size();
    }
}
