package dev.iommufd.platform;

/**
 * The machine's physical address space: RAM as sparse 4 KiB frames, physical addresses up to 52 bits.
 *
 * <h2>Storage and cost</h2>
 * RAM is stored as one {@code long[512]} per 4 KiB frame, created on the first write to the frame. A read of a
 * frame never written returns zeros and allocates nothing. Page tables, stream tables and queues are words in
 * these frames; nothing in this project keeps one Java object per table entry.
 *
 * <h2>Byte order</h2>
 * RAM is a sequence of bytes. The plain accessors ({@link #read64}, {@link #write32}, ...) are little-endian,
 * the order of x86, Arm (as used here) and every IOMMU table format except POWER's. POWER TCE tables and
 * TVEs are big-endian: use the {@code ...BE} accessors, which swap bytes on the way in and out of the same
 * storage. A 64-bit word written with {@code write64BE} and read byte by byte shows the most significant byte
 * first, exactly as in a real big-endian machine's memory.
 *
 * <h2>Alignment and range</h2>
 * Multi-byte accessors require natural alignment (a 64-bit access on an 8-byte boundary, ...), as every table
 * walker in the project performs. Misaligned accesses fail with {@code EINVAL}. Any access outside RAM
 * (see {@link #ram()}) fails with a {@link BusErrorException}: a hardware model turns that into its
 * architecture's "walk external abort" fault.
 *
 * <h2>Concurrency</h2>
 * Word accesses are single-copy atomic. {@link #compareAndSet64} is atomic with respect to every other access to
 * the same word and is what a hardware model uses to set accessed/dirty bits while software may update the
 * entry. Sub-word writes are atomic read-modify-writes of the containing word, so they never lose a concurrent
 * CAS. Ordering between a CPU-side writer and a device-side reader is established by the MMIO doorbell
 * (queue tail registers) and invalidation protocols, as on hardware.
 */
public interface PhysicalMemory {

    /** Bytes in a frame. */
    int FRAME_SIZE = 4096;
    /** log2 of {@link #FRAME_SIZE}. */
    int FRAME_SHIFT = 12;
    /** Physical addresses have at most this many bits. */
    int MAX_PA_BITS = 52;

    /** The RAM ranges, sorted by base, non-overlapping. */
    java.util.List<MemoryRange> ram();

    /** Whether every byte of {@code [pa, pa + length)} is RAM. */
    boolean isRam(long pa, long length);

    long read64(long pa);

    void write64(long pa, long value);

    int read32(long pa);

    void write32(long pa, int value);

    short read16(long pa);

    void write16(long pa, short value);

    byte read8(long pa);

    void write8(long pa, byte value);

    /** Big-endian 64-bit read (POWER structures). */
    default long read64BE(long pa) {
        return Long.reverseBytes(read64(pa));
    }

    /** Big-endian 64-bit write (POWER structures). */
    default void write64BE(long pa, long value) {
        write64(pa, Long.reverseBytes(value));
    }

    /** Big-endian 32-bit read. */
    default int read32BE(long pa) {
        return Integer.reverseBytes(read32(pa));
    }

    /** Big-endian 32-bit write. */
    default void write32BE(long pa, int value) {
        write32(pa, Integer.reverseBytes(value));
    }

    /** Atomically replaces the 64-bit word at {@code pa} if it equals {@code expected}; little-endian. */
    boolean compareAndSet64(long pa, long expected, long update);

    /** Atomically ORs {@code bits} into the word at {@code pa} and returns the previous value; little-endian. */
    default long getAndOr64(long pa, long bits) {
        for (;;) {
            long old = read64(pa);
            if ((old & bits) == bits || compareAndSet64(pa, old, old | bits)) {
                return old;
            }
        }
    }

    /** Atomically clears {@code bits} in the word at {@code pa} and returns the previous value; little-endian. */
    default long getAndClear64(long pa, long bits) {
        for (;;) {
            long old = read64(pa);
            if ((old & bits) == 0 || compareAndSet64(pa, old, old & ~bits)) {
                return old;
            }
        }
    }

    // ---------------------------------------------------------------- bulk word access
    //
    // Table code touches runs of consecutive entries (the PTEs of one leaf table, a queue's slots, a dirty scan).
    // These verbs do what a loop of read64/write64 (and compareAndSet64) over pa, pa + 8, ... does, with one frame
    // lookup per 4 KiB frame instead of one per word. The defaults are those loops; an implementation overrides them.
    // Every word access stays single-copy atomic. A bulk write is a release: whatever the caller wrote before the
    // call is visible to a reader that observes any word of the run (as a walker observing a new PTE sees the
    // table it points to). A bulk read is an acquire of every word it returns. The words of one run are not
    // ordered among themselves. {@code pa} must be 8-byte aligned (EINVAL) and the whole run must be RAM (bus error,
    // checked before any word is written).

    /** Reads {@code count} 64-bit words from {@code pa} into {@code dst[offset ... offset + count)}. */
    default void read64s(long pa, long[] dst, int offset, int count) {
        java.util.Objects.checkFromIndexSize(offset, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[offset + i] = read64(pa + 8L * i);
        }
    }

    /** Writes {@code src[offset ... offset + count)} to {@code count} 64-bit words from {@code pa}. */
    default void write64s(long pa, long[] src, int offset, int count) {
        java.util.Objects.checkFromIndexSize(offset, count, src.length);
        for (int i = 0; i < count; i++) {
            write64(pa + 8L * i, src[offset + i]);
        }
    }

