package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.Mockito.mock;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.Iommufd;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.UserProcess;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * IOAS semantics through the typed API with no domain and no access: nothing is ever pinned, so the process can be
 * a bare test double (the full selftest ports, through the ioctl layer and a simulated machine, live in
 * {@code dev.iommufd.core.selftest}).
 */
class IoasTypedNoDomainTest {
    private static final long PS = 4096;
    private static final int RW_FIXED = IommuIoasMap.FLAG_FIXED_IOVA | IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE;
    private static final int RW = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE;
    private static final long BUFFER = 0x7f00_0000_0000L;

    private final Iommufd fd = new IommufdSubsystem(mock(Machine.class)).open(mock(UserProcess.class));
    private final int ioas = fd.ioasAlloc();

    @AfterEach
    void close() {
        fd.close();
    }

    private static Errno errno(Runnable r) {
        return assertThrows(ErrnoException.class, r::run).errno();
    }

    @Test
    void area() { // ports iommufd_ioas.area (no_domain variant)
        for (int i = 0; i < 10; i++) {
            long iova = i * PS;
            assertEquals(Errno.ENOENT, errno(() -> fd.ioasUnmap(ioas, iova, PS)));
        }
        for (int i = 0; i < 10; i++) {
            fd.ioasMap(ioas, RW_FIXED, BUFFER, PS, i * PS);
        }
        for (int i = 0; i < 10; i++) {
            assertEquals(PS, fd.ioasUnmap(ioas, i * PS, PS));
        }
        fd.ioasMap(ioas, RW_FIXED, BUFFER, 2 * PS, 16 * PS);
        assertEquals(Errno.ENOENT, errno(() -> fd.ioasUnmap(ioas, 16 * PS, PS)));
        assertEquals(Errno.ENOENT, errno(() -> fd.ioasUnmap(ioas, 17 * PS, PS)));
        long[][] overMaps = {{2, 16}, {1, 16}, {1, 17}, {2, 15}, {3, 15}};
        for (long[] m : overMaps) {
            assertEquals(Errno.EEXIST, errno(() -> fd.ioasMap(ioas, RW_FIXED, BUFFER, m[0] * PS, m[1] * PS)));
        }
        assertEquals(2 * PS, fd.ioasUnmap(ioas, 0, -1L));
        assertEquals(0, fd.ioasUnmap(ioas, 0, -1L));
    }

    @Test
    void unmapFullyContainedAreas() { // ports iommufd_ioas.unmap_fully_contained_areas (no_domain)
        long base = 4 * PS;
        for (int i = 0; i < 4; i++) {
            fd.ioasMap(ioas, RW_FIXED, BUFFER, 8 * PS, base + i * 16 * PS);
        }
        assertEquals(Errno.ENOENT, errno(() -> fd.ioasUnmap(ioas, base - 4 * PS, 8 * PS)));
        assertEquals(Errno.ENOENT, errno(() -> fd.ioasUnmap(ioas, base + 48 * PS + 8 * PS - 4 * PS, 8 * PS)));
        assertEquals(32 * PS, fd.ioasUnmap(ioas, base - 4 * PS, 3 * 16 * PS + 8 * PS + 4 * PS));
    }

    @Test
    void unmapIsNotAtomic() { // B.5 #1: areas before the straddled one stay unmapped, progress reported
        fd.ioasMap(ioas, RW_FIXED, BUFFER, PS, 0x10000);
        fd.ioasMap(ioas, RW_FIXED, BUFFER, 2 * PS, 0x20000);
        ErrnoException e = assertThrows(ErrnoException.class, () -> fd.ioasUnmap(ioas, 0x10000, 0x11000));
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals(PS, e.progress());
        assertEquals(Errno.ENOENT, errno(() -> fd.ioasUnmap(ioas, 0x10000, PS)));
        assertEquals(2 * PS, fd.ioasUnmap(ioas, 0x20000, 2 * PS));
    }

    @Test
    void autoIovaIsAlignedAndAvoidsReservedAndAllowedRules() { // ports iommufd_ioas.area_auto_iova (no_domain) steps 1-2
        long[] iovas = new long[10];
        for (int i = 0; i < 10; i++) {
            iovas[i] = fd.ioasMap(ioas, RW, BUFFER, PS, 0);
            assertTrue(iovas[i] != 0);
        }
        for (int i = 0; i < 10; i++) {
            fd.ioasUnmap(ioas, iovas[i], PS);
        }
        for (int i = 0; i < 10; i++) {
            long length = PS * (i + 1);
            iovas[i] = fd.ioasMap(ioas, RW, 1L << 31, length, 0);
            assertEquals(0, iovas[i] % Long.lowestOneBit(length), "iova " + Long.toHexString(iovas[i]) + " for length " + length);
        }
        for (int i = 0; i < 10; i++) {
            fd.ioasUnmap(ioas, iovas[i], PS * (i + 1));
        }
    }

    @Test
    void autoIovaStaysInsideTheAllowList() { // ports iommufd_ioas.area_auto_iova (no_domain) step 5
        IovaRange allowed = new IovaRange(200 * PS, 600 * PS - 1);
        fd.ioasAllowIovas(ioas, List.of(allowed));
        for (int i = 0; i < 10; i++) {
            long length = PS * (i + 1);
            long iova = fd.ioasMap(ioas, RW, BUFFER, length, 0);
            assertEquals(0, iova % Long.lowestOneBit(length));
            assertTrue(iova >= allowed.start() && iova + length <= allowed.last() + 1, Long.toHexString(iova));
        }
    }

    @Test
    void iovaRangesOfAFreshIoas() { // ports iommufd_ioas.iova_ranges (no_domain) step 1
        assertEquals(List.of(new IovaRange(0, -1L)), fd.ioasIovaRanges(ioas).ranges());
        assertEquals(1, fd.ioasIovaRanges(ioas).iovaAlignment());
    }

    @Test
    void hugePagesOption() { // ports iommufd_ioas.ioas_option_huge_pages
        assertEquals(1, fd.optionGet(1, ioas));
        fd.optionSet(1, ioas, 0);
        assertEquals(0, fd.optionGet(1, ioas));
        assertEquals(Errno.EINVAL, errno(() -> fd.optionSet(1, ioas, 2)));
        fd.optionSet(1, ioas, 1);
        assertEquals(1, fd.optionGet(1, ioas));
    }

    @Test
    void mapValidationOrder() { // reference §4 IOMMU_IOAS_MAP validation order
        assertEquals(Errno.EOPNOTSUPP, errno(() -> fd.ioasMap(ioas, 1 << 3 | RW, BUFFER, PS, 0)));
        assertEquals(Errno.EOVERFLOW, errno(() -> fd.ioasMap(999, RW, BUFFER, -1L, 0)));
        assertEquals(Errno.EINVAL, errno(() -> fd.ioasMap(999, IommuIoasMap.FLAG_FIXED_IOVA, BUFFER, PS, 0)));
        assertEquals(Errno.ENOENT, errno(() -> fd.ioasMap(999, RW, BUFFER, PS, 0)));
        assertEquals(Errno.EINVAL, errno(() -> fd.ioasMap(ioas, RW, BUFFER, 0, 0)));
    }

    @Test
    void destroyIoasWithMappings() { // ports iommufd_ioas.ioas_area_destroy (no_domain)
        fd.ioasMap(ioas, RW_FIXED, BUFFER, PS, 0);
        fd.destroy(ioas);
        assertEquals(Errno.ENOENT, errno(() -> fd.destroy(ioas)));
    }
}
