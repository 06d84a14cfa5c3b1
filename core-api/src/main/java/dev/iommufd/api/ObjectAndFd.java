package dev.iommufd.api;

/**
 * The result of an allocation that creates an object and a file for it (IOMMU_FAULT_QUEUE_ALLOC,
 * IOMMU_VEVENTQ_ALLOC): the object ID and the descriptor number ({@link Iommufd#eventQueueFile}).
 */
public record ObjectAndFd(int id, int fd) {
}
