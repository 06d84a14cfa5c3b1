package dev.iommufd.sim;

import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.PhysicalMemory;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The pages of one backing object (an anonymous mapping's memory, or a memfd): page index → the physical address
 * of the block that backs it, allocated from the frame allocator on first touch.
 *
 * <pre>
 *   chunks[i >>> 9][i & 511] = pa + 1   for a present page (PA 0 is RAM on q35 and pseries, so 0 means absent)
 *                            = 0        for a page never touched (or dropped)
 * </pre>
 * A page is a naturally aligned block of {@code 2^order} frames ({@code order} 0, 9 or 18), so a huge page is
 * physically contiguous. Chunks of 512 entries are created on first touch, so a large, sparsely touched mapping
 * costs 8 bytes per page only where it was touched.
 *
 * <p>Concurrency: {@link #touch} is lock-free (chunks and entries are published by compare-and-set; the loser of a
 * race frees its block); {@link #presentFrames} (the lockless pin walk) only reads. {@link #drop} must run under
 * the owner's exclusive lock, with no concurrent touch of the same indices. Pinned pages are handed to
 * {@link LongTermPins} when dropped.
 */
final class UserPages {

    private static final int CHUNK_SHIFT = 9;
    private static final int CHUNK_MASK = (1 << CHUNK_SHIFT) - 1;
    private static final VarHandle ENTRY = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle CHUNK = MethodHandles.arrayElementVarHandle(long[][].class);

    private final long[][] chunks;
    private final long length;
    private final int order;
    private final FrameAllocator frames;
    private final LongTermPins pins;

    UserPages(long length, int order, FrameAllocator frames, LongTermPins pins) {
        long nchunks = (length + CHUNK_MASK) >>> CHUNK_SHIFT;
        if (nchunks > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too many pages: " + length);
        }
        this.chunks = new long[(int) nchunks][];
        this.length = length;
        this.order = order;
        this.frames = frames;
        this.pins = pins;
    }

    long length() {
        return length;
    }

    int order() {
        return order;
    }

    /** Bytes per page. */
    long pageSize() {
        return (long) PhysicalMemory.FRAME_SIZE << order;
    }

    /** The physical address of page {@code index}, allocating it if absent (ENOMEM when RAM is exhausted). */
    long touch(long index) {
        long[] chunk = chunk((int) (index >>> CHUNK_SHIFT));
        int slot = (int) (index & CHUNK_MASK);
        long e = (long) ENTRY.getAcquire(chunk, slot);
        if (e != 0) {
            return e - 1;
        }
        long pa = frames.allocate(order);
        long witness = (long) ENTRY.compareAndExchange(chunk, slot, 0L, pa + 1);
        if (witness != 0) {
            frames.free(pa, order);
            return witness - 1;
        }
        return pa;
    }

    /**
     * The bulk form of {@link #touch} for a pin: fills {@code out[off, off + n)} with the physical address of the
     * 4 KiB frames {@code firstFrame, firstFrame + 1, ...} of this object (frame {@code f} is the frame
     * {@code f & (2^order - 1)} of page {@code f >>> order}), allocating absent pages. One chunk lookup per 512 pages
     * (4 KiB) or per huge page; allocates nothing but absent pages (and their chunk).
     *
     * @return {@code n}, or the frames filled before a page could not be allocated (at least 1: the caller's next
     *         call meets the failure again)
     * @throws dev.iommufd.api.ErrnoException ENOMEM when the first page cannot be allocated
     */
    int touchFrames(long firstFrame, int n, long[] out, int off) {
        int done = 0;
        if (order == 0) {
            while (done < n) {
                long index = firstFrame + done;
                long[] chunk = chunk((int) (index >>> CHUNK_SHIFT));
                int slot = (int) (index & CHUNK_MASK);
                int m = Math.min(n - done, CHUNK_MASK + 1 - slot);
                int o = off + done;
                for (int k = 0; k < m; k++) {
                    long e = (long) ENTRY.getAcquire(chunk, slot + k);
                    if (e == 0) {
                        if (done + k > 0) {
                            try {
                                e = touch(index + k) + 1;
                            } catch (dev.iommufd.api.ErrnoException ex) {
                                return done + k;
                            }
                        } else {
                            e = touch(index + k) + 1;
                        }
                    }
                    out[o + k] = e - 1;
                }
                done += m;
            }
            return n;
        }
        long frameMask = (1L << order) - 1;
        while (done < n) {
            long f = firstFrame + done;
            long head;
            if (done > 0) {
                try {
                    head = touch(f >>> order);
                } catch (dev.iommufd.api.ErrnoException ex) {
                    return done;
                }
            } else {
                head = touch(f >>> order);
            }
            int m = (int) Math.min(n - done, frameMask + 1 - (f & frameMask));
            long pa = head + ((f & frameMask) << PhysicalMemory.FRAME_SHIFT);
            int o = off + done;
            for (int k = 0; k < m; k++) {
                out[o + k] = pa + ((long) k << PhysicalMemory.FRAME_SHIFT);
            }
            done += m;
        }
        return n;
    }

    /**
     * The lockless look-up of a GUP-fast walk: fills {@code out[off, ...)} with the physical addresses of the 4 KiB
     * frames {@code firstFrame, firstFrame + 1, ...} (as {@link #touchFrames}) while their pages are present, and
     * stops at the first absent one. Allocates nothing, takes no lock, changes nothing; what it read may be stale by
     * the time it returns (the caller re-checks the process's {@link UnmapSequence} under the pin counts' monitor).
     * It counts, as it fills {@code out}, the leading run of frames that are physically consecutive (what the pin
     * counts and iommufd's PFN batches group by), so nobody has to compare the addresses again.
     *
     * @return frames filled (0..n) | the leading run of consecutive frames among them &lt;&lt; 32
     */
    long presentFrames(long firstFrame, int n, long[] out, int off) {
        long frameMask = (1L << order) - 1;
        int done = 0;
        long next = -1; // the address that continues the leading run
        int run = -1; // the leading run's length once it has ended (-1: every frame so far continues it)
        while (done < n) {
            long f = firstFrame + done;
            long index = f >>> order;
            long[] chunk = (long[]) CHUNK.getAcquire(chunks, (int) (index >>> CHUNK_SHIFT));
            if (chunk == null) {
                break;
            }
            if (order == 0) {
                int slot = (int) (index & CHUNK_MASK);
                int m = Math.min(n - done, CHUNK_MASK + 1 - slot);
                int o = off + done;
                int k = 0;
                for (; k < m; k++) {
                    long e = (long) ENTRY.getAcquire(chunk, slot + k);
                    if (e == 0) {
                        break;
                    }
                    long pa = e - 1;
                    out[o + k] = pa;
                    if (pa != next && run < 0 && done + k != 0) {
                        run = done + k;
                    }
                    next = pa + PhysicalMemory.FRAME_SIZE;
                }
                done += k;
                if (k < m) {
                    break;
                }
            } else {
                long e = (long) ENTRY.getAcquire(chunk, (int) (index & CHUNK_MASK));
                if (e == 0) {
                    break;
                }
                int m = (int) Math.min(n - done, frameMask + 1 - (f & frameMask));
                long pa = e - 1 + ((f & frameMask) << PhysicalMemory.FRAME_SHIFT);
                if (pa != next && run < 0 && done != 0) {
                    run = done;
                }
                int o = off + done;
                for (int k = 0; k < m; k++) {
                    out[o + k] = pa + ((long) k << PhysicalMemory.FRAME_SHIFT);
                }
                next = pa + ((long) m << PhysicalMemory.FRAME_SHIFT);
                done += m;
            }
        }
        return done | ((long) (run < 0 ? done : run) << 32);
    }

    /**
     * The physical address of page {@code index}; when absent, a new page is allocated, filled with the bytes of the
     * page at {@code source} (same size) and published (a COW break; the loser of a race frees its copy).
     */
    long touchCopyOf(long index, long source, PhysicalMemory memory) {
        long[] chunk = chunk((int) (index >>> CHUNK_SHIFT));
        int slot = (int) (index & CHUNK_MASK);
        long e = (long) ENTRY.getAcquire(chunk, slot);
        if (e != 0) {
            return e - 1;
        }
        long pa = frames.allocate(order);
        byte[] buf = new byte[PhysicalMemory.FRAME_SIZE];
        for (long off = 0; off < pageSize(); off += PhysicalMemory.FRAME_SIZE) {
            memory.readBytes(source + off, buf, 0, buf.length);
            memory.writeBytes(pa + off, buf, 0, buf.length);
        }
        long witness = (long) ENTRY.compareAndExchange(chunk, slot, 0L, pa + 1);
        if (witness != 0) {
            frames.free(pa, order);
            return witness - 1;
        }
        return pa;
    }

    /** The physical address of page {@code index}, or -1 when it was never touched. */
    long peek(long index) {
        long[] chunk = (long[]) CHUNK.getAcquire(chunks, (int) (index >>> CHUNK_SHIFT));
        if (chunk == null) {
            return -1;
        }
        long e = (long) ENTRY.getAcquire(chunk, (int) (index & CHUNK_MASK));
        return e - 1;
    }

    /** Lets go of pages {@code [from, to)}: unpinned ones are freed, pinned ones live on in {@link LongTermPins}. */
    void drop(long from, long to) {
        long i = from;
        while (i < to) {
            int ci = (int) (i >>> CHUNK_SHIFT);
            long chunkEnd = Math.min(to, ((long) ci + 1) << CHUNK_SHIFT);
            long[] chunk = (long[]) CHUNK.getAcquire(chunks, ci);
            if (chunk != null) {
                for (long x = i; x < chunkEnd; x++) {
                    int slot = (int) (x & CHUNK_MASK);
                    long e = (long) ENTRY.getAndSet(chunk, slot, 0L);
                    if (e != 0) {
                        pins.release(e - 1, order);
                    }
                }
            }
            i = chunkEnd;
        }
    }

    private long[] chunk(int ci) {
        long[] chunk = (long[]) CHUNK.getAcquire(chunks, ci);
        if (chunk == null) {
            long[] fresh = new long[1 << CHUNK_SHIFT];
            Object witness = CHUNK.compareAndExchange(chunks, ci, (long[]) null, fresh);
            chunk = witness == null ? fresh : (long[]) witness;
        }
        return chunk;
    }
}
