package dev.iommufd.core.selftest;

import dev.iommufd.api.uapi.IommufdCommands;

/**
 * {@code struct iommu_test_cmd} (drivers/iommu/iommufd/iommufd_test.h): the CONFIG_IOMMUFD_TEST ioctl.
 * <pre>
 *  byte offset  field
 *     0..3      u32   size
 *     4..7      u32   op            (IOMMU_TEST_OP_*)
 *     8..11     u32   id            (object the op works on)
 *    12..15     u32   __reserved
 *    16..63     union (48 bytes; the largest member is {@code dirty})
 *    64..67     u32   last
 *  sizeof = 72, dispatcher min_size = 68 (offsetofend last)
 * </pre>
 * Union members (offsets from the struct start):
 * <pre>
 *  add_reserved      u64 start @16, u64 length @24
 *  mock_domain       u32 out_stdev_id @16, u32 out_hwpt_id @20, u32 out_idev_id @24 (+ u32 dev_flags @28 for _FLAGS)
 *  mock_domain_replace u32 pt_id @16
 *  check_map         u64 iova @16, u64 length @24, u64 uptr @32
 *  check_refs        u64 length @16, u64 uptr @24, u32 refs @32
 *  create_access     u32 out_access_fd @16, u32 flags @20
 *  destroy_access_pages u32 access_pages_id @16
 *  access_pages      u32 flags @16, u32 out_access_pages_id @20, u64 iova @24, u64 length @32, u64 uptr @40
 *  access_rw         u64 iova @16, u64 length @24, u64 uptr @32, u32 flags @40
 *  memory_limit      u32 limit @16
 *  access_replace_ioas u32 ioas_id @16
 *  dirty             u32 flags @16, u64 iova @24, u64 length @32, u64 page_size @40, u64 uptr @48, u64 out_nr_dirty @56
 *  check_iotlb       u32 id @16, u32 iotlb @20
 *  trigger_iopf      u32 dev_id @16, u32 pasid @20, u32 grpid @24, u32 perm @28, u64 addr @32
 *  check_dev_cache   u32 id @16, u32 cache @20
 *  trigger_vevent    u32 dev_id @16
 *  pasid_attach/replace/detach/check u32 pasid @16, u32 pt_id|hwpt_id @20
 * </pre>
 */
public final class IommuTestCmd {
    public static final int NR = IommufdCommands.NR_TEST_CMD;
    public static final long REQUEST = IommufdCommands.request(NR);
    public static final int SIZE = 72;
    public static final int MIN_SIZE = 68;

    public static final int OFFSET_SIZE = 0;
    public static final int OFFSET_OP = 4;
    public static final int OFFSET_ID = 8;
    public static final int OFFSET_RESERVED = 12;
    /** Start of the union. */
    public static final int OFFSET_UNION = 16;
    public static final int OFFSET_LAST = 64;

