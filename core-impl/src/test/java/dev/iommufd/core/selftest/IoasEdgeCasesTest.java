package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.Selftest.BUFFER_SIZE;
import static dev.iommufd.core.selftest.Selftest.MAP_FIXED_RW;
import static dev.iommufd.core.selftest.Selftest.MAP_RW;
import static dev.iommufd.core.selftest.Selftest.PAGE_SIZE;
import static dev.iommufd.core.selftest.Selftest.cmd;
import static dev.iommufd.core.selftest.Selftest.err;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuIoasChangeProcess;
import dev.iommufd.api.uapi.IommuIoasCopy;
import dev.iommufd.api.uapi.IommuIoasIovaRanges;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuIoasUnmap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Validation orders and corner cases of ioas.c / io_pagetable.c beyond the selftests (reference §4, §5, B.5). */
class IoasEdgeCasesTest {
    private final Selftest t = new Selftest();
    private final int ioas = t.ioasAlloc();

    @AfterEach
    void teardown() {
        t.close();
    }

    @Test
    void mapChecksStructFieldsFirst() { // §4 IOAS_MAP order: flags/__reserved → EOVERFLOW → R/W → ENOENT
        assertEquals(err(Errno.EOPNOTSUPP), t.ioctl(IommuIoasMap.REQUEST, cmd(IommuIoasMap.SIZE)
                .put32(IommuIoasMap.OFFSET_RESERVED, 1).put32(IommuIoasMap.OFFSET_FLAGS, MAP_RW)));
        assertEquals(err(Errno.EOVERFLOW), t.mapRc(ioas + 100, t.buffer, PAGE_SIZE, -1L, MAP_FIXED_RW));
        assertEquals(err(Errno.EINVAL), t.mapRc(ioas + 100, t.buffer, PAGE_SIZE, 0, IommuIoasMap.FLAG_FIXED_IOVA));
        assertEquals(err(Errno.ENOENT), t.mapRc(ioas + 100, t.buffer, PAGE_SIZE, 0, MAP_RW));
        assertEquals(err(Errno.EOVERFLOW), t.mapRc(ioas, -PAGE_SIZE, 2 * PAGE_SIZE, 0, MAP_RW));
        assertEquals(err(Errno.EOVERFLOW), t.mapRc(ioas, t.buffer, 2 * PAGE_SIZE, -PAGE_SIZE, MAP_FIXED_RW));
    }

    @Test
    void autoIovaKeepsTheSubPageOffsetAndNeverUsesPageZero() { // B.5 #3
        long iova = t.map(ioas, t.buffer + 0x234, 0x100);
        assertEquals(0x234, iova & (PAGE_SIZE - 1));
        assertEquals(true, Long.compareUnsigned(iova, PAGE_SIZE) >= 0);
        // FIXED_IOVA may use IOVA 0
        t.mapFixed(ioas, t.buffer, PAGE_SIZE, 0);
    }

    @Test
    void unmapRangeChecksComeAfterTheLookup() { // §4 IOAS_UNMAP: IOAS lookup first, then EOVERFLOW; unmap-all on empty is 0
        assertEquals(err(Errno.ENOENT), t.unmapRc(ioas + 1, -1L, PAGE_SIZE));
        assertEquals(err(Errno.EOVERFLOW), t.unmapRc(ioas, -1L, PAGE_SIZE));
        assertEquals(err(Errno.EOVERFLOW), t.unmapRc(ioas, PAGE_SIZE, -1L));
        assertEquals(err(Errno.EINVAL), t.unmapRc(ioas, PAGE_SIZE, 0));
        assertEquals(0, t.unmapRc(ioas, 0, -1L));
        assertEquals(0, t.lastLength);
    }

