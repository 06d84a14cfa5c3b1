package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.MmioRegion;
import dev.iommufd.platform.MmioRegister;
import dev.iommufd.platform.PhysicalMemory;
import java.util.Arrays;
import java.util.Objects;

/**
 * The MMIO address space: register windows sorted by base, outside RAM and disjoint.
 *
 * <p>The window table is an immutable snapshot ({@link Windows}) replaced on every {@link #map}/{@link #unmap}
 * under this object's monitor and read through a volatile field, so accesses take no lock and allocate nothing
 * (a binary search over primitive arrays). The bus checks the access width is 1, 2, 4 or 8 (EINVAL otherwise)
 * and that the access lies inside a window (bus error otherwise); which widths and offsets a window accepts is the
 * {@link MmioRegion}'s decision.
 *
 * <h2>Resolved registers</h2>
 * {@link #resolve} returns a {@link Register}: it caches the window lookup for its address as a (window table,
 * index) pair and redoes it only when the table it was computed from is no longer current (any map/unmap replaces
 * the table), so an access through a handle is one volatile read, one reference compare and the region call, and
 * behaves exactly as the bus access would (same checks in the same order, same exceptions and messages).
 */
public final class SimulatedMmioBus implements MmioBus {

    /** An immutable, sorted window table. */
    private static final class Windows {
        static final Windows EMPTY = new Windows(new long[0], new long[0], new MmioRegion[0]);

        final long[] base;
        /** Last byte of each window (inclusive). */
        final long[] last;
        final MmioRegion[] region;

        Windows(long[] base, long[] last, MmioRegion[] region) {
            this.base = base;
            this.last = last;
            this.region = region;
        }

        /**
         * The window the last {@link #find} that missed it found: tried first (drivers ring the same unit's
         * doorbells in runs). A racy cache: any thread may overwrite it (an int store is atomic), every value is a
         * valid index of these arrays, and it is checked before use, so a stale value costs only the search.
         */
        private int hint;

        /** Index of the window holding {@code pa}, or -1. */
        int find(long pa) {
            int h = hint;
            if (h < base.length && Long.compareUnsigned(pa - base[h], last[h] - base[h]) <= 0) {
                return h;
            }
            int i = search(pa);
            if (i >= 0) {
                hint = i;
            }
            return i;
        }

