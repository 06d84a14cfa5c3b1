package dev.iommufd.mock;

/**
 * The kernel's selftest uAPI numbers ({@code drivers/iommu/iommufd/iommufd_test.h}) that the mock driver
 * implements.
 *
 * <p>Version: the v6.17-era mock (xarray page table in the kernel), matching SPI version 1: {@code struct
 * iommu_hwpt_selftest} is {@code {u32 iotlb}} and paging domains take no user data; huge IOPTEs come from the
 * MOCK_FLAGS_DEVICE_HUGE_IOVA device flag. Newer kernels (generic page table mock) add {@code u32 pagetable_type}
 * (MOCK_IOMMUPT_DEFAULT / MOCK_IOMMUPT_HUGE) to that struct, accept it for paging domains and drop HUGE_IOVA; this
 * driver does not implement that variant.
 */
public final class MockSelftestUapi {
    /** MOCK_APERTURE_START: 16 MiB. */
    public static final long MOCK_APERTURE_START = 1L << 24;
    /** MOCK_APERTURE_LAST: 2 GiB - 1. */
    public static final long MOCK_APERTURE_LAST = (1L << 31) - 1;
    /** MOCK_IO_PAGE_SIZE: half a 4 KiB CPU page. */
    public static final long MOCK_IO_PAGE_SIZE = 2048;
    /** MOCK_HUGE_PAGE_SIZE: 512 mock pages. */
    public static final long MOCK_HUGE_PAGE_SIZE = 512 * MOCK_IO_PAGE_SIZE;

    /** MOCK_FLAGS_DEVICE_NO_DIRTY: the device cannot do dirty tracking. */
    public static final int MOCK_FLAGS_DEVICE_NO_DIRTY = 1 << 0;
    /** MOCK_FLAGS_DEVICE_HUGE_IOVA: paging domains for the device also map 1 MiB IOPTEs. */
    public static final int MOCK_FLAGS_DEVICE_HUGE_IOVA = 1 << 1;
    /** MOCK_FLAGS_DEVICE_PASID: the device supports MOCK_PASID_WIDTH PASID bits. */
    public static final int MOCK_FLAGS_DEVICE_PASID = 1 << 2;
    /** Every valid device flag. */
    public static final int MOCK_FLAGS_DEVICE_VALID = MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_HUGE_IOVA
            | MOCK_FLAGS_DEVICE_PASID;
    /** MOCK_PASID_WIDTH. */
    public static final int MOCK_PASID_WIDTH = 20;

    /** MOCK_NESTED_DOMAIN_IOTLB_ID_MAX. */
    public static final int MOCK_NESTED_DOMAIN_IOTLB_ID_MAX = 3;
    /** MOCK_NESTED_DOMAIN_IOTLB_NUM. */
    public static final int MOCK_NESTED_DOMAIN_IOTLB_NUM = 4;
    /** MOCK_DEV_CACHE_ID_MAX. */
    public static final int MOCK_DEV_CACHE_ID_MAX = 3;
    /** MOCK_DEV_CACHE_NUM. */
    public static final int MOCK_DEV_CACHE_NUM = 4;
    /** IOMMU_TEST_PASID_RESERVED: the PASID whose replacement the mock fails once with ENOMEM. */
    public static final int IOMMU_TEST_PASID_RESERVED = 1024;

    /** IOMMU_HW_INFO_TYPE_SELFTEST. */
    public static final int IOMMU_HW_INFO_TYPE_SELFTEST = 0xfeedbeef;
    /** IOMMU_HW_INFO_SELFTEST_REGVAL. */
    public static final int IOMMU_HW_INFO_SELFTEST_REGVAL = 0xdeadbeef;
    /** sizeof(struct iommu_test_hw_info {u32 flags; u32 test_reg;}). */
    public static final int IOMMU_TEST_HW_INFO_SIZE = 8;

    /** IOMMU_HWPT_DATA_SELFTEST. */
    public static final int IOMMU_HWPT_DATA_SELFTEST = 0xdead;
    /** IOMMU_TEST_IOTLB_DEFAULT. */
    public static final int IOMMU_TEST_IOTLB_DEFAULT = 0xbadbeef;
    /** sizeof(struct iommu_hwpt_selftest {u32 iotlb;}). */
    public static final int IOMMU_HWPT_SELFTEST_SIZE = 4;

    /** IOMMU_HWPT_INVALIDATE_DATA_SELFTEST. */
    public static final int IOMMU_HWPT_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
    /** IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID. */
    public static final int IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID = 0xdadbeef;
    /** sizeof(struct iommu_hwpt_invalidate_selftest {u32 flags; u32 iotlb_id;}). */
    public static final int IOMMU_HWPT_INVALIDATE_SELFTEST_SIZE = 8;
    /** IOMMU_TEST_INVALIDATE_FLAG_ALL. */
    public static final int IOMMU_TEST_INVALIDATE_FLAG_ALL = 1 << 0;

    /** IOMMU_VIOMMU_TYPE_SELFTEST. */
    public static final int IOMMU_VIOMMU_TYPE_SELFTEST = 0xdeadbeef;
    /** sizeof(struct iommu_viommu_selftest {u32 in_data; u32 out_data; u64 out_mmap_offset; u64 out_mmap_length;}). */
    public static final int IOMMU_VIOMMU_SELFTEST_SIZE = 24;
    /** offsetofend(struct iommu_viommu_selftest, out_data): the first version's size. */
    public static final int IOMMU_VIOMMU_SELFTEST_MIN_SIZE = 8;
    /** IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST. */
    public static final int IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
    /** IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID. */
    public static final int IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID = 0xdadbeef;
    /** sizeof(struct iommu_viommu_invalidate_selftest {u32 flags; u32 vdev_id; u32 cache_id;}). */
    public static final int IOMMU_VIOMMU_INVALIDATE_SELFTEST_SIZE = 12;
    /** IOMMU_VEVENTQ_TYPE_SELFTEST. */
    public static final int IOMMU_VEVENTQ_TYPE_SELFTEST = 0xbeefbeef;
    /** IOMMU_HW_QUEUE_TYPE_SELFTEST. */
    public static final int IOMMU_HW_QUEUE_TYPE_SELFTEST = 0xdeadbeef;
    /** IOMMU_TEST_HW_QUEUE_MAX: hardware queues per mock vIOMMU. */
    public static final int IOMMU_TEST_HW_QUEUE_MAX = 2;
    /** IOMMU_TEST_DEV_CACHE_DEFAULT. */
    public static final int IOMMU_TEST_DEV_CACHE_DEFAULT = 0xbaddad;

    private MockSelftestUapi() {
    }
}
