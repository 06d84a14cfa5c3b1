package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommufdVeventHeader;
import dev.iommufd.api.uapi.UserStruct;
import java.util.ArrayDeque;

/**
 * A vEVENTQ ({@code struct iommufd_veventq}, eventq.c + driver.c): the queue of one event type of a vIOMMU,
 * read through its file as {@code struct iommufd_vevent_header {u32 flags; u32 sequence}} + vendor payload.
 *
 * <h2>Production (§9.8, exact)</h2>
 * Every reported event consumes one sequence number ({@code (sequence + 1) & INT_MAX}, from 0). When
 * {@link #numEvents} has reached {@link #depth} (or the event cannot be allocated), the queue's single
 * {@link #lostEvents} header (flags LOST_EVENTS, no payload) stands in for it. The header floats at the tail: if
 * it is the last node when anything is appended it is unlinked first, so a later real event removes it and the
 * gap in sequence numbers conveys the loss. The header does not count in {@link #numEvents}.
 *
 * <h2>State (guarded by {@link EventQueue#lock})</h2>
 * {@link #deliver}, {@link #sequence}, {@link #numEvents}, each node's sequence.
 *
 * <p>The vEVENTQ holds a {@code users} reference on its vIOMMU; the vIOMMU lists it under its vEVENTQ lock.
 */
final class Veventq extends EventQueue {
    private static final int HEADER = IommufdVeventHeader.SIZE;

    /** One queued event; the payload is null for the lost-events header. */
    private static final class Event {
        final int flags;
        final byte[] data;
        int sequence;

        Event(int flags, byte[] data) {
            this.flags = flags;
            this.data = data;
        }

        int length() {
            return data == null ? 0 : data.length;
        }
    }

    final IommufdViommu viommu;
    final int type;
    final int depth;
    private final ArrayDeque<Event> deliver = new ArrayDeque<>();
    private final Event lostEvents = new Event(IommufdVeventHeader.FLAG_LOST_EVENTS, null);
    private int sequence;
    private int numEvents;
    private boolean holdsViommu;

    private Veventq(IommufdContext ctx, IommufdViommu viommu, int type, int depth) {
        super(ObjectKind.VEVENTQ, ctx);
        this.viommu = viommu;
        this.type = type;
        this.depth = depth;
    }

    /**
     * {@code iommufd_veventq_alloc} up to the reply (§9.7): flags, __reserved, type DEFAULT (EOPNOTSUPP), depth 0
     * (EINVAL), the vIOMMU (ENOENT), a vEVENTQ of the type already on it (EEXIST), the object, the file.
     */
    static EventFile alloc(IommufdContext ctx, dev.iommufd.platform.UserProcess caller, int flags, int viommuId, int type,
            int depth, int reserved) {
        if (flags != 0 || reserved != 0 || type == 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "VEVENTQ_ALLOC flags %#x, __reserved %#x, type %d", flags, reserved, type);
        }
        if (depth == 0) {
            throw ErrnoException.of(Errno.EINVAL, "veventq_depth 0");
        }
        IommufdViommu v = ctx.objects().get(viommuId, ObjectKind.VIOMMU, IommufdViommu.class);
        try {
            v.veventqLock.writeLock().lock();
            try {
                for (Veventq q : v.veventqs) {
                    if (q.type == type) {
                        throw ErrnoException.of(Errno.EEXIST, "vIOMMU %d already has a vEVENTQ of type %d", viommuId, type);
                    }
                }
                Veventq q = new Veventq(ctx, v, type, depth);
                ctx.objects().allocate(q);
                ctx.objects().addUser(v);
                q.holdsViommu = true;
                v.veventqs.add(q);
                return EventFile.open(q, caller);
            } finally {
                v.veventqLock.writeLock().unlock();
            }
        } finally {
            ctx.objects().put(v);
        }
    }

    /**
     * {@code iommufd_viommu_report_event} under the vIOMMU's vEVENTQ read lock + {@code iommufd_vevent_handler}.
     */
    void report(byte[] data) {
        synchronized (lock) {
            Event ev;
            if (numEvents == depth) {
                ev = lostEvents;
            } else {
                try {
                    FaultInjection.check("iommufd_vevent_alloc");
                    ev = new Event(0, data.clone());
                    numEvents++;
                } catch (ErrnoException e) {
                    ev = lostEvents; // GFP_ATOMIC failure: counted as lost
                }
            }
            if (deliver.peekLast() == lostEvents) {
                deliver.pollLast();
            }
            deliver.addLast(ev);
            ev.sequence = sequence;
            sequence = (sequence + 1) & Integer.MAX_VALUE;
        }
    }

    @Override
    boolean pending() {
        synchronized (lock) {
            return !deliver.isEmpty();
        }
    }

    /** Events queued (not counting the lost-events header), for tests. */
    int numEvents() {
        synchronized (lock) {
            return numEvents;
        }
    }

    /**
     * {@code iommufd_veventq_fops_read}: whole events only (header + payload), oldest first.
     *
     * @throws ErrnoException EFAULT when nothing was copied
     */
    @Override
    long read(RecordSink out, long count) {
        long done = 0;
        UserStruct hdr = new UserStruct(HEADER);
        synchronized (lock) {
            while (!deliver.isEmpty()) {
                Event ev = deliver.peekFirst();
                long need = HEADER + (long) ev.length();
                if (count - done < need) {
                    break;
                }
                hdr.put32(IommufdVeventHeader.OFFSET_FLAGS, ev.flags).put32(IommufdVeventHeader.OFFSET_SEQUENCE, ev.sequence);
                try {
                    out.put(done, hdr.bytes(), HEADER);
                    if (ev.data != null && ev.data.length > 0) {
                        out.put(done + HEADER, ev.data, ev.data.length);
                    }
                } catch (ErrnoException e) {
                    if (done > 0) {
                        return done;
                    }
                    throw e;
                }
                deliver.pollFirst();
                if (ev != lostEvents) {
                    numEvents--;
                }
                done += need;
            }
        }
        return done;
    }

    /** Destroy and abort: the queued events go, the vIOMMU's list and reference too. */
    @Override
    protected void destroy() {
        synchronized (lock) {
            deliver.clear();
            numEvents = 0;
        }
        if (holdsViommu) {
            holdsViommu = false;
            viommu.veventqLock.writeLock().lock();
            try {
                viommu.veventqs.remove(this);
            } finally {
                viommu.veventqLock.writeLock().unlock();
            }
            ctx.objects().put(viommu);
        }
    }
}
