package dev.iommufd.core.selftest;

import dev.iommufd.api.AccessOps;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IommufdAccess;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.core.Ioas;
import dev.iommufd.core.IoctlCall;
import dev.iommufd.core.IoctlHandler;
import dev.iommufd.core.IommufdContext;
import dev.iommufd.core.IoPages;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.function.Consumer;

/**
 * IOMMU_TEST_CMD (drivers/iommu/iommufd/selftest.c), the device-independent ops: ADD_RESERVED, MD_CHECK_REFS,
 * CREATE_ACCESS, DESTROY_ACCESS_PAGES, ACCESS_PAGES, ACCESS_RW, SET_TEMP_MEMORY_LIMIT, ACCESS_REPLACE_IOAS.
 * Mock-domain ops are added with {@link #registerOp} (driver-mock based, by the device work).
 *
 * <p>The kernel returns an anonymous file descriptor for each access; here the "descriptor" is a number in a
 * per-context table, closed with {@link #closeAccess} (the selftests' {@code close(access_id)}).
 *
 * <p>SET_TEMP_MEMORY_LIMIT is accepted and recorded: this model has no temporary batch buffer, so the limit changes
 * nothing observable (the kernel's limit only changes how work is chunked).
 */
public final class SelftestIoctl implements IoctlHandler {
    private final Map<Integer, Consumer<IoctlCall>> ops = new HashMap<>();
    private final Map<IommufdContext, State> states = new WeakHashMap<>();

    /** Per-context selftest state: the access "descriptors". */
    private static final class State {
        final Map<Integer, MockAccess> accesses = new HashMap<>();
        int nextFd = 1000;
        long memoryLimit = 65536;
    }

    /** The selftest access ({@code struct selftest_access}): an access plus the items it pinned. */
    public static final class MockAccess implements AccessOps {
        private final boolean needsPin;
        private final List<long[]> items = new ArrayList<>(); // {iova, length, id}
        private int nextId;
        IommufdAccess access;

        MockAccess(boolean needsPin) {
            this.needsPin = needsPin;
        }

        @Override
        public boolean needsPinPages() {
            return needsPin;
        }

        /** {@code iommufd_test_access_unmap}: unpins every item intersecting the range. */
        @Override
        public void unmap(IommufdAccess a, long iova, long length) {
            long last = iova + length - 1;
            synchronized (this) {
                for (Iterator<long[]> it = items.iterator(); it.hasNext(); ) {
                    long[] item = it.next();
                    if (Long.compareUnsigned(iova, item[0] + item[1] - 1) > 0 || Long.compareUnsigned(last, item[0]) < 0) {
                        continue;
                    }
                    a.unpinPages(item[0], item[1]);
                    it.remove();
                }
            }
        }

        public synchronized int items() {
            return items.size();
        }

        public IommufdAccess access() {
            return access;
        }
    }

    public SelftestIoctl() {
        ops.put(IommuTestCmd.OP_ADD_RESERVED, this::addReserved);
        ops.put(IommuTestCmd.OP_MD_CHECK_REFS, this::checkRefs);
        ops.put(IommuTestCmd.OP_CREATE_ACCESS, this::createAccess);
        ops.put(IommuTestCmd.OP_DESTROY_ACCESS_PAGES, this::destroyAccessPages);
        ops.put(IommuTestCmd.OP_ACCESS_PAGES, this::accessPages);
        ops.put(IommuTestCmd.OP_ACCESS_RW, this::accessRw);
        ops.put(IommuTestCmd.OP_SET_TEMP_MEMORY_LIMIT, this::memoryLimit);
        ops.put(IommuTestCmd.OP_ACCESS_REPLACE_IOAS, this::accessReplaceIoas);
    }

    /** Adds (or replaces) an op, e.g. MOCK_DOMAIN from the device work. */
    public synchronized void registerOp(int op, Consumer<IoctlCall> body) {
        ops.put(op, body);
    }

    @Override
    public int nr() {
        return IommuTestCmd.NR;
    }

    @Override
    public int size() {
        return IommuTestCmd.SIZE;
    }

    @Override
    public int minSize() {
        return IommuTestCmd.MIN_SIZE;
    }

