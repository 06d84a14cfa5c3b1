package dev.iommufd.sim;

import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.PhysicalMemory;
import java.util.List;

/**
 * The machine's RAM ranges and the dense frame index that physical memory's directory and the frame allocator's
 * bitmaps are indexed by.
 *
 * <h2>Dense frame index</h2>
 * Physical addresses have up to 52 bits, so frame numbers (PFNs) have up to 40: far too many to index directly.
 * Each RAM range is given a slice of a dense index space instead:
 *
 * <pre>
 *   range i:   padBasePfn_i = alignDown(basePfn_i, 2^18)        (2^18 frames = 1 GiB, the largest buddy block)
 *              dense(pfn)   = denseStart_i + (pfn - padBasePfn_i)
 *              denseStart_i = multiple of 2^18, slices laid end to end
 * </pre>
 *
 * Because both {@code denseStart_i} and {@code padBasePfn_i} are multiples of {@code 2^MAX_ORDER}, a dense index
 * is aligned to {@code 2^k} frames exactly when its PFN is, for every order {@code k <= MAX_ORDER}: the buddy
 * allocator's natural alignment in the dense space is natural alignment in physical addresses. The padding (at
 * most {@code 2^18} indices per range) is never RAM and never free.
 *
 * <h2>Lookup</h2>
 * {@link #denseFrame} is under every word access of physical memory, so it is cut to the common cases: the largest
 * range is tried first, then the second largest (q35 and virt have one or two ranges: above and below the 32-bit
 * hole), each with one unsigned compare; only a layout with three or more ranges binary-searches the rest
 * ({@code base} is sorted). The result does not depend on the order of the tries: ranges are disjoint.
 *
 * <p>Immutable; lookups allocate nothing.
 */
final class RamLayout {

    /** Slices of the dense space are aligned to this many frames (log2): the largest buddy block. */
    static final int SLICE_ALIGN_SHIFT = FrameAllocator.MAX_ORDER;

    private final List<MemoryRange> ranges;
    /** First byte of each range. */
    private final long[] base;
    /** Bytes in each range. */
    private final long[] size;
    /** Dense index of each range's first frame. */
    private final long[] denseOfBase;
    /** Frames in each range. */
    private final long[] frames;
    /** Total dense index space, a multiple of {@code 2^SLICE_ALIGN_SHIFT}. */
    private final long denseFrames;
    private final long ramFrames;
    /** The largest range (first tried): its base, size in bytes and dense index of its first frame. */
    private final long primaryBase;
    private final long primarySize;
    private final long primaryDense;
    /** The second largest range (size 0, matching nothing, when there is one range). */
    private final long secondaryBase;
    private final long secondarySize;
    private final long secondaryDense;
    /** Whether ranges other than the two above exist (then {@link #denseFrame} falls back to a binary search). */
    private final boolean moreThanTwo;

    RamLayout(List<MemoryRange> ram) {
        if (ram.isEmpty()) {
            throw new IllegalArgumentException("a machine needs RAM");
        }
        this.ranges = List.copyOf(ram);
        int n = ranges.size();
        base = new long[n];
        size = new long[n];
        denseOfBase = new long[n];
        frames = new long[n];
        long dense = 0;
        long total = 0;
        long previousEnd = 0;
        long sliceMask = (1L << SLICE_ALIGN_SHIFT) - 1;
        for (int i = 0; i < n; i++) {
            MemoryRange r = ranges.get(i);
            if ((r.base() & (PhysicalMemory.FRAME_SIZE - 1)) != 0 || (r.size() & (PhysicalMemory.FRAME_SIZE - 1)) != 0) {
                throw new IllegalArgumentException(String.format("RAM range %#x+%#x is not 4 KiB aligned", r.base(), r.size()));
            }
            if (r.base() < 0 || r.base() + r.size() > 1L << PhysicalMemory.MAX_PA_BITS) {
                throw new IllegalArgumentException(String.format("RAM range %#x+%#x exceeds %d-bit physical addresses",
                        r.base(), r.size(), PhysicalMemory.MAX_PA_BITS));
            }
            if (i > 0 && r.base() < previousEnd) {
                throw new IllegalArgumentException(String.format("RAM range %#x+%#x overlaps or is not sorted", r.base(), r.size()));
            }
            previousEnd = r.base() + r.size();
            long basePfn = r.base() >>> PhysicalMemory.FRAME_SHIFT;
            long padBasePfn = basePfn & ~sliceMask;
            long nframes = r.size() >>> PhysicalMemory.FRAME_SHIFT;
            base[i] = r.base();
            size[i] = r.size();
            frames[i] = nframes;
            denseOfBase[i] = dense + (basePfn - padBasePfn);
            long span = ((basePfn - padBasePfn) + nframes + sliceMask) & ~sliceMask;
            dense += span;
            total += nframes;
        }
        this.denseFrames = dense;
        this.ramFrames = total;
        int first = 0;
        for (int i = 1; i < n; i++) {
            if (Long.compareUnsigned(size[i], size[first]) > 0) {
                first = i;
            }
        }
        int second = -1;
        for (int i = 0; i < n; i++) {
            if (i != first && (second < 0 || Long.compareUnsigned(size[i], size[second]) > 0)) {
                second = i;
            }
        }
        primaryBase = base[first];
        primarySize = size[first];
        primaryDense = denseOfBase[first];
        secondaryBase = second < 0 ? 0 : base[second];
        secondarySize = second < 0 ? 0 : size[second];
        secondaryDense = second < 0 ? 0 : denseOfBase[second];
        moreThanTwo = n > 2;
    }

