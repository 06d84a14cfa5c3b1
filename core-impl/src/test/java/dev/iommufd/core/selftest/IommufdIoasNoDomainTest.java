package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.Selftest.BUFFER_SIZE;
import static dev.iommufd.core.selftest.Selftest.MAP_FIXED_RW;
import static dev.iommufd.core.selftest.Selftest.MOCK_PAGE_SIZE;
import static dev.iommufd.core.selftest.Selftest.PAGE_SIZE;
import static dev.iommufd.core.selftest.Selftest.cmd;
import static dev.iommufd.core.selftest.Selftest.err;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuIoasAllowIovas;
import dev.iommufd.api.uapi.IommuIoasIovaRanges;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuIovaRange;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.api.uapi.UserStruct;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * FIXTURE iommufd_ioas, variant no_domain (no mock domain: base_iova 0, nothing pinned by a domain), of
 * tools/testing/selftests/iommu/iommufd.c. The mock_domain variants join when the mock driver is wired.
 */
class IommufdIoasNoDomainTest {
    private static final long APERTURE_START = IommuTestCmd.MOCK_APERTURE_START;
    private final Selftest t = new Selftest();
    private final int ioasId;
    private final long base = 0;

    IommufdIoasNoDomainTest() {
        ioasId = t.ioasAlloc();
        t.setTempMemoryLimit(65536);
    }

    @AfterEach
    void teardown() {
        t.setTempMemoryLimit(65536);
        t.close();
    }

    @Test
    void ioasAutoDestroy() { // ports iommufd_ioas.ioas_auto_destroy
    }

    @Test
    void ioasDestroy() { // ports iommufd_ioas.ioas_destroy (no_domain)
        t.destroy(ioasId);
    }