    public static final int OFFSET_ADD_RESERVED_START = 16;
    public static final int OFFSET_ADD_RESERVED_LENGTH = 24;
    public static final int OFFSET_MOCK_DOMAIN_OUT_STDEV_ID = 16;
    public static final int OFFSET_MOCK_DOMAIN_OUT_HWPT_ID = 20;
    public static final int OFFSET_MOCK_DOMAIN_OUT_IDEV_ID = 24;
    public static final int OFFSET_MOCK_DOMAIN_FLAGS_DEV_FLAGS = 28;
    public static final int OFFSET_MOCK_DOMAIN_REPLACE_PT_ID = 16;
    public static final int OFFSET_CHECK_MAP_IOVA = 16;
    public static final int OFFSET_CHECK_MAP_LENGTH = 24;
    public static final int OFFSET_CHECK_MAP_UPTR = 32;
    public static final int OFFSET_CHECK_REFS_LENGTH = 16;
    public static final int OFFSET_CHECK_REFS_UPTR = 24;
    public static final int OFFSET_CHECK_REFS_REFS = 32;
    public static final int OFFSET_CREATE_ACCESS_OUT_ACCESS_FD = 16;
    public static final int OFFSET_CREATE_ACCESS_FLAGS = 20;
    public static final int OFFSET_DESTROY_ACCESS_PAGES_ID = 16;
    public static final int OFFSET_ACCESS_PAGES_FLAGS = 16;
    public static final int OFFSET_ACCESS_PAGES_OUT_ID = 20;
    public static final int OFFSET_ACCESS_PAGES_IOVA = 24;
    public static final int OFFSET_ACCESS_PAGES_LENGTH = 32;
    public static final int OFFSET_ACCESS_PAGES_UPTR = 40;
    public static final int OFFSET_ACCESS_RW_IOVA = 16;
    public static final int OFFSET_ACCESS_RW_LENGTH = 24;
    public static final int OFFSET_ACCESS_RW_UPTR = 32;
    public static final int OFFSET_ACCESS_RW_FLAGS = 40;
    public static final int OFFSET_MEMORY_LIMIT = 16;
    public static final int OFFSET_ACCESS_REPLACE_IOAS_ID = 16;
    public static final int OFFSET_DIRTY_FLAGS = 16;
    public static final int OFFSET_DIRTY_IOVA = 24;
    public static final int OFFSET_DIRTY_LENGTH = 32;
    public static final int OFFSET_DIRTY_PAGE_SIZE = 40;
    public static final int OFFSET_DIRTY_UPTR = 48;
    public static final int OFFSET_DIRTY_OUT_NR_DIRTY = 56;
    public static final int OFFSET_CHECK_IOTLB_ID = 16;
    public static final int OFFSET_CHECK_IOTLB_IOTLB = 20;
    public static final int OFFSET_TRIGGER_IOPF_DEV_ID = 16;
    public static final int OFFSET_TRIGGER_IOPF_PASID = 20;
    public static final int OFFSET_TRIGGER_IOPF_GRPID = 24;
    public static final int OFFSET_TRIGGER_IOPF_PERM = 28;
    public static final int OFFSET_TRIGGER_IOPF_ADDR = 32;
    public static final int OFFSET_CHECK_DEV_CACHE_ID = 16;
    public static final int OFFSET_CHECK_DEV_CACHE_CACHE = 20;
    public static final int OFFSET_TRIGGER_VEVENT_DEV_ID = 16;
    public static final int OFFSET_PASID_PASID = 16;
    public static final int OFFSET_PASID_PT_ID = 20;

    // enum iommufd_test_op (starts at 1)
    public static final int OP_ADD_RESERVED = 1;
    public static final int OP_MOCK_DOMAIN = 2;
    public static final int OP_MD_CHECK_MAP = 3;
    public static final int OP_MD_CHECK_REFS = 4;
    public static final int OP_CREATE_ACCESS = 5;
    public static final int OP_DESTROY_ACCESS_PAGES = 6;
    public static final int OP_ACCESS_PAGES = 7;
    public static final int OP_ACCESS_RW = 8;
    public static final int OP_SET_TEMP_MEMORY_LIMIT = 9;
    public static final int OP_MOCK_DOMAIN_REPLACE = 10;
    public static final int OP_ACCESS_REPLACE_IOAS = 11;
    public static final int OP_MOCK_DOMAIN_FLAGS = 12;
    public static final int OP_DIRTY = 13;
    public static final int OP_MD_CHECK_IOTLB = 14;
    public static final int OP_TRIGGER_IOPF = 15;
    public static final int OP_DEV_CHECK_CACHE = 16;
    public static final int OP_TRIGGER_VEVENT = 17;
    public static final int OP_PASID_ATTACH = 18;
    public static final int OP_PASID_REPLACE = 19;
    public static final int OP_PASID_DETACH = 20;
    public static final int OP_PASID_CHECK_HWPT = 21;

    /** MOCK_FLAGS_ACCESS_WRITE (ACCESS_PAGES: pin for writing). */
    public static final int MOCK_FLAGS_ACCESS_WRITE = 1 << 0;
    /** MOCK_FLAGS_ACCESS_SYZ. */
    public static final int MOCK_FLAGS_ACCESS_SYZ = 1 << 16;
    /** MOCK_ACCESS_RW_WRITE (ACCESS_RW: user buffer → IOVA). */
    public static final int MOCK_ACCESS_RW_WRITE = 1 << 0;
    /** MOCK_ACCESS_RW_SLOW_PATH (ACCESS_RW: IOMMUFD_ACCESS_RW_KTHREAD). */
    public static final int MOCK_ACCESS_RW_SLOW_PATH = 1 << 2;
    /** MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES. */
    public static final int MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES = 1 << 0;
    /** MOCK_APERTURE_START (16 MiB). */
    public static final long MOCK_APERTURE_START = 1L << 24;
    /** MOCK_APERTURE_LAST (2 GiB - 1). */
    public static final long MOCK_APERTURE_LAST = (1L << 31) - 1;

    private IommuTestCmd() {
    }
}