    /** The largest range's first byte (what {@link #denseFrame} tries first). */
    long primaryBase() {
        return primaryBase;
    }

    /** The largest range's size in bytes. */
    long primarySize() {
        return primarySize;
    }

    /** The dense index of the largest range's first frame. */
    long primaryDense() {
        return primaryDense;
    }

    List<MemoryRange> ranges() {
        return ranges;
    }

    /** Size of the dense index space (RAM frames plus alignment padding). */
    long denseFrames() {
        return denseFrames;
    }

    /** Frames of RAM. */
    long ramFrames() {
        return ramFrames;
    }

    int rangeCount() {
        return base.length;
    }

    long rangeDenseStart(int i) {
        return denseOfBase[i];
    }

    long rangeFrames(int i) {
        return frames[i];
    }

    /** The dense index of the frame holding {@code pa}, or -1 when {@code pa} is not RAM. Allocation-free. */
    long denseFrame(long pa) {
        long off = pa - primaryBase;
        if (Long.compareUnsigned(off, primarySize) < 0) {
            return primaryDense + (off >>> PhysicalMemory.FRAME_SHIFT);
        }
        return denseFrameOutsidePrimary(pa);
    }

    /** {@link #denseFrame} for an address outside the largest range (kept out of line so the fast path inlines). */
    long denseFrameOutsidePrimary(long pa) {
        long off = pa - secondaryBase;
        if (Long.compareUnsigned(off, secondarySize) < 0) {
            return secondaryDense + (off >>> PhysicalMemory.FRAME_SHIFT);
        }
        if (!moreThanTwo) {
            return -1;
        }
        int i = rangeAtOrBelow(pa);
        if (i < 0) {
            return -1;
        }
        off = pa - base[i];
        return Long.compareUnsigned(off, size[i]) < 0 ? denseOfBase[i] + (off >>> PhysicalMemory.FRAME_SHIFT) : -1;
    }

    /** The last range whose base is at or below {@code pa} (unsigned), or -1: a binary search of the sorted bases. */
    private int rangeAtOrBelow(long pa) {
        int lo = 0;
        int hi = base.length - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(base[mid], pa) <= 0) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    /** The physical address of the frame with dense index {@code dense}, which must be a RAM frame. */
    long physicalAddress(long dense) {
        long inPrimary = dense - primaryDense;
        if (Long.compareUnsigned(inPrimary, primarySize >>> PhysicalMemory.FRAME_SHIFT) < 0) {
            return primaryBase + (inPrimary << PhysicalMemory.FRAME_SHIFT);
        }
        for (int i = 0; i < base.length; i++) {
            long off = dense - denseOfBase[i];
            if (Long.compareUnsigned(off, frames[i]) < 0) {
                return base[i] + (off << PhysicalMemory.FRAME_SHIFT);
            }
        }
        throw new IllegalStateException("dense frame " + dense + " is not RAM");
    }

    /** The first address of {@code [pa, pa + length)} that is not RAM, or -1 when all of it is RAM. */
    long firstNonRam(long pa, long length) {
        if (length < 0) {
            return pa;
        }
        long inPrimary = pa - primaryBase;
        if (Long.compareUnsigned(inPrimary, primarySize) < 0 && length <= primarySize - inPrimary) {
            return -1; // the common case: all in the largest range
        }
        long cur = pa;
        long remaining = length;
        outer:
        while (remaining > 0) {
            for (int i = 0; i < base.length; i++) {
                long off = cur - base[i];
                if (Long.compareUnsigned(off, size[i]) < 0) {
                    long avail = size[i] - off;
                    if (avail >= remaining) {
                        return -1;
                    }
                    cur += avail;
                    remaining -= avail;
                    continue outer;
                }
            }
            return cur;
        }
        return -1;
    }
}
