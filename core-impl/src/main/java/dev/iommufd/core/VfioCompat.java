package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.VfioIommuInfo;
import dev.iommufd.api.uapi.IommuVfioIoas;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import java.util.List;

/**
 * VFIO type1 container emulation on an iommufd (vfio_compat.c, §12): the VFIO container ioctls issued on the
 * iommufd file, and IOMMU_VFIO_IOAS that chooses the IOAS they act on ({@code ictx->vfio_ioas}).
 *
 * <h2>ioctl numbers</h2>
 * VFIO ioctls are {@code _IO(VFIO_TYPE, VFIO_BASE + n)} with {@code VFIO_TYPE = ';'} (0x3b, the same type as
 * iommufd) and {@code VFIO_BASE = 100}: their nr (100..117) is below iommufd's 0x80, so the dispatcher hands them
 * to {@link #ioctl}. Unknown ones (and VFIO_IOMMU_DIRTY_PAGES) are ENOIOCTLCMD, which the file op turns into ENOTTY.
 *
 * <h2>Accounting</h2>
 * Maps use the context's account mode; a context opened through {@code /dev/vfio/vfio}
 * ({@link IommufdSubsystem#openVfioContainer}) starts in per-mm (RLIMIT_MEMLOCK against the mm) mode, as VFIO type1
 * accounts.
 *
 * <h2>State</h2>
 * {@link #ioas} is a weak pointer: no reference is held, and it stops naming an IOAS once that IOAS is destroyed
 * (the lookup then fails and {@link #compatIoas} answers ENODEV). Guarded by {@code this}.
 *
 * <p>Not modelled: VFIO_NOIOMMU (there is no no-iommu mode; SET_IOMMU(NOIOMMU) is EINVAL, CHECK_EXTENSION 0).
 */
final class VfioCompat {
    static final int VFIO_TYPE = ';';
    static final int VFIO_BASE = 100;
    static final int VFIO_API_VERSION = 0;

    /** {@code _IO(';', 100 + n)}. */
    static long vfioIo(int n) {
        return ((long) VFIO_TYPE << 8) | (VFIO_BASE + n);
    }

    static final long VFIO_GET_API_VERSION = vfioIo(0);
    static final long VFIO_CHECK_EXTENSION = vfioIo(1);
    static final long VFIO_SET_IOMMU = vfioIo(2);
    static final long VFIO_IOMMU_GET_INFO = vfioIo(12);
    static final long VFIO_IOMMU_MAP_DMA = vfioIo(13);
    static final long VFIO_IOMMU_UNMAP_DMA = vfioIo(14);
    static final long VFIO_IOMMU_DIRTY_PAGES = vfioIo(17);

    // Extensions (VFIO_CHECK_EXTENSION arguments, VFIO_SET_IOMMU types).
    static final long VFIO_TYPE1_IOMMU = 1;
    static final long VFIO_SPAPR_TCE_IOMMU = 2;
    static final long VFIO_TYPE1v2_IOMMU = 3;
    static final long VFIO_DMA_CC_IOMMU = 4;
    static final long VFIO_EEH = 5;
    static final long VFIO_TYPE1_NESTING_IOMMU = 6;
    static final long VFIO_SPAPR_TCE_v2_IOMMU = 7;
    static final long VFIO_NOIOMMU_IOMMU = 8;
    static final long VFIO_UNMAP_ALL = 9;
    static final long VFIO_UPDATE_VADDR = 10;

    /**
     * {@code struct vfio_iommu_type1_dma_map}:
     * <pre>
     *   0..3 u32 argsz | 4..7 u32 flags | 8..15 u64 vaddr | 16..23 u64 iova | 24..31 u64 size     sizeof 32
     * </pre>
     */
    static final int MAP_OFFSET_ARGSZ = 0;
    static final int MAP_OFFSET_FLAGS = 4;
    static final int MAP_OFFSET_VADDR = 8;
    static final int MAP_OFFSET_IOVA = 16;
    static final int MAP_OFFSET_SIZE = 24;
    static final int MAP_MINSZ = 32;
    static final int VFIO_DMA_MAP_FLAG_READ = 1 << 0;
    static final int VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;

    /**
     * {@code struct vfio_iommu_type1_dma_unmap}:
     * <pre>
     *   0..3 u32 argsz | 4..7 u32 flags | 8..15 u64 iova | 16..23 u64 size | 24.. u8 data[]          minsz 24
     * </pre>
     */
    static final int UNMAP_OFFSET_ARGSZ = 0;
    static final int UNMAP_OFFSET_FLAGS = 4;
    static final int UNMAP_OFFSET_IOVA = 8;
    static final int UNMAP_OFFSET_SIZE = 16;
    static final int UNMAP_MINSZ = 24;
    static final int VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
    static final int VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;

