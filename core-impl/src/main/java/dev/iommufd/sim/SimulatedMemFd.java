package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.PhysicalMemory;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A memfd: pages owned by the file, shared by every mapping of it, allocated on first touch.
 *
 * <p>Lifetime: the file holds its pages while its descriptor is open or any mapping refers to it
 * ({@code references}); when both are gone the pages are released (pinned ones live on until unpinned), as the
 * kernel frees a memfd's page cache with its last reference.
 *
 * <p>Size: {@code capacity} bytes of pages exist for the file's lifetime (the size it was created with);
 * {@link #truncate} moves {@code size} within {@code [0, capacity]}, dropping the pages beyond it. Pages at index
 * {@code >= ceil(size / pageSize)} are beyond the end of file.
 *
 * <p>Locking: a read/write lock; pins take the read lock, truncate and the final release the write lock. The
 * reference count is guarded by the same lock (write side). Touches through a mapping are lock-free (they check the
 * volatile {@code size} before and after): a touch racing a truncate can leave a page beyond the end in
 * {@code pages}, where the next truncate or the release frees it.
 */
final class SimulatedMemFd implements MemFd {

    private final int fd;
    private final String name;
    /** Current size in bytes (ftruncate); written under lock (write). */
    private volatile long size;
    /** Bytes of pages {@code pages} can hold: the creation size. */
    private final long capacity;
    private final UserPages pages;
    private final LongTermPins pins;
    private final SparsePhysicalMemory memory;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Guarded by lock (write). */
    private boolean open = true;
    /** The descriptor (while open) plus one per mapping; guarded by lock (write). */
    private int references = 1;
    /** Guarded by lock (write). */
    private boolean released;

    SimulatedMemFd(int fd, String name, long size, int hugePageShift, SparsePhysicalMemory memory, LongTermPins pins) {
        Objects.requireNonNull(name, "name");
        int shift = hugePageShift == 0 ? PhysicalMemory.FRAME_SHIFT : hugePageShift;
        if (shift != PhysicalMemory.FRAME_SHIFT && shift != 21 && shift != 30) {
            throw ErrnoException.of(Errno.EINVAL, "memfd %s: huge page shift %d (must be 0, 21 or 30)", name, hugePageShift);
        }
        long pageSize = 1L << shift;
        if (size <= 0 || (size & (pageSize - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "memfd %s: size %d is not a positive multiple of the page size %d", name,
                    size, pageSize);
        }
        this.fd = fd;
        this.name = name;
        this.size = size;
        this.capacity = size;
        this.memory = memory;
        this.pins = pins;
        this.pages = new UserPages(size >>> shift, shift - PhysicalMemory.FRAME_SHIFT, memory.frames(), pins);
    }

    @Override
    public int fd() {
        return fd;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public long pageSize() {
        return pages.pageSize();
    }

    UserPages pages() {
        return pages;
    }

    @Override
    public int pinPages(long offset, int npages, long[] out, int outOffset) {
        if ((offset & (PhysicalMemory.FRAME_SIZE - 1)) != 0 || offset < 0) {
            throw ErrnoException.of(Errno.EINVAL, "memfd %s: pin offset %#x is not page aligned", name, offset);
        }
        if (npages < 0) {
            throw ErrnoException.of(Errno.EINVAL, "memfd %s: pin of %d pages", name, npages);
        }
        if (outOffset < 0 || outOffset > out.length || npages > out.length - outOffset) {
            throw ErrnoException.of(Errno.EINVAL, "memfd %s: output array of %d too small for %d pages at %d", name,
                    out.length, npages, outOffset);
        }
        lock.readLock().lock();
        try {
            if (released) {
                throw ErrnoException.of(Errno.EBADF, "memfd %s is closed", name);
            }
            long end = (size + PhysicalMemory.FRAME_SIZE - 1) & ~(long) (PhysicalMemory.FRAME_SIZE - 1);
            long available = end > offset ? (end - offset) >>> PhysicalMemory.FRAME_SHIFT : 0;
            int n = (int) Math.min(npages, available);
            if (n == 0) {
                return 0;
            }
            // The read lock keeps truncate (which drops pages) out between the touch and the pin.
            int got = pages.touchFrames(offset >>> PhysicalMemory.FRAME_SHIFT, n, out, outOffset);
            pins.pinFrames(out, outOffset, got, pages.order());
            return got;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * The physical address of byte {@code offset}, touching its page; EFAULT (SIGBUS) when its page is beyond the
     * end of the file.
     */
    long touch(long offset) {
        checkWithinFile(offset);
        int pageShift = pages.order() + PhysicalMemory.FRAME_SHIFT;
        long pa = pages.touch(offset >>> pageShift) + (offset & ((1L << pageShift) - 1));
        checkWithinFile(offset); // a truncate raced the touch
        return pa;
    }

    /** EFAULT (SIGBUS) unless the page holding byte {@code offset} is (at least partly) within the file. */
    void checkWithinFile(long offset) {
        long sz = size;
        long pageMask = pages.pageSize() - 1;
        if (offset < 0 || offset >= ((sz + pageMask) & ~pageMask)) {
            throw ErrnoException.of(Errno.EFAULT, "memfd %s: offset %#x is beyond the end of file %#x (SIGBUS)", name, offset,
                    sz);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Growing is limited to the size the memfd was created with (EOPNOTSUPP beyond).
     */
    @Override
    public void truncate(long length) {
        lock.writeLock().lock();
        try {
            if (!open) {
                throw ErrnoException.of(Errno.EBADF, "memfd %s (fd %d) is closed", name, fd);
            }
            if (length < 0) {
                throw ErrnoException.of(Errno.EINVAL, "memfd %s: ftruncate length %d is negative", name, length);
            }
            long pageSize = pages.pageSize();
            if (pageSize != PhysicalMemory.FRAME_SIZE && (length & (pageSize - 1)) != 0) {
                throw ErrnoException.of(Errno.EINVAL, "memfd %s: hugetlb ftruncate length %#x is not a multiple of %#x", name,
                        length, pageSize);
            }
            if (length > capacity) {
                throw ErrnoException.of(Errno.EOPNOTSUPP,
                        "memfd %s: not implemented: growing beyond the creation size %#x (to %#x)", name, capacity, length);
            }
            int pageShift = pages.order() + PhysicalMemory.FRAME_SHIFT;
            long keep = (length + pageSize - 1) >>> pageShift;
            size = length;
            pages.drop(keep, pages.length());
            long tail = length & (pageSize - 1);
            if (tail != 0) {
                long head = pages.peek(keep - 1);
                if (head >= 0) {
                    memory.zero(head + tail, pageSize - tail);
                }
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** A mapping now refers to the file. EBADF when the descriptor is closed. */
    void retainForMapping() {
        lock.writeLock().lock();
        try {
            if (!open) {
                throw ErrnoException.of(Errno.EBADF, "memfd %s (fd %d) is closed", name, fd);
            }
            references++;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** A mapping was split in two: one more reference, even if the descriptor is closed. */
    void retainSplit() {
        lock.writeLock().lock();
        try {
            references++;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** A mapping went away. */
    void releaseMapping() {
        drop();
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (!open) {
                throw ErrnoException.of(Errno.EBADF, "memfd %s (fd %d) is already closed", name, fd);
            }
            open = false;
        } finally {
            lock.writeLock().unlock();
        }
        drop();
    }

    boolean isOpen() {
        lock.readLock().lock();
        try {
            return open;
        } finally {
            lock.readLock().unlock();
        }
    }

    private void drop() {
        lock.writeLock().lock();
        try {
            if (--references == 0) {
                released = true;
                pages.drop(0, pages.length());
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "memfd:" + name + " (fd " + fd + ", " + size + " bytes)";
    }
}
