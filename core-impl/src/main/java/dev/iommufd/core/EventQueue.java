package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;

/**
 * The common part of the two event queue objects ({@code struct iommufd_eventq}): a FAULT object
 * ({@link FaultQueue}) or a vEVENTQ ({@link Veventq}), each with one anonymous {@link EventFile}.
 *
 * <h2>Locks</h2>
 * {@link #lock} is {@code eventq->lock}: it guards the deliver list and (FAULT) the response table of the
 * subclass. It is a leaf lock: nothing else is taken under it, and no driver is called under it. Producers take
 * it after the igroup lock (fault delivery) or the vIOMMU's vEVENTQ list lock (vEVENT production).
 */
abstract class EventQueue extends IommufdObject {
    final IommufdContext ctx;
    /** {@code eventq->lock}. */
    final Object lock = new Object();

    EventQueue(ObjectKind kind, IommufdContext ctx) {
        super(kind);
        this.ctx = ctx;
    }

    /** Where a read copies records to: user memory (EFAULT possible) or a kernel-side array. */
    interface RecordSink {
        /** Copies {@code len} bytes of {@code b} to offset {@code at} of the read buffer. @throws ErrnoException EFAULT */
        void put(long at, byte[] b, int len);
    }

    /** Where a write takes records from. */
    interface RecordSource {
        /** Fills {@code b} from offset {@code at} of the written buffer. @throws ErrnoException EFAULT */
        void get(long at, byte[] b);
    }

    /** The file's read op (position already checked). @return bytes copied */
    abstract long read(RecordSink out, long count);

    /** The file's write op (position already checked); a vEVENTQ file has none: EINVAL. */
    long write(RecordSource in, long count) {
        throw ErrnoException.of(Errno.EINVAL, "%s file has no write operation", kind());
    }

    /** Whether a read would return something (EPOLLIN). */
    abstract boolean pending();
}
