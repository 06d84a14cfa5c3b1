package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.PhysicalMemory;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link PhysicalMemory} as sparse frames: one {@code long[512]} per 4 KiB frame, created on the first write.
 *
 * <h2>Storage</h2>
 * <pre>
 *   directory : long[][]     one slot per frame of the dense index (see {@link RamLayout}), null while the frame reads
 *                            as zeros; it covers the dense indexes {@code [0, directory.length)} and is replaced by a
 *                            longer copy when a frame above that gets storage (lengths are powers of two, at most
 *                            {@code denseFrames})
 *   frame     : long[512]    the frame's bytes as little-endian 64-bit words: byte b of the frame is
 *                            bits [8*(b%8), 8*(b%8)+7] of word b/8
 * </pre>
 * Cost: 4112 bytes per written frame (0.4% over its 4096 bytes), plus one reference (4 bytes with compressed
 * references, 0.1%) per frame of the dense index below the highest frame that ever had storage: the frame allocator
 * hands out the lowest addresses first, so that is the populated prefix of RAM (at most 64 MiB for 64 GiB). A read of
 * an unwritten frame returns zero and allocates nothing.
 *
 * <h2>Lookup (the hot path of every driver and hardware model)</h2>
 * A word access of the largest RAM range (every address on q35 and virt but those below the 32-bit hole) is three
 * dependent loads: the directory reference and the bounds of that range (fields of this object, loaded in parallel),
 * the frame's slot, the word. The word verbs test alignment and the range with two compares and branch to an out-of-line
 * path for everything else (other RAM ranges, a frame without storage on a write, the precise errors of bad input), and
 * allocate nothing.
 *
 * <h2>Concurrency</h2>
 * Slots are read without a lock (acquire loads of the directory field and of the slot). Every change of a slot (a frame
 * gets storage, storage is dropped) and every replacement of the directory happen under {@link #storageLock}, which
 * also guards the pool of recycled arrays and the count of frames with storage; a slot is stored with release
 * semantics, and a longer directory is a copy made under the lock and published by a volatile store, so a reader
 * holding the old directory sees every slot as it was before the copy (no slot changes in the old array afterwards: a
 * reader that raced with the growth is ordered before the changes that follow it). Word accesses
 * use release stores and acquire loads through a {@link VarHandle}, so a walker that reads an entry also sees
 * every earlier write of the thread that stored it. Sub-word writes are compare-and-set loops on the containing
 * word. The bulk word verbs ({@link #read64s}, {@link #write64s}, {@link #writeRun64}, {@link #indexOfAny64},
 * {@link #updateMatching64s}: its updates are compare-and-sets) move
 * each frame's part of the run with plain 64-bit array accesses ({@code System.arraycopy}, counted loops) fenced
 * once per call: a release fence before a bulk write, an acquire fence after a bulk read, which is the ordering
 * the {@link PhysicalMemory} contract gives them. Bulk copies ({@link #readBytes}, {@link #writeBytes}) move whole aligned words with plain accesses (64-bit
 * accesses are single-copy atomic on every 64-bit JVM) and are ordered with respect to a device by the MMIO
 * doorbell that follows them. {@link #zero} of a whole frame drops its storage: the caller owns the frame, and
 * a write racing with that zero on the same frame may be lost (as a write racing a free would be on hardware).
 *
 * <h2>Recycled storage</h2>
 * Storage dropped by {@link #zero} or by the frame allocator ({@link #releaseStorage}: a freed or newly allocated
 * block) is kept, up to {@link #RECYCLED_MAX} arrays, and handed to the next frame that needs storage, zero-filled
 * then (the work {@code new long[512]} does, as the kernel zeroes a page-table page it allocates), except when a
 * {@link #writeRun64} writes the whole frame: it fills the array and publishes it with its words in it. Page tables are
 * freed and allocated by the tens of thousands (a 64 GiB 4 KiB mapping has 32768 leaf tables): without recycling,
 * every unmap turned 128 MiB of tables into garbage and the next map allocated 128 MiB of fresh arrays that
 * survived young collections, whose evacuation (copying the new tables) then paused the mapping thread for
 * 100-270 ms at a time. What the frames read is unchanged: a frame without storage reads zeros, and a recycled
 * array is zero before it is published. The one observable difference is for an access that races with the drop
 * of its own frame (a caller's use-after-free): it may read or write the array after it was given to another
 * frame, as a device access racing a page free on hardware may hit the page's next owner.
 */
public final class SparsePhysicalMemory implements PhysicalMemory {

    /** 64-bit words in a frame. */
    static final int WORDS_PER_FRAME = FRAME_SIZE / Long.BYTES;
    private static final int FRAME_OFFSET_MASK = FRAME_SIZE - 1;
    /** Words ORed together per step of {@link #indexOfAny64}'s scan. */
    private static final int SCAN_BLOCK = 64;
    /** Slots of the first directory (16 MiB of RAM), unless RAM is smaller. */
    static final int MIN_DIRECTORY = 1 << 12;

    private static final VarHandle WORD = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle FRAME_SLOT = MethodHandles.arrayElementVarHandle(long[][].class);
    private static final VarHandle BYTES_AS_LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final RamLayout layout;
    /** The largest RAM range (a copy of the layout's, read by every access): first byte, bytes, dense index of its first frame. */
    private final long primaryBase;
    private final long primarySize;
    private final long primaryDense;
    /** Frame storage by dense frame index (see Storage); replaced, never changed in place, once a longer one exists. */
    private volatile long[][] directory;
    /** Guards every slot change, directory growth, {@link #recycled} and {@link #framesWithStorage}. */
    private final Object storageLock = new Object();
    /** Frames whose storage exists; written under {@link #storageLock}. */
    private volatile long framesWithStorage;
    private final BuddyFrameAllocator frames;
    /**
     * Most dropped frame arrays kept for reuse (256 MiB): more than the tables of a 64 GiB 4 KiB mapping; the pool
     * never holds more than the storage the memory had at its peak.
     */
    static final int RECYCLED_MAX = 1 << 16;
    /** Dropped frame arrays, any contents, for {@link #frameForWrite} (a stack); guarded by {@link #storageLock}. */
    private final long[][] recycled = new long[RECYCLED_MAX][];
    /** Arrays in {@link #recycled}; guarded by {@link #storageLock}. */
    private int recycledCount;

    /** Memory with these RAM ranges (sorted, non-overlapping, 4 KiB aligned). */
    public SparsePhysicalMemory(List<MemoryRange> ram) {
        this.layout = new RamLayout(ram);
        if (layout.denseFrames() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("RAM too large: " + layout.ramFrames() + " frames (at most 2^31 - 8 frames of dense index)");
        }
        this.primaryBase = layout.primaryBase();
        this.primarySize = layout.primarySize();
        this.primaryDense = layout.primaryDense();
        this.directory = new long[(int) Math.min(MIN_DIRECTORY, layout.denseFrames())][];
        this.frames = new BuddyFrameAllocator(layout, this);
    }

    /** Memory laid out as {@code profile} lays out {@code ramSize} bytes. */
    public static SparsePhysicalMemory of(MachineProfile profile, long ramSize) {
        return new SparsePhysicalMemory(profile.ramLayout(ramSize));
    }

    RamLayout layout() {
        return layout;
    }

    @Override
    public List<MemoryRange> ram() {
        return layout.ranges();
    }

    @Override
    public boolean isRam(long pa, long length) {
        return length >= 0 && layout.firstNonRam(pa, length) < 0;
    }

    @Override
    public FrameAllocator frames() {
        return frames;
    }

    // ---------------------------------------------------------------- word accessors

    @Override
    public long read64(long pa) {
        long off = pa - primaryBase;
        long[][] dir = directory;
        long dense = primaryDense + (off >>> FRAME_SHIFT);
        if ((pa & 7) == 0 && Long.compareUnsigned(off, primarySize) < 0 && dense < dir.length) {
            long[] f = (long[]) FRAME_SLOT.getAcquire(dir, (int) dense);
            return f == null ? 0L : (long) WORD.getAcquire(f, wordIndex(pa));
        }
        return read64Slow(pa);
    }

    /**
     * The fast path of the bulk word verbs: the storage of the frame holding {@code [pa, pa + 8 * count)} when that
     * run is aligned, non-empty, within one frame of the largest RAM range (so all RAM) and the frame has storage;
     * otherwise null, and the verb takes its general path (which checks and reports bad input).
     */
    private long[] oneFrame(long pa, int count) {
        long off = pa - primaryBase;
        int w = wordIndex(pa);
        if ((pa & 7) != 0 || count <= 0 || count > WORDS_PER_FRAME - w || Long.compareUnsigned(off, primarySize) >= 0) {
            return null;
        }
        return frameAt(primaryDense + (off >>> FRAME_SHIFT));
    }

    /** {@link #read64} off the fast path: another RAM range, a frame above the directory, or bad input. */
    private long read64Slow(long pa) {
        checkAligned(pa, 8);
        long[] f = frameForRead(pa);
        return f == null ? 0L : (long) WORD.getAcquire(f, wordIndex(pa));
    }

    @Override
    public void write64(long pa, long value) {
        long off = pa - primaryBase;
        long[][] dir = directory;
        long dense = primaryDense + (off >>> FRAME_SHIFT);
        if ((pa & 7) == 0 && Long.compareUnsigned(off, primarySize) < 0 && dense < dir.length) {
            long[] f = (long[]) FRAME_SLOT.getAcquire(dir, (int) dense);
            if (f != null) {
                WORD.setRelease(f, wordIndex(pa), value);
                return;
            }
        }
        write64Slow(pa, value);
    }

    /** {@link #write64} off the fast path: a frame without storage, another RAM range, or bad input. */
    private void write64Slow(long pa, long value) {
        checkAligned(pa, 8);
        WORD.setRelease(frameForWrite(pa), wordIndex(pa), value);
    }

    @Override
    public int read32(long pa) {
        checkAligned(pa, 4);
        long[] f = frameForRead(pa);
        return f == null ? 0 : (int) ((long) WORD.getAcquire(f, wordIndex(pa)) >>> byteShift(pa));
    }

    @Override
    public void write32(long pa, int value) {
        checkAligned(pa, 4);
        storeMasked(frameForWrite(pa), wordIndex(pa), 0xffff_ffffL << byteShift(pa), (value & 0xffff_ffffL) << byteShift(pa));
    }

    @Override
    public short read16(long pa) {
        checkAligned(pa, 2);
        long[] f = frameForRead(pa);
        return f == null ? 0 : (short) ((long) WORD.getAcquire(f, wordIndex(pa)) >>> byteShift(pa));
    }

    @Override
    public void write16(long pa, short value) {
        checkAligned(pa, 2);
        storeMasked(frameForWrite(pa), wordIndex(pa), 0xffffL << byteShift(pa), (value & 0xffffL) << byteShift(pa));
    }

    @Override
    public byte read8(long pa) {
        long[] f = frameForRead(pa);
        return f == null ? 0 : (byte) ((long) WORD.getAcquire(f, wordIndex(pa)) >>> byteShift(pa));
    }

    @Override
    public void write8(long pa, byte value) {
        storeMasked(frameForWrite(pa), wordIndex(pa), 0xffL << byteShift(pa), (value & 0xffL) << byteShift(pa));
    }

    @Override
    public boolean compareAndSet64(long pa, long expected, long update) {
        checkAligned(pa, 8);
        long[] f = frameForRead(pa);
        if (f == null) {
            if (expected != 0) {
                return false; // the word reads as zero and stays so: no storage needed
            }
            f = frameForWrite(pa);
        }
        return WORD.compareAndSet(f, wordIndex(pa), expected, update);
    }

    @Override
    public long getAndOr64(long pa, long bits) {
        checkAligned(pa, 8);
        long[] f = bits == 0 ? frameForRead(pa) : frameForWrite(pa);
        return f == null ? 0L : (long) WORD.getAndBitwiseOr(f, wordIndex(pa), bits);
    }

    @Override
    public long getAndClear64(long pa, long bits) {
        checkAligned(pa, 8);
        long[] f = frameForRead(pa);
        return f == null ? 0L : (long) WORD.getAndBitwiseAnd(f, wordIndex(pa), ~bits);
    }

    // ---------------------------------------------------------------- bulk word accessors (one frame lookup per frame)

    // The bulk verbs move words with plain array accesses (System.arraycopy, counted loops the JIT unrolls) between
    // one fence and the run: a 64-bit element of a long[] is copied single-copy atomically by HotSpot's arraycopy
    // stubs and by plain long accesses on every 64-bit JVM, so every word stays atomic; the release fence before a
    // bulk write orders the caller's earlier writes before every word of the run, the acquire fence after a bulk
    // read orders every word it returned before the caller's later accesses (the PhysicalMemory contract).

    @Override
    public void read64s(long pa, long[] dst, int offset, int count) {
        Objects.checkFromIndexSize(offset, count, dst.length);
        long[] one = oneFrame(pa, count);
        if (one != null) {
            System.arraycopy(one, wordIndex(pa), dst, offset, count);
            VarHandle.acquireFence();
            return;
        }
        checkAligned(pa, 8);
        checkRam(pa, 8L * count);
        long cur = pa;
        int off = offset;
        int remaining = count;
        while (remaining > 0) {
            int w = wordIndex(cur);
            int n = Math.min(remaining, WORDS_PER_FRAME - w);
            long[] f = frameAt(denseFrame(cur));
            if (f == null) {
                Arrays.fill(dst, off, off + n, 0L);
            } else {
                System.arraycopy(f, w, dst, off, n);
            }
            cur += 8L * n;
            off += n;
            remaining -= n;
        }
        VarHandle.acquireFence();
    }

    @Override
    public void write64s(long pa, long[] src, int offset, int count) {
        Objects.checkFromIndexSize(offset, count, src.length);
        long[] one = oneFrame(pa, count);
        if (one != null) {
            VarHandle.releaseFence();
            System.arraycopy(src, offset, one, wordIndex(pa), count);
            return;
        }
        checkAligned(pa, 8);
        checkRam(pa, 8L * count);
        VarHandle.releaseFence();
        long cur = pa;
        int off = offset;
        int remaining = count;
        while (remaining > 0) {
            int w = wordIndex(cur);
            int n = Math.min(remaining, WORDS_PER_FRAME - w);
            System.arraycopy(src, off, frameForWrite(cur), w, n);
            cur += 8L * n;
            off += n;
            remaining -= n;
        }
    }

    @Override
    public void writeRun64(long pa, int count, long first, long step) {
        long[] one = oneFrame(pa, count);
        if (one != null) {
            VarHandle.releaseFence();
            int w = wordIndex(pa);
            fillRun(one, w, w + count, first, step);
            return;
        }
        if (count < 0) {
            throw ErrnoException.of(Errno.EINVAL, "writeRun64: negative count %d at %#x", count, pa);
        }
        checkAligned(pa, 8);
        checkRam(pa, 8L * count);
        VarHandle.releaseFence();
        long cur = pa;
        long v = first;
        int remaining = count;
        while (remaining > 0) {
            int w = wordIndex(cur);
            int n = Math.min(remaining, WORDS_PER_FRAME - w);
            if (n == WORDS_PER_FRAME) {
                long dense = denseFrame(cur);
                long[] f = frameAt(dense);
                v = f != null ? fillRun(f, 0, WORDS_PER_FRAME, v, step) : fillWholeFrame(dense, v, step);
            } else {
                v = fillRun(frameForWrite(cur), w, w + n, v, step);
            }
            cur += 8L * n;
            remaining -= n;
        }
    }

    /** Stores {@code v, v + step, ...} into {@code f[from, to)}; returns the next value. */
    private static long fillRun(long[] f, int from, int to, long v, long step) {
        if (step == 0) {
            Arrays.fill(f, from, to, v);
            return v;
        }
        long x = v;
        for (int i = from; i < to; i++) {
            f[i] = x;
            x += step;
        }
        return x;
    }

    @Override
    public int indexOfAny64(long pa, int count, long mask) {
        long[] one = oneFrame(pa, count);
        if (one != null) {
            int w = wordIndex(pa);
            int at = indexOfAny(one, w, w + count, mask);
            VarHandle.acquireFence();
            return at < 0 ? -1 : at - w;
        }
        if (count < 0) {
            throw ErrnoException.of(Errno.EINVAL, "indexOfAny64: negative count %d at %#x", count, pa);
        }
        checkAligned(pa, 8);
        checkRam(pa, 8L * count);
        long cur = pa;
        int done = 0;
        while (done < count) {
            int w = wordIndex(cur);
            int n = Math.min(count - done, WORDS_PER_FRAME - w);
            long[] f = frameAt(denseFrame(cur));
            if (f != null) {
                int at = indexOfAny(f, w, w + n, mask);
                if (at >= 0) {
                    VarHandle.acquireFence();
                    return done + (at - w);
                }
            }
            cur += 8L * n;
            done += n;
        }
        VarHandle.acquireFence();
        return -1;
    }

    /**
     * The first index in {@code [from, to)} whose word has a bit of {@code mask}, or -1. The words are ORed block by
     * block (64 words, a loop the JIT vectorises: the common answer is "none", for an empty table); only a block
     * with a hit is scanned word by word. A word a racing writer clears between the two reads is not reported.
     */
    private static int indexOfAny(long[] f, int from, int to, long mask) {
        for (int block = from; block < to; block += SCAN_BLOCK) {
            int end = Math.min(to, block + SCAN_BLOCK);
            long any = 0;
            for (int i = block; i < end; i++) {
                any |= f[i];
            }
            if ((any & mask) != 0) {
                for (int i = block; i < end; i++) {
                    if ((f[i] & mask) != 0) {
                        return i;
                    }
                }
            }
        }
        return -1;
    }

    /**
     * {@inheritDoc}
     *
     * <p>One frame look-up per 4 KiB frame; a frame without storage reads as zeros, so the run ends there.
     */
    @Override
    public int clearLeading64s(long pa, int count, long mask) {
        long[] one = oneFrame(pa, count);
        if (one != null) {
            int w = wordIndex(pa);
            int k = clearLeading(one, w, w + count, mask) - w;
            VarHandle.acquireFence();
            return k;
        }
        if (count < 0) {
            throw ErrnoException.of(Errno.EINVAL, "clearLeading64s: negative count %d at %#x", count, pa);
        }
        checkAligned(pa, 8);
        checkRam(pa, 8L * count);
        long cur = pa;
        int done = 0;
        while (done < count) {
            int w = wordIndex(cur);
            int n = Math.min(count - done, WORDS_PER_FRAME - w);
            long[] f = frameAt(denseFrame(cur));
            int k = f == null ? 0 : clearLeading(f, w, w + n, mask) - w;
            done += k;
            if (k < n) {
                break;
            }
            cur += 8L * n;
        }
        VarHandle.acquireFence();
        return done;
    }

    /**
     * Clears the words of {@code f[from, to)} from the first while they have a bit of {@code mask}; returns the index
     * of the first word it left (or {@code to}). Each word is read before its clear, and the release fence orders the
     * caller's earlier writes before every clear.
     */
    private static int clearLeading(long[] f, int from, int to, long mask) {
        VarHandle.releaseFence();
        int i = from;
        while (i < to && (f[i] & mask) != 0) {
            f[i] = 0;
            i++;
        }
        return i;
    }

    @Override
    public int updateMatching64s(long pa, int count, long mask, long value, long anyOf, long clear, long set,
            int[] found) {
        if (count < 0 || count > found.length) {
            throw ErrnoException.of(Errno.EINVAL, "updateMatching64s: count %d at %#x (room for %d indices)", count, pa,
                    found.length);
        }
        checkAligned(pa, 8);
        checkRam(pa, 8L * count);
        boolean write = (clear | set) != 0;
        boolean zeroMatches = (0L & mask) == value && anyOf == 0;
        long cur = pa;
        int done = 0;
        int n = 0;
        while (done < count) {
            int w = wordIndex(cur);
            int m = Math.min(count - done, WORDS_PER_FRAME - w);
            long[] f = frameAt(denseFrame(cur));
            if (f == null && zeroMatches) {
                f = write ? frameForWrite(cur) : ZERO_FRAME; // words that read as zero match: list (and update) them
            }
            if (f != null) {
                n = write ? updateMatching(f, w, w + m, done - w, mask, value, anyOf, clear, set, found, n)
                        : findMatching(f, w, w + m, done - w, mask, value, anyOf, found, n);
            }
            cur += 8L * m;
            done += m;
        }
        VarHandle.acquireFence();
        return n;
    }

    /** A frame of zeros, only read (the matches of a frame without storage when zero words match). */
    private static final long[] ZERO_FRAME = new long[WORDS_PER_FRAME];

    /**
     * Lists the words of {@code f[from, to)} that match (index {@code i + base}) from {@code found[n]}; returns the new
     * count. A plain loop with one well-predicted branch per word, over the frame's own array: it streams the
     * words from memory at the rate a scan of an array gets, with no copy.
     */
    private static int findMatching(long[] f, int from, int to, int base, long mask, long value, long anyOf,
            int[] found, int n) {
        int k = n;
        for (int i = from; i < to; i++) {
            long e = f[i];
            if ((e & mask) == value && (anyOf == 0 || (e & anyOf) != 0)) {
                found[k++] = i + base;
            }
        }
        return k;
    }

    /**
     * {@link #findMatching}, then each match replaced by {@code (w & ~clear) | set} with a compare-and-set (re-tested
     * on a race, dropped from the list if it no longer matches). The scan finishes before the first update: a
     * compare-and-set is a full fence on x86, and one in the middle of the scan stalls the loads streaming
     * behind it (8 ms over a 64 GiB harvest at 1/64 dirty).
     */
    private static int updateMatching(long[] f, int from, int to, int base, long mask, long value, long anyOf,
            long clear, long set, int[] found, int n) {
        int end = findMatching(f, from, to, base, mask, value, anyOf, found, n);
        int k = n;
        for (int j = n; j < end; j++) {
            int i = found[j] - base;
            long e = f[i];
            while ((e & mask) == value && (anyOf == 0 || (e & anyOf) != 0)) {
                long witness = (long) WORD.compareAndExchange(f, i, e, (e & ~clear) | set);
                if (witness == e) {
                    found[k++] = i + base;
                    break;
                }
                e = witness; // a concurrent writer changed the word: test it again
            }
        }
        return k;
    }

    @Override
    public void readBytes(long pa, byte[] dst, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, dst.length);
        checkRam(pa, length);
        long cur = pa;
        int off = offset;
        int remaining = length;
        while (remaining > 0) {
            int inFrame = (int) (cur & FRAME_OFFSET_MASK);
            int n = Math.min(remaining, FRAME_SIZE - inFrame);
            long[] f = frameForRead(cur);
            if (f == null) {
                Arrays.fill(dst, off, off + n, (byte) 0);
            } else {
                copyOut(f, inFrame, dst, off, n);
            }
            cur += n;
            off += n;
            remaining -= n;
        }
    }

    @Override
    public void writeBytes(long pa, byte[] src, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, src.length);
        checkRam(pa, length);
        long cur = pa;
        int off = offset;
        int remaining = length;
        while (remaining > 0) {
            int inFrame = (int) (cur & FRAME_OFFSET_MASK);
            int n = Math.min(remaining, FRAME_SIZE - inFrame);
            copyIn(src, off, frameForWrite(cur), inFrame, n);
            cur += n;
            off += n;
            remaining -= n;
        }
        VarHandle.releaseFence();
    }

    @Override
    public void zero(long pa, long length) {
        if (length < 0) {
            throw ErrnoException.of(Errno.EINVAL, "zero: negative length %d at %#x", length, pa);
        }
        checkRam(pa, length);
        long cur = pa;
        long remaining = length;
        while (remaining > 0) {
            int inFrame = (int) (cur & FRAME_OFFSET_MASK);
            int n = (int) Math.min(remaining, FRAME_SIZE - inFrame);
            if (n == FRAME_SIZE) {
                releaseFrame(denseFrame(cur));
            } else {
                long[] f = frameForRead(cur);
                if (f != null) {
                    zeroPart(f, inFrame, n);
                }
            }
            cur += n;
            remaining -= n;
        }
    }

    @Override
    public boolean hasStorage(long pa) {
        long dense = denseFrame(pa);
        return dense >= 0 && frameAt(dense) != null;
    }

    @Override
    public long framesWithStorage() {
        return framesWithStorage;
    }

    /** Drops the storage of {@code count} frames from dense index {@code dense} (the allocator's zeroing). */
    void releaseStorage(long dense, long count) {
        long[][] dir = directory;
        long end = Math.min(dense + count, dir.length); // frames above the directory never had storage
        long d = dense;
        while (d < end && dir[(int) d] == null) { // lock-free skip of frames without storage (most user pages)
            d++;
        }
        if (d >= end) {
            return;
        }
        synchronized (storageLock) {
            dir = directory; // the current one: it may have grown
            for (; d < end; d++) {
                long[] dropped = dir[(int) d];
                if (dropped != null) {
                    FRAME_SLOT.setRelease(dir, (int) d, (long[]) null);
                    framesWithStorage--;
                    recycle(dropped);
                }
            }
        }
    }

    // ---------------------------------------------------------------- internals

    /** Keeps a dropped frame array for a later frame (dropped when the pool is full). Caller holds storageLock. */
    private void recycle(long[] frame) {
        if (recycledCount < RECYCLED_MAX) {
            recycled[recycledCount++] = frame;
        }
    }

    /** A frame array of any contents: a recycled one if any, else a new (zero) one. Caller holds storageLock. */
    private long[] takeFrame() {
        if (recycledCount > 0) {
            long[] f = recycled[--recycledCount];
            recycled[recycledCount] = null;
            return f;
        }
        return new long[WORDS_PER_FRAME];
    }

    /** Arrays waiting for reuse (tests). */
    int recycledFrames() {
        synchronized (storageLock) {
            return recycledCount;
        }
    }

    /** Slots of the directory now (tests: it grows to cover the highest frame with storage). */
    int directorySlots() {
        return directory.length;
    }

    private void releaseFrame(long dense) {
        releaseStorage(dense, 1);
    }

    /** The dense index of the frame holding {@code pa}, or -1 outside RAM: the largest range inline, the rest out of line. */
    private long denseFrame(long pa) {
        long off = pa - primaryBase;
        if (Long.compareUnsigned(off, primarySize) < 0) {
            return primaryDense + (off >>> FRAME_SHIFT);
        }
        return layout.denseFrameOutsidePrimary(pa);
    }

    /** The storage of the frame with dense index {@code dense} (RAM), or null. Two loads: the directory, its slot. */
    private long[] frameAt(long dense) {
        long[][] dir = directory;
        return dense < dir.length ? (long[]) FRAME_SLOT.getAcquire(dir, (int) dense) : null;
    }

    /** The storage of the frame holding {@code pa}, or null when it reads as zeros; bus error outside RAM. */
    private long[] frameForRead(long pa) {
        long dense = denseFrame(pa);
        if (dense < 0) {
            throw noRam(pa);
        }
        return frameAt(dense);
    }

    /** The storage of the frame holding {@code pa}, created if absent; bus error outside RAM. */
    private long[] frameForWrite(long pa) {
        long dense = denseFrame(pa);
        if (dense < 0) {
            throw noRam(pa);
        }
        long[] frame = frameAt(dense);
        return frame != null ? frame : createFrame(dense);
    }

    private static BusErrorException noRam(long pa) {
        return new BusErrorException(pa, "no RAM at this physical address");
    }

    /** Gives the frame with dense index {@code dense} (RAM) zero-filled storage unless it has some; returns its storage. */
    private long[] createFrame(long dense) {
        synchronized (storageLock) {
            long[][] dir = directoryCovering(dense);
            long[] f = dir[(int) dense];
            if (f != null) {
                return f; // a racing writer created it first
            }
            f = takeFrame();
            Arrays.fill(f, 0L); // published by the release store below
            FRAME_SLOT.setRelease(dir, (int) dense, f);
            framesWithStorage++;
            return f;
        }
    }

    /**
     * Fills the whole frame with dense index {@code dense} (RAM) with {@code v, v + step, ...}: a frame without storage
     * gets an array filled first (a recycled one is not zeroed, every word is written) and published with its words in
     * it. Returns the next value.
     */
    private long fillWholeFrame(long dense, long v, long step) {
        synchronized (storageLock) {
            long[][] dir = directoryCovering(dense);
            long[] f = dir[(int) dense];
            if (f != null) {
                return fillRun(f, 0, WORDS_PER_FRAME, v, step); // a racing writer created it first
            }
            f = takeFrame();
            long next = fillRun(f, 0, WORDS_PER_FRAME, v, step);
            FRAME_SLOT.setRelease(dir, (int) dense, f);
            framesWithStorage++;
            return next;
        }
    }

    /**
     * The directory, grown first when it does not cover {@code dense}: a copy twice as long (or more, at most
     * {@code denseFrames}) published by the volatile store; the old array is not changed afterwards. Caller holds
     * storageLock.
     */
    private long[][] directoryCovering(long dense) {
        long[][] dir = directory;
        if (dense < dir.length) {
            return dir;
        }
        long n = Math.max(2L * dir.length, Long.highestOneBit(dense) << 1);
        long[][] grown = Arrays.copyOf(dir, (int) Math.min(n, layout.denseFrames()));
        directory = grown;
        return grown;
    }

    private static int wordIndex(long pa) {
        return (int) ((pa & FRAME_OFFSET_MASK) >>> 3);
    }

    private static int byteShift(long pa) {
        return (int) (pa & 7) << 3;
    }

    private static void checkAligned(long pa, int width) {
        if ((pa & (width - 1)) != 0) {
            throw misaligned(pa, width);
        }
    }

    private static ErrnoException misaligned(long pa, int width) {
        return ErrnoException.of(Errno.EINVAL, "misaligned %d-byte physical memory access at %#x", width, pa);
    }

    private void checkRam(long pa, long length) {
        long off = pa - primaryBase;
        if (Long.compareUnsigned(off, primarySize) < 0 && length >= 0 && length <= primarySize - off) {
            return; // the common case: all in the largest range
        }
        long bad = layout.firstNonRam(pa, length);
        if (bad >= 0) {
            throw new BusErrorException(bad, String.format("no RAM in [%#x, +%#x)", pa, length));
        }
    }

    /** Replaces the bits of {@code mask} in word {@code index} with {@code bits}, atomically. */
    private static void storeMasked(long[] frame, int index, long mask, long bits) {
        for (;;) {
            long old = (long) WORD.getVolatile(frame, index);
            if (WORD.weakCompareAndSet(frame, index, old, (old & ~mask) | bits)) {
                return;
            }
        }
    }

    private static void copyOut(long[] frame, int from, byte[] dst, int off, int n) {
        int pos = from;
        int end = from + n;
        int o = off;
        while (pos < end && (pos & 7) != 0) {
            dst[o++] = (byte) (frame[pos >>> 3] >>> ((pos & 7) << 3));
            pos++;
        }
        while (end - pos >= 8) {
            BYTES_AS_LONG_LE.set(dst, o, frame[pos >>> 3]);
            o += 8;
            pos += 8;
        }
        while (pos < end) {
            dst[o++] = (byte) (frame[pos >>> 3] >>> ((pos & 7) << 3));
            pos++;
        }
    }

    private static void copyIn(byte[] src, int off, long[] frame, int from, int n) {
        int pos = from;
        int end = from + n;
        int o = off;
        if ((pos & 7) != 0) {
            int headEnd = Math.min(end, (pos + 8) & ~7);
            storeBytes(frame, src, o, pos, headEnd - pos);
            o += headEnd - pos;
            pos = headEnd;
        }
        while (end - pos >= 8) {
            frame[pos >>> 3] = (long) BYTES_AS_LONG_LE.get(src, o);
            o += 8;
            pos += 8;
        }
        if (pos < end) {
            storeBytes(frame, src, o, pos, end - pos);
        }
    }

    /** Stores {@code n < 8} bytes within one word, atomically with respect to the rest of the word. */
    private static void storeBytes(long[] frame, byte[] src, int off, int pos, int n) {
        long mask = 0;
        long bits = 0;
        for (int i = 0; i < n; i++) {
            int shift = ((pos + i) & 7) << 3;
            mask |= 0xffL << shift;
            bits |= (src[off + i] & 0xffL) << shift;
        }
        storeMasked(frame, pos >>> 3, mask, bits);
    }

    private static void zeroPart(long[] frame, int from, int n) {
        int pos = from;
        int end = from + n;
        while (pos < end) {
            int wordEnd = Math.min(end, (pos & ~7) + 8);
            if ((pos & 7) == 0 && wordEnd - pos == 8) {
                WORD.setRelease(frame, pos >>> 3, 0L);
            } else {
                long mask = 0;
                for (int p = pos; p < wordEnd; p++) {
                    mask |= 0xffL << ((p & 7) << 3);
                }
                storeMasked(frame, pos >>> 3, mask, 0L);
            }
            pos = wordEnd;
        }
    }
}
