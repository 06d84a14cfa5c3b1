package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommuHwptPageResponse;
import dev.iommufd.api.uapi.IommuHwptPgfault;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.PageResponse;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeMap;

/**
 * A FAULT object ({@code struct iommufd_fault}, eventq.c): the queue that HWPTs allocated with
 * IOMMU_HWPT_FAULT_ID_VALID deliver I/O page request groups to, read and answered through its file.
 *
 * <h2>State (guarded by {@link EventQueue#lock})</h2>
 * <ul>
 *   <li>{@link #deliver}: groups not yet read, FIFO. No depth limit (the IOMMU's page request queue bounds it).
 *   <li>{@link #response}: groups read and not yet answered, by cookie ({@code xa_alloc} in {@code [1, U32_MAX]},
 *       lowest free cookie first). Every record of a group carries the group's cookie.
 * </ul>
 * A group is in exactly one of the two, or answered and gone. Responses to the driver are sent outside the lock.
 *
 * <h2>References</h2>
 * Each HWPT using the queue holds a {@code users} reference, and so does the open file: IOMMU_DESTROY answers
 * EBUSY while either exists. Destroying the queue answers every pending group INVALID.
 */
final class FaultQueue extends EventQueue {
    /** {@code sizeof(struct iommu_hwpt_pgfault)}. */
    static final int RECORD = IommuHwptPgfault.SIZE;
    /** {@code sizeof(struct iommu_hwpt_page_response)}. */
    static final int RESPONSE = IommuHwptPageResponse.SIZE;

    private final ArrayDeque<IopfGroup> deliver = new ArrayDeque<>();
    private final TreeMap<Integer, IopfGroup> response = new TreeMap<>();

    FaultQueue(IommufdContext ctx) {
        super(ObjectKind.FAULT, ctx);
    }

    /** {@code iommufd_fault_iopf_handler}: appends the group and wakes readers. Never fails. */
    void deliver(IopfGroup group) {
        synchronized (lock) {
            deliver.addLast(group);
        }
    }

    @Override
    boolean pending() {
        synchronized (lock) {
            return !deliver.isEmpty();
        }
    }

    /** Number of groups read and not answered (tests and invariants). */
    int awaitingResponse() {
        synchronized (lock) {
            return response.size();
        }
    }

    /** The lowest free cookie ({@code xa_alloc} with {@code xa_limit_32b} from 1); 0 when all are taken. */
    private int allocCookie() {
        int c = 1;
        for (int k : response.keySet()) {
            if (k != c) {
                break;
            }
            c++;
            if (c == 0) {
                return 0;
            }
        }
        return c;
    }

    /**
     * {@code iommufd_fault_fops_read} (§9.4): whole groups only, oldest first; a cookie is allocated when a group is
     * read; a copy failure gives the cookie back and leaves the group at the head.
     *
     * @throws ErrnoException ESPIPE when {@code count} is not a multiple of the record size; EFAULT/EBUSY when
     *         nothing was copied
     */
    @Override
    long read(RecordSink out, long count) {
        if (count % RECORD != 0) {
            throw ErrnoException.of(Errno.ESPIPE, "read count %d is not a multiple of %d (struct iommu_hwpt_pgfault)", count, RECORD);
        }
        long done = 0;
        ErrnoException rc = null;
        UserStruct rec = new UserStruct(RECORD);
        synchronized (lock) {
            while (!deliver.isEmpty()) {
                IopfGroup g = deliver.peekFirst();
                long need = (long) g.faults().size() * RECORD;
                if (need > count - done) {
                    break;
                }
                int cookie = allocCookie();
                if (cookie == 0) {
                    rc = ErrnoException.of(Errno.EBUSY, "every fault cookie is in use");
                    break;
                }
                long at = done;
                try {
                    for (IoPageFault f : g.faults()) {
                        rec.put32(IommuHwptPgfault.OFFSET_FLAGS, f.flags())
                                .put32(IommuHwptPgfault.OFFSET_DEV_ID, g.idev().id())
                                .put32(IommuHwptPgfault.OFFSET_PASID, f.pasid())
                                .put32(IommuHwptPgfault.OFFSET_GRPID, f.grpid())
                                .put32(IommuHwptPgfault.OFFSET_PERM, f.perm())
                                .put32(IommuHwptPgfault.OFFSET_RESERVED, 0)
                                .put64(IommuHwptPgfault.OFFSET_ADDR, f.addr())
                                .put32(IommuHwptPgfault.OFFSET_LENGTH, 0)
                                .put32(IommuHwptPgfault.OFFSET_COOKIE, cookie);
                        out.put(at, rec.bytes(), RECORD);
                        at += RECORD;
                    }
                } catch (ErrnoException e) {
                    // EFAULT: the cookie is erased and the group restored at the head; like the kernel, the bytes
                    // of the group's records copied before the failure still count in the return value.
                    rc = e;
                    done = at;
                    break;
                }
                deliver.pollFirst();
                response.put(cookie, g);
                done = at;
            }
        }
        if (done > 0 || rc == null) {
            return done;
        }
        throw rc;
    }