    /**
     * {@code struct vfio_iommu_type1_info}:
     * <pre>
     *   0..3 u32 argsz | 4..7 u32 flags | 8..15 u64 iova_pgsizes | 16..19 u32 cap_offset | 20..23 u32 pad   sizeof 24
     * </pre>
     * minsz is offsetofend(iova_pgsizes) = 16. Capabilities follow at {@code cap_offset}, each starting with
     * {@code struct vfio_info_cap_header {u16 id; u16 version; u32 next}} (8 bytes), 8-byte aligned.
     */
    static final int INFO_OFFSET_ARGSZ = 0;
    static final int INFO_OFFSET_FLAGS = 4;
    static final int INFO_OFFSET_IOVA_PGSIZES = 8;
    static final int INFO_OFFSET_CAP_OFFSET = 16;
    static final int INFO_MINSZ = 16;
    static final int INFO_SIZE = 24;
    static final int VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
    static final int VFIO_IOMMU_INFO_CAPS = 1 << 1;
    static final int CAP_OFFSET_ID = 0;
    static final int CAP_OFFSET_VERSION = 2;
    static final int CAP_OFFSET_NEXT = 4;
    static final int CAP_HEADER = 8;
    /** {@code struct vfio_iommu_type1_info_cap_iova_range}: header, u32 nr_iovas, u32 reserved, {u64 start; u64 end}[]. */
    static final int VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
    static final int CAP_IOVA_OFFSET_NR_IOVAS = 8;
    static final int CAP_IOVA_OFFSET_RANGES = 16;
    static final int CAP_IOVA_RANGE_SIZE = 16;
    /** {@code struct vfio_iommu_type1_info_dma_avail}: header, u32 avail (12 bytes). */
    static final int VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
    static final int CAP_DMA_AVAIL_OFFSET_AVAIL = 8;
    static final int CAP_DMA_AVAIL_SIZE = 12;

    private final IommufdContext ctx;
    private Ioas ioas;

    VfioCompat(IommufdContext ctx) {
        this.ctx = ctx;
    }

    static void registerAll(IommufdIoctl t) {
        t.register(IoctlHandler.of(IommuVfioIoas.NR, IommuVfioIoas.SIZE, IommuVfioIoas.MIN_SIZE, VfioCompat::vfioIoasIoctl));
        t.setCompatHandler((ctx, caller, request, arg) -> {
            try {
                return ctx.vfioCompat.ioctl(caller, request, arg);
            } catch (ErrnoException e) {
                return -e.errno().number();
            }
        });
    }

    // ---------------------------------------------------------------- compat IOAS

    /** {@code get_compat_ioas}: the compat IOAS with one more user. @throws ErrnoException ENODEV */
    Ioas compatIoas() {
        Ioas cur;
        synchronized (this) {
            cur = ioas;
        }
        if (cur != null) {
            try {
                Ioas live = ctx.getIoas(cur.id());
                if (live == cur) {
                    return live;
                }
                ctx.objects().put(live);
            } catch (ErrnoException e) {
                // destroyed: the weak pointer no longer names anything
            }
        }
        throw ErrnoException.of(Errno.ENODEV, "no compat IOAS (IOMMU_VFIO_IOAS SET or a VFIO group) on this iommufd");
    }

    /** IOMMU_VFIO_IOAS after the __reserved check. @return the IOAS ID for GET, else 0 */
    int vfioIoas(int op, int ioasId) {
        switch (op) {
            case IommuVfioIoas.OP_GET -> {
                Ioas a = compatIoas();
                ctx.objects().put(a);
                return a.id();
            }
            case IommuVfioIoas.OP_SET -> {
                Ioas a = ctx.getIoas(ioasId);
                synchronized (this) {
                    ioas = a;
                }
                ctx.objects().put(a);
                return 0;
            }
            case IommuVfioIoas.OP_CLEAR -> {
                synchronized (this) {
                    ioas = null;
                }
                return 0;
            }
            default -> throw ErrnoException.of(Errno.EOPNOTSUPP, "IOMMU_VFIO_IOAS op %d", op);
        }
    }

