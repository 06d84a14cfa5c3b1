package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.Selftest.cmd;
import static dev.iommufd.core.selftest.Selftest.err;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuDestroy;
import dev.iommufd.api.uapi.IommuIoasAlloc;
import dev.iommufd.api.uapi.IommuIoasAllowIovas;
import dev.iommufd.api.uapi.IommuIoasChangeProcess;
import dev.iommufd.api.uapi.IommuIoasCopy;
import dev.iommufd.api.uapi.IommuIoasIovaRanges;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuIoasMapFile;
import dev.iommufd.api.uapi.IommuIoasUnmap;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.api.uapi.IommufdCommands;
import dev.iommufd.api.uapi.UserStruct;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** FIXTURE iommufd of tools/testing/selftests/iommu/iommufd.c. */
class IommufdFixtureTest {
    private final Selftest t = new Selftest();

    @AfterEach
    void teardown() {
        t.close();
    }

    @Test
    void simpleClose() { // ports iommufd.simple_close
    }

    @Test
    void cmdFail() { // ports iommufd.cmd_fail
        assertEquals(err(Errno.ENOENT), t.destroyRc(0));
        assertEquals(err(Errno.EFAULT), t.ioctlAt(IommuDestroy.REQUEST, 0));
        assertEquals(err(Errno.ENOTTY), t.ioctl(IommufdCommands.request(0x80 - 1), cmd(IommuDestroy.SIZE)));
    }

    @Test
    void unknownCommandsInsideTheTableAreEnottyAfterTheSizeRead() { // reference §3.4 steps 2-3
        // 0x95..0x9f are holes below IOMMU_TEST_CMD: the size is read first (EFAULT on a bad pointer)...
        assertEquals(err(Errno.EFAULT), t.ioctlAt(IommufdCommands.request(0x95), 0));
        // ...then the hole answers ENOTTY, as does a request with direction/size bits set.
        assertEquals(err(Errno.ENOTTY), t.ioctl(IommufdCommands.request(0x95), cmd(8)));
        assertEquals(err(Errno.ENOTTY), t.ioctl(IommuDestroy.REQUEST | (8L << 16), cmd(IommuDestroy.SIZE)));
    }

    /** TEST_LENGTH(_struct, _ioctl, _last). */
    private void testLength(int size, int minSize, long request) {
        UserStruct c = new UserStruct(size + 1);
        c.put32(0, minSize - 1);
        c.put8(size, 0xff);
        assertEquals(err(Errno.EINVAL), t.ioctl(request, c), "size min_size-1");
        c = new UserStruct(size + 1);
        c.put32(0, size + 1);
        c.put8(size, 0xff);
        assertEquals(err(Errno.E2BIG), t.ioctl(request, c), "size sizeof+1 with a non-zero tail");
        c = new UserStruct(size + 1);
        c.put32(0, size);
        c.put8(size, 0xff);
        int rc = t.ioctl(request, c);
        c = new UserStruct(size + 1);
        c.put32(0, size + 1);
        assertEquals(rc, t.ioctl(request, c), "size sizeof+1 with a zero tail behaves like sizeof");
    }

    @Test
    void cmdLength() { // ports iommufd.cmd_length (the commands of the core; device/HWPT/vIOMMU rows join with them)
        testLength(IommuDestroy.SIZE, IommuDestroy.MIN_SIZE, IommuDestroy.REQUEST);
        testLength(IommuIoasAlloc.SIZE, IommuIoasAlloc.MIN_SIZE, IommuIoasAlloc.REQUEST);
        testLength(IommuIoasIovaRanges.SIZE, IommuIoasIovaRanges.MIN_SIZE, IommuIoasIovaRanges.REQUEST);
        testLength(IommuIoasAllowIovas.SIZE, IommuIoasAllowIovas.MIN_SIZE, IommuIoasAllowIovas.REQUEST);
        testLength(IommuIoasMap.SIZE, IommuIoasMap.MIN_SIZE, IommuIoasMap.REQUEST);
        testLength(IommuIoasCopy.SIZE, IommuIoasCopy.MIN_SIZE, IommuIoasCopy.REQUEST);
        testLength(IommuIoasUnmap.SIZE, IommuIoasUnmap.MIN_SIZE, IommuIoasUnmap.REQUEST);
        testLength(IommuOption.SIZE, IommuOption.MIN_SIZE, IommuOption.REQUEST);
        testLength(IommuIoasMapFile.SIZE, IommuIoasMapFile.MIN_SIZE, IommuIoasMapFile.REQUEST);
        testLength(IommuIoasChangeProcess.SIZE, IommuIoasChangeProcess.MIN_SIZE, IommuIoasChangeProcess.REQUEST);
    }

