package dev.iommufd.core;

import dev.iommufd.api.AccessOps;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IommufdAccess;
import dev.iommufd.platform.UserProcess;

/**
 * An in-kernel user of an IOAS ({@code struct iommufd_access}, object kind ACCESS).
 *
 * <p>The creating driver holds a {@code users} reference (so IOMMU_DESTROY answers EBUSY) and a reference on the
 * context file (so the context outlives it). While attached, the access holds a {@code users} reference on its
 * IOAS. {@link #ioas} is guarded by {@code this}; page-table work runs under the table's lock, never under
 * {@code this} (unmap notifications call back into {@link #unpinPages}).
 */
public final class Access extends IommufdObject implements IommufdAccess {
    private final IommufdContext ctx;
    private final AccessOps ops;
    /** The process the driver acts for (its "current" for copies). */
    private final UserProcess owner;
    private Ioas ioas;
    /** The IOAS unpins go to: stays the old IOAS during a replace until its pins are gone. */
    private Ioas ioasUnpin;
    private boolean closed;

    Access(IommufdContext ctx, AccessOps ops, UserProcess owner) {
        super(ObjectKind.ACCESS);
        this.ctx = ctx;
        this.ops = ops;
        this.owner = owner;
    }

    /** {@code access->iova_alignment}: PAGE_SIZE for pin-capable accesses, else 1. */
    long iovaAlignment() {
        return ops.needsPinPages() ? IoPages.PAGE_SIZE : 1;
    }

    @Override
    public synchronized int ioasId() {
        return ioas == null ? 0 : ioas.id();
    }

    @Override
    public void attach(int ioasId) {
        synchronized (this) {
            checkOpen();
            if (ioas != null) {
                throw ErrnoException.of(Errno.EINVAL, "access %d is already attached to IOAS %d", id(), ioas.id());
            }
            Ioas next = ctx.objects().get(ioasId, ObjectKind.IOAS, Ioas.class);
            try {
                next.iopt().addAccess(this);
            } catch (RuntimeException e) {
                ctx.objects().put(next);
                throw e;
            }
            ioas = next;
            ioasUnpin = next;
        }
    }

    @Override
    public void replace(int ioasId) {
        Ioas old;
        synchronized (this) {
            checkOpen();
            if (ioas == null) {
                throw ErrnoException.of(Errno.ENOENT, "access %d is not attached", id());
            }
            if (ioas.id() == ioasId) {
                return;
            }
            Ioas next = ctx.objects().get(ioasId, ObjectKind.IOAS, Ioas.class);
            try {
                next.iopt().addAccess(this);
            } catch (RuntimeException e) {
                ctx.objects().put(next);
                throw e;
            }
            old = ioas;
            ioas = next;
        }
        // The driver drops every pin of the old IOAS (unpins still go to it through ioasUnpin).
        ops.unmap(this, 0, IoPageTable.ULONG_MAX);
        synchronized (this) {
            ioasUnpin = ioas;
        }
        old.iopt().removeAccess(this);
        ctx.objects().put(old);
    }

    @Override
    public void detach() {
        Ioas old;
        synchronized (this) {
            if (ioas == null) {
                return;
            }
            old = ioas;
        }
        ops.unmap(this, 0, IoPageTable.ULONG_MAX);
        synchronized (this) {
            ioas = null;
            ioasUnpin = null;
        }
        old.iopt().removeAccess(this);
        ctx.objects().put(old);
    }

    @Override
    public long[] pinPages(long iova, long length, int flags) {
        if (!ops.needsPinPages()) {
            throw ErrnoException.of(Errno.EINVAL, "access %d was created without needs_pin_pages", id());
        }
        long last = checkRange(iova, length);
        Ioas target;
        synchronized (this) {
            target = ioas;
        }
        if (target == null) {
            throw ErrnoException.of(Errno.ENOENT, "access %d is not attached to an IOAS", id());
        }
        return target.iopt().accessPin(iova, last - iova + 1, (flags & RW_WRITE) != 0);
    }

    @Override
    public void unpinPages(long iova, long length) {
        if (length == 0 || Long.compareUnsigned(iova + length - 1, iova) < 0) {
            throw ErrnoException.of(Errno.EINVAL, "unpin of iova %#x length %#x", iova, length);
        }
        Ioas target;
        synchronized (this) {
            target = ioasUnpin;
        }
        if (target == null) {
            throw ErrnoException.of(Errno.EINVAL, "access %d holds no pins (not attached)", id());
        }
        target.iopt().accessUnpin(iova, length);
    }

    @Override
    public void rw(long iova, byte[] data, int offset, int length, int flags) {
        rw(owner, iova, data, offset, length, flags);
    }

    /**
     * {@code iommufd_access_rw} on behalf of {@code current}: the copy goes through the mapping process's address
     * space when it is current's (or for a kthread), else through the pinned pages.
     */
    public void rw(UserProcess current, long iova, byte[] data, int offset, int length, int flags) {
        if (length == 0) {
            throw ErrnoException.of(Errno.EINVAL, "length is 0");
        }
        checkRange(iova, length);
        if (offset < 0 || offset + length > data.length) {
            throw ErrnoException.of(Errno.EFAULT, "buffer [%d, %d) outside the %d-byte array", offset, offset + length, data.length);
        }
        Ioas target;
        synchronized (this) {
            target = ioas;
        }
        if (target == null) {
            throw ErrnoException.of(Errno.ENOENT, "access %d is not attached to an IOAS", id());
        }
        target.iopt().accessRw(iova, data, offset, length, (flags & RW_WRITE) != 0, current, (flags & RW_KTHREAD) != 0);
    }

    private static long checkRange(long iova, long length) {
        if (length == 0) {
            throw ErrnoException.of(Errno.EINVAL, "length is 0");
        }
        long last = iova + length - 1;
        if (Long.compareUnsigned(last, iova) < 0) {
            throw ErrnoException.of(Errno.EOVERFLOW, "iova %#x + length %#x overflows", iova, length);
        }
        return last;
    }

    /** Called by the table's unmap loop, without locks. */
    void notifyUnmap(long iova, long length) {
        ops.unmap(this, iova, length);
    }

    private void checkOpen() {
        if (closed) {
            throw ErrnoException.of(Errno.ENOENT, "access %d was destroyed", id());
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        ctx.objects().destroyByOwner(this);
        ctx.releaseFileReference();
    }

    @Override
    protected void destroy() {
        detach();
    }
}
