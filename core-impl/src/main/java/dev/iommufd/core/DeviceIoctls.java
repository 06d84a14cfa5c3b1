package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.spi.HwInfo;

/**
 * The ioctl face of device.c: IOMMU_GET_HW_INFO. (Binding and attaching are VFIO cdev ioctls, reached through the
 * typed API and the selftest's IOMMU_TEST_CMD.) Each handler parses the struct, checks what only the struct has,
 * and calls the typed path in {@link IommufdDevice}.
 */
final class DeviceIoctls {
    private DeviceIoctls() {
    }

    static void registerAll(IommufdIoctl t) {
        t.register(IoctlHandler.of(IommuHwInfo.NR, IommuHwInfo.SIZE, IommuHwInfo.MIN_SIZE, DeviceIoctls::getHwInfo));
    }

    /**
     * IOMMU_GET_HW_INFO (§7.14): copies min(data_len, kernel length) bytes of the vendor structure to data_uptr and
     * zeroes the rest of a larger user buffer; data_len := the kernel's length (truncation is not an error).
     */
    private static void getHwInfo(IoctlCall c) {
        UserStruct cmd = c.cmd();
        int flags = cmd.u32(IommuHwInfo.OFFSET_FLAGS);
        if (!cmd.isZero(IommuHwInfo.OFFSET_RESERVED, IommuHwInfo.OFFSET_RESERVED + 3)) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "GET_HW_INFO __reserved is not zero");
        }
        HwInfo info = IommufdDevice.hwInfo(c.ctx(), cmd.u32(IommuHwInfo.OFFSET_DEV_ID), flags,
                cmd.u32(IommuHwInfo.OFFSET_DATA_TYPE));
        long userLen = cmd.u32(IommuHwInfo.OFFSET_DATA_LEN) & 0xffff_ffffL;
        long uptr = cmd.u64(IommuHwInfo.OFFSET_DATA_UPTR);
        byte[] data = info.data();
        int copy = (int) Math.min(userLen, data.length);
        if (copy > 0) {
            c.caller().write(uptr, data, 0, copy);
        }
        if (userLen > data.length) {
            byte[] zeros = new byte[(int) Math.min(userLen - data.length, 4096)];
            for (long off = data.length; off < userLen; off += zeros.length) {
                c.caller().write(uptr + off, zeros, 0, (int) Math.min(zeros.length, userLen - off));
            }
        }
        cmd.put32(IommuHwInfo.OFFSET_DATA_LEN, data.length);
        cmd.put32(IommuHwInfo.OFFSET_DATA_TYPE, info.type());
        cmd.put8(IommuHwInfo.OFFSET_OUT_MAX_PASID_LOG2, info.maxPasidLog2());
        cmd.put64(IommuHwInfo.OFFSET_OUT_CAPABILITIES, info.capabilities());
        c.respond();
    }
}
