package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.PhysicalMemory;
import java.util.List;
import java.util.Objects;

/**
 * The machine's long-term page pins ({@code FOLL_LONGTERM}) and the user pages they keep alive.
 *
 * <h2>Data</h2>
 * Pin counts are kept per frame in primitive arrays indexed by the {@link RamLayout dense frame index} (what a
 * {@code struct page} array indexed by PFN is to the kernel), so pinning and unpinning a run of frames is a tight
 * loop over {@code int}s with no hashing and no object per frame:
 * <pre>
 *   frameCount[d >>> 16][d & 0xffff]  pins on the 4 KiB frame with dense index d      (chunks created on first pin)
 *   hugeCount[1][d >>> 9]             pins on any base frame of the 2 MiB user page holding dense frame d
 *   hugeCount[2][d >>> 18]            pins on any base frame of the 1 GiB user page holding dense frame d
 *   orphans : OpenLongMap             block head PA | order (0, 9, 18) → 1 for a user page no longer owned by any
 *                                     mapping or file, kept only because it is pinned
 * </pre>
 * A user page is a block of order 0 (4 KiB), 9 (2 MiB) or 18 (1 GiB) from the frame allocator; heads are aligned
 * to their size, so the low 12 bits of a head PA are free to carry the order in a key, and (the dense index being
 * aligned exactly as the PFN is) a huge page's frames share one {@code hugeCount} slot. A frame of a pinned huge page
 * belongs to that page alone, so {@code hugeCount[1][d >>> 9] != 0} says frame {@code d} is part of a pinned 2 MiB
 * page (likewise for 1 GiB); a frame with neither is a 4 KiB page. A page whose owner drops it while pinned becomes
 * an orphan; the unpin that brings its pins to zero frees it.
 *
 * <p>Invariants: every key of {@code orphans} has a positive pin count; {@link #pinnedFrames} is the number of
 * frames with a positive count; {@code hugePinned} the number of huge pages with a positive count.
 *
 * <p>Locking: this object's monitor guards all of it; it is taken inside a process's mmap lock or a memfd's lock,
 * or with no other lock by a lockless pin walk ({@link #pinFramesIfUnchanged}), and the frame allocator's monitor is
 * taken inside it. Each bulk operation takes it once.
 */
final class LongTermPins {

    private static final int CHUNK_SHIFT = 16;
    private static final int CHUNK_MASK = (1 << CHUNK_SHIFT) - 1;
    private static final int FRAME_SHIFT = PhysicalMemory.FRAME_SHIFT;
    private static final long PAGE_MASK = PhysicalMemory.FRAME_SIZE - 1;
    /** Huge page orders, by code 1 and 2 ({@code hugeCount[code]}). */
    private static final int[] HUGE_ORDER = {0, 9, 18};

    private final FrameAllocator frames;
    /** RAM ranges: first byte, bytes, dense index of the first frame (a copy of the machine's {@link RamLayout}). */
    private final long[] rangeBase;
    private final long[] rangeSize;
    private final long[] rangeDense;
    private final int[][] frameCount;
    private final int[][] hugeCount = new int[3][];
    private final OpenLongMap orphans = new OpenLongMap(16);
    private int pinnedFrames;
    private long hugePinned;

    // Dense-index cursor of the bulk loops: the RAM range of the last frame looked up (guarded by this).
    private long curBase;
    private long curSize;
    private long curDense;

    LongTermPins(SparsePhysicalMemory memory) {
        this(memory.layout(), memory.frames());
    }

    LongTermPins(RamLayout layout, FrameAllocator frames) {
        this.frames = Objects.requireNonNull(frames, "frames");
        List<MemoryRange> ranges = layout.ranges();
        int n = ranges.size();
        rangeBase = new long[n];
        rangeSize = new long[n];
        rangeDense = new long[n];
        for (int i = 0; i < n; i++) {
            rangeBase[i] = ranges.get(i).base();
            rangeSize[i] = ranges.get(i).size();
            rangeDense[i] = layout.rangeDenseStart(i);
        }
        long dense = layout.denseFrames();
        frameCount = new int[(int) ((dense + CHUNK_MASK) >>> CHUNK_SHIFT)][];
        hugeCount[1] = new int[(int) Math.max(1, dense >>> 9)];
        hugeCount[2] = new int[(int) Math.max(1, dense >>> 18)];
        curSize = 0;
    }

