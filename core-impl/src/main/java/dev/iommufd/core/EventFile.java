package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.EventQueueFile;
import dev.iommufd.platform.UserProcess;

/**
 * The anonymous file of an event queue ({@code anon_inode_getfile} in {@code iommufd_eventq_init}), installed as a
 * descriptor of its context's {@link EventFiles} table.
 *
 * <p>While open it holds a {@code users} reference on its {@link EventQueue} (IOMMU_DESTROY answers EBUSY) and a
 * reference on the iommufd file. {@link #close} drops both (the kernel's {@code release}).
 *
 * <p>Thread-safe: {@link #open} is guarded by {@code this}; reads and writes run under the queue's lock.
 */
final class EventFile implements EventQueueFile {
    private final EventQueue queue;
    private final UserProcess owner;
    private int fd = -1;
    private boolean open = true;

    /** Creates the file: takes the object reference and the context reference. */
    EventFile(EventQueue queue, UserProcess owner) {
        this.queue = queue;
        this.owner = owner;
        queue.ctx.addFileReference();
        queue.ctx.objects().addUser(queue);
    }

    /**
     * The file of a CREATING queue and its descriptor ({@code anon_inode_getfile} + {@code get_unused_fd_flags});
     * on failure the object is aborted.
     */
    static EventFile open(EventQueue queue, UserProcess caller) {
        EventFile f;
        try {
            FaultInjection.check("anon_inode_getfile");
            f = new EventFile(queue, caller);
        } catch (RuntimeException e) {
            queue.ctx.objects().abort(queue);
            throw e;
        }
        queue.ctx.eventFiles.install(f);
        return f;
    }

    /** After the reply was copied out: the object becomes visible ({@code iommufd_object_finalize}). */
    void publish() {
        queue.ctx.objects().finalizeObject(queue);
    }

    /** The reply failed: the descriptor is released, the file dropped, the object aborted. */
    void unwind() {
        close();
        queue.ctx.objects().abort(queue);
    }

    void setFd(int fd) {
        this.fd = fd;
    }

    EventQueue queue() {
        return queue;
    }

    @Override
    public int fd() {
        return fd;
    }

    @Override
    public int objectId() {
        return queue.id();
    }

    private synchronized void checkOpen() {
        if (!open) {
            throw ErrnoException.of(Errno.EBADF, "event queue descriptor %d is closed", fd);
        }
    }

    private static void checkPos(long pos) {
        if (pos != 0) {
            throw ErrnoException.of(Errno.ESPIPE, "event queue files are not seekable (pos %d)", pos);
        }
    }

    @Override
    public long read(long userBuf, long count, long pos) {
        checkOpen();
        checkPos(pos);
        return queue.read((at, b, len) -> owner.write(userBuf + at, b, 0, len), count);
    }

    @Override
    public byte[] read(int count) {
        checkOpen();
        if (count < 0) {
            throw ErrnoException.of(Errno.EINVAL, "count %d", count);
        }
        byte[] buf = new byte[count];
        long n = queue.read((at, b, len) -> System.arraycopy(b, 0, buf, (int) at, len), count);
        return java.util.Arrays.copyOf(buf, (int) n);
    }

    @Override
    public long write(long userBuf, long count, long pos) {
        checkOpen();
        checkPos(pos);
        return queue.write((at, b) -> owner.read(userBuf + at, b, 0, b.length), count);
    }

    @Override
    public long write(byte[] data) {
        checkOpen();
        return queue.write((at, b) -> System.arraycopy(data, (int) at, b, 0, b.length), data.length);
    }

    @Override
    public boolean readable() {
        checkOpen();
        return queue.pending();
    }

    @Override
    public void close() {
        synchronized (this) {
            if (!open) {
                return;
            }
            open = false;
        }
        queue.ctx.eventFiles.remove(this);
        queue.ctx.objects().put(queue);
        queue.ctx.releaseFileReference();
    }

    @Override
    public String toString() {
        return "fd " + fd + " (" + queue + ")";
    }
}