    @Override
    public void execute(IoctlCall call) {
        Consumer<IoctlCall> op;
        synchronized (this) {
            op = ops.get(call.cmd().u32(IommuTestCmd.OFFSET_OP));
        }
        if (op == null) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "IOMMU_TEST_CMD op %d", call.cmd().u32(IommuTestCmd.OFFSET_OP));
        }
        op.accept(call);
    }

    private synchronized State state(IommufdContext ctx) {
        return states.computeIfAbsent(ctx, c -> new State());
    }

    /** The access behind a selftest access descriptor. */
    public MockAccess access(IommufdContext ctx, int fd) {
        synchronized (this) {
            MockAccess a = state(ctx).accesses.get(fd);
            if (a == null) {
                throw ErrnoException.of(Errno.EBADF, "no selftest access descriptor %d", fd);
            }
            return a;
        }
    }

    /** {@code close(access_fd)}: destroys the access. */
    public void closeAccess(IommufdContext ctx, int fd) {
        MockAccess a;
        synchronized (this) {
            a = state(ctx).accesses.remove(fd);
        }
        if (a == null) {
            throw ErrnoException.of(Errno.EBADF, "no selftest access descriptor %d", fd);
        }
        a.access.close();
    }

    /** The last SET_TEMP_MEMORY_LIMIT value. */
    public long memoryLimit(IommufdContext ctx) {
        synchronized (this) {
            return state(ctx).memoryLimit;
        }
    }

    private void addReserved(IoctlCall c) {
        UserStruct cmd = c.cmd();
        Ioas ioas = c.ctx().getIoas(cmd.u32(IommuTestCmd.OFFSET_ID));
        try {
            long start = cmd.u64(IommuTestCmd.OFFSET_ADD_RESERVED_START);
            long length = cmd.u64(IommuTestCmd.OFFSET_ADD_RESERVED_LENGTH);
            ioas.iopt().reserve(null, start, start + length - 1);
        } finally {
            c.ctx().objects().put(ioas);
        }
    }

    /** MD_CHECK_REFS: every CPU page of the range has exactly {@code refs} long-term pins (EIO otherwise). */
    private void checkRefs(IoctlCall c) {
        UserStruct cmd = c.cmd();
        long length = cmd.u64(IommuTestCmd.OFFSET_CHECK_REFS_LENGTH);
        long uptr = cmd.u64(IommuTestCmd.OFFSET_CHECK_REFS_UPTR);
        int refs = cmd.u32(IommuTestCmd.OFFSET_CHECK_REFS_REFS);
        if (length % IoPages.PAGE_SIZE != 0 || uptr % IoPages.PAGE_SIZE != 0) {
            throw ErrnoException.of(Errno.EINVAL, "check_refs range not page aligned");
        }
        for (long off = 0; off < length; off += IoPages.PAGE_SIZE) {
            long pa = c.caller().translate(uptr + off);
            int count = c.caller().pinCount(pa);
            if (count != refs) {
                throw ErrnoException.of(Errno.EIO, "page at %#x has %d pins, expected %d", uptr + off, count, refs);
            }
        }
    }

    private void createAccess(IoctlCall c) {
        UserStruct cmd = c.cmd();
        int flags = cmd.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_FLAGS);
        if ((flags & ~IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "create_access flags %#x", flags);
        }
        MockAccess mock = new MockAccess((flags & IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) != 0);
        IommufdAccess access = c.ctx().accessCreate(c.caller(), mock);
        mock.access = access;
        try {
            access.attach(cmd.u32(IommuTestCmd.OFFSET_ID));
            int fd;
            synchronized (this) {
                fd = state(c.ctx()).nextFd++;
            }
            cmd.put32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD, fd);
            c.respond();
            synchronized (this) {
                state(c.ctx()).accesses.put(fd, mock);
            }
        } catch (RuntimeException e) {
            access.close();
            throw e;
        }
    }

    private void accessPages(IoctlCall c) {
        UserStruct cmd = c.cmd();
        long iova = cmd.u64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA);
        long length = cmd.u64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH);
        long uptr = cmd.u64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR);
        int flags = cmd.u32(IommuTestCmd.OFFSET_ACCESS_PAGES_FLAGS);
        if (Long.compareUnsigned(length, 16L << 20) > 0) {
            throw ErrnoException.of(Errno.ENOMEM, "access_pages length %#x over 16 MiB", length);
        }
        if ((flags & ~(IommuTestCmd.MOCK_FLAGS_ACCESS_WRITE | IommuTestCmd.MOCK_FLAGS_ACCESS_SYZ)) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "access_pages flags %#x", flags);
        }
        MockAccess mock = access(c.ctx(), cmd.u32(IommuTestCmd.OFFSET_ID));
        if (!mock.needsPin) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "access was created without NEEDS_PIN_PAGES");
        }
        synchronized (mock) {
            long[] pas = mock.access.pinPages(iova, length, (flags & IommuTestCmd.MOCK_FLAGS_ACCESS_WRITE) != 0 ? IommufdAccess.RW_WRITE : 0);
            try {
                if (uptr != 0) {
                    long base = uptr - (iova & (IoPages.PAGE_SIZE - 1));
                    for (int i = 0; i < pas.length; i++) {
                        if (c.caller().translate(base + i * IoPages.PAGE_SIZE) != pas[i]) {
                            throw ErrnoException.of(Errno.EBUSY, "pinned page %d is not the page at user VA %#x", i, base + i * IoPages.PAGE_SIZE);
                        }
                    }
                }
                int id = mock.nextId++;
                cmd.put32(IommuTestCmd.OFFSET_ACCESS_PAGES_OUT_ID, id);
                c.respond();
                mock.items.add(new long[] {iova, length, id});
            } catch (RuntimeException e) {
                mock.access.unpinPages(iova, length);
                throw e;
            }
        }
    }

    private void destroyAccessPages(IoctlCall c) {
        UserStruct cmd = c.cmd();
        MockAccess mock = access(c.ctx(), cmd.u32(IommuTestCmd.OFFSET_ID));
        int id = cmd.u32(IommuTestCmd.OFFSET_DESTROY_ACCESS_PAGES_ID);
        synchronized (mock) {
            for (Iterator<long[]> it = mock.items.iterator(); it.hasNext(); ) {
                long[] item = it.next();
                if (item[2] == id) {
                    mock.access.unpinPages(item[0], item[1]);
                    it.remove();
                    return;
                }
            }
        }
        throw ErrnoException.of(Errno.ENOENT, "no access pages item %d", id);
    }

    private void accessRw(IoctlCall c) {
        UserStruct cmd = c.cmd();
        long iova = cmd.u64(IommuTestCmd.OFFSET_ACCESS_RW_IOVA);
        long length = cmd.u64(IommuTestCmd.OFFSET_ACCESS_RW_LENGTH);
        long uptr = cmd.u64(IommuTestCmd.OFFSET_ACCESS_RW_UPTR);
        int flags = cmd.u32(IommuTestCmd.OFFSET_ACCESS_RW_FLAGS);
        if (Long.compareUnsigned(length, 16L << 20) > 0) {
            throw ErrnoException.of(Errno.ENOMEM, "access_rw length %#x over 16 MiB", length);
        }
        if ((flags & ~(IommuTestCmd.MOCK_ACCESS_RW_WRITE | IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH | IommuTestCmd.MOCK_FLAGS_ACCESS_SYZ)) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "access_rw flags %#x", flags);
        }
        MockAccess mock = access(c.ctx(), cmd.u32(IommuTestCmd.OFFSET_ID));
        byte[] tmp = new byte[(int) length];
        boolean write = (flags & IommuTestCmd.MOCK_ACCESS_RW_WRITE) != 0;
        if (write) {
            c.caller().read(uptr, tmp, 0, tmp.length);
        }
        int accessFlags = (flags & IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH) != 0 ? IommufdAccess.RW_KTHREAD : 0;
        if (write) {
            accessFlags |= IommufdAccess.RW_WRITE;
        }
        ((dev.iommufd.core.Access) mock.access).rw(c.caller(), iova, tmp, 0, tmp.length, accessFlags);
        if (!write) {
            c.caller().write(uptr, tmp, 0, tmp.length);
        }
    }

    private void memoryLimit(IoctlCall c) {
        synchronized (this) {
            state(c.ctx()).memoryLimit = c.cmd().u32(IommuTestCmd.OFFSET_MEMORY_LIMIT) & 0xffff_ffffL;
        }
    }

    private void accessReplaceIoas(IoctlCall c) {
        UserStruct cmd = c.cmd();
        MockAccess mock = access(c.ctx(), cmd.u32(IommuTestCmd.OFFSET_ID));
        mock.access.replace(cmd.u32(IommuTestCmd.OFFSET_ACCESS_REPLACE_IOAS_ID));
    }
}