    /**
     * Writes {@code first + i * step} to word {@code i} of the {@code count} words from {@code pa}: a run of
     * page-table entries whose output address advances by one page per entry ({@code step} = the page size), or,
     * with {@code step} 0, {@code count} copies of one value.
     */
    default void writeRun64(long pa, int count, long first, long step) {
        if (count < 0) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EINVAL, "writeRun64: negative count %d at %#x", count, pa);
        }
        long v = first;
        for (int i = 0; i < count; i++, v += step) {
            write64(pa + 8L * i, v);
        }
    }

    /**
     * The index of the first of the {@code count} words from {@code pa} that has any bit of {@code mask} set, or -1
     * when none has: the scan for a present entry (is this table empty?) or a dirty bit.
     */
    default int indexOfAny64(long pa, int count, long mask) {
        if (count < 0) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EINVAL, "indexOfAny64: negative count %d at %#x", count, pa);
        }
        for (int i = 0; i < count; i++) {
            if ((read64(pa + 8L * i) & mask) != 0) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The unmap of a run of present page-table entries in one pass: clears (writes 0 to) the words from {@code pa}
     * on, up to {@code count} of them, that have any bit of {@code mask} set, and stops at the first that has none
     * (which is neither written nor counted). Returns how many were cleared, {@code 0 .. count}. What
     * {@link #read64s} of the run, a scan for the first word without a bit of {@code mask}, and
     * {@link #writeRun64} of 0 over the words before it do, reading each word once. Each word is read (an acquire)
     * and then cleared with a plain (release) store, not atomically: as with that sequence, a concurrent writer's
     * update of a word between its read and its clear is lost (the caller owns the range: only the hardware may set
     * accessed/dirty bits in it, and the entry is being removed).
     *
     * <p>Example: VT-d second stage, {@code mask = R|W} (the 4 KiB leaves of an unmapped range); Arm LPAE at level 3,
     * {@code mask = valid}.
     *
     * <p>Added (additively) for the unmap of small ranges (IOAS_UNMAP of a 64 KiB buffer).
     */
    default int clearLeading64s(long pa, int count, long mask) {
        if (count < 0) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EINVAL, "clearLeading64s: negative count %d at %#x", count,
                    pa);
        }
        if (count > 0 && !isRam(pa, 8L * count)) {
            throw new BusErrorException(pa, String.format("no RAM in [%#x, +%#x)", pa, 8L * count));
        }
        int k = 0;
        while (k < count && (read64(pa + 8L * k) & mask) != 0) {
            write64(pa + 8L * k, 0);
            k++;
        }
        return k;
    }

    /**
     * The dirty-bit harvest of a run of page-table entries in one pass: lists the words among the {@code count} from
     * {@code pa} that match, {@code (w & mask) == value} and (unless {@code anyOf} is 0) {@code (w & anyOf) != 0},
     * and atomically replaces each by {@code (w & ~clear) | set} (no word is written when {@code clear} and
     * {@code set} are both 0). Their indices (from 0 at {@code pa}) go to {@code found[0 ... n)}, in increasing
     * order; returns {@code n}. {@code found} must have room for {@code count} indices (EINVAL otherwise).
     *
     * <p>Each update is a compare-and-set of the word it tested: when a concurrent writer changes the word first
     * (a device setting an accessed or dirty bit), the new value is tested again, and the word is updated and
     * listed only if it still matches, so no concurrent update of any bit is lost and every listed word matched
     * when it was updated (the kernel's {@code test_and_clear_bit} per entry). Like the other bulk verbs, the run
     * must be RAM (bus error, before any word is written) and {@code pa} 8-byte aligned (EINVAL).
     *
     * <p>Example: VT-d second stage, {@code mask = value = D, anyOf = R|W, clear = D} (a present leaf with D set,
     * cleaned); Arm LPAE with HTTU, {@code mask = DBM|AP[2]|valid, value = DBM|valid, set = AP[2]}.
     */
    default int updateMatching64s(long pa, int count, long mask, long value, long anyOf, long clear, long set,
            int[] found) {
        if (count < 0 || count > found.length) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EINVAL,
                    "updateMatching64s: count %d at %#x (room for %d indices)", count, pa, found.length);
        }
        if (count > 0 && !isRam(pa, 8L * count)) {
            throw new BusErrorException(pa, String.format("no RAM in [%#x, +%#x)", pa, 8L * count));
        }
        boolean write = (clear | set) != 0;
        int n = 0;
        for (int i = 0; i < count; i++) {
            long a = pa + 8L * i;
            long w = read64(a);
            while ((w & mask) == value && (anyOf == 0 || (w & anyOf) != 0)) {
                if (!write || compareAndSet64(a, w, (w & ~clear) | set)) {
                    found[n++] = i;
                    break;
                }
                w = read64(a);
            }
        }
        return n;
    }

    /** Copies {@code length} bytes starting at {@code pa} into {@code dst[offset...]}; any alignment. */
    void readBytes(long pa, byte[] dst, int offset, int length);

    /** Copies {@code src[offset...offset+length)} to memory at {@code pa}; any alignment. */
    void writeBytes(long pa, byte[] src, int offset, int length);

    /** Sets {@code length} bytes at {@code pa} to zero; whole zeroed frames give their storage back. */
    void zero(long pa, long length);

    /** Whether the frame holding {@code pa} has storage (was written since it was last zeroed). For footprint tests. */
    boolean hasStorage(long pa);

    /** Frames that currently have storage. */
    long framesWithStorage();

    /** The frame allocator that hands out this memory. */
    FrameAllocator frames();
}
