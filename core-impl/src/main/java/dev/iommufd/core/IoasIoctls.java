package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.IovaRanges;
import dev.iommufd.api.uapi.IommuDestroy;
import dev.iommufd.api.uapi.IommuIoasAlloc;
import dev.iommufd.api.uapi.IommuIoasAllowIovas;
import dev.iommufd.api.uapi.IommuIoasChangeProcess;
import dev.iommufd.api.uapi.IommuIoasCopy;
import dev.iommufd.api.uapi.IommuIoasIovaRanges;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuIoasMapFile;
import dev.iommufd.api.uapi.IommuIoasUnmap;
import dev.iommufd.api.uapi.IommuIovaRange;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.api.uapi.UserStruct;
import java.util.ArrayList;
import java.util.List;

/**
 * The ioctl face of main.c and ioas.c: each handler parses its struct (layout from {@code dev.iommufd.api.uapi}),
 * checks what only the struct has ({@code __reserved} fields), calls the shared implementation in
 * {@link IommufdContext}, and writes outputs back.
 */
final class IoasIoctls {

    private IoasIoctls() {
    }

    static void registerAll(IommufdIoctl t) {
        t.register(IoctlHandler.of(IommuDestroy.NR, IommuDestroy.SIZE, IommuDestroy.MIN_SIZE, IoasIoctls::destroy));
        t.register(IoctlHandler.of(IommuIoasAlloc.NR, IommuIoasAlloc.SIZE, IommuIoasAlloc.MIN_SIZE, IoasIoctls::ioasAlloc));
        t.register(IoctlHandler.of(IommuIoasAllowIovas.NR, IommuIoasAllowIovas.SIZE, IommuIoasAllowIovas.MIN_SIZE, IoasIoctls::allowIovas));
        t.register(IoctlHandler.of(IommuIoasCopy.NR, IommuIoasCopy.SIZE, IommuIoasCopy.MIN_SIZE, IoasIoctls::copy));
        t.register(IoctlHandler.of(IommuIoasIovaRanges.NR, IommuIoasIovaRanges.SIZE, IommuIoasIovaRanges.MIN_SIZE, IoasIoctls::iovaRanges));
        t.register(IoctlHandler.of(IommuIoasMap.NR, IommuIoasMap.SIZE, IommuIoasMap.MIN_SIZE, IoasIoctls::map));
        t.register(IoctlHandler.of(IommuIoasUnmap.NR, IommuIoasUnmap.SIZE, IommuIoasUnmap.MIN_SIZE, IoasIoctls::unmap));
        t.register(IoctlHandler.of(IommuOption.NR, IommuOption.SIZE, IommuOption.MIN_SIZE, IoasIoctls::option));
        t.register(IoctlHandler.of(IommuIoasMapFile.NR, IommuIoasMapFile.SIZE, IommuIoasMapFile.MIN_SIZE, IoasIoctls::mapFile));
        t.register(IoctlHandler.of(IommuIoasChangeProcess.NR, IommuIoasChangeProcess.SIZE, IommuIoasChangeProcess.MIN_SIZE,
                IoasIoctls::changeProcess));
    }

    private static void destroy(IoctlCall c) {
        c.ctx().destroy(c.cmd().u32(IommuDestroy.OFFSET_ID));
    }

