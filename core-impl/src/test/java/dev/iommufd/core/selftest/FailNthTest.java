package dev.iommufd.core.selftest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuIoasMapFile;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.core.FaultInjection;
import dev.iommufd.core.IommufdContext;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.Prot;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Port of tools/testing/selftests/iommu/iommufd_fail_nth.c (reference catalog §13) on {@link FaultInjection}: each
 * of the 8 scenarios runs once unfaulted (must succeed), then with the N-th injection point failing for N = 1, 2, ...
 * until a run passes every point without the armed one firing (that run must succeed). After every run the iommufd
 * is closed and: the context released with nothing leaked, no page of either buffer pinned, locked_vm (user and
 * mm) and pinned_vm at their baseline, and the machine's allocated frames at their baseline.
 *
 * <p>SET_TEMP_MEMORY_LIMIT(32) of the C fixture only shapes the kernel's batching; the model has no such limit.
 */
class FailNthTest {
    private static final long PS = SelftestSession.PS;
    private static final long BUFFER_SIZE = 2L << 20;
    private static final long BUF_VA = 0x70_0000_0000L;
    private static final long MFD_VA = 0x71_0000_0000L;
    private static final long TMP_VA = 0x72_0000_0000L;
    private static final int RW = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE;

    /** A failing step of a scenario body (the C body's {@code return -1}). */
    private static final class Failed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failed(String what) {
            super(what, null, false, false);
        }
    }

    private SelftestSession s;
    private MemFd mfd;
    private int accessFd;
    private int stdevId;
    private int pasid;
    private final List<Integer> eventFds = new ArrayList<>();
    private long baseUserLocked;
    private long baseMmLocked;
    private long basePinned;
    private long baseFrames;

    @BeforeEach
    void machine() {
        s = new SelftestSession();
        s.ioasAlloc(); // touches the command page, so its frame exists before any baseline
        s.proc.write(s.scratch(), new byte[8], 0, 8); // and the data page after it
        s.fd.close();
        s.proc.mmap(BUF_VA, BUFFER_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        mfd = s.proc.memfdCreate("buffer", BUFFER_SIZE, 0);
        s.proc.mmapFile(MFD_VA, BUFFER_SIZE, Prot.READ_WRITE, mfd, 0);
        s.proc.mmap(TMP_VA, 64 * 1024, Prot.READ_WRITE, MapKind.ANONYMOUS);
        byte[] one = {1};
        for (long off = 0; off < BUFFER_SIZE; off += PS) { // populate, so frames are stable from here on
            s.proc.write(BUF_VA + off, one, 0, 1);
            s.proc.write(MFD_VA + off, one, 0, 1);
        }
        for (long off = 0; off < 64 * 1024; off += PS) {
            s.proc.write(TMP_VA + off, one, 0, 1);
        }
    }

    @AfterEach
    void close() {
        FaultInjection.disarm();
        s.machine.close();
    }

    private interface Body {
        void run(int nth);
    }

    /** The TEST_FAIL_NTH driver loop. @return number of injection points the scenario passed */
    private int sweep(Body body) {
        runOnce(body, 0, true);
        int n = 1;
        for (;; n++) {
            assertTrue(n < 400, "more than 400 injection points");
            if (!runOnce(body, n, false)) {
                break;
            }
        }
        System.err.println("fail_nth: " + (n - 1) + " injection points swept");
        return n - 1;
    }

    /** One setup + body + teardown. @return whether the armed fault fired */
    private boolean runOnce(Body body, int nth, boolean mustSucceed) {
        s.reopen();
        IommufdContext ctx = s.fd.context();
        accessFd = 0;
        stdevId = 0;
        pasid = 0;
        eventFds.clear();
        baseUserLocked = s.proc.user().lockedVm();
        baseMmLocked = s.proc.mm().lockedVm();
        basePinned = s.proc.mm().pinnedVm();
        baseFrames = s.machine.memory().frames().allocatedFrames();
        boolean ok;
        String fired;
        try {
            body.run(nth);
            ok = true;
        } catch (Failed | ErrnoException e) {
            ok = false;
        } finally {
            fired = FaultInjection.disarm();
        }
        teardown(ctx);
        if (fired == null) {
            assertTrue(ok, "a run without an injected fault failed (nth " + nth + ")");
        }
        if (mustSucceed) {
            assertNull(fired);
        }
        return fired != null;
    }

    private void teardown(IommufdContext ctx) {
        for (int fd : eventFds) {
            try {
                s.fd.eventQueueFile(fd).close();
            } catch (ErrnoException e) {
                // already closed by the body
            }
        }
        if (accessFd != 0) {
            try {
                s.selftest.closeAccess(ctx, accessFd);
            } catch (ErrnoException e) {
                // never created
            }
        }
        if (pasid != 0) {
            s.pasidRc(IommuTestCmd.OP_PASID_DETACH, stdevId, pasid, 0);
        }
        s.fd.close();
        assertTrue(ctx.isReleased(), "the context outlived its last descriptor");
        assertTrue(ctx.leakedAtRelease().isEmpty(), () -> "leaked " + ctx.leakedAtRelease());
        for (long off = 0; off < BUFFER_SIZE; off += PS) {
            assertEquals(0, s.proc.pinCount(s.proc.translate(BUF_VA + off)), "buffer page pinned");
            assertEquals(0, s.proc.pinCount(s.proc.translate(MFD_VA + off)), "memfd page pinned");
        }
        assertEquals(baseUserLocked, s.proc.user().lockedVm(), "user locked_vm");
        assertEquals(baseMmLocked, s.proc.mm().lockedVm(), "mm locked_vm");
        assertEquals(basePinned, s.proc.mm().pinnedVm(), "pinned_vm");
        assertEquals(baseFrames, s.machine.memory().frames().allocatedFrames(), "frames allocated");
    }

    // ---------------------------------------------------------------- steps

    private static void rc(int rc, String what) {
        if (rc != 0) {
            throw new Failed(what + ": " + rc);
        }
    }

    private int ioasAlloc() {
        return s.fd.ioasAlloc();
    }

    private long map(int ioas, long va, long length) {
        long[] out = new long[1];
        rc(s.mapRc(ioas, va, length, 0, RW, out), "IOAS_MAP");
        return out[0];
    }

    private int[] mockDomain(int ioas, int flags) {
        int[] out = new int[3];
        rc(s.mockDomainRc(ioas, flags, out), "MOCK_DOMAIN");
        return out;
    }

    private int createAccess(int ioas, int flags) {
        UserStruct c = SelftestSession.testCmd(IommuTestCmd.OP_CREATE_ACCESS, ioas).put32(IommuTestCmd.OFFSET_CREATE_ACCESS_FLAGS, flags);
        rc(s.test(c), "CREATE_ACCESS");
        accessFd = c.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD);
        return accessFd;
    }

    private void accessRw(long iova, long length, int flags) {
        rc(s.test(SelftestSession.testCmd(IommuTestCmd.OP_ACCESS_RW, accessFd).put64(IommuTestCmd.OFFSET_ACCESS_RW_IOVA, iova)
                .put64(IommuTestCmd.OFFSET_ACCESS_RW_LENGTH, length).put64(IommuTestCmd.OFFSET_ACCESS_RW_UPTR, TMP_VA)
                .put32(IommuTestCmd.OFFSET_ACCESS_RW_FLAGS, flags)), "ACCESS_RW");
    }

    private void closeAccess() {
        s.selftest.closeAccess(s.fd.context(), accessFd);
        accessFd = 0;
    }

    private void accessPin(int ioas, boolean withDomain) {
        int ioasId = ioasAlloc();
        if (withDomain) {
            stdevId = mockDomain(ioasId, 0)[0];
        }
        long iova = map(ioasId, BUF_VA, BUFFER_SIZE);
        createAccess(ioasId, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
        FaultInjection.arm(ioas);
        UserStruct c = SelftestSession.testCmd(IommuTestCmd.OP_ACCESS_PAGES, accessFd)
                .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, iova).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, BUFFER_SIZE)
                .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, BUF_VA);
        rc(s.test(c), "ACCESS_PAGES");
        rc(s.test(SelftestSession.testCmd(IommuTestCmd.OP_DESTROY_ACCESS_PAGES, accessFd)
                .put32(IommuTestCmd.OFFSET_DESTROY_ACCESS_PAGES_ID, c.u32(IommuTestCmd.OFFSET_ACCESS_PAGES_OUT_ID))), "DESTROY_ACCESS_PAGES");
        closeAccess();
        if (withDomain) {
            rc(s.destroyRc(stdevId), "DESTROY stdev");
            stdevId = 0;
        }
    }

    // ---------------------------------------------------------------- the 8 scenarios

    /** basic_fail_nth.basic (ioas.c). */
    @Test
    void basic() {
        int points = sweep(nth -> {
            FaultInjection.arm(nth);
            int ioas = ioasAlloc();
            s.fd.ioasIovaRanges(ioas);
            s.fd.ioasAllowIovas(ioas, List.of(new IovaRange(16 * 1024, (2L << 20) + 16 * 1024 * 600 - 1)));
            long iova = map(ioas, BUF_VA, BUFFER_SIZE);
            s.fd.ioasCopy(ioas, ioas, RW, 160, 0, iova);
            s.fd.ioasUnmap(ioas, iova, BUFFER_SIZE);
            try {
                s.fd.ioasUnmap(ioas, iova, BUFFER_SIZE); // the error path (result ignored)
            } catch (ErrnoException e) {
                // ENOENT expected
            }
        });
        assertTrue(points >= 3, "injection points passed: " + points);
    }

    /** basic_fail_nth.map_domain (iopt_area_fill_domains / fill_domain). */
    @Test
    void mapDomain() {
        int points = sweep(nth -> {
            int ioas = ioasAlloc();
            FaultInjection.arm(nth);
            stdevId = mockDomain(ioas, 0)[0];
            map(ioas, BUF_VA, 256 * 1024);
            rc(s.destroyRc(stdevId), "DESTROY");
            stdevId = mockDomain(ioas, 0)[0];
        });
        assertTrue(points > 3, "injection points passed: " + points);
    }

    /** basic_fail_nth.map_file_domain. */
    @Test
    void mapFileDomain() {
        int memfd = mfd.fd();
        int points = sweep(nth -> {
            int ioas = ioasAlloc();
            FaultInjection.arm(nth);
            stdevId = mockDomain(ioas, 0)[0];
            UserStruct c = SelftestSession.struct(IommuIoasMapFile.SIZE).put32(IommuIoasMapFile.OFFSET_FLAGS, RW)
                    .put32(IommuIoasMapFile.OFFSET_IOAS_ID, ioas).put32(IommuIoasMapFile.OFFSET_FD, memfd)
                    .put64(IommuIoasMapFile.OFFSET_START, 0).put64(IommuIoasMapFile.OFFSET_LENGTH, 256 * 1024);
            rc(s.ioctl(IommuIoasMapFile.REQUEST, c), "IOAS_MAP_FILE");
            rc(s.destroyRc(stdevId), "DESTROY");
            stdevId = mockDomain(ioas, 0)[0];
        });
        assertTrue(points > 3, "injection points passed: " + points);
    }

    /** basic_fail_nth.map_two_domains. */
    @Test
    void mapTwoDomains() {
        int points = sweep(nth -> {
            int ioas = ioasAlloc();
            int first = mockDomain(ioas, 0)[0];
            FaultInjection.arm(nth);
            int second = mockDomain(ioas, 0)[0];
            map(ioas, BUF_VA, 256 * 1024);
            rc(s.destroyRc(first), "DESTROY");
            rc(s.destroyRc(second), "DESTROY");
            mockDomain(ioas, 0);
            mockDomain(ioas, 0);
        });
        assertTrue(points > 3, "injection points passed: " + points);
    }

    /** basic_fail_nth.access_rw. */
    @Test
    void accessRw() {
        int points = sweep(nth -> {
            int ioas = ioasAlloc();
            long iova = map(ioas, BUF_VA, 256 * 1024);
            FaultInjection.arm(nth);
            createAccess(ioas, 0);
            accessRw(iova, 64, 0);
            accessRw(iova, 64, IommuTestCmd.MOCK_ACCESS_RW_WRITE);
            accessRw(iova, 64, IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH);
            accessRw(iova, 64, IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH | IommuTestCmd.MOCK_ACCESS_RW_WRITE);
            accessRw(iova, 32 * 1024, IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH);
            closeAccess();
        });
        assertTrue(points >= 1, "injection points passed: " + points);
    }

    /** basic_fail_nth.access_pin (pages.c access functions). */
    @Test
    void accessPin() {
        int points = sweep(nth -> accessPin(nth, false));
        assertTrue(points >= 2, "injection points passed: " + points);
    }

    /** basic_fail_nth.access_pin_domain (iopt_pages_fill_xarray with a domain). */
    @Test
    void accessPinDomain() {
        int points = sweep(nth -> accessPin(nth, true));
        assertTrue(points >= 1, "injection points passed: " + points);
    }

    /** basic_fail_nth.device (device.c, the v6.17 sequence with vIOMMU, vDEVICE, HW queue, FAULT, vEVENTQ, PASID). */
    @Test
    void device() {
        ViommuCalls v = new ViommuCalls(s);
        int points = sweep(nth -> {
            int ioas = ioasAlloc();
            int ioas2 = ioasAlloc();
            long iova = SelftestSession.MOCK_APERTURE_START;
            rc(s.mapRc(ioas, BUF_VA, PS, iova, RW | IommuIoasMap.FLAG_FIXED_IOVA, null), "MAP ioas");
            rc(s.mapRc(ioas2, BUF_VA, PS, iova, RW | IommuIoasMap.FLAG_FIXED_IOVA, null), "MAP ioas2");
            FaultInjection.arm(nth);
            int[] md = mockDomain(ioas, MockSelftestUapi.MOCK_FLAGS_DEVICE_PASID);
            stdevId = md[0];
            int idev = md[2];
            rc(s.getHwInfoRc(idev, IommuHwInfo.TYPE_NONE, 0, 0, SelftestSession.struct(IommuHwInfo.SIZE)), "GET_HW_INFO");
            int[] out = new int[1];
            rc(s.hwptAllocRc(idev, ioas, IommuHwptAlloc.FLAG_PASID, 0, 0, 0, 0, out), "HWPT_ALLOC");
            int hwpt = out[0];
            rc(s.replaceRc(stdevId, ioas2, null), "REPLACE ioas2");
            rc(s.replaceRc(stdevId, hwpt, null), "REPLACE hwpt");
            rc(s.hwptAllocRc(idev, ioas, IommuHwptAlloc.FLAG_NEST_PARENT | IommuHwptAlloc.FLAG_PASID, 0, 0, 0, 0, out), "parent");
            int parent = out[0];
            rc(v.viommuAllocRc(idev, parent, MockSelftestUapi.IOMMU_VIOMMU_TYPE_SELFTEST, null, out), "VIOMMU_ALLOC");
            int viommu = out[0];
            rc(v.vdeviceAllocRc(viommu, idev, 0, out), "VDEVICE_ALLOC");
            rc(v.hwQueueAllocRc(viommu, MockSelftestUapi.IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, iova, PS, out), "HW_QUEUE_ALLOC");
            int[] fault = new int[2];
            rc(v.faultAllocRc(0, fault), "FAULT_QUEUE_ALLOC");
            eventFds.add(fault[1]);
            s.fd.eventQueueFile(fault[1]).close();
            rc(v.hwptAllocSelftestRc(idev, parent, fault[0], IommuHwptAlloc.FLAG_FAULT_ID_VALID, out), "nested iopf");
            int[] q = new int[2];
            rc(v.veventqAllocRc(viommu, MockSelftestUapi.IOMMU_VEVENTQ_TYPE_SELFTEST, 2, q), "VEVENTQ_ALLOC");
            eventFds.add(q[1]);
            s.fd.eventQueueFile(q[1]).close();
            rc(s.hwptAllocRc(idev, ioas, IommuHwptAlloc.FLAG_PASID, 0, 0, 0, 0, out), "test_hwpt");
            int testHwpt = out[0];
            rc(s.pasidRc(IommuTestCmd.OP_PASID_ATTACH, stdevId, 200, parent), "PASID_ATTACH");
            pasid = 200;
            rc(s.pasidRc(IommuTestCmd.OP_PASID_REPLACE, stdevId, 200, testHwpt), "PASID_REPLACE");
            rc(s.pasidRc(IommuTestCmd.OP_PASID_DETACH, stdevId, 200, 0), "PASID_DETACH");
            pasid = 0;
        });
        assertTrue(points > 10, "injection points passed: " + points);
    }
}
