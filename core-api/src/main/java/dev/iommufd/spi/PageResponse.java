package dev.iommufd.spi;

/**
 * The answer to a page request group (the kernel's {@code struct iommu_page_response}).
 *
 * @param pasid the PASID of the group's requests
 * @param pasidValid whether the response carries the PASID
 * @param grpid the group index
 * @param code {@link #SUCCESS}, {@link #INVALID} or {@link #FAILURE}
 */
public record PageResponse(int pasid, boolean pasidValid, int grpid, int code) {
    /** IOMMU_PAGE_RESP_SUCCESS: retry the translation. */
    public static final int SUCCESS = 0;
    /** IOMMU_PAGE_RESP_INVALID: the request is invalid, do not retry. */
    public static final int INVALID = 1;
    /** IOMMU_PAGE_RESP_FAILURE: the request failed; the device should disable PRI. */
    public static final int FAILURE = 2;
}
