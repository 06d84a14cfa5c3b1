package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.err;
import static dev.iommufd.core.selftest.SelftestSession.ok;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.EventQueueFile;
import dev.iommufd.api.ObjectAndFd;
import dev.iommufd.api.uapi.IommuFaultAlloc;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuHwptPageResponse;
import dev.iommufd.api.uapi.IommuHwptPgfault;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.core.IommufdContext;
import dev.iommufd.core.IommufdDevice;
import dev.iommufd.core.ObjectKind;
import dev.iommufd.mock.MockDevice;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.PageResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * FAULT objects (eventq.c, reference §9.2-9.6): the fault parts of iommufd_ioas.alloc_hwpt_nested and
 * iommufd_device_pasid.pasid_attach, and the file semantics those selftests only touch (whole groups, cookies at
 * read time, partial writes, ESPIPE, auto responses, destroy), through the ioctl face and the typed face.
 */
class FaultQueueTest {
    private static final int REC = IommuHwptPgfault.SIZE;
    private static final int RESP = IommuHwptPageResponse.SIZE;

    private SelftestSession s;
    private ViommuCalls v;
    private int ioasId;
    private int stdevId;
    private int deviceId;
    private int parentId;
    private int faultId;
    private int faultFd;
    private int iopfHwpt;

    /** A mock device on an IOAS, a NEST_PARENT HWPT, a FAULT, and a nested HWPT using it, attached to the RID. */
    private void setUpAttached(int devFlags) {
        s = new SelftestSession();
        v = new ViommuCalls(s);
        ioasId = s.ioasAlloc();
        int[] md = s.mockDomain(ioasId, devFlags);
        stdevId = md[0];
        deviceId = md[2];
        parentId = s.hwptAlloc(deviceId, ioasId, IommuHwptAlloc.FLAG_NEST_PARENT);
        int[] f = v.faultAlloc();
        faultId = f[0];
        faultFd = f[1];
        iopfHwpt = v.hwptAllocSelftest(deviceId, parentId, faultId, IommuHwptAlloc.FLAG_FAULT_ID_VALID);
        s.replace(stdevId, iopfHwpt);
    }

    @AfterEach
    void teardown() {
        if (s != null) {
            s.teardown();
            s.machine.close();
        }
    }

    private MockDevice mockDevice() {
        IommufdContext ctx = s.fd.context();
        IommufdDevice d = ctx.objects().get(deviceId, ObjectKind.DEVICE, IommufdDevice.class);
        ctx.objects().put(d);
        return (MockDevice) d.handle();
    }

    private EventQueueFile file() {
        return s.fd.eventQueueFile(faultFd);
    }

    private void report(int flags, int pasid, int grpid, long addr) {
        s.subsystem.iommu().reportPageFault(mockDevice(), new IoPageFault(flags, pasid, grpid, IoPageFault.PERM_READ, addr, 0, 0));
    }

    private static byte[] response(int cookie, int code) {
        return new UserStruct(RESP).put32(IommuHwptPageResponse.OFFSET_COOKIE, cookie).put32(IommuHwptPageResponse.OFFSET_CODE, code).bytes();
    }

    // ---------------------------------------------------------------- selftest ports

