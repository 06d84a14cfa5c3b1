package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.err;
import static dev.iommufd.core.selftest.SelftestSession.ok;
import static dev.iommufd.mock.MockSelftestUapi.IOMMU_VEVENTQ_TYPE_SELFTEST;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.EventQueueFile;
import dev.iommufd.api.ObjectAndFd;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommufdVeventHeader;
import dev.iommufd.api.uapi.UserStruct;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * vEVENTQ production and reads (reference §9.7-9.8, eventq.c + driver.c): one sequence number per reported event,
 * the floating LOST_EVENTS header, whole events per read, and the allocation rules. Events come from the mock
 * device through IOMMU_TEST_OP_TRIGGER_VEVENT (a SELFTEST event carrying the vDEVICE's virt_id).
 */
class VeventqTest {
    private static final int HDR = IommufdVeventHeader.SIZE;
    private static final int EV = HDR + 4;
    private static final int VIRT = 0x42;

    private SelftestSession s;
    private ViommuCalls v;
    private int deviceId;
    private int viommuId;

    @BeforeEach
    void setUp() {
        s = new SelftestSession();
        v = new ViommuCalls(s);
        int ioas = s.ioasAlloc();
        int[] md = s.mockDomain(ioas);
        deviceId = md[2];
        int parent = s.hwptAlloc(deviceId, ioas, IommuHwptAlloc.FLAG_NEST_PARENT);
        viommuId = v.viommuAlloc(deviceId, parent);
        int nested = v.hwptAllocSelftest(deviceId, viommuId, 0, 0);
        v.vdeviceAlloc(viommuId, deviceId, VIRT);
        s.replace(md[0], nested);
    }

    @AfterEach
    void teardown() {
        s.teardown();
        s.machine.close();
    }

    /** One decoded record: {flags, sequence, virt_id or -1 without payload}. */
    private static List<int[]> decode(byte[] b) {
        List<int[]> out = new ArrayList<>();
        UserStruct u = new UserStruct(b);
        int off = 0;
        while (off < b.length) {
            int flags = u.u32(off + IommufdVeventHeader.OFFSET_FLAGS);
            int seq = u.u32(off + IommufdVeventHeader.OFFSET_SEQUENCE);
            boolean lost = (flags & IommufdVeventHeader.FLAG_LOST_EVENTS) != 0;
            out.add(new int[] {flags, seq, lost ? -1 : u.u32(off + HDR)});
            off += lost ? HDR : EV;
        }
        return out;
    }

    private void trigger(int n) {
        v.triggerVevents(deviceId, n);
    }

    /** §9.8 example, depth 2: e0, e1 queued, e2 and e3 lost; the header floats to the tail with the newest sequence. */
    @Test
    void lostHeaderFloatsAtTheTail() {
        ObjectAndFd q = s.fd.veventqAlloc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 2);
        EventQueueFile f = s.fd.eventQueueFile(q.fd());
        trigger(4);
        List<int[]> r = decode(f.read(1024));
        assertEquals(3, r.size());
        assertEquals(0, r.get(0)[0]);
        assertEquals(0, r.get(0)[1]);
        assertEquals(VIRT, r.get(0)[2]);
        assertEquals(1, r.get(1)[1]);
        assertEquals(IommufdVeventHeader.FLAG_LOST_EVENTS, r.get(2)[0]);
        assertEquals(3, r.get(2)[1], "the header carries the newest lost sequence");
        assertFalse(f.readable());
        trigger(1);
        r = decode(f.read(1024));
        assertEquals(1, r.size());
        assertEquals(4, r.get(0)[1], "every reported event consumed a sequence number");
    }

    /** §9.8 second example: after a loss, a real event appended removes the header; the gap conveys the loss. */
    @Test
    void realEventAfterLossRemovesTheHeader() {
        ObjectAndFd q = s.fd.veventqAlloc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 2);
        EventQueueFile f = s.fd.eventQueueFile(q.fd());
        trigger(3); // e0(0), e1(1), lost(2)
        List<int[]> first = decode(f.read(EV)); // e0 only: room for one event again
        assertEquals(1, first.size());
        assertEquals(0, first.get(0)[1]);
        trigger(1); // e3(3): the header (last) is unlinked
        List<int[]> r = decode(f.read(1024));
        assertEquals(2, r.size());
        assertEquals(1, r.get(0)[1]);
        assertEquals(3, r.get(1)[1]);
        assertEquals(0, r.get(1)[0], "no LOST_EVENTS header left");
    }

    /** Events are never split: a buffer smaller than the head event reads 0 bytes and leaves it queued. */
    @Test
    void readsWholeEventsOnly() {
        ObjectAndFd q = s.fd.veventqAlloc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 4);
        EventQueueFile f = s.fd.eventQueueFile(q.fd());
        trigger(2);
        assertEquals(0, f.read(HDR).length);
        assertEquals(0, f.read(EV - 1).length);
        assertEquals(EV, f.read(2 * EV - 1).length);
        assertEquals(EV, f.read(ViommuCalls.IO_VA, 2 * EV, 0), "through user memory");
        assertEquals(VIRT, new UserStruct(readUser(EV)).u32(HDR));
        assertEquals(0, f.read(ViommuCalls.IO_VA, 64, 0));
        assertEquals(Errno.ESPIPE, assertThrows(ErrnoException.class, () -> f.read(ViommuCalls.IO_VA, 64, 4)).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> f.write(new byte[8])).errno(), "no write op");
    }

    private byte[] readUser(int n) {
        byte[] b = new byte[n];
        s.proc.read(ViommuCalls.IO_VA, b, 0, n);
        return b;
    }

    /** Events of a type without a vEVENTQ are dropped without consuming a queue's sequence. */
    @Test
    void eventsWithoutQueueAreDropped() {
        trigger(3);
        ObjectAndFd q = s.fd.veventqAlloc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 2);
        EventQueueFile f = s.fd.eventQueueFile(q.fd());
        assertFalse(f.readable());
        trigger(1);
        assertTrue(f.readable());
        assertEquals(0, decode(f.read(64)).get(0)[1], "a new queue's sequence starts at 0");
    }

    /** IOMMU_VEVENTQ_ALLOC order: flags/type/__reserved (EOPNOTSUPP), depth (EINVAL), vIOMMU (ENOENT), EEXIST. */
    @Test
    void allocValidation() {
        err(Errno.EOPNOTSUPP, v.veventqAllocRc(viommuId, 0, 2, null));
        err(Errno.EINVAL, v.veventqAllocRc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 0, null));
        err(Errno.ENOENT, v.veventqAllocRc(9999, IOMMU_VEVENTQ_TYPE_SELFTEST, 2, null));
        int[] q = new int[2];
        ok(v.veventqAllocRc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 2, q));
        err(Errno.EEXIST, v.veventqAllocRc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 2, null));
        ok(v.veventqAllocRc(viommuId, 7, 2, null)); // other types are not rejected by the core
        err(Errno.EBUSY, s.destroyRc(q[0]));    // its file is open
        err(Errno.EBUSY, s.destroyRc(viommuId)); // the vEVENTQs hold it
        v.file(q[1]).close();
        s.destroy(q[0]);
        ok(v.veventqAllocRc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 2, null)); // the type is free again
    }
}