    @Test
    void copyFlagsAndPermissions() { // §4 IOAS_COPY; B.5 #2
        t.mapRc(ioas, t.buffer, 2 * PAGE_SIZE, 0, IommuIoasMap.FLAG_FIXED_IOVA | IommuIoasMap.FLAG_READABLE);
        assertEquals(err(Errno.EOPNOTSUPP), t.copyRc(ioas, ioas, 1 << 5 | MAP_FIXED_RW, PAGE_SIZE, 0x10000, 0));
        assertEquals(err(Errno.EOVERFLOW), t.copyRc(ioas, ioas, MAP_FIXED_RW, PAGE_SIZE, -1L, 0));
        assertEquals(err(Errno.EINVAL), t.copyRc(ioas, ioas, IommuIoasMap.FLAG_FIXED_IOVA, PAGE_SIZE, 0x10000, 0));
        assertEquals(err(Errno.EINVAL), t.copyRc(ioas, ioas, MAP_FIXED_RW, 0, 0x10000, 0));
        assertEquals(err(Errno.EPERM), t.copyRc(ioas, ioas, MAP_FIXED_RW, PAGE_SIZE, 0x10000, 0), "writeable copy of read-only pages");
        assertEquals(0, t.copyRc(ioas, ioas, IommuIoasMap.FLAG_FIXED_IOVA | IommuIoasMap.FLAG_READABLE, PAGE_SIZE, 0x10000, 0));
        // A copy may start inside an area and span adjacent areas: one destination area per source slice
        t.mapFixed(ioas, t.buffer, PAGE_SIZE, 0x20000);
        t.mapFixed(ioas, t.buffer, PAGE_SIZE, 0x21000);
        assertEquals(0, t.copyRc(ioas, ioas, MAP_FIXED_RW, PAGE_SIZE, 0x40000, 0x20800));
        assertEquals(err(Errno.ENOENT), t.unmapRc(ioas, 0x40000, 0x400), "cuts the first destination area");
        t.unmap(ioas, 0x40000, 0x800);
        assertEquals(0x800, t.lastLength, "two areas were created: the first is half a page");
        t.unmap(ioas, 0x40800, 0x800);
        assertEquals(0x800, t.lastLength);
        // Auto IOVA of a copy
        assertEquals(0, t.copyRc(ioas, ioas, MAP_RW, PAGE_SIZE, 0, 0x20000));
        long iova = t.lastIova;
        t.unmap(ioas, iova, PAGE_SIZE);
    }

    @Test
    void copiedMemoryIsTheSameMemory() { // COPY shares the pages: an access sees the buffer through the copy
        int dst = t.ioasAlloc();
        t.mapFixed(ioas, t.buffer, BUFFER_SIZE, 0x100000);
        assertEquals(0, t.copyRc(dst, ioas, MAP_FIXED_RW, BUFFER_SIZE, 0x500000, 0x100000));
        t.destroy(ioas); // the source IOAS can go; its pages live on in the copy
        int access = t.createAccess(dst, 0);
        assertEquals(0, t.accessRwRc(access, 0x500000, BUFFER_SIZE, t.scratch, IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH));
        assertArrayEquals(t.read(t.buffer, (int) BUFFER_SIZE), t.read(t.scratch, (int) BUFFER_SIZE));
        t.destroyAccess(access);
    }

    @Test
    void mapFileValidation() { // §4 IOMMU_IOAS_MAP_FILE order
        assertEquals(err(Errno.EOPNOTSUPP), t.mapFileRc(ioas, t.mfd.fd(), 0, PAGE_SIZE, 0, 1 << 4 | MAP_RW));
        assertEquals(err(Errno.EOVERFLOW), t.mapFileRc(ioas, t.mfd.fd(), 0, -1L, 0, MAP_RW));
        assertEquals(err(Errno.EINVAL), t.mapFileRc(ioas, t.mfd.fd(), 0, PAGE_SIZE, 0, 0));
        assertEquals(err(Errno.ENOENT), t.mapFileRc(ioas + 1, 99, 0, PAGE_SIZE, 0, MAP_RW));
        assertEquals(err(Errno.EBADF), t.mapFileRc(ioas, 99, 0, PAGE_SIZE, 0, MAP_RW));
        assertEquals(err(Errno.EOVERFLOW), t.mapFileRc(ioas, t.mfd.fd(), -PAGE_SIZE, 2 * PAGE_SIZE, 0, MAP_RW));
        assertEquals(0, t.mapFileRc(ioas, t.mfd.fd(), PAGE_SIZE + 0x10, PAGE_SIZE, 0, MAP_RW));
        assertEquals(0x10, t.lastIova & (PAGE_SIZE - 1), "auto IOVA keeps the file offset's page offset");
    }