    /** The FAULT parts of iommufd_ioas.alloc_hwpt_nested (mock_domain variant). */
    @Test
    void allocHwptNestedFaultParts() {
        s = new SelftestSession();
        v = new ViommuCalls(s);
        ioasId = s.ioasAlloc();
        int[] md = s.mockDomain(ioasId);
        stdevId = md[0];
        deviceId = md[2];
        err(Errno.EOPNOTSUPP, s.hwptAllocRc(deviceId, ioasId, IommuHwptAlloc.FLAG_NEST_PARENT | IommuHwptAlloc.FLAG_FAULT_ID_VALID));
        parentId = s.hwptAlloc(deviceId, ioasId, IommuHwptAlloc.FLAG_NEST_PARENT);
        int[] f = v.faultAlloc();
        int nested0 = v.hwptAllocSelftest(deviceId, parentId, 0, 0);
        int nested1 = v.hwptAllocSelftest(deviceId, parentId, 0, 0);
        err(Errno.ENOENT, v.hwptAllocSelftestRc(deviceId, parentId, -1, IommuHwptAlloc.FLAG_FAULT_ID_VALID, new int[1]));
        int iopf = v.hwptAllocSelftest(deviceId, parentId, f[0], IommuHwptAlloc.FLAG_FAULT_ID_VALID);
        s.checkIotlbAll(nested0, MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT);
        s.checkIotlbAll(nested1, MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT);
        s.replace(stdevId, iopf);
        err(Errno.EBUSY, s.destroyRc(iopf));
        v.triggerIopf(deviceId, 0x1, f[1]);
        s.replace(stdevId, parentId);
        s.destroy(nested1);
        s.destroy(iopf);
        s.replace(stdevId, ioasId);
        s.destroy(nested0);
        s.destroy(parentId);
        v.file(f[1]).close();
        s.destroy(f[0]);
    }

    /** The FAULT parts of iommufd_device_pasid.pasid_attach (steps 2, 11, 12), both variants' main device. */
    @ParameterizedTest(name = "pasid_capable {0}")
    @ValueSource(booleans = {false, true})
    void pasidAttachFaultParts(boolean pasidCapable) {
        s = new SelftestSession();
        v = new ViommuCalls(s);
        ioasId = s.ioasAlloc();
        int[] md = s.mockDomain(ioasId, MockSelftestUapi.MOCK_FLAGS_DEVICE_PASID);
        stdevId = md[0];
        deviceId = md[2];
        if (!pasidCapable) {
            s.mockDomain(ioasId, 0);
        }
        int parent = s.hwptAlloc(deviceId, ioasId, IommuHwptAlloc.FLAG_NEST_PARENT);
        int[] f = v.faultAlloc();
        int iopf = v.hwptAllocSelftest(deviceId, parent, f[0], IommuHwptAlloc.FLAG_FAULT_ID_VALID | IommuHwptAlloc.FLAG_PASID);
        int s2 = s.hwptAlloc(deviceId, ioasId, IommuHwptAlloc.FLAG_PASID);
        s.replace(stdevId, s2);
        ok(s.pasidRc(IommuTestCmd.OP_PASID_ATTACH, stdevId, 2048, iopf));
        ok(s.pasidRc(IommuTestCmd.OP_PASID_CHECK_HWPT, stdevId, 2048, iopf));
        UserStruct rec = v.triggerIopf(deviceId, 2048, f[1]);
        assertEquals(2048, rec.u32(IommuHwptPgfault.OFFSET_PASID));
        assertEquals(IommuHwptPgfault.FLAG_PASID_VALID | IommuHwptPgfault.FLAG_LAST_PAGE, rec.u32(IommuHwptPgfault.OFFSET_FLAGS));
        ok(s.pasidRc(IommuTestCmd.OP_PASID_REPLACE, stdevId, 2048, s2));
        ok(s.pasidRc(IommuTestCmd.OP_PASID_CHECK_HWPT, stdevId, 2048, s2));
        ok(s.pasidRc(IommuTestCmd.OP_PASID_DETACH, stdevId, 2048, 0));
        s.destroy(iopf);
        v.file(f[1]).close();
        s.destroy(f[0]);
        s.replace(stdevId, ioasId);
    }

    // ---------------------------------------------------------------- read (§9.4)