    /**
     * {@code iommufd_fault_fops_write} (§9.5): one response per 8-byte record, in order; stops at the first bad
     * record. Responses before it stay applied.
     *
     * @throws ErrnoException ESPIPE for a count that is not a multiple of 8; EINVAL for a code other than
     *         SUCCESS/INVALID or a cookie not awaiting a response, when it is the first record
     */
    @Override
    long write(RecordSource in, long count) {
        if (count % RESPONSE != 0) {
            throw ErrnoException.of(Errno.ESPIPE, "write count %d is not a multiple of %d (struct iommu_hwpt_page_response)",
                    count, RESPONSE);
        }
        long done = 0;
        byte[] b = new byte[RESPONSE];
        UserStruct r = new UserStruct(b);
        while (done < count) {
            try {
                in.get(done, b);
            } catch (ErrnoException e) {
                // EFAULT when nothing was consumed (stable fix aaca2aa9; before it, the kernel returned
                // copy_from_user's positive remainder).
                if (done > 0) {
                    return done;
                }
                throw ErrnoException.of(Errno.EFAULT, "response record at offset %d is not readable", done);
            }
            int cookie = r.u32(IommuHwptPageResponse.OFFSET_COOKIE);
            int code = r.u32(IommuHwptPageResponse.OFFSET_CODE);
            ErrnoException bad = null;
            IopfGroup g = null;
            if (code != IommuHwptPageResponse.CODE_SUCCESS && code != IommuHwptPageResponse.CODE_INVALID) {
                bad = ErrnoException.of(Errno.EINVAL, "response code %d is neither SUCCESS nor INVALID", Integer.toUnsignedLong(code));
            } else {
                synchronized (lock) {
                    g = response.remove(cookie);
                }
                if (g == null) {
                    bad = ErrnoException.of(Errno.EINVAL, "cookie %d is not awaiting a response", Integer.toUnsignedLong(cookie));
                }
            }
            if (bad != null) {
                if (done > 0) {
                    return done;
                }
                throw bad;
            }
            g.respond(code);
            done += RESPONSE;
        }
        return done;
    }

    /**
     * {@code iommufd_auto_response_faults}: {@code idev} leaves the HWPT at {@code pasid} (detach, replace): every
     * group of that attachment still queued or awaiting a response is answered INVALID.
     */
    void autoRespond(IommufdDevice idev, int pasid) {
        List<IopfGroup> victims = new ArrayList<>();
        synchronized (lock) {
            for (Iterator<IopfGroup> it = deliver.iterator(); it.hasNext(); ) {
                IopfGroup g = it.next();
                if (g.idev() == idev && g.pasid() == pasid) {
                    victims.add(g);
                    it.remove();
                }
            }
            for (Iterator<IopfGroup> it = response.values().iterator(); it.hasNext(); ) {
                IopfGroup g = it.next();
                if (g.idev() == idev && g.pasid() == pasid) {
                    victims.add(g);
                    it.remove();
                }
            }
        }
        for (IopfGroup g : victims) {
            g.respond(PageResponse.INVALID);
        }
    }

    /** Destroy and abort ({@code iommufd_fault_destroy}): every pending group is answered INVALID. */
    @Override
    protected void destroy() {
        List<IopfGroup> victims;
        synchronized (lock) {
            victims = new ArrayList<>(deliver);
            victims.addAll(response.values());
            deliver.clear();
            response.clear();
        }
        for (IopfGroup g : victims) {
            g.respond(PageResponse.INVALID);
        }
    }

    // ---------------------------------------------------------------- IOMMU_FAULT_QUEUE_ALLOC

    /**
     * {@code iommufd_fault_alloc} up to the reply: flags (EOPNOTSUPP), the object (ID reserved), the file and its
     * descriptor. The caller replies, then {@link EventFile#publish}es, or {@link EventFile#unwind}s.
     */
    static EventFile alloc(IommufdContext ctx, dev.iommufd.platform.UserProcess caller, int flags) {
        if (flags != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "FAULT_QUEUE_ALLOC flags %#x must be 0", flags);
        }
        FaultQueue q = new FaultQueue(ctx);
        ctx.objects().allocate(q);
        return EventFile.open(q, caller);
    }
}
