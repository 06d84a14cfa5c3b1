package dev.iommufd.core.selftest;

import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.core.IoctlCall;
import dev.iommufd.core.IommufdDevice;
import dev.iommufd.core.ObjectKind;
import dev.iommufd.mock.MockDevice;

/**
 * The IOMMU_TEST_CMD ops that inject device events through driver-mock's hooks (selftest.c):
 * TRIGGER_IOPF ({@code iommufd_test_trigger_iopf}) and TRIGGER_VEVENT ({@code iommufd_test_trigger_vevent}).
 * Both take the iommufd device ID; ENOENT for anything else.
 */
final class EventOps {
    private EventOps() {
    }

    static void register(SelftestIoctl t) {
        t.registerOp(IommuTestCmd.OP_TRIGGER_IOPF, EventOps::triggerIopf);
        t.registerOp(IommuTestCmd.OP_TRIGGER_VEVENT, EventOps::triggerVevent);
    }

    /** A page request {LAST_PAGE (+PASID_VALID for pasid != 0), addr, pasid, grpid, perm} reported by the device. */
    private static void triggerIopf(IoctlCall c) {
        UserStruct cmd = c.cmd();
        IommufdDevice idev = c.ctx().objects().get(cmd.u32(IommuTestCmd.OFFSET_TRIGGER_IOPF_DEV_ID), ObjectKind.DEVICE,
                IommufdDevice.class);
        try {
            ((MockDevice) idev.handle()).triggerIopf(cmd.u32(IommuTestCmd.OFFSET_TRIGGER_IOPF_PASID),
                    cmd.u32(IommuTestCmd.OFFSET_TRIGGER_IOPF_GRPID), cmd.u32(IommuTestCmd.OFFSET_TRIGGER_IOPF_PERM),
                    cmd.u64(IommuTestCmd.OFFSET_TRIGGER_IOPF_ADDR));
        } finally {
            c.ctx().objects().put(idev);
        }
    }

    /** An IOMMU_VEVENTQ_TYPE_SELFTEST event {virt_id} to the vIOMMU of the device's nested domain (ENOENT without). */
    private static void triggerVevent(IoctlCall c) {
        IommufdDevice idev = c.ctx().objects().get(c.cmd().u32(IommuTestCmd.OFFSET_TRIGGER_VEVENT_DEV_ID), ObjectKind.DEVICE,
                IommufdDevice.class);
        try {
            ((MockDevice) idev.handle()).triggerVevent();
        } finally {
            c.ctx().objects().put(idev);
        }
    }
}