    /** Records of a group: same cookie, flags/pasid/grpid/perm/addr from each request, length 0, dev_id the idev. */
    @Test
    void readsWholeGroupsWithOneCookie() {
        setUpAttached(0);
        report(0, 0, 5, 0x1000);
        report(0, 0, 6, 0x9000); // another group, still partial
        report(0, 0, 5, 0x2000);
        assertFalse(file().readable(), "partial groups are not delivered");
        report(IoPageFault.FLAG_LAST_PAGE, 0, 5, 0x3000);
        assertTrue(file().readable());
        assertEquals(0, file().read(2 * REC).length, "a 3-request group never splits");
        byte[] b = file().read(4 * REC);
        assertEquals(3 * REC, b.length);
        UserStruct u = new UserStruct(b);
        int cookie = u.u32(IommuHwptPgfault.OFFSET_COOKIE);
        assertEquals(1, cookie, "cookies start at 1");
        long[] addrs = {0x1000, 0x2000, 0x3000};
        for (int i = 0; i < 3; i++) {
            int o = i * REC;
            assertEquals(i == 2 ? IommuHwptPgfault.FLAG_LAST_PAGE : 0, u.u32(o + IommuHwptPgfault.OFFSET_FLAGS));
            assertEquals(deviceId, u.u32(o + IommuHwptPgfault.OFFSET_DEV_ID));
            assertEquals(5, u.u32(o + IommuHwptPgfault.OFFSET_GRPID));
            assertEquals(IommuHwptPgfault.PERM_READ, u.u32(o + IommuHwptPgfault.OFFSET_PERM));
            assertEquals(addrs[i], u.u64(o + IommuHwptPgfault.OFFSET_ADDR));
            assertEquals(0, u.u32(o + IommuHwptPgfault.OFFSET_LENGTH));
            assertEquals(cookie, u.u32(o + IommuHwptPgfault.OFFSET_COOKIE));
        }
        assertEquals(0, file().read(REC).length, "nothing pending: 0, never blocks");
        int before = mockDevice().pageResponseCount();
        assertEquals(RESP, file().write(response(cookie, IommuHwptPageResponse.CODE_SUCCESS)));
        assertEquals(before + 1, mockDevice().pageResponseCount(), "one response per group");
        PageResponse r = mockDevice().lastPageResponse();
        assertEquals(5, r.grpid());
        assertEquals(PageResponse.SUCCESS, r.code());
    }

    /** Cookies are allocated at read time, lowest free first; an answered cookie is reused. */
    @Test
    void cookiesAllocatedAtReadLowestFree() {
        setUpAttached(0);
        report(IoPageFault.FLAG_LAST_PAGE, 0, 1, 0x1000);
        report(IoPageFault.FLAG_LAST_PAGE, 0, 2, 0x2000);
        UserStruct u = new UserStruct(file().read(2 * REC));
        assertEquals(1, u.u32(IommuHwptPgfault.OFFSET_COOKIE));
        assertEquals(2, u.u32(REC + IommuHwptPgfault.OFFSET_COOKIE));
        file().write(response(1, IommuHwptPageResponse.CODE_INVALID));
        assertEquals(PageResponse.INVALID, mockDevice().lastPageResponse().code());
        report(IoPageFault.FLAG_LAST_PAGE, 0, 3, 0x3000);
        assertEquals(1, new UserStruct(file().read(REC)).u32(IommuHwptPgfault.OFFSET_COOKIE));
    }

    /** ESPIPE: a count that is not a multiple of the record, or a position other than 0. */
    @Test
    void espipe() {
        setUpAttached(0);
        EventQueueFile f = file();
        assertEquals(Errno.ESPIPE, assertThrows(ErrnoException.class, () -> f.read(REC + 1)).errno());
        assertEquals(Errno.ESPIPE, assertThrows(ErrnoException.class, () -> f.read(ViommuCalls.IO_VA, REC, 8)).errno());
        assertEquals(Errno.ESPIPE, assertThrows(ErrnoException.class, () -> f.write(new byte[RESP + 1])).errno());
        assertEquals(Errno.ESPIPE, assertThrows(ErrnoException.class, () -> f.write(ViommuCalls.IO_VA, RESP, 1)).errno());
    }

