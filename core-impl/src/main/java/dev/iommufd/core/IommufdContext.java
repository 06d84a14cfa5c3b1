package dev.iommufd.core;

import dev.iommufd.api.AccessOps;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.IovaRanges;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.IoProt;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An open iommufd file ({@code struct iommufd_ctx}): the object table, the accounting mode, the ioctl table, and
 * the implementation of every IOAS-level operation (main.c and ioas.c). Both faces call these methods: the typed
 * API through {@link IommufdFd}, the ioctl face through the handlers of {@link IoasIoctls}. {@code current} is
 * always the calling process.
 *
 * <h2>Lifetime</h2>
 * The file is referenced by each descriptor ({@link IommufdFd}) and each access; when the last reference goes,
 * every object is destroyed leaf first ({@link ObjectTable#destroyAll}).
 *
 * <p>Thread-safe: state lives in the object table (its lock), the IOASes (their table locks) and the volatile
 * {@link #accountMode}; {@link #fileRefs} is guarded by {@code this}.
 */
public final class IommufdContext {
    private final Machine machine;
    private final IommufdSubsystem subsystem;
    private final ObjectTable objects = new ObjectTable();
    /** The file's mmap-able regions ({@code mt_mmap}). */
    final MmapRegions mmaps = new MmapRegions(this);
    private final IommufdIoctl ioctls = new IommufdIoctl();
    private volatile AccountMode accountMode;
    private int fileRefs;
    private boolean released;
    private List<IommufdObject> leakedAtRelease = List.of();
    /** {@code ictx->groups}: the igroups of bound devices, by IOMMU group id (guarded by itself). */
    final java.util.Map<Integer, Igroup> groups = new java.util.HashMap<>();
    /** The descriptors of FAULT and vEVENTQ files (core3). */
    final EventFiles eventFiles = new EventFiles();
    /** The VFIO container compatibility state: {@code ictx->vfio_ioas} (core3). */
    final VfioCompat vfioCompat = new VfioCompat(this);

    IommufdContext(IommufdSubsystem subsystem, Machine machine, AccountMode accountMode) {
        this.subsystem = subsystem;
        this.machine = machine;
        this.accountMode = accountMode;
        IoasIoctls.registerAll(ioctls);
        DeviceIoctls.registerAll(ioctls);
        HwptIoctls.registerAll(ioctls);
        EventqIoctls.registerAll(ioctls);
        ViommuIoctls.registerAll(ioctls);
        VfioCompat.registerAll(ioctls);
    }

    public Machine machine() {
        return machine;
    }

    public IommufdSubsystem subsystem() {
        return subsystem;
    }

    public ObjectTable objects() {
        return objects;
    }

    /** The ioctl table of this file (register extra commands here). */
    public IommufdIoctl ioctls() {
        return ioctls;
    }

    public AccountMode accountMode() {
        return accountMode;
    }

    // ---------------------------------------------------------------- file references

    synchronized void addFileReference() {
        if (released) {
            throw ErrnoException.of(Errno.EBADF, "iommufd file already released");
        }
        fileRefs++;
    }

    /** Drops a file reference; the last one releases the file ({@code iommufd_fops_release}). */
    void releaseFileReference() {
        synchronized (this) {
            if (--fileRefs > 0) {
                return;
            }
            released = true;
        }
        leakedAtRelease = objects.destroyAll();
    }

    public synchronized boolean isReleased() {
        return released;
    }

    /** Objects the release sweep could not destroy (the kernel WARNs); empty normally. */
    public List<IommufdObject> leakedAtRelease() {
        return leakedAtRelease;
    }

    // ---------------------------------------------------------------- lookups

    /** {@code iommufd_get_ioas}: the IOAS with one more user; give it back with {@code objects().put}. */
    public Ioas getIoas(int id) {
        return objects.get(id, ObjectKind.IOAS, Ioas.class);
    }

    // ---------------------------------------------------------------- IOMMU_DESTROY

    public void destroy(int id) {
        objects.destroyUser(id);
    }

    // ---------------------------------------------------------------- IOAS_ALLOC

    /** Creates an IOAS whose ID is reserved but not yet visible; finalize or abort it. */
    Ioas allocIoas() {
        Ioas ioas = new Ioas(machine.memory());
        objects.allocate(ioas);
        return ioas;
    }

    /** IOMMU_IOAS_ALLOC (flags 0). */
    public int ioasAlloc() {
        Ioas ioas = allocIoas();
        objects.finalizeObject(ioas);
        return ioas.id();
    }

    // ---------------------------------------------------------------- IOAS_MAP / MAP_FILE / COPY

    /** {@code conv_iommu_prot}: always CACHE, plus READ / WRITE. */
    static int protOf(int flags) {
        int prot = IoProt.CACHE;
        if ((flags & IommuIoasMap.FLAG_WRITEABLE) != 0) {
            prot |= IoProt.WRITE;
        }
        if ((flags & IommuIoasMap.FLAG_READABLE) != 0) {
            prot |= IoProt.READ;
        }
        return prot;
    }

    private static void checkMapFlags(int flags, long iova, long length) {
        if ((flags & ~IommuIoasMap.VALID_FLAGS) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "unknown flags %#x", flags & ~IommuIoasMap.VALID_FLAGS);
        }
        if (iova == -1L || length == -1L) {
            throw ErrnoException.of(Errno.EOVERFLOW, "iova %#x or length %#x is ULONG_MAX", iova, length);
        }
        if ((flags & (IommuIoasMap.FLAG_WRITEABLE | IommuIoasMap.FLAG_READABLE)) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "flags %#x has neither WRITEABLE nor READABLE", flags);
        }
    }

    /** IOMMU_IOAS_MAP. @return the IOVA */
    public long ioasMap(UserProcess current, int ioasId, int flags, long userVa, long length, long iova) {
        checkMapFlags(flags, iova, length);
        Ioas ioas = getIoas(ioasId);
        try {
            // iopt_map_user_pages: the pages (an IoPages, or an area slot for one page) are made by the table.
            return ioas.iopt().mapUserPages(current, userVa, length, iova, protOf(flags), (flags & IommuIoasMap.FLAG_WRITEABLE) != 0,
                    accountMode == AccountMode.MM, (flags & IommuIoasMap.FLAG_FIXED_IOVA) == 0);
        } finally {
            objects.put(ioas);
        }
    }

    /** IOMMU_IOAS_MAP_FILE with the memfd given by descriptor number in {@code current}. */
    public long ioasMapFile(UserProcess current, int ioasId, int flags, int fd, long start, long length, long iova) {
        checkMapFlags(flags, iova, length);
        Ioas ioas = getIoas(ioasId);
        try {
            MemFd file = current.memfd(fd);
            return mapFile(current, ioas, flags, file, start, length, iova);
        } finally {
            objects.put(ioas);
        }
    }

    /** IOMMU_IOAS_MAP_FILE with a memfd object. */
    public long ioasMapFile(UserProcess current, int ioasId, int flags, MemFd file, long start, long length, long iova) {
        checkMapFlags(flags, iova, length);
        Ioas ioas = getIoas(ioasId);
        try {
            if (file == null) {
                throw ErrnoException.of(Errno.EBADF, "no file");
            }
            return mapFile(current, ioas, flags, file, start, length, iova);
        } finally {
            objects.put(ioas);
        }
    }

    private long mapFile(UserProcess current, Ioas ioas, int flags, MemFd file, long start, long length, long iova) {
        IoPages pages = IoPages.ofFile(current, file, start, length, (flags & IommuIoasMap.FLAG_WRITEABLE) != 0);
        return mapNewPages(ioas, pages, start - pages.base(), length, iova, flags);
    }

    /** {@code iopt_map_common}. */
    private long mapNewPages(Ioas ioas, IoPages pages, long startByte, long length, long iova, int flags) {
        if (accountMode == AccountMode.MM) {
            pages.upgradeToMm();
        }
        return ioas.iopt().mapPages(List.of(new IoPageTable.PagesSlice(pages, startByte, length)), length, iova,
                protOf(flags), (flags & IommuIoasMap.FLAG_FIXED_IOVA) == 0);
    }

    /** IOMMU_IOAS_COPY. @return the destination IOVA */
    public long ioasCopy(int dstIoasId, int srcIoasId, int flags, long length, long dstIova, long srcIova) {
        if ((flags & ~IommuIoasMap.VALID_FLAGS) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "unknown flags %#x", flags & ~IommuIoasMap.VALID_FLAGS);
        }
        if (length == -1L || srcIova == -1L || dstIova == -1L) {
            throw ErrnoException.of(Errno.EOVERFLOW, "length, src_iova or dst_iova is ULONG_MAX");
        }
        if ((flags & (IommuIoasMap.FLAG_WRITEABLE | IommuIoasMap.FLAG_READABLE)) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "flags %#x has neither WRITEABLE nor READABLE", flags);
        }
        List<IoPageTable.PagesSlice> slices;
        Ioas src = getIoas(srcIoasId);
        try {
            slices = src.iopt().getPages(srcIova, length);
        } finally {
            objects.put(src);
        }
        Ioas dst = getIoas(dstIoasId);
        try {
            return dst.iopt().mapPages(slices, length, dstIova, protOf(flags), (flags & IommuIoasMap.FLAG_FIXED_IOVA) == 0);
        } finally {
            objects.put(dst);
        }
    }

    // ---------------------------------------------------------------- IOAS_UNMAP

    /**
     * IOMMU_IOAS_UNMAP.
     *
     * @return bytes unmapped
     * @throws ErrnoException ENOENT when a ranged unmap removed nothing; see {@link IoPageTable#unmapRange}
     */
    public long ioasUnmap(int ioasId, long iova, long length) {
        Ioas ioas = getIoas(ioasId);
        try {
            if (iova == 0 && length == -1L) {
                return ioas.iopt().unmapAll();
            }
            if (iova == -1L || length == -1L) {
                throw ErrnoException.of(Errno.EOVERFLOW, "iova %#x or length %#x is ULONG_MAX", iova, length);
            }
            long unmapped = ioas.iopt().unmapIova(iova, length);
            if (unmapped == 0) {
                throw ErrnoException.of(Errno.ENOENT, "nothing is mapped in [%#x, +%#x)", iova, length);
            }
            return unmapped;
        } finally {
            objects.put(ioas);
        }
    }

    // ---------------------------------------------------------------- IOVA_RANGES / ALLOW_IOVAS

    /** IOMMU_IOAS_IOVA_RANGES: all ranges and the alignment. */
    public IovaRanges ioasIovaRanges(int ioasId) {
        Ioas ioas = getIoas(ioasId);
        try {
            IoPageTable t = ioas.iopt();
            t.lock.lock();
            try {
                return new IovaRanges(t.iovaRanges(), t.iovaAlignment());
            } finally {
                t.lock.unlock();
            }
        } finally {
            objects.put(ioas);
        }
    }

    /**
     * IOMMU_IOAS_ALLOW_IOVAS.
     *
     * @throws ErrnoException ENOENT; EINVAL for start >= last or ranges overlapping each other; EADDRINUSE
     */
    public void ioasAllowIovas(int ioasId, List<IovaRange> ranges) {
        Ioas ioas = getIoas(ioasId);
        try {
            int n = ranges.size();
            long[] starts = new long[n];
            long[] lasts = new long[n];
            for (int i = 0; i < n; i++) {
                IovaRange r = ranges.get(i);
                if (Long.compareUnsigned(r.start(), r.last()) >= 0) {
                    throw ErrnoException.of(Errno.EINVAL, "allowed range %d %s: start >= last", i, r);
                }
                for (int j = 0; j < i; j++) {
                    if (Long.compareUnsigned(r.start(), lasts[j]) <= 0 && Long.compareUnsigned(starts[j], r.last()) <= 0) {
                        throw ErrnoException.of(Errno.EINVAL, "allowed range %d %s overlaps range %d", i, r, j);
                    }
                }
                starts[i] = r.start();
                lasts[i] = r.last();
            }
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Long.compareUnsigned(starts[a], starts[b]));
            long[] s = new long[n];
            long[] l = new long[n];
            for (int i = 0; i < n; i++) {
                s[i] = starts[order[i]];
                l[i] = lasts[order[i]];
            }
            ioas.iopt().setAllowed(s, l);
        } finally {
            objects.put(ioas);
        }
    }

    // ---------------------------------------------------------------- IOMMU_OPTION

    /**
     * IOMMU_OPTION (the {@code __reserved} check belongs to the ioctl face).
     *
     * @return val64 after the call (the value read for GET, the value set for SET)
     */
    public long option(UserProcess current, int optionId, int op, int objectId, long val64) {
        switch (optionId) {
            case IommuOption.OPTION_RLIMIT_MODE -> {
                if (objectId != 0) {
                    throw ErrnoException.of(Errno.EOPNOTSUPP, "RLIMIT_MODE is global: object_id %d must be 0", objectId);
                }
                if (op == IommuOption.OP_GET) {
                    return accountMode == AccountMode.MM ? 1 : 0;
                }
                if (op == IommuOption.OP_SET) {
                    if (!current.capable(ProcessCapability.CAP_SYS_RESOURCE)) {
                        throw ErrnoException.of(Errno.EPERM, "RLIMIT_MODE SET needs CAP_SYS_RESOURCE");
                    }
                    synchronized (objects) {
                        if (!objects.isEmpty()) {
                            throw ErrnoException.of(Errno.EBUSY, "RLIMIT_MODE cannot change once objects exist");
                        }
                        if (val64 == 0) {
                            accountMode = AccountMode.USER;
                        } else if (val64 == 1) {
                            accountMode = AccountMode.MM;
                        } else {
                            throw ErrnoException.of(Errno.EINVAL, "RLIMIT_MODE value %d is not 0 or 1", val64);
                        }
                    }
                    return val64;
                }
                throw ErrnoException.of(Errno.EOPNOTSUPP, "option op %d", op);
            }
            case IommuOption.OPTION_HUGE_PAGES -> {
                Ioas ioas = getIoas(objectId);
                try {
                    if (op == IommuOption.OP_GET) {
                        return ioas.iopt().largePagesDisabled() ? 0 : 1;
                    }
                    if (op == IommuOption.OP_SET) {
                        if (val64 == 0) {
                            ioas.iopt().disableLargePages();
                        } else if (val64 == 1) {
                            ioas.iopt().enableLargePages();
                        } else {
                            throw ErrnoException.of(Errno.EINVAL, "HUGE_PAGES value %d is not 0 or 1", val64);
                        }
                        return val64;
                    }
                    throw ErrnoException.of(Errno.EOPNOTSUPP, "option op %d", op);
                } finally {
                    objects.put(ioas);
                }
            }
            default -> throw ErrnoException.of(Errno.EOPNOTSUPP, "unknown option_id %d", optionId);
        }
    }

    // ---------------------------------------------------------------- IOAS_CHANGE_PROCESS

    /**
     * IOMMU_IOAS_CHANGE_PROCESS: moves the accounting of every map of every IOAS to {@code current}. All or
     * nothing.
     *
     * @throws ErrnoException EINVAL when a map is not file-backed; ENOMEM over current's RLIMIT_MEMLOCK
     */
    public void ioasChangeProcess(UserProcess current) {
        List<Ioas> all = objects.live(ObjectKind.IOAS, Ioas.class);
        List<Ioas> locked = new ArrayList<>();
        try {
            for (Ioas ioas : all) {
                ioas.iopt().lock.lock();
                locked.add(ioas);
            }
            List<IoPages> pages = new ArrayList<>();
            for (Ioas ioas : all) {
                for (IoPages p : ioas.iopt().pagesInUse()) {
                    if (p.origin() != IoPages.Origin.FILE) {
                        throw ErrnoException.of(Errno.EINVAL, "IOAS %d has a map of user memory; only file maps can change process", ioas.id());
                    }
                    boolean seen = false;
                    for (IoPages q : pages) {
                        seen |= q == p;
                    }
                    if (!seen) {
                        pages.add(p);
                    }
                }
            }
            long userPages = 0;
            long mmPages = 0;
            boolean[] moved = new boolean[pages.size()];
            for (int i = 0; i < pages.size(); i++) {
                IoPages p = pages.get(i);
                if (p.needsChargeMove(current)) {
                    moved[i] = true;
                    if (p.accountMode() == AccountMode.USER) {
                        userPages += p.npinned();
                    } else {
                        mmPages += p.npinned();
                    }
                }
            }
            long limit = current.rlimitMemlock() >>> IoPages.PAGE_SHIFT;
            if (userPages != 0) {
                current.user().chargeLockedVm(userPages, limit);
            }
            if (mmPages != 0) {
                try {
                    current.mm().chargeLockedVm(mmPages, limit);
                } catch (RuntimeException e) {
                    if (userPages != 0) {
                        current.user().unchargeLockedVm(userPages);
                    }
                    throw e;
                }
            }
            current.mm().addPinnedVm(userPages + mmPages);
            for (int i = 0; i < pages.size(); i++) {
                pages.get(i).commitChangeProcess(current, moved[i]);
            }
        } finally {
            for (Ioas ioas : locked) {
                ioas.iopt().lock.unlock();
            }
        }
    }

    // ---------------------------------------------------------------- accesses

    /** {@code iommufd_access_create}: the access holds a reference on this file and the driver one on it. */
    public Access accessCreate(UserProcess owner, AccessOps ops) {
        addFileReference();
        Access a = new Access(this, ops, owner);
        try {
            objects.allocate(a);
        } catch (RuntimeException e) {
            releaseFileReference();
            throw e;
        }
        objects.addUser(a); // the creating driver's reference
        objects.finalizeObject(a);
        return a;
    }
}