    private static void ioasAlloc(IoctlCall c) {
        UserStruct cmd = c.cmd();
        if (cmd.u32(IommuIoasAlloc.OFFSET_FLAGS) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "IOAS_ALLOC flags %#x must be 0", cmd.u32(IommuIoasAlloc.OFFSET_FLAGS));
        }
        Ioas ioas = c.ctx().allocIoas();
        try {
            cmd.put32(IommuIoasAlloc.OFFSET_OUT_IOAS_ID, ioas.id());
            c.respond();
        } catch (RuntimeException e) {
            c.ctx().objects().abort(ioas);
            throw e;
        }
        c.ctx().objects().finalizeObject(ioas);
    }

    private static void map(IoctlCall c) {
        UserStruct cmd = c.cmd();
        int flags = cmd.u32(IommuIoasMap.OFFSET_FLAGS);
        if ((flags & ~IommuIoasMap.VALID_FLAGS) != 0 || cmd.u32(IommuIoasMap.OFFSET_RESERVED) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "IOAS_MAP flags %#x / __reserved %#x", flags, cmd.u32(IommuIoasMap.OFFSET_RESERVED));
        }
        long iova = c.ctx().ioasMap(c.caller(), cmd.u32(IommuIoasMap.OFFSET_IOAS_ID), flags,
                cmd.u64(IommuIoasMap.OFFSET_USER_VA), cmd.u64(IommuIoasMap.OFFSET_LENGTH), cmd.u64(IommuIoasMap.OFFSET_IOVA));
        cmd.put64(IommuIoasMap.OFFSET_IOVA, iova);
        c.respond(); // a failed copy-back leaves the mapping in place, as in every kernel version
    }

    private static void mapFile(IoctlCall c) {
        UserStruct cmd = c.cmd();
        long iova = c.ctx().ioasMapFile(c.caller(), cmd.u32(IommuIoasMapFile.OFFSET_IOAS_ID), cmd.u32(IommuIoasMapFile.OFFSET_FLAGS),
                cmd.u32(IommuIoasMapFile.OFFSET_FD), cmd.u64(IommuIoasMapFile.OFFSET_START), cmd.u64(IommuIoasMapFile.OFFSET_LENGTH),
                cmd.u64(IommuIoasMapFile.OFFSET_IOVA));
        cmd.put64(IommuIoasMapFile.OFFSET_IOVA, iova);
        c.respond();
    }

    private static void copy(IoctlCall c) {
        UserStruct cmd = c.cmd();
        long iova = c.ctx().ioasCopy(cmd.u32(IommuIoasCopy.OFFSET_DST_IOAS_ID), cmd.u32(IommuIoasCopy.OFFSET_SRC_IOAS_ID),
                cmd.u32(IommuIoasCopy.OFFSET_FLAGS), cmd.u64(IommuIoasCopy.OFFSET_LENGTH), cmd.u64(IommuIoasCopy.OFFSET_DST_IOVA),
                cmd.u64(IommuIoasCopy.OFFSET_SRC_IOVA));
        cmd.put64(IommuIoasCopy.OFFSET_DST_IOVA, iova);
        c.respond();
    }

    private static void unmap(IoctlCall c) {
        UserStruct cmd = c.cmd();
        long unmapped = c.ctx().ioasUnmap(cmd.u32(IommuIoasUnmap.OFFSET_IOAS_ID), cmd.u64(IommuIoasUnmap.OFFSET_IOVA),
                cmd.u64(IommuIoasUnmap.OFFSET_LENGTH));
        cmd.put64(IommuIoasUnmap.OFFSET_LENGTH, unmapped);
        c.respond();
    }

    private static void iovaRanges(IoctlCall c) {
        UserStruct cmd = c.cmd();
        if (cmd.u32(IommuIoasIovaRanges.OFFSET_RESERVED) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "IOAS_IOVA_RANGES __reserved must be 0");
        }
        IovaRanges r = c.ctx().ioasIovaRanges(cmd.u32(IommuIoasIovaRanges.OFFSET_IOAS_ID));
        long capacity = cmd.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS) & 0xffff_ffffL;
        long ptr = cmd.u64(IommuIoasIovaRanges.OFFSET_ALLOWED_IOVAS);
        UserStruct range = new UserStruct(IommuIovaRange.SIZE);
        List<IovaRange> list = r.ranges();
        for (int i = 0; i < list.size() && i < capacity; i++) {
            range.put64(IommuIovaRange.OFFSET_START, list.get(i).start());
            range.put64(IommuIovaRange.OFFSET_LAST, list.get(i).last());
            c.caller().write(ptr + (long) i * IommuIovaRange.SIZE, range.bytes(), 0, IommuIovaRange.SIZE);
        }
        cmd.put32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS, list.size());
        cmd.put64(IommuIoasIovaRanges.OFFSET_OUT_IOVA_ALIGNMENT, r.iovaAlignment());
        c.respond();
        if (list.size() > capacity) {
            throw ErrnoException.of(Errno.EMSGSIZE, "%d ranges do not fit the array of %d", list.size(), capacity);
        }
    }

    private static void allowIovas(IoctlCall c) {
        UserStruct cmd = c.cmd();
        if (cmd.u32(IommuIoasAllowIovas.OFFSET_RESERVED) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "IOAS_ALLOW_IOVAS __reserved must be 0");
        }
        int ioasId = cmd.u32(IommuIoasAllowIovas.OFFSET_IOAS_ID);
        long n = cmd.u32(IommuIoasAllowIovas.OFFSET_NUM_IOVAS) & 0xffff_ffffL;
        long ptr = cmd.u64(IommuIoasAllowIovas.OFFSET_ALLOWED_IOVAS);
        // The IOAS lookup comes first (ENOENT), then the entries are read (EFAULT) and checked.
        Ioas ioas = c.ctx().getIoas(ioasId);
        c.ctx().objects().put(ioas);
        List<IovaRange> ranges = new ArrayList<>();
        UserStruct range = new UserStruct(IommuIovaRange.SIZE);
        for (long i = 0; i < n; i++) {
            c.caller().read(ptr + i * IommuIovaRange.SIZE, range.bytes(), 0, IommuIovaRange.SIZE);
            ranges.add(new IovaRange(range.u64(IommuIovaRange.OFFSET_START), range.u64(IommuIovaRange.OFFSET_LAST)));
        }
        c.ctx().ioasAllowIovas(ioasId, ranges);
    }

    private static void option(IoctlCall c) {
        UserStruct cmd = c.cmd();
        if (cmd.u16(IommuOption.OFFSET_RESERVED) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "IOMMU_OPTION __reserved must be 0");
        }
        long val = c.ctx().option(c.caller(), cmd.u32(IommuOption.OFFSET_OPTION_ID), cmd.u16(IommuOption.OFFSET_OP),
                cmd.u32(IommuOption.OFFSET_OBJECT_ID), cmd.u64(IommuOption.OFFSET_VAL64));
        cmd.put64(IommuOption.OFFSET_VAL64, val);
        c.respond();
    }

    private static void changeProcess(IoctlCall c) {
        if (c.cmd().u32(IommuIoasChangeProcess.OFFSET_RESERVED) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "IOAS_CHANGE_PROCESS __reserved must be 0");
        }
        c.ctx().ioasChangeProcess(c.caller());
    }
}