    /** Responses apply in order; the first bad record stops the write (partial count; EINVAL when first). */
    @Test
    void writeStopsAtFirstBadRecordKeepingEarlierResponses() {
        setUpAttached(0);
        report(IoPageFault.FLAG_LAST_PAGE, 0, 1, 0x1000);
        report(IoPageFault.FLAG_LAST_PAGE, 0, 2, 0x2000);
        file().read(2 * REC);
        int before = mockDevice().pageResponseCount();
        byte[] two = new byte[2 * RESP];
        System.arraycopy(response(1, 0), 0, two, 0, RESP);
        System.arraycopy(response(77, 0), 0, two, RESP, RESP);
        assertEquals(RESP, file().write(two), "partial progress");
        assertEquals(before + 1, mockDevice().pageResponseCount());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> file().write(response(1, 0))).errno(),
                "already answered");
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> file().write(response(2, 2))).errno(),
                "code beyond INVALID");
        assertEquals(before + 1, mockDevice().pageResponseCount());
        // Through user memory too.
        s.proc.write(ViommuCalls.IO_VA, response(2, 0), 0, RESP);
        assertEquals(RESP, file().write(ViommuCalls.IO_VA, RESP, 0));
        assertEquals(before + 2, mockDevice().pageResponseCount());
    }

    /** A failing copy to user memory leaves the group queued and its cookie unused (EFAULT when nothing copied). */
    @Test
    void readEfaultPutsTheGroupBack() {
        setUpAttached(0);
        long ro = s.proc.mmap(0x60_0000_0000L, SelftestSession.PS, Prot.READ, MapKind.ANONYMOUS);
        report(IoPageFault.FLAG_LAST_PAGE, 0, 1, 0x1000);
        assertEquals(Errno.EFAULT, assertThrows(ErrnoException.class, () -> file().read(ro, REC, 0)).errno());
        UserStruct u = new UserStruct(file().read(REC));
        assertEquals(1, u.u32(IommuHwptPgfault.OFFSET_COOKIE), "the cookie was given back");
        assertEquals(Errno.EFAULT, assertThrows(ErrnoException.class, () -> file().write(0x7f_0000_0000L, RESP, 0)).errno(),
                "an unreadable response buffer");
        assertEquals(1, file().write(response(1, 0)) / RESP, "the group still awaits its response");
    }

    // ---------------------------------------------------------------- auto responses and lifetime (§9.6, §9.1)

    /** Detach/replace answers INVALID every group of that attachment, queued or awaiting a response. */
    @Test
    void replaceAutoRespondsInvalid() {
        setUpAttached(0);
        report(IoPageFault.FLAG_LAST_PAGE, 0, 1, 0x1000);
        file().read(REC); // awaiting a response
        report(IoPageFault.FLAG_LAST_PAGE, 0, 2, 0x2000); // queued
        int before = mockDevice().pageResponseCount();
        s.replace(stdevId, parentId);
        assertEquals(before + 2, mockDevice().pageResponseCount());
        assertEquals(PageResponse.INVALID, mockDevice().lastPageResponse().code());
        assertFalse(file().readable());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> file().write(response(1, 0))).errno());
    }

    /**
     * A HWPT without a FAULT object: the IOMMU core answers every request INVALID at once, partial ones included
     * (io-pgfault.c iopf_error_response).
     */
    @Test
    void noFaultHandlerAnswersEachRequestInvalid() {
        setUpAttached(0);
        s.replace(stdevId, parentId);
        int before = mockDevice().pageResponseCount();
        report(0, 0, 9, 0x1000);
        assertEquals(before + 1, mockDevice().pageResponseCount());
        assertEquals(PageResponse.INVALID, mockDevice().lastPageResponse().code());
        report(IoPageFault.FLAG_LAST_PAGE, 0, 9, 0x2000);
        assertEquals(before + 2, mockDevice().pageResponseCount());
        assertEquals(9, mockDevice().lastPageResponse().grpid());
    }

    /** A PASID request with no attachment of its own goes to the NESTED domain on the RID (user_pasid_table). */
    @Test
    void pasidRequestFallsBackToTheNestedRidDomain() {
        setUpAttached(0);
        report(IoPageFault.FLAG_LAST_PAGE | IoPageFault.FLAG_PASID_VALID, 77, 1, 0x1000);
        UserStruct u = new UserStruct(file().read(REC));
        assertEquals(77, u.u32(IommuHwptPgfault.OFFSET_PASID));
        // Moved to the (paging, not nested) parent: no handler any more.
        file().write(response(1, 0));
        s.replace(stdevId, parentId);
        int before = mockDevice().pageResponseCount();
        report(IoPageFault.FLAG_LAST_PAGE | IoPageFault.FLAG_PASID_VALID, 77, 2, 0x1000);
        assertEquals(before + 1, mockDevice().pageResponseCount());
        assertEquals(PageResponse.INVALID, mockDevice().lastPageResponse().code());
    }

    /** The FAULT is held by its HWPT and by its open file (EBUSY); destroying it answers pending groups INVALID. */
    @Test
    void destroyRules() {
        setUpAttached(0);
        err(Errno.EBUSY, s.destroyRc(faultId));
        report(IoPageFault.FLAG_LAST_PAGE, 0, 1, 0x1000);
        s.replace(stdevId, parentId); // answers it
        s.destroy(iopfHwpt);
        err(Errno.EBUSY, s.destroyRc(faultId)); // the file
        int before = mockDevice().pageResponseCount();
        file().close();
        s.destroy(faultId);
        assertEquals(before, mockDevice().pageResponseCount());
        assertEquals(Errno.EBADF, assertThrows(ErrnoException.class, () -> s.fd.eventQueueFile(faultFd)).errno());
    }

    /** The file holds the iommufd file: closing the iommufd keeps the context until the fault file closes. */
    @Test
    void fileKeepsTheContext() {
        setUpAttached(0);
        IommufdContext ctx = s.fd.context();
        EventQueueFile f = file();
        MockDevice dev = mockDevice();
        report(IoPageFault.FLAG_LAST_PAGE, 0, 1, 0x1000);
        s.fd.close();
        assertFalse(ctx.isReleased());
        assertEquals(REC, f.read(REC).length);
        int before = dev.pageResponseCount();
        f.close();
        assertTrue(ctx.isReleased());
        assertEquals(before + 1, dev.pageResponseCount(), "release answered the pending group");
        assertEquals(PageResponse.INVALID, dev.lastPageResponse().code());
    }

    /** IOMMU_FAULT_QUEUE_ALLOC: flags (EOPNOTSUPP); a failing reply releases the descriptor and the ID. */
    @Test
    void allocValidationAndUnwind() {
        s = new SelftestSession();
        v = new ViommuCalls(s);
        err(Errno.EOPNOTSUPP, v.faultAllocRc(1, null));
        // The struct can be read from a read-only mapping but the reply cannot be written: EFAULT.
        dev.iommufd.platform.MemFd mf = s.proc.memfdCreate("cmd", SelftestSession.PS, 0);
        long rw = s.proc.mmapFile(0x60_0000_0000L, SelftestSession.PS, Prot.READ_WRITE, mf, 0);
        long ro = s.proc.mmapFile(0x61_0000_0000L, SelftestSession.PS, Prot.READ, mf, 0);
        s.proc.write(rw, SelftestSession.struct(IommuFaultAlloc.SIZE).bytes(), 0, IommuFaultAlloc.SIZE);
        err(Errno.EFAULT, s.fd.ioctl(IommuFaultAlloc.REQUEST, ro));
        ObjectAndFd a = s.fd.faultQueueAlloc();
        int[] b = v.faultAlloc();
        assertEquals(1, a.id(), "the failed allocation's ID was released");
        assertEquals(3, a.fd(), "the failed allocation's descriptor was released");
        assertNotEquals(a.fd(), b[1]);
        s.fd.eventQueueFile(a.fd()).close();
        v.file(b[1]).close();
        s.destroy(a.id());
        s.destroy(b[0]);
    }

    /** Both faces read the same bytes. */
    @Test
    void ioctlFaceAndTypedFaceAgree() {
        setUpAttached(0);
        report(IoPageFault.FLAG_LAST_PAGE, 0, 4, 0x4000);
        assertEquals(REC, file().read(ViommuCalls.IO_VA, REC, 0));
        byte[] viaUser = new byte[REC];
        s.proc.read(ViommuCalls.IO_VA, viaUser, 0, REC);
        file().write(response(1, 0));
        report(IoPageFault.FLAG_LAST_PAGE, 0, 4, 0x4000);
        assertArrayEquals(viaUser, file().read(REC));
    }
}
