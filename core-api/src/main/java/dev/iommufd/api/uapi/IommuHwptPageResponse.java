package dev.iommufd.api.uapi;

/**
 * {@code struct iommu_hwpt_page_response} (include/uapi/linux/iommufd.h, v6.17 layout). One page response written to a FAULT file descriptor.
 *
 * <pre>
 *  byte offset  field
 *     0..3      u32   cookie
 *     4..7      u32   code
 *  sizeof = 8
 * </pre>
 * All fields little-endian; u64 fields are {@code __aligned_u64}.
 */
public final class IommuHwptPageResponse {
    /** Offset of {@code cookie} (u32). */
    public static final int OFFSET_COOKIE = 0;
    /** Offset of {@code code} (u32). */
    public static final int OFFSET_CODE = 4;
    /** {@code sizeof(struct iommu_hwpt_page_response)} in the latest uAPI. */
    public static final int SIZE = 8;
    /** IOMMUFD_PAGE_RESP_SUCCESS. */
    public static final int CODE_SUCCESS = 0;
    /** IOMMUFD_PAGE_RESP_INVALID. */
    public static final int CODE_INVALID = 1;

    private IommuHwptPageResponse() {
    }
}