        private int search(long pa) {
            int lo = 0;
            int hi = base.length - 1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                if (Long.compareUnsigned(base[mid], pa) > 0) {
                    hi = mid - 1;
                } else if (Long.compareUnsigned(last[mid], pa) < 0) {
                    lo = mid + 1;
                } else {
                    return mid;
                }
            }
            return -1;
        }
    }

    private final PhysicalMemory memory;
    /** Replaced under this object's monitor. */
    private volatile Windows windows = Windows.EMPTY;

    public SimulatedMmioBus(PhysicalMemory memory) {
        this.memory = Objects.requireNonNull(memory, "memory");
    }

    @Override
    public synchronized void map(long base, MmioRegion region) {
        Objects.requireNonNull(region, "region");
        long size = region.size();
        if (size <= 0) {
            throw ErrnoException.of(Errno.EINVAL, "MMIO window at %#x has size %d", base, size);
        }
        long last = base + size - 1;
        if (base < 0 || Long.compareUnsigned(last, base) < 0 || last >= 1L << PhysicalMemory.MAX_PA_BITS) {
            throw ErrnoException.of(Errno.EINVAL, "MMIO window %#x+%#x is outside the %d-bit physical address space",
                    base, size, PhysicalMemory.MAX_PA_BITS);
        }
        for (MemoryRange ram : memory.ram()) {
            if (base <= ram.last() && ram.base() <= last) {
                throw ErrnoException.of(Errno.EBUSY, "MMIO window %#x-%#x overlaps RAM %#x-%#x", base, last, ram.base(), ram.last());
            }
        }
        Windows w = windows;
        int at = 0;
        for (int i = 0; i < w.base.length; i++) {
            if (base <= w.last[i] && w.base[i] <= last) {
                throw ErrnoException.of(Errno.EBUSY, "MMIO window %#x-%#x overlaps the window %#x-%#x", base, last,
                        w.base[i], w.last[i]);
            }
            if (w.base[i] < base) {
                at = i + 1;
            }
        }
        int n = w.base.length;
        long[] nb = new long[n + 1];
        long[] nl = new long[n + 1];
        MmioRegion[] nr = new MmioRegion[n + 1];
        System.arraycopy(w.base, 0, nb, 0, at);
        System.arraycopy(w.last, 0, nl, 0, at);
        System.arraycopy(w.region, 0, nr, 0, at);
        nb[at] = base;
        nl[at] = last;
        nr[at] = region;
        System.arraycopy(w.base, at, nb, at + 1, n - at);
        System.arraycopy(w.last, at, nl, at + 1, n - at);
        System.arraycopy(w.region, at, nr, at + 1, n - at);
        windows = new Windows(nb, nl, nr);
    }

    @Override
    public synchronized void unmap(long base) {
        Windows w = windows;
        int at = -1;
        for (int i = 0; i < w.base.length; i++) {
            if (w.base[i] == base) {
                at = i;
            }
        }
        if (at < 0) {
            throw ErrnoException.of(Errno.ENOENT, "no MMIO window at %#x", base);
        }
        int n = w.base.length;
        long[] nb = Arrays.copyOf(w.base, n - 1);
        long[] nl = Arrays.copyOf(w.last, n - 1);
        MmioRegion[] nr = Arrays.copyOf(w.region, n - 1);
        System.arraycopy(w.base, at + 1, nb, at, n - at - 1);
        System.arraycopy(w.last, at + 1, nl, at, n - at - 1);
        System.arraycopy(w.region, at + 1, nr, at, n - at - 1);
        windows = new Windows(nb, nl, nr);
    }

    /** The region whose window starts at {@code base}, or null. */
    public MmioRegion regionAt(long base) {
        Windows w = windows;
        int i = w.find(base);
        return i >= 0 && w.base[i] == base ? w.region[i] : null;
    }

    /** A handle on the register at {@code pa}; see {@link Register}. */
    @Override
    public MmioRegister resolve(long pa) {
        return new Register(pa);
    }

    @Override
    public long read(long pa, int width) {
        checkWidth(pa, width);
        Windows w = windows;
        int i = window(w, pa, width);
        return w.region[i].read(pa - w.base[i], width) & widthMask(width);
    }

    @Override
    public void write(long pa, int width, long value) {
        checkWidth(pa, width);
        Windows w = windows;
        int i = window(w, pa, width);
        w.region[i].write(pa - w.base[i], width, value & widthMask(width));
    }

    private static int window(Windows w, long pa, int width) {
        return checkInWindow(w, w.find(pa), pa, width);
    }

    /** {@code i} (the window of {@code w} holding {@code pa}, or -1) when the access fits in it; bus error otherwise. */
    private static int checkInWindow(Windows w, int i, long pa, int width) {
        if (i < 0) {
            throw new BusErrorException(pa, "no MMIO window (a " + width + "-byte access)");
        }
        if (Long.compareUnsigned(pa + width - 1, w.last[i]) > 0) {
            throw new BusErrorException(pa, "a " + width + "-byte access runs past the end of its MMIO window");
        }
        return i;
    }

    /**
     * A resolved register address. {@code binding} caches which window of which table holds the address; it is
     * an immutable object replaced as a whole (a racy but safe cache: final fields, any thread may recompute it),
     * valid while its table is the bus's current one.
     */
    private final class Register implements MmioRegister {
        private final long pa;
        private Binding binding;

        Register(long pa) {
            this.pa = pa;
            this.binding = new Binding(Windows.EMPTY, -1);
        }

        @Override
        public long address() {
            return pa;
        }

        @Override
        public long read(int width) {
            checkWidth(pa, width);
            Binding b = current();
            Windows w = b.windows;
            int i = checkInWindow(w, b.index, pa, width);
            return w.region[i].read(pa - w.base[i], width) & widthMask(width);
        }

        @Override
        public void write(int width, long value) {
            checkWidth(pa, width);
            Binding b = current();
            Windows w = b.windows;
            int i = checkInWindow(w, b.index, pa, width);
            w.region[i].write(pa - w.base[i], width, value & widthMask(width));
        }

        /** The binding for the bus's current window table (recomputed, allocating, only after a map/unmap). */
        private Binding current() {
            Binding b = binding;
            Windows w = windows;
            if (b.windows != w) {
                b = new Binding(w, w.find(pa));
                binding = b;
            }
            return b;
        }

        @Override
        public String toString() {
            return String.format("MMIO register %#x", pa);
        }
    }

    /** Window {@code index} (or -1: none) of {@code windows} holds a register's address. Immutable. */
    private static final class Binding {
        final Windows windows;
        final int index;

        Binding(Windows windows, int index) {
            this.windows = windows;
            this.index = index;
        }
    }

    private static void checkWidth(long pa, int width) {
        if (width != 1 && width != 2 && width != 4 && width != 8) {
            throw ErrnoException.of(Errno.EINVAL, "MMIO access width %d at %#x: must be 1, 2, 4 or 8", width, pa);
        }
    }

    private static long widthMask(int width) {
        return width == 8 ? -1L : (1L << (width * 8)) - 1;
    }
}
