package dev.iommufd.api.uapi;

/**
 * iommufd ioctl command numbers (include/uapi/linux/iommufd.h).
 *
 * <p>Every iommufd ioctl is {@code _IO(IOMMUFD_TYPE, nr)}: no direction and no size are encoded in the request;
 * the argument's first {@code u32} carries the size userspace knows. With the generic {@code _IOC} encoding
 * (x86-64, arm64):
 * <pre>
 *   31 30 29           16 15          8 7            0
 *  +-----+---------------+-------------+--------------+
 *  | dir |     size      |    type     |      nr      |
 *  |  00 |       0       | 0x3b (';')  | 0x80..0x94   |
 *  +-----+---------------+-------------+--------------+
 * </pre>
 * so {@code request = (0x3b << 8) | nr}.
 */
public final class IommufdCommands {
    /** IOMMUFD_TYPE, the ioctl type byte ';'. */
    public static final int IOMMUFD_TYPE = 0x3b;
    /** IOMMUFD_CMD_BASE: the first iommufd command number. */
    public static final int CMD_BASE = 0x80;

    public static final int NR_DESTROY = 0x80;
    public static final int NR_IOAS_ALLOC = 0x81;
    public static final int NR_IOAS_ALLOW_IOVAS = 0x82;
    public static final int NR_IOAS_COPY = 0x83;
    public static final int NR_IOAS_IOVA_RANGES = 0x84;
    public static final int NR_IOAS_MAP = 0x85;
    public static final int NR_IOAS_UNMAP = 0x86;
    public static final int NR_OPTION = 0x87;
    public static final int NR_VFIO_IOAS = 0x88;
    public static final int NR_HWPT_ALLOC = 0x89;
    public static final int NR_GET_HW_INFO = 0x8a;
    public static final int NR_HWPT_SET_DIRTY_TRACKING = 0x8b;
    public static final int NR_HWPT_GET_DIRTY_BITMAP = 0x8c;
    public static final int NR_HWPT_INVALIDATE = 0x8d;
    public static final int NR_FAULT_QUEUE_ALLOC = 0x8e;
    public static final int NR_IOAS_MAP_FILE = 0x8f;
    public static final int NR_VIOMMU_ALLOC = 0x90;
    public static final int NR_VDEVICE_ALLOC = 0x91;
    public static final int NR_IOAS_CHANGE_PROCESS = 0x92;
    public static final int NR_VEVENTQ_ALLOC = 0x93;
    public static final int NR_HW_QUEUE_ALLOC = 0x94;
    /** The last command number of the iommufd table (HW_QUEUE_ALLOC, 6.17). */
    public static final int NR_LAST = NR_HW_QUEUE_ALLOC;
    /** IOMMU_TEST_CMD (CONFIG_IOMMUFD_TEST): {@code IOMMUFD_CMD_BASE + 32}. */
    public static final int NR_TEST_CMD = 0xa0;

    /** Bit position of the type byte in a request. */
    public static final int IOC_TYPE_SHIFT = 8;
    /** Mask of the nr byte. */
    public static final int IOC_NR_MASK = 0xff;

    private IommufdCommands() {
    }

    /** {@code _IO(';', nr)}. */
    public static long request(int nr) {
        return ((long) IOMMUFD_TYPE << IOC_TYPE_SHIFT) | (nr & IOC_NR_MASK);
    }

    /** {@code _IOC_NR(request)}. */
    public static int nr(long request) {
        return (int) (request & IOC_NR_MASK);
    }
}