    @Test
    void ioasAreaDestroy() { // ports iommufd_ioas.ioas_area_destroy (no_domain)
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, base);
        t.destroy(ioasId);
    }

    @Test
    void ioasAreaAutoDestroy() { // ports iommufd_ioas.ioas_area_auto_destroy
        for (int i = 0; i != 10; i++) {
            t.mapFixed(ioasId, t.buffer, PAGE_SIZE, base + i * PAGE_SIZE);
        }
    }

    @Test
    void area() { // ports iommufd_ioas.area (no_domain)
        for (int i = 0; i != 10; i++) {
            assertEquals(err(Errno.ENOENT), t.unmapRc(ioasId, i * PAGE_SIZE, PAGE_SIZE));
        }
        for (int i = 0; i != 10; i++) {
            t.mapFixed(ioasId, t.buffer, PAGE_SIZE, base + i * PAGE_SIZE);
        }
        for (int i = 0; i != 10; i++) {
            t.unmap(ioasId, base + i * PAGE_SIZE, PAGE_SIZE);
        }
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE * 2, base + 16 * PAGE_SIZE);
        assertEquals(err(Errno.ENOENT), t.unmapRc(ioasId, base + 16 * PAGE_SIZE, PAGE_SIZE));
        assertEquals(err(Errno.ENOENT), t.unmapRc(ioasId, base + 17 * PAGE_SIZE, PAGE_SIZE));
        long[][] over = {{2, 16}, {1, 16}, {1, 17}, {2, 15}, {3, 15}};
        for (long[] o : over) {
            assertEquals(err(Errno.EEXIST), t.mapRc(ioasId, t.buffer, o[0] * PAGE_SIZE, base + o[1] * PAGE_SIZE, MAP_FIXED_RW));
        }
        t.unmap(ioasId, 0, -1L);
        assertEquals(2 * PAGE_SIZE, t.lastLength);
        t.unmap(ioasId, 0, -1L);
        assertEquals(0, t.lastLength);
    }

    @Test
    void unmapFullyContainedAreas() { // ports iommufd_ioas.unmap_fully_contained_areas (no_domain)
        long b = base + 4 * PAGE_SIZE;
        for (int i = 0; i != 4; i++) {
            t.mapFixed(ioasId, t.buffer, 8 * PAGE_SIZE, b + i * 16 * PAGE_SIZE);
        }
        assertEquals(err(Errno.ENOENT), t.unmapRc(ioasId, b - 4 * PAGE_SIZE, 8 * PAGE_SIZE));
        assertEquals(err(Errno.ENOENT), t.unmapRc(ioasId, b + 3 * 16 * PAGE_SIZE + 8 * PAGE_SIZE - 4 * PAGE_SIZE, 8 * PAGE_SIZE));
        t.unmap(ioasId, b - 4 * PAGE_SIZE, 3 * 16 * PAGE_SIZE + 8 * PAGE_SIZE + 4 * PAGE_SIZE);
        assertEquals(32 * PAGE_SIZE, t.lastLength);
    }

    private int allowIovasRc(int ioas, long... startLast) {
        for (int i = 0; i < startLast.length / 2; i++) {
            UserStruct r = new UserStruct(IommuIovaRange.SIZE).put64(IommuIovaRange.OFFSET_START, startLast[2 * i])
                    .put64(IommuIovaRange.OFFSET_LAST, startLast[2 * i + 1]);
            t.proc.write(t.scratch + i * IommuIovaRange.SIZE, r.bytes(), 0, r.size());
        }
        return t.ioctl(IommuIoasAllowIovas.REQUEST, cmd(IommuIoasAllowIovas.SIZE).put32(IommuIoasAllowIovas.OFFSET_IOAS_ID, ioas)
                .put32(IommuIoasAllowIovas.OFFSET_NUM_IOVAS, startLast.length / 2)
                .put64(IommuIoasAllowIovas.OFFSET_ALLOWED_IOVAS, t.scratch));
    }

    @Test
    void areaAutoIova() { // ports iommufd_ioas.area_auto_iova (no_domain)
        long[] iovas = new long[10];
        for (int i = 0; i != 10; i++) {
            iovas[i] = t.map(ioasId, t.buffer, PAGE_SIZE);
        }
        for (int i = 0; i != 10; i++) {
            t.unmap(ioasId, iovas[i], PAGE_SIZE);
        }
        for (int i = 0; i != 10; i++) {
            long length = PAGE_SIZE * (i + 1);
            iovas[i] = t.map(ioasId, 1L << 31, length); // no domain: an unpopulated VA is fine, nothing is pinned
            assertEquals(0, iovas[i] % (1L << (Long.numberOfTrailingZeros(length))));
        }
        for (int i = 0; i != 10; i++) {
            t.unmap(ioasId, iovas[i], PAGE_SIZE * (i + 1));
        }
        // Avoid a reserved region
        assertEquals(0, t.addReservedRc(ioasId, PAGE_SIZE * 4, PAGE_SIZE * 100));
        for (int i = 0; i != 10; i++) {
            long length = PAGE_SIZE * (i + 1);
            iovas[i] = t.map(ioasId, t.buffer, length);
            assertEquals(0, iovas[i] % (1L << (Long.numberOfTrailingZeros(length))));
            assertFalse(iovas[i] > PAGE_SIZE * 4 && iovas[i] < PAGE_SIZE * 104);
        }
        for (int i = 0; i != 10; i++) {
            t.unmap(ioasId, iovas[i], PAGE_SIZE * (i + 1));
        }
        // Allowed region intersects with a reserved region
        assertEquals(err(Errno.EADDRINUSE), allowIovasRc(ioasId, PAGE_SIZE, PAGE_SIZE * 600));
        // Allocate from an allowed region
        long start = PAGE_SIZE * 200;
        long last = PAGE_SIZE * 600 - 1;
        assertEquals(0, allowIovasRc(ioasId, start, last));
        for (int i = 0; i != 10; i++) {
            long length = PAGE_SIZE * (i + 1);
            iovas[i] = t.map(ioasId, t.buffer, length);
            assertEquals(0, iovas[i] % (1L << (Long.numberOfTrailingZeros(length))));
            assertTrue(iovas[i] >= start && iovas[i] <= last);
            assertTrue(iovas[i] + length > start && iovas[i] + length <= last + 1);
        }
        for (int i = 0; i != 10; i++) {
            t.unmap(ioasId, iovas[i], PAGE_SIZE * (i + 1));
        }
    }

    @Test
    void reservedOverflow() { // ports iommufd_ioas.reserved_overflow
        assertEquals(0, t.addReservedRc(ioasId, 6, 0xffff_ffff_ffff_8001L));
        assertEquals(err(Errno.ENOSPC), t.mapRc(ioasId, t.buffer, 0x5000, 0, Selftest.MAP_RW));
    }

    @Test
    void areaAllowed() { // ports iommufd_ioas.area_allowed
        assertEquals(0, allowIovasRc(ioasId, base, base + PAGE_SIZE * 600));
        assertEquals(err(Errno.EADDRINUSE), t.addReservedRc(ioasId, base + PAGE_SIZE, PAGE_SIZE));
        assertEquals(0, allowIovasRc(ioasId));
        assertEquals(0, t.addReservedRc(ioasId, base + PAGE_SIZE, PAGE_SIZE));
        assertEquals(err(Errno.EADDRINUSE), allowIovasRc(ioasId, base, base + PAGE_SIZE * 600));
    }

    @Test
    void allowIovasValidation() { // reference §4 IOMMU_IOAS_ALLOW_IOVAS: start >= last, self-overlap, __reserved
        assertEquals(err(Errno.EINVAL), allowIovasRc(ioasId, PAGE_SIZE, PAGE_SIZE));
        assertEquals(err(Errno.EINVAL), allowIovasRc(ioasId, 0, 2 * PAGE_SIZE, PAGE_SIZE, 3 * PAGE_SIZE));
        assertEquals(err(Errno.ENOENT), allowIovasRc(ioasId + 1, 0, PAGE_SIZE));
        assertEquals(err(Errno.EOPNOTSUPP), t.ioctl(IommuIoasAllowIovas.REQUEST, cmd(IommuIoasAllowIovas.SIZE)
                .put32(IommuIoasAllowIovas.OFFSET_IOAS_ID, ioasId).put32(IommuIoasAllowIovas.OFFSET_RESERVED, 1)));
        // FIXED_IOVA ignores the allow list
        assertEquals(0, allowIovasRc(ioasId, 16 * PAGE_SIZE, 32 * PAGE_SIZE - 1));
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, 0);
    }

    @Test
    void copyArea() { // ports iommufd_ioas.copy_area
        int flags = IommuIoasMap.FLAG_FIXED_IOVA | IommuIoasMap.FLAG_WRITEABLE;
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, base);
        assertEquals(0, t.copyRc(ioasId, ioasId, flags, PAGE_SIZE, base + PAGE_SIZE, base));
        int dst = t.ioasAlloc();
        assertEquals(0, t.copyRc(dst, ioasId, flags, PAGE_SIZE, 0, base));
    }

    private UserStruct iovaRanges(int capacity) {
        return cmd(IommuIoasIovaRanges.SIZE).put32(IommuIoasIovaRanges.OFFSET_IOAS_ID, ioasId)
                .put32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS, capacity).put64(IommuIoasIovaRanges.OFFSET_ALLOWED_IOVAS, t.scratch);
    }

    private long range(int i, int field) {
        UserStruct r = new UserStruct(t.read(t.scratch + (long) i * IommuIovaRange.SIZE, IommuIovaRange.SIZE));
        return r.u64(field);
    }

    @Test
    void iovaRanges() { // ports iommufd_ioas.iova_ranges (no_domain)
        int capacity = (int) (BUFFER_SIZE / IommuIovaRange.SIZE);
        UserStruct c = iovaRanges(capacity);
        assertEquals(0, t.ioctl(IommuIoasIovaRanges.REQUEST, c));
        assertEquals(1, c.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
        assertEquals(0, range(0, IommuIovaRange.OFFSET_START));
        assertEquals(-1L, range(0, IommuIovaRange.OFFSET_LAST));
        assertEquals(1, c.u64(IommuIoasIovaRanges.OFFSET_OUT_IOVA_ALIGNMENT));

        t.proc.write(t.scratch, new byte[(int) BUFFER_SIZE], 0, (int) BUFFER_SIZE);
        c = iovaRanges(0);
        assertEquals(err(Errno.EMSGSIZE), t.ioctl(IommuIoasIovaRanges.REQUEST, c));
        assertEquals(1, c.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
        assertEquals(0, range(0, IommuIovaRange.OFFSET_START));
        assertEquals(0, range(0, IommuIovaRange.OFFSET_LAST));

        assertEquals(0, t.addReservedRc(ioasId, PAGE_SIZE, PAGE_SIZE));
        c = iovaRanges(capacity);
        assertEquals(0, t.ioctl(IommuIoasIovaRanges.REQUEST, c));
        assertEquals(2, c.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
        assertEquals(0, range(0, IommuIovaRange.OFFSET_START));
        assertEquals(PAGE_SIZE - 1, range(0, IommuIovaRange.OFFSET_LAST));
        assertEquals(PAGE_SIZE * 2, range(1, IommuIovaRange.OFFSET_START));
        assertEquals(-1L, range(1, IommuIovaRange.OFFSET_LAST));

        t.proc.write(t.scratch, new byte[(int) BUFFER_SIZE], 0, (int) BUFFER_SIZE);
        c = iovaRanges(1);
        assertEquals(err(Errno.EMSGSIZE), t.ioctl(IommuIoasIovaRanges.REQUEST, c));
        assertEquals(2, c.u32(IommuIoasIovaRanges.OFFSET_NUM_IOVAS));
        assertEquals(0, range(0, IommuIovaRange.OFFSET_START));
        assertEquals(PAGE_SIZE - 1, range(0, IommuIovaRange.OFFSET_LAST));
        assertEquals(0, range(1, IommuIovaRange.OFFSET_START));
        assertEquals(0, range(1, IommuIovaRange.OFFSET_LAST));
    }

    @Test
    void accessPin() { // ports iommufd_ioas.access_pin (no_domain: the MOCK_DOMAIN step joins with the mock driver)
        int access = t.createAccess(ioasId, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
        for (int npages = 1; npages < BUFFER_SIZE / PAGE_SIZE; npages++) {
            long length = npages * PAGE_SIZE;
            t.mapFixed(ioasId, t.buffer, BUFFER_SIZE, APERTURE_START);
            assertEquals(0, t.accessPagesRc(access, APERTURE_START, length, t.buffer, 0));
            assertEquals(0, t.checkRefsRc(t.buffer, length, 1));
            assertEquals(0, t.destroyAccessPagesRc(access, t.lastAccessPagesId));
            assertEquals(0, t.checkRefsRc(t.buffer, length, 0));

            // Double user
            assertEquals(0, t.accessPagesRc(access, APERTURE_START, length, t.buffer, 0));
            int first = t.lastAccessPagesId;
            assertEquals(0, t.accessPagesRc(access, APERTURE_START, length, t.buffer, 0));
            assertEquals(0, t.checkRefsRc(t.buffer, length, 1), "one pin per page regardless of users");
            assertEquals(0, t.destroyAccessPagesRc(access, t.lastAccessPagesId));
            assertEquals(0, t.destroyAccessPagesRc(access, first));
            t.unmap(ioasId, APERTURE_START, BUFFER_SIZE);
        }
        t.destroyAccess(access);
    }

    @Test
    void accessPinUnmap() { // ports iommufd_ioas.access_pin_unmap
        int access = t.createAccess(ioasId, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
        t.mapFixed(ioasId, t.buffer, BUFFER_SIZE, APERTURE_START);
        assertEquals(0, t.accessPagesRc(access, APERTURE_START, BUFFER_SIZE, t.buffer, 0));
        int id = t.lastAccessPagesId;
        // Trigger the unmap op
        t.unmap(ioasId, APERTURE_START, BUFFER_SIZE);
        // kernel removed the item for us
        assertEquals(err(Errno.ENOENT), t.destroyAccessPagesRc(access, id));
        t.destroyAccess(access);
    }

    /** check_access_rw. */
    private void checkAccessRw(int access, long iova, int defFlags) {
        Random r = new Random(iova ^ defFlags);
        t.fillRandom(t.buffer, BUFFER_SIZE);
        long tmp = t.scratch;
        for (long rwIova = iova + PAGE_SIZE - 50; rwIova != iova + PAGE_SIZE + 50; rwIova++) {
            for (int length = 1; length != 64; length++) {
                assertEquals(0, t.accessRwRc(access, rwIova, length, tmp, defFlags));
                assertArrayEquals(t.read(t.buffer + (rwIova - iova), length), t.read(tmp, length));
                byte[] fresh = new byte[64];
                r.nextBytes(fresh);
                t.proc.write(tmp, fresh, 0, fresh.length);
                assertEquals(0, t.accessRwRc(access, rwIova, length, tmp, defFlags | IommuTestCmd.MOCK_ACCESS_RW_WRITE));
                assertArrayEquals(t.read(tmp, length), t.read(t.buffer + (rwIova - iova), length));
            }
        }
        // Multi-page test
        assertEquals(0, t.accessRwRc(access, iova, BUFFER_SIZE, t.scratch, defFlags));
        assertArrayEquals(t.read(t.buffer, (int) BUFFER_SIZE), t.read(t.scratch, (int) BUFFER_SIZE));
    }

    @Test
    void accessRw() { // ports iommufd_ioas.access_rw
        int access = t.createAccess(ioasId, 0);
        long iova = t.map(ioasId, t.buffer, BUFFER_SIZE);
        checkAccessRw(access, iova, 0);
        checkAccessRw(access, iova, IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH);
        t.unmap(ioasId, iova, BUFFER_SIZE);
        t.destroyAccess(access);
    }

    @Test
    void accessRwUnaligned() { // ports iommufd_ioas.access_rw_unaligned
        int access = t.createAccess(ioasId, 0);
        long iova = base + MOCK_PAGE_SIZE;
        t.mapFixed(ioasId, t.buffer, BUFFER_SIZE, iova);
        checkAccessRw(access, iova, 0);
        t.unmap(ioasId, iova, BUFFER_SIZE);
        t.destroyAccess(access);
    }

    @Test
    void ioasOptionHugePages() { // ports iommufd_ioas.ioas_option_huge_pages
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_GET, ioasId, 3));
        assertEquals(1, t.lastVal);
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 0));
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_GET, ioasId, 3));
        assertEquals(0, t.lastVal);
        assertEquals(err(Errno.EINVAL), t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 2));
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 1));
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_GET, ioasId, 3));
        assertEquals(1, t.lastVal);
    }

    @Test
    void ioasIovaAlloc() { // ports iommufd_ioas.ioas_iova_alloc (no_domain: byte-granular lengths allowed)
        for (long length = 1; length != PAGE_SIZE * 2; length++) {
            long iova = t.map(ioasId, t.buffer, length);
            t.unmap(ioasId, iova, length);
        }
    }

    @Test
    void ioasAlignChange() { // ports iommufd_ioas.ioas_align_change
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 0));
        // Misalignment is rejected at map time
        t.mapFixed(ioasId, t.buffer, PAGE_SIZE, APERTURE_START);
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 0));
        assertEquals(err(Errno.EINVAL), t.mapRc(ioasId, t.buffer + MOCK_PAGE_SIZE, PAGE_SIZE, APERTURE_START + PAGE_SIZE, MAP_FIXED_RW));
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 0));
        // Reduce alignment
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 1));
        t.mapFixed(ioasId, t.buffer + MOCK_PAGE_SIZE, PAGE_SIZE, APERTURE_START + PAGE_SIZE);
        // Confirm misalignment is rejected during alignment upgrade
        assertEquals(err(Errno.EADDRINUSE), t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioasId, 0));
        t.unmap(ioasId, APERTURE_START + PAGE_SIZE, PAGE_SIZE);
        t.unmap(ioasId, APERTURE_START, PAGE_SIZE);
    }

    @Test
    void copySweep() { // ports iommufd_ioas.copy_sweep (no_domain: odd length allowed)
        int dst = t.ioasAlloc();
        int flags = IommuIoasMap.FLAG_FIXED_IOVA | IommuIoasMap.FLAG_WRITEABLE;
        long lastIova = APERTURE_START + BUFFER_SIZE - 2;
        t.mapFixed(ioasId, t.buffer, lastIova - APERTURE_START + 1, APERTURE_START);
        for (long iova = APERTURE_START - PAGE_SIZE; iova <= lastIova; iova += 511) {
            int rc = t.copyRc(dst, ioasId, flags, MOCK_PAGE_SIZE, APERTURE_START, iova);
            if (iova < APERTURE_START || iova + MOCK_PAGE_SIZE - 1 > lastIova) {
                assertEquals(err(Errno.ENOENT), rc, "src iova " + Long.toHexString(iova));
            } else {
                assertEquals(0, rc, "src iova " + Long.toHexString(iova));
                t.unmap(dst, APERTURE_START, MOCK_PAGE_SIZE);
            }
        }
        t.destroy(dst);
    }
}
