package dev.iommufd.core;

import dev.iommufd.api.uapi.IommuFaultAlloc;
import dev.iommufd.api.uapi.IommuVeventqAlloc;
import dev.iommufd.api.uapi.UserStruct;

/**
 * The ioctl face of eventq.c: IOMMU_FAULT_QUEUE_ALLOC and IOMMU_VEVENTQ_ALLOC. Each parses the struct, calls the
 * typed path, copies the IDs out, and only then installs the descriptor and publishes the object; a failing
 * copy-out releases the descriptor and aborts the object (§9.1).
 */
final class EventqIoctls {
    private EventqIoctls() {
    }

    static void registerAll(IommufdIoctl t) {
        t.register(IoctlHandler.of(IommuFaultAlloc.NR, IommuFaultAlloc.SIZE, IommuFaultAlloc.MIN_SIZE, EventqIoctls::faultAlloc));
        t.register(IoctlHandler.of(IommuVeventqAlloc.NR, IommuVeventqAlloc.SIZE, IommuVeventqAlloc.MIN_SIZE,
                EventqIoctls::veventqAlloc));
    }

    private static void faultAlloc(IoctlCall c) {
        UserStruct cmd = c.cmd();
        EventFile f = FaultQueue.alloc(c.ctx(), c.caller(), cmd.u32(IommuFaultAlloc.OFFSET_FLAGS));
        reply(c, f, IommuFaultAlloc.OFFSET_OUT_FAULT_ID, IommuFaultAlloc.OFFSET_OUT_FAULT_FD);
    }

    private static void veventqAlloc(IoctlCall c) {
        UserStruct cmd = c.cmd();
        EventFile f = Veventq.alloc(c.ctx(), c.caller(), cmd.u32(IommuVeventqAlloc.OFFSET_FLAGS),
                cmd.u32(IommuVeventqAlloc.OFFSET_VIOMMU_ID), cmd.u32(IommuVeventqAlloc.OFFSET_TYPE),
                cmd.u32(IommuVeventqAlloc.OFFSET_VEVENTQ_DEPTH), cmd.u32(IommuVeventqAlloc.OFFSET_RESERVED));
        reply(c, f, IommuVeventqAlloc.OFFSET_OUT_VEVENTQ_ID, IommuVeventqAlloc.OFFSET_OUT_VEVENTQ_FD);
    }

    private static void reply(IoctlCall c, EventFile f, int idOffset, int fdOffset) {
        try {
            c.cmd().put32(idOffset, f.objectId()).put32(fdOffset, f.fd());
            c.respond();
        } catch (RuntimeException e) {
            f.unwind();
            throw e;
        }
        f.publish();
    }
}
