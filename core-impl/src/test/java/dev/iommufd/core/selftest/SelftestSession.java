package dev.iommufd.core.selftest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuDestroy;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuHwptGetDirtyBitmap;
import dev.iommufd.api.uapi.IommuHwptInvalidate;
import dev.iommufd.api.uapi.IommuHwptSetDirtyTracking;
import dev.iommufd.api.uapi.IommuIoasAlloc;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuIoasUnmap;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.IommufdSubsystem;
import dev.iommufd.mock.MockIommuProvider;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;

/**
 * One selftest process: a q35 machine with a mock IOMMU unit, the mock driver bound, IOMMU_TEST_CMD registered, a
 * root process (CAP_IPC_LOCK, as the kernel selftests run) with the selftests' {@code buffer}, and an open iommufd.
 * The command helpers mirror tools/testing/selftests/iommu/iommufd_utils.h: each builds the uAPI struct in the
 * process's memory and issues the ioctl, so every call crosses the ioctl layer.
 */
final class SelftestSession implements AutoCloseable {
    static final long PS = 4096;
    static final long MOCK_PAGE_SIZE = PS / 2;
    static final long MOCK_HUGE_PAGE_SIZE = 512 * MOCK_PAGE_SIZE;
    static final long HUGEPAGE_SIZE = 2L << 20;
    static final long BUFFER_SIZE = 16 * PS;
    static final long MOCK_APERTURE_START = IommuTestCmd.MOCK_APERTURE_START;
    static final long MOCK_APERTURE_LAST = IommuTestCmd.MOCK_APERTURE_LAST;
    static final int RW = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE;
    static final int RW_FIXED = RW | IommuIoasMap.FLAG_FIXED_IOVA;
    /** Where the selftests' 2 MiB aligned {@code buffer} lives. */
    static final long BUFFER_VA = 0x10_0000_0000L;
    private static final long CMD_VA = 0x20_0000_0000L;

    final SimulatedMachine machine;
    /** Who plugs the test devices and provides their paging domains (the mock unless a driver's test says so). */
    final SelftestDomainProvider provider;
    final IommufdSubsystem subsystem;
    final SelftestIoctl selftest = new SelftestIoctl();
    final UserProcess proc;
    IommufdFd fd;
    final long buffer;

    SelftestSession() {
        this(1L << 30);
    }

    SelftestSession(long ram) {
        this(ram, new MockIommuProvider());
    }

    SelftestSession(long ram, dev.iommufd.spi.IommuDriverProvider driver) {
        this(ram, MockSelftestDomainProvider.INSTANCE, driver);
    }

    /** A session whose test devices and paging domains come from {@code provider}. */
    SelftestSession(long ram, SelftestDomainProvider provider) {
        this(ram, provider, provider.driver());
    }