    /**
     * The dense index of the frame holding {@code pa}, or -1 when it is not RAM. One compare when {@code pa} is in
     * the same RAM range as the previous lookup. Caller holds the monitor.
     */
    private long dense(long pa) {
        long off = pa - curBase;
        if (Long.compareUnsigned(off, curSize) < 0) {
            return curDense + (off >>> FRAME_SHIFT);
        }
        for (int i = 0; i < rangeBase.length; i++) {
            off = pa - rangeBase[i];
            if (Long.compareUnsigned(off, rangeSize[i]) < 0) {
                curBase = rangeBase[i];
                curSize = rangeSize[i];
                curDense = rangeDense[i];
                return curDense + (off >>> FRAME_SHIFT);
            }
        }
        return -1;
    }

    private int[] countChunk(long d) {
        int ci = (int) (d >>> CHUNK_SHIFT);
        int[] c = frameCount[ci];
        if (c == null) {
            c = new int[1 << CHUNK_SHIFT];
            frameCount[ci] = c;
        }
        return c;
    }

    private static int code(int order) {
        return order == 0 ? 0 : order == 9 ? 1 : 2;
    }

    /**
     * Adds one pin to each of the {@code n} 4 KiB frames {@code pas[offset..offset + n)} (repeats count twice), every
     * one a frame of a user page of {@code order} (0, 9 or 18). All or nothing.
     *
     * <p>Runs of consecutive frames (the common case: a page's frames, or pages allocated in order) are counted in
     * one loop over the count array each, with one range lookup per run.
     *
     * @throws ErrnoException EFAULT for a frame that is not RAM; ENOMEM when a count would overflow (the kernel's
     *         {@code try_grab_folio} refcount-overflow check); then no pin is added
     */
    synchronized void pinFrames(long[] pas, int offset, int n, int order) {
        Objects.checkFromIndexSize(offset, n, pas.length);
        pinFramesLocked(pas, offset, n, code(order));
    }

    /**
     * The grab and re-check of a lockless pin walk ({@code try_grab_folio()}, then the re-check against munmap and
     * exit): pins the {@code n} frames {@code pas[offset..offset + n)} of user pages of {@code order}, found without
     * any lock ({@link UserPages#presentFrames}) after {@code seq.readBegin()} returned {@code start}, if and only if
     * the sequence has not moved since; all or nothing.
     *
     * <p>Why that is safe: a munmap or exit moves the sequence before it clears any entry, and lets each page go
     * through {@link #release}, under this monitor. If such a release ran before this call, the moved sequence is
     * visible here and nothing is pinned (the frames may be free already); if not, the pins are in place when the
     * release looks, and the page becomes an orphan kept until its last unpin, as any pinned page munmap lets go of.
     * Inside the monitor the order of grab and re-check does not matter (no release can run in between), so the
     * re-check comes first and no pin has to be backed out.
     *
     * <p>The first {@code knownRun} frames are known to be physically consecutive ({@code pas[offset + k] ==
     * pas[offset] + k * 4096}: the look-up counted the run as it filled {@code pas}), so they are not compared again
     * (0 when nothing is known).
     *
     * @return whether the frames were pinned (false also when a count would overflow: the locked path then meets
     *         the failure itself)
     */
    synchronized boolean pinFramesIfUnchanged(UnmapSequence seq, int start, long[] pas, int offset, int n, int order, int knownRun) {
        if (!seq.unchanged(start)) {
            return false;
        }
        try {
            pinFramesLocked(pas, offset, n, code(order), knownRun);
        } catch (ErrnoException e) {
            return false;
        }
        return true;
    }

    private void pinFramesLocked(long[] pas, int offset, int n, int code) {
        pinFramesLocked(pas, offset, n, code, 0);
    }

    /** {@link #pinFramesLocked(long[], int, int, int)}; the first {@code knownRun} frames are known consecutive. */
    private void pinFramesLocked(long[] pas, int offset, int n, int code, int knownRun) {
        int done = 0;
        int known = Math.min(knownRun, n);
        try {
            while (done < n) {
                long pa = pas[offset + done] & ~PAGE_MASK;
                long d = dense(pa);
                if (d < 0) {
                    throw ErrnoException.of(Errno.EFAULT, "pin: %#x is not RAM", pa);
                }
                int m = known > 1 ? runLimit(known, pa, d) : runLength(pas, offset + done, n - done, pa, d);
                known = Math.max(0, known - m);
                int[] c = countChunk(d);
                int slot = (int) (d & CHUNK_MASK);
                int zeros = 0;
                int overflow = 0;
                for (int j = slot, to = slot + m; j < to; j++) {
                    int v = c[j];
                    zeros += v == 0 ? 1 : 0;
                    overflow |= v == Integer.MAX_VALUE ? 1 : 0;
                    c[j] = v + 1;
                }
                if (overflow != 0) {
                    for (int j = slot; j < slot + m; j++) {
                        c[j]--;
                    }
                    throw ErrnoException.of(Errno.ENOMEM, "pin: a frame of [%#x, +%d frames) has %d pins (refcount overflow)",
                            pa, m, Integer.MAX_VALUE);
                }
                pinnedFrames += zeros;
                if (code != 0) {
                    addHuge(code, d, m, 1);
                }
                done += m;
            }
        } catch (RuntimeException e) {
            removePins(pas, offset, done, code);
            throw e;
        }
    }

