package dev.iommufd.spi;

/**
 * Where a driver reports events for a vIOMMU ({@code iommufd_viommu_report_event}): the core queues them into the
 * vIOMMU's vEVENTQ of that type, or counts them lost.
 */
public interface ViommuEventSink {

    /**
     * @param viommu the vIOMMU the event belongs to
     * @param type {@code enum iommu_veventq_type}
     * @param data the vendor event record (for SMMUv3: the event with the StreamID replaced by the virtual ID)
     */
    void reportEvent(Viommu viommu, int type, byte[] data);
}