    private static void vfioIoasIoctl(IoctlCall c) {
        UserStruct cmd = c.cmd();
        if (cmd.u16(IommuVfioIoas.OFFSET_RESERVED) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "IOMMU_VFIO_IOAS __reserved is not zero");
        }
        int op = cmd.u16(IommuVfioIoas.OFFSET_OP);
        int id = c.ctx().vfioCompat.vfioIoas(op, cmd.u32(IommuVfioIoas.OFFSET_IOAS_ID));
        if (op == IommuVfioIoas.OP_GET) {
            cmd.put32(IommuVfioIoas.OFFSET_IOAS_ID, id);
            c.respond();
        }
    }

    // ---------------------------------------------------------------- the container ioctls

    /** {@code iommufd_vfio_ioctl}. @return the ioctl's value (0, 1 for a supported extension) or -errno */
    int ioctl(UserProcess caller, long request, long arg) {
        if (request == VFIO_GET_API_VERSION) {
            return VFIO_API_VERSION;
        }
        if (request == VFIO_SET_IOMMU) {
            setIommu(arg);
            return 0;
        }
        if (request == VFIO_CHECK_EXTENSION) {
            return checkExtension(arg);
        }
        if (request == VFIO_IOMMU_GET_INFO) {
            getInfoIoctl(caller, arg);
            return 0;
        }
        if (request == VFIO_IOMMU_MAP_DMA) {
            UserStruct m = new UserStruct(MAP_MINSZ);
            caller.read(arg, m.bytes(), 0, MAP_MINSZ);
            if (Integer.toUnsignedLong(m.u32(MAP_OFFSET_ARGSZ)) < MAP_MINSZ) {
                throw ErrnoException.of(Errno.EINVAL, "MAP_DMA argsz %d < %d", Integer.toUnsignedLong(m.u32(MAP_OFFSET_ARGSZ)), MAP_MINSZ);
            }
            mapDma(caller, m.u32(MAP_OFFSET_FLAGS), m.u64(MAP_OFFSET_VADDR), m.u64(MAP_OFFSET_IOVA), m.u64(MAP_OFFSET_SIZE));
            return 0;
        }
        if (request == VFIO_IOMMU_UNMAP_DMA) {
            unmapDmaIoctl(caller, arg);
            return 0;
        }
        return -Errno.ENOTTY.number(); // ENOIOCTLCMD, VFIO_IOMMU_DIRTY_PAGES included
    }

    /** VFIO_CHECK_EXTENSION. */
    int checkExtension(long type) {
        if (type == VFIO_TYPE1_IOMMU || type == VFIO_TYPE1v2_IOMMU || type == VFIO_UNMAP_ALL) {
            return 1;
        }
        if (type == VFIO_DMA_CC_IOMMU) {
            Ioas a = compatIoas();
            try {
                a.mutex.lock();
                try {
                    for (HwptPaging h : a.hwpts) {
                        if (!h.enforceCacheCoherency) {
                            return 0;
                        }
                    }
                    return 1;
                } finally {
                    a.mutex.unlock();
                }
            } finally {
                ctx.objects().put(a);
            }
        }
        return 0; // NOIOMMU (CONFIG_VFIO_NOIOMMU off), NESTING, UPDATE_VADDR, SPAPR, EEH, unknown
    }

    /** VFIO_SET_IOMMU: TYPE1 disables large pages (so that unmaps may cut areas), TYPE1v2 changes nothing. */
    void setIommu(long type) {
        if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU) {
            throw ErrnoException.of(Errno.EINVAL, "VFIO_SET_IOMMU type %d is neither TYPE1 nor TYPE1v2", type);
        }
        Ioas a = compatIoas();
        try {
            if (type == VFIO_TYPE1_IOMMU) {
                a.iopt().disableLargePages();
            }
        } finally {
            ctx.objects().put(a);
        }
    }

    /**
     * VFIO_IOMMU_MAP_DMA after the argsz check: flags beyond READ|WRITE (EINVAL), the compat IOAS (ENODEV), then a
     * fixed-IOVA map of user memory with prot CACHE plus READ/WRITE per flags (neither is accepted).
     */
    void mapDma(UserProcess caller, int flags, long vaddr, long iova, long size) {
        if ((flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "MAP_DMA flags %#x has unsupported bits", flags);
        }
        int prot = IoProt.CACHE;
        if ((flags & VFIO_DMA_MAP_FLAG_READ) != 0) {
            prot |= IoProt.READ;
        }
        if ((flags & VFIO_DMA_MAP_FLAG_WRITE) != 0) {
            prot |= IoProt.WRITE;
        }
        Ioas a = compatIoas();
        try {
            // iommufd_vfio_map_dma -> iopt_map_user_pages, the same path as IOMMU_IOAS_MAP
            a.iopt().mapUserPages(caller, vaddr, size, iova, prot, (prot & IoProt.WRITE) != 0,
                    ctx.accountMode() == AccountMode.MM, false);
        } finally {
            ctx.objects().put(a);
        }
    }

    /**
     * VFIO_IOMMU_UNMAP_DMA after the argsz check: flags other than UNMAP_ALL (EINVAL), the compat IOAS (ENODEV);
     * UNMAP_ALL needs iova = size = 0 (EINVAL). A ranged unmap removes whole areas (nothing mapped: 0 bytes, no
     * error); in TYPE1 mode (large pages disabled) the areas are first cut at the range's ends.
     *
     * @return bytes unmapped (also in {@link ErrnoException#progress()} on failure)
     */
    long unmapDma(int flags, long iova, long size) {
        if ((flags & ~VFIO_DMA_UNMAP_FLAG_ALL) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "UNMAP_DMA flags %#x has unsupported bits", flags);
        }
        Ioas a = compatIoas();
        try {
            if ((flags & VFIO_DMA_UNMAP_FLAG_ALL) != 0) {
                if (iova != 0 || size != 0) {
                    throw ErrnoException.of(Errno.EINVAL, "UNMAP_ALL with iova %#x size %#x (both must be 0)", iova, size);
                }
                return a.iopt().unmapAll();
            }
            if (a.iopt().largePagesDisabled()) {
                // TYPE1 (v1): cut the areas at the range's ends first (iopt_cut_iova), none at -1 for iova 0.
                a.iopt().cutIova(iova != 0 ? new long[] {iova + size - 1, iova - 1} : new long[] {iova + size - 1});
            }
            return a.iopt().unmapIova(iova, size);
        } finally {
            ctx.objects().put(a);
        }
    }

    private void unmapDmaIoctl(UserProcess caller, long arg) {
        UserStruct u = new UserStruct(UNMAP_MINSZ);
        caller.read(arg, u.bytes(), 0, UNMAP_MINSZ);
        if (Integer.toUnsignedLong(u.u32(UNMAP_OFFSET_ARGSZ)) < UNMAP_MINSZ) {
            throw ErrnoException.of(Errno.EINVAL, "UNMAP_DMA argsz %d < %d", Integer.toUnsignedLong(u.u32(UNMAP_OFFSET_ARGSZ)), UNMAP_MINSZ);
        }
        int flags = u.u32(UNMAP_OFFSET_FLAGS);
        if ((flags & ~VFIO_DMA_UNMAP_FLAG_ALL) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "UNMAP_DMA flags %#x has unsupported bits", flags);
        }
        long unmapped;
        ErrnoException failure = null;
        try {
            unmapped = unmapDma(flags, u.u64(UNMAP_OFFSET_IOVA), u.u64(UNMAP_OFFSET_SIZE));
        } catch (ErrnoException e) {
            if (e.errno() == Errno.ENODEV || e.errno() == Errno.EINVAL && (flags & VFIO_DMA_UNMAP_FLAG_ALL) != 0) {
                throw e; // before the unmap: nothing is copied back
            }
            failure = e;
            unmapped = e.progress();
        }
        u.put64(UNMAP_OFFSET_SIZE, unmapped);
        caller.write(arg, u.bytes(), 0, UNMAP_MINSZ);
        if (failure != null) {
            throw failure;
        }
    }

    // ---------------------------------------------------------------- VFIO_IOMMU_GET_INFO

    /** {@code iommufd_get_pagesizes}. */
    private static long pageSizes(Ioas a) {
        long bitmap = -1L;
        for (IommuDomain d : a.iopt().domains()) {
            bitmap &= d.geometry().pgsizeBitmap();
        }
        long pageMask = -IoPages.PAGE_SIZE;
        if ((bitmap & ~pageMask) != 0) {
            bitmap &= pageMask;
            bitmap |= IoPages.PAGE_SIZE;
        }
        long align = a.iopt().iovaAlignment();
        return Long.compareUnsigned(bitmap, align) >= 0 ? bitmap : align;
    }

    /** VFIO_IOMMU_GET_INFO, typed. */
    VfioIommuInfo getInfo() {
        Ioas a = compatIoas();
        try {
            return new VfioIommuInfo(pageSizes(a), a.iopt().iovaRanges(), 0xffff_ffffL);
        } finally {
            ctx.objects().put(a);
        }
    }

    /**
     * {@code iommufd_vfio_iommu_get_info}: the fixed part is copied back with {@code min(argsz, sizeof)} bytes;
     * each capability (DMA_AVAIL, then IOVA_RANGE) is written only when it fits entirely in {@code argsz};
     * {@code next} links are written while the link's position lies within {@code argsz}; {@code cap_offset} is set
     * only when every capability fit; {@code argsz} returns the size needed for all of them.
     */
    private void getInfoIoctl(UserProcess caller, long arg) {
        UserStruct info = new UserStruct(INFO_SIZE);
        caller.read(arg, info.bytes(), 0, INFO_MINSZ);
        long argsz = Integer.toUnsignedLong(info.u32(INFO_OFFSET_ARGSZ));
        if (argsz < INFO_MINSZ) {
            throw ErrnoException.of(Errno.EINVAL, "GET_INFO argsz %d < %d", argsz, INFO_MINSZ);
        }
        int minsz = (int) Math.min(argsz, INFO_SIZE);
        Ioas a = compatIoas();
        try {
            info.put32(INFO_OFFSET_FLAGS, VFIO_IOMMU_INFO_PGSIZES);
            info.put64(INFO_OFFSET_IOVA_PGSIZES, pageSizes(a));
            info.put32(INFO_OFFSET_CAP_OFFSET, 0);
            List<IovaRange> ranges = a.iopt().iovaRanges();
            long total = INFO_SIZE;
            long lastCap = -1;
            for (int i = 0; i < 2; i++) {
                long avail = argsz > total ? argsz - total : 0;
                int capSize = i == 0 ? fillDmaAvail(caller, arg + total, avail) : fillIovaRanges(caller, arg + total, avail, ranges);
                capSize = (capSize + 7) & ~7;
                if (lastCap >= 0 && argsz >= total) {
                    caller.write(arg + lastCap + CAP_OFFSET_NEXT, new UserStruct(4).put32(0, (int) total).bytes(), 0, 4);
                }
                lastCap = total;
                total += capSize;
            }
            if (argsz >= total) {
                info.put32(INFO_OFFSET_CAP_OFFSET, INFO_SIZE);
            }
            info.put32(INFO_OFFSET_ARGSZ, (int) total);
            info.put32(INFO_OFFSET_FLAGS, info.u32(INFO_OFFSET_FLAGS) | VFIO_IOMMU_INFO_CAPS);
            caller.write(arg, info.bytes(), 0, minsz);
        } finally {
            ctx.objects().put(a);
        }
    }

    private static int fillDmaAvail(UserProcess caller, long at, long avail) {
        if (avail >= CAP_DMA_AVAIL_SIZE) {
            UserStruct c = new UserStruct(CAP_DMA_AVAIL_SIZE).put16(CAP_OFFSET_ID, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL)
                    .put16(CAP_OFFSET_VERSION, 1).put32(CAP_OFFSET_NEXT, 0).put32(CAP_DMA_AVAIL_OFFSET_AVAIL, -1);
            caller.write(at, c.bytes(), 0, CAP_DMA_AVAIL_SIZE);
        }
        return CAP_DMA_AVAIL_SIZE;
    }

    private static int fillIovaRanges(UserProcess caller, long at, long avail, List<IovaRange> ranges) {
        int n = 0;
        for (IovaRange r : ranges) {
            if (avail >= CAP_IOVA_OFFSET_RANGES + (long) (n + 1) * CAP_IOVA_RANGE_SIZE) {
                UserStruct e = new UserStruct(CAP_IOVA_RANGE_SIZE).put64(0, r.start()).put64(8, r.last());
                caller.write(at + CAP_IOVA_OFFSET_RANGES + (long) n * CAP_IOVA_RANGE_SIZE, e.bytes(), 0, CAP_IOVA_RANGE_SIZE);
            }
            n++;
        }
        int size = CAP_IOVA_OFFSET_RANGES + n * CAP_IOVA_RANGE_SIZE;
        if (avail >= size) {
            UserStruct h = new UserStruct(CAP_IOVA_OFFSET_RANGES).put16(CAP_OFFSET_ID, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
                    .put16(CAP_OFFSET_VERSION, 1).put32(CAP_OFFSET_NEXT, 0).put32(CAP_IOVA_OFFSET_NR_IOVAS, n);
            caller.write(at, h.bytes(), 0, CAP_IOVA_OFFSET_RANGES);
        }
        return size;
    }
}