    /**
     * The number of frames from {@code pas[at]} (at {@code pa}, dense index {@code d}) that are consecutive in
     * physical memory, in the same RAM range and in the same count chunk as it: at least 1, at most {@code max}.
     */
    private int runLength(long[] pas, int at, int max, long pa, long d) {
        int limit = runLimit(max, pa, d);
        int m = 1;
        long expect = pa + PhysicalMemory.FRAME_SIZE;
        while (m < limit && (pas[at + m] & ~PAGE_MASK) == expect) {
            m++;
            expect += PhysicalMemory.FRAME_SIZE;
        }
        return m;
    }

    /**
     * {@code max}, cut to the frames from {@code pa} (dense index {@code d}, just looked up, so in the cursor's RAM
     * range) that stay in the same RAM range and count chunk: at least 1.
     */
    private int runLimit(int max, long pa, long d) {
        long inChunk = (CHUNK_MASK + 1) - (d & CHUNK_MASK);
        long inRange = (curSize - (pa - curBase)) >>> FRAME_SHIFT;
        return (int) Math.min(max, Math.min(inChunk, inRange));
    }

    /** Adds {@code delta} per frame to the huge page counts of the {@code m} frames from dense index {@code d}. */
    private void addHuge(int code, long d, int m, int delta) {
        int order = HUGE_ORDER[code];
        int[] h = hugeCount[code];
        long cur = d;
        long end = d + m;
        while (cur < end) {
            long blockEnd = Math.min(end, ((cur >>> order) + 1) << order);
            int b = (int) (cur >>> order);
            int before = h[b];
            h[b] = before + delta * (int) (blockEnd - cur);
            if (before == 0) {
                hugePinned++;
            } else if (h[b] == 0) {
                hugePinned--;
            }
            cur = blockEnd;
        }
    }

    /** Undoes the first {@code n} pins of {@link #pinFrames} (every one known to be there). */
    private void removePins(long[] pas, int offset, int n, int code) {
        for (int i = 0; i < n; i++) {
            long d = dense(pas[offset + i] & ~PAGE_MASK);
            int[] c = frameCount[(int) (d >>> CHUNK_SHIFT)];
            int slot = (int) (d & CHUNK_MASK);
            if (--c[slot] == 0) {
                pinnedFrames--;
            }
            if (code != 0) {
                addHuge(code, d, 1, -1);
            }
        }
    }

    /** Pins on the 4 KiB frame holding {@code pa}. */
    synchronized int count(long pa) {
        long d = dense(pa);
        if (d < 0) {
            return 0;
        }
        int[] c = frameCount[(int) (d >>> CHUNK_SHIFT)];
        return c == null ? 0 : c[(int) (d & CHUNK_MASK)];
    }

    /** Whether any base frame of the user page of {@code order} at {@code head} is pinned. Caller holds the monitor. */
    private boolean blockPinned(long head, int order) {
        long d = dense(head);
        if (d < 0) {
            return false;
        }
        if (order == 0) {
            int[] c = frameCount[(int) (d >>> CHUNK_SHIFT)];
            return c != null && c[(int) (d & CHUNK_MASK)] != 0;
        }
        return hugeCount[code(order)][(int) (d >>> order)] != 0;
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
        unpinLocked(pas, offset, 0, n);
    }

    /**
     * {@link #unpin} of the {@code n} consecutive frames {@code pa, pa + 4096, ...}: the same counts, checks and
     * all-or-nothing failure, without an address per frame (no run to find: one range look-up per count chunk).
     *
     * @throws ErrnoException EINVAL naming the first frame without a pin, or for a negative {@code n}; then no pin
     *         is removed
     */
    synchronized void unpinRun(long pa, int n) {
        if (n < 0) {
            throw ErrnoException.of(Errno.EINVAL, "unpin of %d pages", n);
        }
        unpinLocked(null, 0, pa & ~PAGE_MASK, n);
    }

