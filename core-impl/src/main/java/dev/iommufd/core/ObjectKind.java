package dev.iommufd.core;

/** {@code enum iommufd_object_type}: what an object of a context is. */
public enum ObjectKind {
    /** Matches every kind in a lookup ({@code IOMMUFD_OBJ_ANY}); no object has it. */
    ANY,
    ACCESS,
    DEVICE,
    FAULT,
    HW_QUEUE,
    HWPT_PAGING,
    HWPT_NESTED,
    IOAS,
    VDEVICE,
    VEVENTQ,
    VIOMMU,
    /** Objects created by IOMMU_TEST_CMD (the selftest device). */
    SELFTEST
}
