package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.MmAccounting;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserAccount;
import dev.iommufd.platform.UserProcess;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * A simulated user process.
 *
 * <h2>Address space</h2>
 * User addresses are {@code [MMAP_MIN_ADDR, TASK_SIZE)} (x86-64 4-level paging: 47 bits). Mappings live in an array
 * sorted by start address ({@code vmas}), replaced on every mmap/munmap; a lookup is a binary search and allocates
 * nothing. {@code mmap(0, ...)} places a mapping top-down below {@code MMAP_BASE}, aligned to its page size, as the
 * kernel's default top-down allocator does.
 *
 * <h2>Locking</h2>
 * {@code mmapLock} is the {@code mmap_lock}: mmap, munmap and exit take it for writing; accesses, translations and
 * the slow path of a pin take it for reading. Page entries are published lock-free (see {@link UserPages}); pin
 * counts are guarded by the machine's {@link LongTermPins}. Credentials (RLIMIT_MEMLOCK, capabilities) are volatile.
 *
 * <h2>Lock-free pins (GUP-fast)</h2>
 * {@link #pinPages} first pins without the mmap lock, as {@code pin_user_pages_fast()} does ({@code gup_fast()}:
 * a page-table walk with interrupts off, no {@code mmap_lock}), then pins what is left the locked way
 * ({@code __gup_longterm_locked()}: faults pages in, breaks COW, checks the VMA). The lockless walk reads the
 * {@code vmas} array (volatile: every mmap/munmap publishes a new array of immutable {@link Vma}s) and the page
 * entries of the mapping's {@link UserPages} (the PTEs); it takes only what gup-fast takes: pages already present
 * in an anonymous or hugetlb mapping whose protection allows the access, stopping at the first other page.
 *
 * <p>Against a concurrent munmap or exit it uses the process's {@link UnmapSequence} (a seqcount, which munmap and
 * exit make odd while they let pages go): it reads the count before the walk and gives up if a writer is active;
 * then, under the pin counts' monitor, it pins only if the count did not move
 * ({@link LongTermPins#pinFramesIfUnchanged}; in the kernel, {@code try_grab_folio()} and the PTE re-check of
 * {@code gup_fast_pte_range()} against munmap, the {@code mm->write_protect_seq} retry against fork), and otherwise
 * leaves the whole range to the locked path, as {@code gup_fast()} unpins everything and returns 0 when the
 * seqcount moved. Why a pin then never lands on a page its mapping already let go of: see {@link UnmapSequence}.
 */
final class SimulatedUserProcess implements UserProcess {

    /** {@code vm.mmap_min_addr} default: 64 KiB. */
    static final long MMAP_MIN_ADDR = 0x1_0000L;
    /** End of the user address space on x86-64 with 4-level paging. */
    static final long TASK_SIZE = 0x7fff_ffff_f000L;
    /** Where top-down placement starts (below the stack gap). */
    static final long MMAP_BASE = 0x7f00_0000_0000L;
    /** Default RLIMIT_MEMLOCK: 8 MiB, as systemd and current distributions set it. */
    static final long DEFAULT_RLIMIT_MEMLOCK = 8L << 20;

    private static final long FRAME_MASK = PhysicalMemory.FRAME_SIZE - 1;
    private static final int KNOWN_PROT = Prot.READ | Prot.WRITE | Prot.EXEC;

    private final int pid;
    private final String name;
    private final SimulatedUserAccount user;
    private final SimulatedMmAccounting mm;
    private final SparsePhysicalMemory memory;
    private final LongTermPins pins;
    private final Consumer<SimulatedUserProcess> onExit;
    private final ReentrantReadWriteLock mmapLock = new ReentrantReadWriteLock();
    /**
     * Sorted by start, disjoint; replaced (never changed in place) under mmapLock (write). Volatile for the lockless
     * pin walk, which reads it without the lock.
     */
    private volatile Vma[] vmas = new Vma[0];
    /** The seqcount of the lockless pin walk against munmap and exit (written under mmapLock, write). */
    private final UnmapSequence unmapSeq = new UnmapSequence();
    /**
     * Test seam: run by the lockless pin walk between its look-up of the page entries and the pins it takes (the
     * window in which gup-fast races a munmap on another CPU). Null outside tests.
     */
    Runnable gupFastWindow;
    /**
     * Test seam: run by munmap/exit under the mmap lock (write) with the {@link UnmapSequence} odd, with 0 before any
     * page is let go and 1 after all were. Null outside tests.
     */
    java.util.function.IntConsumer unmapWindow;
    /** Written under mmapLock (write); volatile so that {@link #alive()} reads it without the lock. */
    private volatile boolean alive = true;
    /** Memfds this process created; guarded by mmapLock (write). */
    private final List<SimulatedMemFd> memfds = new ArrayList<>();
    /** Guarded by mmapLock (write). */
    private int nextFd = 3;
    private volatile long rlimitMemlock = DEFAULT_RLIMIT_MEMLOCK;
    /** Bit {@code ordinal()} of each capability held; updated under this object's monitor. */
    private volatile int capabilities;

    SimulatedUserProcess(int pid, String name, SimulatedUserAccount user, SparsePhysicalMemory memory, LongTermPins pins,
            Consumer<SimulatedUserProcess> onExit) {
        this.pid = pid;
        this.name = Objects.requireNonNull(name, "name");
        this.user = user;
        this.mm = new SimulatedMmAccounting(pid);
        this.memory = memory;
        this.pins = pins;
        this.onExit = onExit;
    }

    @Override
    public int pid() {
        return pid;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public UserAccount user() {
        return user;
    }

    @Override
    public MmAccounting mm() {
        return mm;
    }

    @Override
    public long rlimitMemlock() {
        return rlimitMemlock;
    }

    @Override
    public void setRlimitMemlock(long bytes) {
        if (bytes < 0) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: RLIMIT_MEMLOCK %d is negative", pid, bytes);
        }
        rlimitMemlock = bytes;
    }

    @Override
    public boolean capable(ProcessCapability cap) {
        return (capabilities & (1 << cap.ordinal())) != 0;
    }

    @Override
    public synchronized void grant(ProcessCapability cap) {
        capabilities |= 1 << cap.ordinal();
    }

    @Override
    public synchronized void revoke(ProcessCapability cap) {
        capabilities &= ~(1 << cap.ordinal());
    }

    // ---------------------------------------------------------------- mappings

    @Override
    public long mmap(long addr, long length, int prot, MapKind kind) {
        Objects.requireNonNull(kind, "kind");
        if (kind == MapKind.SHARED || kind == MapKind.PRIVATE_FILE || kind == MapKind.PFN_MAP) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: a %s mapping needs a file or physical pages: use mmapFile or "
                    + "mmapPhysical", pid, kind);
        }
        checkMapArgs(addr, length, prot, kind.pageShift());
        mmapLock.writeLock().lock();
        try {
            checkAliveForMapping();
            long at = place(addr, length, kind.pageShift());
            int order = kind.pageShift() - PhysicalMemory.FRAME_SHIFT;
            UserPages pages = new UserPages(length >>> kind.pageShift(), order, memory.frames(), pins);
            insert(new Vma(at, at + length, prot, kind, kind.pageShift(), pages, null, 0));
            return at;
        } finally {
            mmapLock.writeLock().unlock();
        }
    }

    @Override
    public long mmapFile(long addr, long length, int prot, MemFd file, long offset) {
        return mmapFile(addr, length, prot, file, offset, MapKind.SHARED);
    }

    /**
     * {@inheritDoc}
     *
     * <p>A private mapping's copies live in a {@link UserPages} of the mapping's own, created with it; until a page is
     * written or pinned, the mapping costs no frame of its own.
     */
    @Override
    public long mmapFile(long addr, long length, int prot, MemFd file, long offset, MapKind kind) {
        Objects.requireNonNull(kind, "kind");
        if (kind != MapKind.SHARED && kind != MapKind.PRIVATE_FILE) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: %s is not a file mapping kind", pid, kind);
        }
        Objects.requireNonNull(file, "file");
        if (!(file instanceof SimulatedMemFd)) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: %s is not a memfd of this machine", pid, file);
        }
        SimulatedMemFd memfd = (SimulatedMemFd) file;
        int shift = Long.numberOfTrailingZeros(memfd.pageSize());
        checkMapArgs(addr, length, prot, shift);
        if (offset < 0 || (offset & (memfd.pageSize() - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: file offset %#x is not aligned to the page size %#x", pid, offset,
                    memfd.pageSize());
        }
        mmapLock.writeLock().lock();
        try {
            checkAliveForMapping();
            long at = place(addr, length, shift);
            UserPages copies = kind == MapKind.PRIVATE_FILE
                    ? new UserPages(length >>> shift, shift - PhysicalMemory.FRAME_SHIFT, memory.frames(), pins)
                    : null;
            memfd.retainForMapping();
            insert(new Vma(at, at + length, prot, kind, shift, copies, memfd, offset >>> shift));
            return at;
        } finally {
            mmapLock.writeLock().unlock();
        }
    }

    @Override
    public long mmapPhysical(long addr, long length, int prot, long pa, Runnable onClose) {
        Objects.requireNonNull(onClose, "onClose");
        checkMapArgs(addr, length, prot, PhysicalMemory.FRAME_SHIFT);
        if (pa < 0 || (pa & FRAME_MASK) != 0 || pa + length < pa) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: physical range [%#x, +%#x) is misaligned or wraps", pid, pa, length);
        }
        mmapLock.writeLock().lock();
        try {
            checkAliveForMapping();
            long at = place(addr, length, PhysicalMemory.FRAME_SHIFT);
            insert(new Vma(at, at + length, prot, new PfnRegion(pa, onClose), 0));
            return at;
        } finally {
            mmapLock.writeLock().unlock();
        }
    }

    @Override
    public void munmap(long addr, long length) {
        if ((addr & FRAME_MASK) != 0 || length <= 0 || addr < 0 || addr + length < addr) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: munmap(%#x, %#x): misaligned or empty range", pid, addr, length);
        }
        long end = (addr + length + FRAME_MASK) & ~FRAME_MASK;
        List<PfnRegion> closed;
        mmapLock.writeLock().lock();
        try {
            checkAliveForMapping();
            // Validate first: a huge page mapping can only be cut at its page size (state unchanged otherwise).
            for (Vma v : vmas) {
                if (v.end <= addr || v.start >= end) {
                    continue;
                }
                long mask = v.pageSize() - 1;
                if ((v.start < addr && (addr & mask) != 0) || (v.end > end && (end & mask) != 0)) {
                    throw ErrnoException.of(Errno.EINVAL, "pid %d: munmap(%#x, %#x) cuts the %#x-byte pages of %s", pid, addr,
                            length, v.pageSize(), v);
                }
            }
            closed = removeRange(addr, end);
        } finally {
            mmapLock.writeLock().unlock();
        }
        runCloses(closed);
    }

    @Override
    public MemFd memfdCreate(String fdName, long size, int hugePageShift) {
        mmapLock.writeLock().lock();
        try {
            checkAliveForMapping();
            SimulatedMemFd fd = new SimulatedMemFd(nextFd, fdName, size, hugePageShift, memory, pins);
            nextFd++;
            memfds.add(fd);
            return fd;
        } finally {
            mmapLock.writeLock().unlock();
        }
    }

    /** The open memfd with descriptor {@code fd} (fget for IOMMU_IOAS_MAP_FILE); EBADF otherwise. */
    @Override
    public MemFd memfd(int fd) {
        mmapLock.readLock().lock();
        try {
            for (SimulatedMemFd f : memfds) {
                if (f.fd() == fd && f.isOpen()) {
                    return f;
                }
            }
        } finally {
            mmapLock.readLock().unlock();
        }
        throw ErrnoException.of(Errno.EBADF, "fd %d is not an open memfd of process %d", fd, pid());
    }

    // ---------------------------------------------------------------- accesses

    @Override
    public void read(long va, byte[] dst, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, dst.length);
        mmapLock.readLock().lock();
        try {
            checkAccessible(va, length, false);
            long cur = va;
            int off = offset;
            int remaining = length;
            while (remaining > 0) {
                Vma v = vmas[find(cur)];
                int n = (int) Math.min(remaining, v.pageSize() - (cur & (v.pageSize() - 1)));
                memory.readBytes(v.touch(cur), dst, off, n);
                cur += n;
                off += n;
                remaining -= n;
            }
        } finally {
            mmapLock.readLock().unlock();
        }
    }

    @Override
    public void write(long va, byte[] src, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, src.length);
        mmapLock.readLock().lock();
        try {
            checkAccessible(va, length, true);
            long cur = va;
            int off = offset;
            int remaining = length;
            while (remaining > 0) {
                Vma v = vmas[find(cur)];
                int n = (int) Math.min(remaining, v.pageSize() - (cur & (v.pageSize() - 1)));
                memory.writeBytes(v.touchForWrite(cur, memory), src, off, n);
                cur += n;
                off += n;
                remaining -= n;
            }
        } finally {
            mmapLock.readLock().unlock();
        }
    }

    @Override
    public long read64(long va) {
        mmapLock.readLock().lock();
        try {
            checkAccessible(va, 8, false);
            if ((va & 7) == 0) {
                return memory.read64(vmas[find(va)].touch(va));
            }
            long value = 0;
            for (int i = 0; i < 8; i++) {
                long b = va + i;
                value |= (memory.read8(vmas[find(b)].touch(b)) & 0xffL) << (8 * i);
            }
            return value;
        } finally {
            mmapLock.readLock().unlock();
        }
    }

    @Override
    public void write64(long va, long value) {
        mmapLock.readLock().lock();
        try {
            checkAccessible(va, 8, true);
            if ((va & 7) == 0) {
                memory.write64(vmas[find(va)].touchForWrite(va, memory), value);
                return;
            }
            for (int i = 0; i < 8; i++) {
                long b = va + i;
                memory.write8(vmas[find(b)].touchForWrite(b, memory), (byte) (value >>> (8 * i)));
            }
        } finally {
            mmapLock.readLock().unlock();
        }
    }

    @Override
    public long translate(long va) {
        mmapLock.readLock().lock();
        try {
            checkAccessible(va, 1, false);
            return vmas[find(va)].touch(va);
        } finally {
            mmapLock.readLock().unlock();
        }
    }

    // ---------------------------------------------------------------- pins

    @Override
    public int pinPages(long va, int npages, boolean write, long[] out, int outOffset) {
        return UserProcess.pinnedOf(pinPagesRun(va, npages, write, out, outOffset));
    }

    /**
     * {@inheritDoc}
     *
     * <p>The lockless walk counts the run as it looks the pages up ({@link UserPages#presentFrames}); pages the locked
     * path pinned after them are compared.
     */
    @Override
    public long pinPagesRun(long va, int npages, boolean write, long[] out, int outOffset) {
        if ((va & FRAME_MASK) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: pin address %#x is not page aligned", pid, va);
        }
        if (npages < 0) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: pin of %d pages", pid, npages);
        }
        Objects.requireNonNull(out, "out");
        if (outOffset < 0 || outOffset > out.length || npages > out.length - outOffset) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: output array of %d too small for %d pages at %d", pid, out.length,
                    npages, outOffset);
        }
        long fastResult = pinPresentPages(va, npages, write, out, outOffset);
        int fast = UserProcess.pinnedOf(fastResult);
        if (fast == npages) {
            return fastResult;
        }
        int slow;
        try {
            slow = pinPagesLocked(va + ((long) fast << PhysicalMemory.FRAME_SHIFT), npages - fast, write, out, outOffset + fast);
        } catch (ErrnoException e) {
            if (fast > 0) {
                return fastResult; // gup_fast_fallback: the pages pinned locklessly are the (short) result
            }
            throw e;
        }
        int got = fast + slow;
        int run = UserProcess.runOf(fastResult);
        if (run == fast) { // the run may go on into the pages the locked path pinned
            run = Math.max(run, got > 0 ? 1 : 0);
            while (run < got && out[outOffset + run] == out[outOffset] + ((long) run << PhysicalMemory.FRAME_SHIFT)) {
                run++;
            }
        }
        return got | ((long) run << 32);
    }

    /**
     * The lockless walk of {@code pin_user_pages_fast()} ({@code gup_fast()}): pins the longest prefix of
     * {@code [va, +npages)} whose pages are present in anonymous or hugetlb mappings that allow the access, without
     * the mmap lock, and returns its length (0 when the first page does not qualify). Never faults, allocates or
     * breaks COW: anything else is for the locked path. See the class comment for why it is safe against munmap.
     *
     * @return pages pinned | the leading run of physically consecutive pages among them &lt;&lt; 32
     *         ({@link UserProcess#pinPagesRun})
     */
    private long pinPresentPages(long va, int npages, boolean write, long[] out, int off) {
        int seq = unmapSeq.readBegin();
        if (seq == UnmapSequence.WRITER_ACTIVE) {
            return 0; // a munmap or exit is letting pages go: the locked path waits for it
        }
        Vma[] t = vmas;
        int done = 0;
        int run = 0;
        while (done < npages) {
            long addr = va + ((long) done << PhysicalMemory.FRAME_SHIFT);
            int idx = find(t, addr);
            if (idx < 0) {
                break;
            }
            Vma v = t[idx];
            // gup-fast takes anonymous and hugetlb pages only here (no VM_IO/PFNMAP, no page cache: a shared memfd
            // page is pinned under the file's lock, a private file page may need its COW broken).
            if (v.anon == null || v.file != null || !v.readable() || (write && !v.writable())) {
                break;
            }
            int n = (int) Math.min(npages - done, (v.end - addr) >>> PhysicalMemory.FRAME_SHIFT);
            int order = v.pageShift - PhysicalMemory.FRAME_SHIFT;
            long firstFrame = (v.pageIndex(addr) << order) + ((addr & (v.pageSize() - 1)) >>> PhysicalMemory.FRAME_SHIFT);
            long found = v.anon.presentFrames(firstFrame, n, out, off + done);
            int present = (int) found;
            if (present == 0) {
                break;
            }
            int segmentRun = (int) (found >>> 32);
            Runnable window = gupFastWindow;
            if (window != null) {
                window.run();
            }
            if (!pins.pinFramesIfUnchanged(unmapSeq, seq, out, off + done, present, order, segmentRun)) {
                break;
            }
            if (run == done && (done == 0 || out[off + done] == out[off] + ((long) done << PhysicalMemory.FRAME_SHIFT))) {
                run += segmentRun; // the leading run goes on into this mapping's pages
            }
            done += present;
            if (present < n) {
                break;
            }
        }
        return done | ((long) run << 32);
    }

    /** {@code __gup_longterm_locked()}: the pin of {@code [va, +npages)} under the mmap lock (read). */
    private int pinPagesLocked(long va, int npages, boolean write, long[] out, int outOffset) {
        mmapLock.readLock().lock();
        try {
            if (!alive) {
                throw ErrnoException.of(Errno.EFAULT, "pid %d has exited: its mm is gone", pid);
            }
            // One lookup and one bulk touch + pin per mapping crossed (pin_user_pages walks VMA by VMA too).
            int done = 0;
            while (done < npages) {
                long addr = va + ((long) done << PhysicalMemory.FRAME_SHIFT);
                int idx = find(addr);
                Vma v = idx < 0 ? null : vmas[idx];
                if (v != null && v.pfn != null) { // check_vma_flags: VM_IO | VM_PFNMAP
                    if (done > 0) {
                        return done;
                    }
                    throw ErrnoException.of(Errno.EFAULT, "pid %d: %#x is in a VM_IO | VM_PFNMAP mapping (%s)", pid, addr, v);
                }
                if (v == null || !v.readable() || (write && !v.writable())) {
                    if (done > 0) {
                        return done;
                    }
                    throw ErrnoException.of(Errno.EFAULT, "pid %d: %s at %#x", pid,
                            v == null ? "no mapping" : write && !v.writable() ? "FOLL_WRITE pin of a read-only mapping"
                                    : "PROT_NONE mapping", addr);
                }
                int n = (int) Math.min(npages - done, (v.end - addr) >>> PhysicalMemory.FRAME_SHIFT);
                int got;
                try {
                    got = pinInMapping(v, addr, n, out, outOffset + done);
                } catch (ErrnoException e) {
                    if (done > 0) {
                        return done;
                    }
                    throw e;
                }
                done += got;
                if (got < n) {
                    return done; // the next page failed: a short pin, as GUP returns
                }
            }
            return npages;
        } finally {
            mmapLock.readLock().unlock();
        }
    }

    /**
     * Pins {@code n} frames of mapping {@code v} from {@code addr} (all within {@code v}) into {@code out[off, ...)}:
     * touches the pages in bulk (allocating absent ones; breaking COW in a private file mapping, as a FOLL_LONGTERM
     * pin unshares even for reading) and adds one pin per frame under one monitor. Caller holds the mmap lock (read).
     *
     * @return frames pinned: {@code n}, or fewer (at least 1) when a later page could not be touched
     * @throws ErrnoException when the first page cannot be touched (ENOMEM; EFAULT beyond the end of a file)
     */
    private int pinInMapping(Vma v, long addr, int n, long[] out, int off) {
        int order = v.pageShift - PhysicalMemory.FRAME_SHIFT;
        long inPage = addr & (v.pageSize() - 1);
        if (v.file != null && v.anon == null) {
            // MAP_SHARED: the file's pages, pinned under the file's lock (truncate cannot drop them in between).
            int got = v.file.pinPages((v.pageIndex(addr) << v.pageShift) + inPage, n, out, off);
            if (got == 0) {
                throw ErrnoException.of(Errno.EFAULT, "pid %d: %#x is beyond the end of %s (SIGBUS)", pid, addr, v.file);
            }
            return got;
        }
        int got;
        if (v.file == null) {
            got = v.anon.touchFrames((v.pageIndex(addr) << order) + (inPage >>> PhysicalMemory.FRAME_SHIFT), n, out, off);
        } else {
            for (got = 0; got < n; got++) {
                long a = addr + ((long) got << PhysicalMemory.FRAME_SHIFT);
                try {
                    out[off + got] = v.touchForWrite(a, memory);
                } catch (ErrnoException e) {
                    if (got == 0) {
                        throw e;
                    }
                    break;
                }
            }
        }
        pins.pinFrames(out, off, got, order);
        return got;
    }

    /**
     * {@inheritDoc}
     *
     * <p>A simulated page has no backing store to write back, so {@code dirty} has no observable effect.
     */
    @Override
    public void unpinPages(long[] pas, int offset, int npages, boolean dirty) {
        Objects.requireNonNull(pas, "pas");
        if (npages < 0 || offset < 0 || offset > pas.length || npages > pas.length - offset) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: unpin of %d pages at %d of an array of %d", pid, npages, offset,
                    pas.length);
        }
        pins.unpin(pas, offset, npages);
    }

    /**
     * {@inheritDoc}
     *
     * <p>A simulated page has no backing store to write back, so {@code dirty} has no observable effect.
     */
    @Override
    public void unpinRun(long pa, int npages, boolean dirty) {
        if (npages < 0) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: unpin of %d pages", pid, npages);
        }
        pins.unpinRun(pa, npages);
    }

    @Override
    public int pinCount(long pa) {
        return pins.count(pa);
    }

    // ---------------------------------------------------------------- lifetime

    @Override
    public boolean alive() {
        return alive;
    }

    @Override
    public void exit() {
        List<PfnRegion> closed;
        mmapLock.writeLock().lock();
        try {
            if (!alive) {
                return;
            }
            closed = removeRange(0, Long.MAX_VALUE);
            for (SimulatedMemFd fd : memfds) {
                if (fd.isOpen()) {
                    fd.close();
                }
            }
            memfds.clear();
            alive = false;
            mm.release();
        } finally {
            mmapLock.writeLock().unlock();
        }
        runCloses(closed);
        onExit.accept(this);
    }

    /** The mmap lock, for tests that hold it while the lockless pin walk runs. */
    ReentrantReadWriteLock mmapLockForTests() {
        return mmapLock;
    }

    /** The mappings, for tests and diagnostics. */
    List<String> mappings() {
        mmapLock.readLock().lock();
        try {
            List<String> out = new ArrayList<>();
            for (Vma v : vmas) {
                out.add(v.toString());
            }
            return out;
        } finally {
            mmapLock.readLock().unlock();
        }
    }

    // ---------------------------------------------------------------- internals

    private void checkMapArgs(long addr, long length, int prot, int pageShift) {
        long pageMask = (1L << pageShift) - 1;
        if ((prot & ~KNOWN_PROT) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: unknown prot bits %#x", pid, prot);
        }
        if (length <= 0 || (length & pageMask) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: length %#x is not a positive multiple of the page size %#x", pid,
                    length, pageMask + 1);
        }
        if ((addr & pageMask) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "pid %d: address %#x is not aligned to the page size %#x", pid, addr,
                    pageMask + 1);
        }
    }

    private void checkAliveForMapping() {
        if (!alive) {
            throw ErrnoException.of(Errno.ESRCH, "pid %d has exited", pid);
        }
    }

    /** Validates a fixed address, or finds a free one; caller holds the write lock. */
    private long place(long addr, long length, int pageShift) {
        if (addr != 0) {
            if (addr < MMAP_MIN_ADDR) {
                throw ErrnoException.of(Errno.EPERM, "pid %d: address %#x is below vm.mmap_min_addr %#x", pid, addr, MMAP_MIN_ADDR);
            }
            if (addr < 0 || length > TASK_SIZE - addr) {
                throw ErrnoException.of(Errno.ENOMEM, "pid %d: [%#x, +%#x) is beyond the user address space", pid, addr, length);
            }
            for (Vma v : vmas) {
                if (v.start < addr + length && addr < v.end) {
                    throw ErrnoException.of(Errno.EEXIST, "pid %d: [%#x, +%#x) overlaps the mapping %s", pid, addr, length, v);
                }
            }
            return addr;
        }
        long align = 1L << pageShift;
        for (int j = vmas.length; j >= 0; j--) {
            long lower = j == 0 ? MMAP_MIN_ADDR : vmas[j - 1].end;
            long upper = Math.min(MMAP_BASE, j == vmas.length ? TASK_SIZE : vmas[j].start);
            if (upper - lower < length) {
                continue;
            }
            long candidate = (upper - length) & ~(align - 1);
            if (candidate >= lower) {
                return candidate;
            }
        }
        throw ErrnoException.of(Errno.ENOMEM, "pid %d: no free %#x-byte range in the address space", pid, length);
    }

    private void insert(Vma v) {
        int at = 0;
        while (at < vmas.length && vmas[at].start < v.start) {
            at++;
        }
        Vma[] next = new Vma[vmas.length + 1];
        System.arraycopy(vmas, 0, next, 0, at);
        next[at] = v;
        System.arraycopy(vmas, at, next, at + 1, vmas.length - at);
        vmas = next;
    }

    /** Runs the {@code vm_ops->close} of PFN-map regions whose last mapping went; caller holds no lock. */
    private static void runCloses(List<PfnRegion> closed) {
        RuntimeException first = null;
        for (PfnRegion r : closed) {
            try {
                r.onClose.run();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * Unmaps {@code [from, to)}; caller holds the write lock and validated huge page boundaries.
     *
     * @return the PFN-map regions whose last mapping went, whose {@code onClose} the caller runs after unlocking
     */
    private List<PfnRegion> removeRange(long from, long to) {
        unmapSeq.writeBegin(); // before any page entry is cleared or page let go (see UnmapSequence)
        try {
            java.util.function.IntConsumer window = unmapWindow;
            if (window != null) {
                window.accept(0);
            }
            List<PfnRegion> closed = removeMappings(from, to);
            if (window != null) {
                window.accept(1);
            }
            return closed;
        } finally {
            unmapSeq.writeEnd();
        }
    }

    private List<PfnRegion> removeMappings(long from, long to) {
        List<PfnRegion> closed = new ArrayList<>(0);
        List<Vma> kept = new ArrayList<>(vmas.length + 1);
        for (Vma v : vmas) {
            if (v.end <= from || v.start >= to) {
                kept.add(v);
                continue;
            }
            long cutStart = Math.max(v.start, from);
            long cutEnd = Math.min(v.end, to);
            int pieces = 0;
            if (v.start < cutStart) {
                kept.add(v.slice(v.start, cutStart));
                pieces++;
            }
            if (cutEnd < v.end) {
                kept.add(v.slice(cutEnd, v.end));
                pieces++;
            }
            if (v.anon != null) {
                if (v.file != null) {
                    v.anon.drop(v.copyIndex(cutStart), v.copyIndex(cutEnd));
                } else {
                    v.anon.drop(v.pageIndex(cutStart), v.pageIndex(cutEnd));
                }
            }
            if (v.pfn != null) {
                v.pfn.vmas += pieces - 1;
                if (v.pfn.vmas == 0) {
                    closed.add(v.pfn);
                }
            }
            if (v.file != null) {
                // One mapping became `pieces` mappings of the file.
                if (pieces == 2) {
                    v.file.retainSplit();
                } else if (pieces == 0) {
                    v.file.releaseMapping();
                }
            }
        }
        kept.sort((a, b) -> Long.compare(a.start, b.start));
        vmas = kept.toArray(new Vma[0]);
        return closed;
    }

    /** Index of the mapping holding {@code va}, or -1. Allocation-free. Caller holds the lock. */
    private int find(long va) {
        return find(vmas, va);
    }

    /** Index of the mapping of {@code t} holding {@code va}, or -1. Allocation-free. */
    private static int find(Vma[] t, long va) {
        int lo = 0;
        int hi = t.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Vma v = t[mid];
            if (va < v.start) {
                hi = mid - 1;
            } else if (va >= v.end) {
                lo = mid + 1;
            } else {
                return mid;
            }
        }
        return -1;
    }

    /** EFAULT unless every byte of {@code [va, va + length)} is mapped readable (and writable for a write). */
    private void checkAccessible(long va, long length, boolean write) {
        if (!alive) {
            throw ErrnoException.of(Errno.EFAULT, "pid %d has exited", pid);
        }
        if (va < 0 || va + length < va) {
            throw ErrnoException.of(Errno.EFAULT, "pid %d: [%#x, +%#x) wraps", pid, va, length);
        }
        long cur = va;
        long end = va + length;
        do {
            int idx = find(cur);
            if (idx < 0) {
                throw ErrnoException.of(Errno.EFAULT, "pid %d: no mapping at %#x", pid, cur);
            }
            Vma v = vmas[idx];
            if (write ? !v.writable() : !v.readable()) {
                throw ErrnoException.of(Errno.EFAULT, "pid %d: %#x is not %s (%s)", pid, cur, write ? "writable" : "readable", v);
            }
            cur = v.end;
        } while (cur < end);
    }

    @Override
    public String toString() {
        return "process " + pid + " (" + name + ", uid " + user.uid() + ")" + (alive ? "" : " exited");
    }
}