    @Test
    void mapFileAccessReadsTheFile() { // MAP_FILE pages are the memfd's pages
        assertEquals(0, t.mapFileRc(ioas, t.mfd.fd(), 0, BUFFER_SIZE, 0x200000, MAP_FIXED_RW));
        int access = t.createAccess(ioas, 0);
        assertEquals(0, t.accessRwRc(access, 0x200000 + 100, 3 * PAGE_SIZE, t.scratch, 0));
        assertArrayEquals(t.read(t.mfdBuffer + 100, (int) (3 * PAGE_SIZE)), t.read(t.scratch, (int) (3 * PAGE_SIZE)));
        t.destroyAccess(access);
    }

    @Test
    void reservedFieldsAreEopnotsupp() { // B.2: __reserved != 0 → EOPNOTSUPP
        assertEquals(err(Errno.EOPNOTSUPP), t.ioctl(IommuIoasIovaRanges.REQUEST, cmd(IommuIoasIovaRanges.SIZE)
                .put32(IommuIoasIovaRanges.OFFSET_IOAS_ID, ioas).put32(IommuIoasIovaRanges.OFFSET_RESERVED, 1)));
        assertEquals(err(Errno.EOPNOTSUPP), t.ioctl(IommuIoasChangeProcess.REQUEST, cmd(IommuIoasChangeProcess.SIZE)
                .put32(IommuIoasChangeProcess.OFFSET_RESERVED, 1)));
        assertEquals(err(Errno.EOPNOTSUPP), t.ioctl(dev.iommufd.api.uapi.IommuIoasAlloc.REQUEST,
                cmd(dev.iommufd.api.uapi.IommuIoasAlloc.SIZE).put32(dev.iommufd.api.uapi.IommuIoasAlloc.OFFSET_FLAGS, 1)));
        assertEquals(0, t.ioctl(IommuIoasChangeProcess.REQUEST, cmd(IommuIoasChangeProcess.SIZE)), "no maps: success");
    }

    @Test
    void shortStructsGetOnlyTheirPrefixBack() { // §13 iommufd_ucmd_respond copies min(user size, kernel size)
        // An IOAS_UNMAP struct of its full size: length written back
        t.mapFixed(ioas, t.buffer, PAGE_SIZE, 0);
        var c = cmd(IommuIoasUnmap.SIZE).put32(IommuIoasUnmap.OFFSET_IOAS_ID, ioas).put64(IommuIoasUnmap.OFFSET_LENGTH, -1L);
        assertEquals(0, t.ioctl(IommuIoasUnmap.REQUEST, c));
        assertEquals(PAGE_SIZE, c.u64(IommuIoasUnmap.OFFSET_LENGTH));
        // IOAS_COPY larger struct from a newer userspace: zero tail accepted, tail untouched on respond
        var big = new dev.iommufd.api.uapi.UserStruct(IommuIoasCopy.SIZE + 8).put32(0, IommuIoasCopy.SIZE + 8)
                .put32(IommuIoasCopy.OFFSET_DST_IOAS_ID, ioas).put32(IommuIoasCopy.OFFSET_SRC_IOAS_ID, ioas);
        assertEquals(err(Errno.EINVAL), t.ioctl(IommuIoasCopy.REQUEST, big), "no R/W flag, but the size was accepted");
    }
}