    @Test
    void cmdExFail() { // ports iommufd.cmd_ex_fail
        UserStruct c = new UserStruct(16).put32(0, 16);
        assertEquals(err(Errno.ENOENT), t.ioctl(IommuDestroy.REQUEST, c));
        c.put64(8, 1);
        assertEquals(err(Errno.E2BIG), t.ioctl(IommuDestroy.REQUEST, c));
        c.put32(0, 8);
        assertEquals(err(Errno.ENOENT), t.ioctl(IommuDestroy.REQUEST, c));
        c.put32(0, 7);
        assertEquals(err(Errno.EINVAL), t.ioctl(IommuDestroy.REQUEST, c));
    }

    @Test
    void globalOptions() { // ports iommufd.global_options
        assertEquals(0, t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_GET, 0, 1));
        assertEquals(0, t.lastVal);
        assertEquals(0, t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_SET, 0, 1));
        assertEquals(err(Errno.EINVAL), t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_SET, 0, 2));
        assertEquals(0, t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_GET, 0, 0));
        assertEquals(1, t.lastVal);
        assertEquals(0, t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_SET, 0, 0));
        assertEquals(err(Errno.ENOENT), t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_GET, 0, 0));
        assertEquals(err(Errno.ENOENT), t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, 0, 0));
    }

    @Test
    void rlimitModeNeedsPrivilegeAndAnEmptyContext() { // reference §4 IOMMU_OPTION RLIMIT_MODE, B.2
        assertEquals(err(Errno.EOPNOTSUPP), t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_GET, 1, 0));
        assertEquals(err(Errno.EOPNOTSUPP), t.optionRc(IommuOption.OPTION_RLIMIT_MODE, 2, 0, 0));
        assertEquals(err(Errno.EOPNOTSUPP), t.optionRc(7, IommuOption.OP_GET, 0, 0));
        UserStruct reserved = cmd(IommuOption.SIZE).put16(IommuOption.OFFSET_RESERVED, 1);
        assertEquals(err(Errno.EOPNOTSUPP), t.ioctl(IommuOption.REQUEST, reserved));
        int ioas = t.ioasAlloc();
        assertEquals(err(Errno.EBUSY), t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_SET, 0, 1));
        t.destroy(ioas);
        t.proc.revoke(dev.iommufd.platform.ProcessCapability.CAP_SYS_RESOURCE);
        assertEquals(err(Errno.EPERM), t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_SET, 0, 1));
        assertEquals(0, t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_GET, 0, 0));
    }

    @Test
    void ioasAllocRespondFailureLeavesNoObject() { // reference §3.6: object visible only after respond succeeded
        UserStruct c = cmd(IommuIoasAlloc.SIZE);
        t.proc.write(t.scratch, c.bytes(), 0, c.size());
        // A struct whose out field lies on a read-only page: copy-in works, respond fails.
        long ro = t.proc.mmap(0, 2 * Selftest.PAGE_SIZE, dev.iommufd.platform.Prot.READ_WRITE, dev.iommufd.platform.MapKind.ANONYMOUS);
        t.proc.write(ro + Selftest.PAGE_SIZE - 12, c.bytes(), 0, 12);
        t.proc.munmap(ro + Selftest.PAGE_SIZE, Selftest.PAGE_SIZE);
        long ro2 = t.proc.mmap(ro + Selftest.PAGE_SIZE, Selftest.PAGE_SIZE, dev.iommufd.platform.Prot.READ, dev.iommufd.platform.MapKind.ANONYMOUS);
        assertEquals(ro + Selftest.PAGE_SIZE, ro2);
        // size 12 fits on the first page: this succeeds.
        assertEquals(0, t.ioctlAt(IommuIoasAlloc.REQUEST, ro + Selftest.PAGE_SIZE - 12));
        assertEquals(1, t.ctx().objects().live(dev.iommufd.core.ObjectKind.IOAS, dev.iommufd.core.Ioas.class).size());
        // Now straddle into the read-only page: copy-in reads fine, the write-back faults.
        UserStruct straddle = cmd(IommuIoasAlloc.SIZE);
        t.proc.write(ro + Selftest.PAGE_SIZE - 8, straddle.bytes(), 0, 8);
        assertEquals(err(Errno.EFAULT), t.ioctlAt(IommuIoasAlloc.REQUEST, ro + Selftest.PAGE_SIZE - 8));
        assertEquals(1, t.ctx().objects().live(dev.iommufd.core.ObjectKind.IOAS, dev.iommufd.core.Ioas.class).size());
        // The aborted ID is free again: the next IOAS gets ID 2.
        assertEquals(2, t.ioasAlloc());
        t.proc.munmap(ro, 2 * Selftest.PAGE_SIZE);
    }
}