    /**
     * The two passes of {@link #unpin} and {@link #unpinRun}: the frames are {@code pas[offset, offset + n)} or,
     * when {@code pas} is null, the {@code n} consecutive frames from {@code first} (no run to find: one range
     * look-up per count chunk).
     */
    private void unpinLocked(long[] pas, int offset, long first, int n) {
        int done = 0;
        while (done < n) { // pass 1: frame counts, run by run; undone on failure
            long pa = frame(pas, offset, first, done);
            long d = dense(pa);
            int[] c = d < 0 ? null : frameCount[(int) (d >>> CHUNK_SHIFT)];
            if (c == null) {
                break;
            }
            int m = pas == null ? runLimit(n - done, pa, d) : runLength(pas, offset + done, n - done, pa, d);
            int k = unpinSlots(c, (int) (d & CHUNK_MASK), m);
            done += k;
            if (k < m) {
                break;
            }
        }
        if (done < n) {
            for (int i = 0; i < done; i++) {
                repin(frame(pas, offset, first, i));
            }
            throw ErrnoException.of(Errno.EINVAL, "unpin: page %#x (index %d) is not pinned",
                    pas == null ? frame(null, 0, first, done) : pas[offset + done], done);
        }
        if (hugePinned == 0 && orphans.size() == 0) {
            return; // only 4 KiB pages are pinned and none is an orphan: nothing else to update
        }
        for (int i = 0; i < n; i++) { // pass 2: huge page counts, then orphans whose last pin went
            unpinned(frame(pas, offset, first, i));
        }
    }

    /** Frame {@code i} of an unpin: {@code pas[offset + i]} (page-aligned), or {@code first + i * 4096} without pas. */
    private static long frame(long[] pas, int offset, long first, int i) {
        return pas == null ? first + ((long) i << FRAME_SHIFT) : pas[offset + i] & ~PAGE_MASK;
    }

    /**
     * Takes one pin off each of the {@code m} counts {@code c[slot, slot + m)}. When one of them is 0 (no pin left),
     * only the counts before it are decremented.
     *
     * @return {@code m}, or the index of the first count that had no pin
     */
    private int unpinSlots(int[] c, int slot, int m) {
        int ones = 0;
        int unpinned = 0;
        for (int j = slot, to = slot + m; j < to; j++) {
            int v = c[j];
            ones += v == 1 ? 1 : 0;
            unpinned |= v == 0 ? 1 : 0;
            c[j] = v - 1;
        }
        if (unpinned == 0) {
            pinnedFrames -= ones;
            return m;
        }
        // Some frame of the run has no pin (left): undo the run, then count the frames before that one.
        int k = 0;
        for (int j = slot; j < slot + m; j++) {
            c[j]++;
        }
        while (c[slot + k] != 0) {
            if (--c[slot + k] == 0) {
                pinnedFrames--;
            }
            k++;
        }
        return k;
    }

    /** Gives back one pin taken off the frame at {@code pa} by a failing unpin's pass 1. */
    private void repin(long pa) {
        long d = dense(pa);
        if (frameCount[(int) (d >>> CHUNK_SHIFT)][(int) (d & CHUNK_MASK)]++ == 0) {
            pinnedFrames++;
        }
    }

    /** Pass 2 of an unpin, for the frame at {@code pa}: its huge page's count, then the orphan its last pin kept. */
    private void unpinned(long pa) {
        long d = dense(pa);
        int code = hugeCount[1][(int) (d >>> 9)] != 0 ? 1 : hugeCount[2][(int) (d >>> 18)] != 0 ? 2 : 0;
        if (code != 0) {
            int order = HUGE_ORDER[code];
            if (--hugeCount[code][(int) (d >>> order)] == 0) {
                hugePinned--;
                freeIfOrphan(pa & ~((PhysicalMemory.FRAME_SIZE << order) - 1), order);
            }
        } else if (frameCount[(int) (d >>> CHUNK_SHIFT)][(int) (d & CHUNK_MASK)] == 0) {
            freeIfOrphan(pa, 0);
        }
    }

    /** Frees the page of {@code order} at {@code head} if it is an orphan (its last pin just went). */
    private void freeIfOrphan(long head, int order) {
        if (orphans.size() != 0 && orphans.remove(head | order)) {
            frames.free(head, order);
        }
    }

    /** Frames with at least one pin. */
    synchronized int pinnedFrames() {
        return pinnedFrames;
    }

    /** User pages kept alive only by pins. */
    synchronized int orphanPages() {
        return orphans.size();
    }
}