    private SelftestSession(long ram, SelftestDomainProvider provider, dev.iommufd.spi.IommuDriverProvider driver) {
        this.provider = provider;
        machine = SimulatedMachine.create(provider.machineConfig(ram));
        subsystem = new IommufdSubsystem(machine);
        subsystem.iommu().bind(driver);
        MockDomainOps.register(selftest, provider);
        EventOps.register(selftest);
        subsystem.registerIoctl(selftest);
        proc = machine.spawn("iommufd-selftest", 0);
        proc.grant(ProcessCapability.CAP_IPC_LOCK);
        proc.setRlimitMemlock(Long.MAX_VALUE);
        proc.mmap(CMD_VA, 2 * PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
        buffer = proc.mmap(BUFFER_VA, BUFFER_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        fd = subsystem.open(proc);
    }

    /** Opens a new iommufd for the same process (the fail_nth fixture's setup after a teardown). */
    void reopen() {
        fd = subsystem.open(proc);
    }

    @Override
    public void close() {
        fd.close();
        machine.close();
    }

    /**
     * teardown_iommufd: closes the file and checks that no page of {@code buffer} is still pinned.
     */
    void teardown() {
        fd.close();
        for (long off = 0; off < BUFFER_SIZE; off += PS) {
            assertEquals(0, proc.pinCount(proc.translate(buffer + off)), "page " + off / PS + " of buffer still pinned");
        }
    }

    // ---------------------------------------------------------------- raw ioctl

    /** Writes {@code s} at the command area, issues the ioctl, reads the struct back. @return 0 or -errno */
    int ioctl(long request, UserStruct s) {
        proc.write(CMD_VA, s.bytes(), 0, s.size());
        int rc = fd.ioctl(request, CMD_VA);
        proc.read(CMD_VA, s.bytes(), 0, s.size());
        return rc;
    }

    static void ok(int rc) {
        assertEquals(0, rc, () -> "ioctl failed with " + (rc < 0 ? Errno.of(-rc) : rc));
    }

    static void err(Errno expected, int rc) {
        assertEquals(-expected.number(), rc, () -> "expected " + expected + " but got " + (rc == 0 ? "success" : Errno.of(-rc)));
    }

    static void err(Errno expected, int rc, String why) {
        assertEquals(-expected.number(), rc, () -> why + ": expected " + expected + " but got "
                + (rc == 0 ? "success" : Errno.of(-rc)));
    }

    static UserStruct struct(int size) {
        UserStruct s = new UserStruct(size);
        s.put32(0, size);
        return s;
    }

    // ---------------------------------------------------------------- core ioctls

    int ioasAlloc() {
        UserStruct s = struct(IommuIoasAlloc.SIZE);
        ok(ioctl(IommuIoasAlloc.REQUEST, s));
        return s.u32(IommuIoasAlloc.OFFSET_OUT_IOAS_ID);
    }

    int destroyRc(int id) {
        UserStruct s = struct(IommuDestroy.SIZE).put32(IommuDestroy.OFFSET_ID, id);
        return ioctl(IommuDestroy.REQUEST, s);
    }

    void destroy(int id) {
        ok(destroyRc(id));
    }

    /** IOMMU_IOAS_MAP; {@code out[0]} receives the IOVA. */
    int mapRc(int ioas, long va, long length, long iova, int flags, long[] out) {
        UserStruct s = struct(IommuIoasMap.SIZE).put32(IommuIoasMap.OFFSET_FLAGS, flags)
                .put32(IommuIoasMap.OFFSET_IOAS_ID, ioas).put64(IommuIoasMap.OFFSET_USER_VA, va)
                .put64(IommuIoasMap.OFFSET_LENGTH, length).put64(IommuIoasMap.OFFSET_IOVA, iova);
        int rc = ioctl(IommuIoasMap.REQUEST, s);
        if (out != null) {
            out[0] = s.u64(IommuIoasMap.OFFSET_IOVA);
        }
        return rc;
    }

    long map(int ioas, long va, long length) {
        long[] out = new long[1];
        ok(mapRc(ioas, va, length, 0, RW, out));
        return out[0];
    }

    void mapFixed(int ioas, long va, long length, long iova) {
        ok(mapRc(ioas, va, length, iova, RW_FIXED, null));
    }

    int unmapRc(int ioas, long iova, long length) {
        UserStruct s = struct(IommuIoasUnmap.SIZE).put32(IommuIoasUnmap.OFFSET_IOAS_ID, ioas)
                .put64(IommuIoasUnmap.OFFSET_IOVA, iova).put64(IommuIoasUnmap.OFFSET_LENGTH, length);
        return ioctl(IommuIoasUnmap.REQUEST, s);
    }

    void unmap(int ioas, long iova, long length) {
        ok(unmapRc(ioas, iova, length));
    }

    // ---------------------------------------------------------------- IOMMU_TEST_CMD

    static UserStruct testCmd(int op, int id) {
        return struct(IommuTestCmd.SIZE).put32(IommuTestCmd.OFFSET_OP, op).put32(IommuTestCmd.OFFSET_ID, id);
    }

    int test(UserStruct s) {
        return ioctl(IommuTestCmd.REQUEST, s);
    }

    /** _test_cmd_mock_domain_flags: {stdev, hwpt, idev} in {@code out}. */
    int mockDomainRc(int ptId, int devFlags, int[] out) {
        UserStruct s = devFlags == 0 ? testCmd(IommuTestCmd.OP_MOCK_DOMAIN, ptId)
                : testCmd(IommuTestCmd.OP_MOCK_DOMAIN_FLAGS, ptId).put32(IommuTestCmd.OFFSET_MOCK_DOMAIN_FLAGS_DEV_FLAGS, devFlags);
        int rc = test(s);
        if (out != null) {
            out[0] = s.u32(IommuTestCmd.OFFSET_MOCK_DOMAIN_OUT_STDEV_ID);
            out[1] = s.u32(IommuTestCmd.OFFSET_MOCK_DOMAIN_OUT_HWPT_ID);
            out[2] = s.u32(IommuTestCmd.OFFSET_MOCK_DOMAIN_OUT_IDEV_ID);
        }
        return rc;
    }

    /** test_cmd_mock_domain: {stdev, hwpt, idev}. */
    int[] mockDomain(int ptId) {
        return mockDomain(ptId, 0);
    }

    int[] mockDomain(int ptId, int devFlags) {
        int[] out = new int[3];
        ok(mockDomainRc(ptId, devFlags, out));
        return out;
    }

    /** _test_cmd_mock_domain_replace; {@code out[0]} receives the resulting HWPT. */
    int replaceRc(int stdev, int ptId, int[] out) {
        UserStruct s = testCmd(IommuTestCmd.OP_MOCK_DOMAIN_REPLACE, stdev).put32(IommuTestCmd.OFFSET_MOCK_DOMAIN_REPLACE_PT_ID, ptId);
        int rc = test(s);
        if (out != null) {
            out[0] = s.u32(IommuTestCmd.OFFSET_MOCK_DOMAIN_REPLACE_PT_ID);
        }
        return rc;
    }

    void replace(int stdev, int ptId) {
        ok(replaceRc(stdev, ptId, null));
    }

    /** check_mock_iova on one HWPT (MD_CHECK_MAP). */
    int checkMapRc(int hwpt, long va, long iova, long length) {
        return test(testCmd(IommuTestCmd.OP_MD_CHECK_MAP, hwpt).put64(IommuTestCmd.OFFSET_CHECK_MAP_IOVA, iova)
                .put64(IommuTestCmd.OFFSET_CHECK_MAP_LENGTH, length).put64(IommuTestCmd.OFFSET_CHECK_MAP_UPTR, va));
    }

    /** check_refs (MD_CHECK_REFS). */
    void checkRefs(long va, long length, int refs) {
        ok(test(testCmd(IommuTestCmd.OP_MD_CHECK_REFS, 0).put64(IommuTestCmd.OFFSET_CHECK_REFS_LENGTH, length)
                .put64(IommuTestCmd.OFFSET_CHECK_REFS_UPTR, va).put32(IommuTestCmd.OFFSET_CHECK_REFS_REFS, refs)));
    }

    int checkIotlbRc(int hwpt, int iotlbId, int expected) {
        return test(testCmd(IommuTestCmd.OP_MD_CHECK_IOTLB, hwpt).put32(IommuTestCmd.OFFSET_CHECK_IOTLB_ID, iotlbId)
                .put32(IommuTestCmd.OFFSET_CHECK_IOTLB_IOTLB, expected));
    }

    void checkIotlbAll(int hwpt, int expected) {
        for (int i = 0; i < 4; i++) {
            ok(checkIotlbRc(hwpt, i, expected));
        }
    }

    void checkDevCacheAll(int idev, int expected) {
        for (int i = 0; i < 4; i++) {
            ok(test(testCmd(IommuTestCmd.OP_DEV_CHECK_CACHE, idev).put32(IommuTestCmd.OFFSET_CHECK_DEV_CACHE_ID, i)
                    .put32(IommuTestCmd.OFFSET_CHECK_DEV_CACHE_CACHE, expected)));
        }
    }

    int pasidRc(int op, int stdev, int pasid, int ptId) {
        return test(testCmd(op, stdev).put32(IommuTestCmd.OFFSET_PASID_PASID, pasid).put32(IommuTestCmd.OFFSET_PASID_PT_ID, ptId));
    }

    // ---------------------------------------------------------------- HWPT / hw_info

    /** _test_cmd_hwpt_alloc; {@code out[0]} receives the HWPT ID. */
    int hwptAllocRc(int devId, int ptId, int flags, int dataType, long dataVa, int dataLen, int faultId, int[] out) {
        UserStruct s = struct(IommuHwptAlloc.SIZE).put32(IommuHwptAlloc.OFFSET_FLAGS, flags)
                .put32(IommuHwptAlloc.OFFSET_DEV_ID, devId).put32(IommuHwptAlloc.OFFSET_PT_ID, ptId)
                .put32(IommuHwptAlloc.OFFSET_DATA_TYPE, dataType).put32(IommuHwptAlloc.OFFSET_DATA_LEN, dataLen)
                .put64(IommuHwptAlloc.OFFSET_DATA_UPTR, dataVa).put32(IommuHwptAlloc.OFFSET_FAULT_ID, faultId);
        int rc = ioctl(IommuHwptAlloc.REQUEST, s);
        if (out != null) {
            out[0] = s.u32(IommuHwptAlloc.OFFSET_OUT_HWPT_ID);
        }
        return rc;
    }

    int hwptAllocRc(int devId, int ptId, int flags) {
        return hwptAllocRc(devId, ptId, flags, 0, 0, 0, 0, null);
    }

    int hwptAlloc(int devId, int ptId, int flags) {
        int[] out = new int[1];
        ok(hwptAllocRc(devId, ptId, flags, 0, 0, 0, 0, out));
        return out[0];
    }

    /** Scratch user memory for data structs (second page of the command area). */
    long scratch() {
        return CMD_VA + PS;
    }

    int setDirtyTrackingRc(int hwpt, boolean enable) {
        return ioctl(IommuHwptSetDirtyTracking.REQUEST, struct(IommuHwptSetDirtyTracking.SIZE)
                .put32(IommuHwptSetDirtyTracking.OFFSET_FLAGS, enable ? IommuHwptSetDirtyTracking.FLAG_ENABLE : 0)
                .put32(IommuHwptSetDirtyTracking.OFFSET_HWPT_ID, hwpt));
    }

    int getDirtyBitmapRc(int hwpt, long length, long iova, long pageSize, long bitmapVa, int flags) {
        return ioctl(IommuHwptGetDirtyBitmap.REQUEST, struct(IommuHwptGetDirtyBitmap.SIZE)
                .put32(IommuHwptGetDirtyBitmap.OFFSET_HWPT_ID, hwpt).put32(IommuHwptGetDirtyBitmap.OFFSET_FLAGS, flags)
                .put64(IommuHwptGetDirtyBitmap.OFFSET_IOVA, iova).put64(IommuHwptGetDirtyBitmap.OFFSET_LENGTH, length)
                .put64(IommuHwptGetDirtyBitmap.OFFSET_PAGE_SIZE, pageSize).put64(IommuHwptGetDirtyBitmap.OFFSET_DATA, bitmapVa));
    }

    /** _test_cmd_mock_domain_set_dirty: returns out_nr_dirty (asserting success). */
    long mockSetDirty(int hwpt, long length, long iova, long pageSize, long bitmapVa) {
        UserStruct s = testCmd(IommuTestCmd.OP_DIRTY, hwpt).put64(IommuTestCmd.OFFSET_DIRTY_IOVA, iova)
                .put64(IommuTestCmd.OFFSET_DIRTY_LENGTH, length).put64(IommuTestCmd.OFFSET_DIRTY_PAGE_SIZE, pageSize)
                .put64(IommuTestCmd.OFFSET_DIRTY_UPTR, bitmapVa);
        ok(test(s));
        return s.u64(IommuTestCmd.OFFSET_DIRTY_OUT_NR_DIRTY);
    }

    /** _test_cmd_hwpt_invalidate: {@code num[0]} in/out. */
    int invalidateRc(int hwpt, long reqsVa, int dataType, int entryLen, int[] num) {
        UserStruct s = struct(IommuHwptInvalidate.SIZE).put32(IommuHwptInvalidate.OFFSET_HWPT_ID, hwpt)
                .put64(IommuHwptInvalidate.OFFSET_DATA_UPTR, reqsVa).put32(IommuHwptInvalidate.OFFSET_DATA_TYPE, dataType)
                .put32(IommuHwptInvalidate.OFFSET_ENTRY_LEN, entryLen).put32(IommuHwptInvalidate.OFFSET_ENTRY_NUM, num[0]);
        int rc = ioctl(IommuHwptInvalidate.REQUEST, s);
        num[0] = s.u32(IommuHwptInvalidate.OFFSET_ENTRY_NUM);
        return rc;
    }

    /** _test_cmd_get_hw_info with a user buffer at {@code dataVa}; the struct comes back in {@code s}. */
    int getHwInfoRc(int devId, int dataType, long dataVa, int dataLen, UserStruct s) {
        s.put32(IommuHwInfo.OFFSET_DEV_ID, devId).put32(IommuHwInfo.OFFSET_DATA_LEN, dataLen)
                .put64(IommuHwInfo.OFFSET_DATA_UPTR, dataVa).put32(IommuHwInfo.OFFSET_DATA_TYPE, dataType)
                .put32(IommuHwInfo.OFFSET_FLAGS, dataType != IommuHwInfo.TYPE_NONE ? IommuHwInfo.FLAG_INPUT_TYPE : 0);
        return ioctl(IommuHwInfo.REQUEST, s);
    }
}
