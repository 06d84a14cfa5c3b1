package dev.iommufd.spi.hw;

import java.util.List;

/**
 * Decodes the hardware structures of one IOMMU hardware model field by field, from register values and raw
 * memory alone (a snapshot), never from a live driver or unit: root, context and PASID entries for VT-d, stream
 * table entries and context descriptors for SMMUv3, and the page-table walk behind each device.
 *
 * <p>Found with {@link java.util.ServiceLoader} and selected by {@link #model()} (the
 * {@link HardwareModelProvider#id()} of the model it decodes); registered with
 * {@code @AutoService(StructureDecoder.class)}. Added with the machine snapshot (iommufd-sim decode).
 *
 * <p>Implementations are stateless and thread-safe.
 */
public interface StructureDecoder {
    /** A PCI function behind the unit, by its requester ID, as the snapshot lists it. */
    record Device(String bdf, int rid, int pasidBits) {
    }

    /** The hardware model id this decoder understands ({@code vtd}, {@code smmuv3}). */
    String model();

    /**
     * Decodes the unit's configuration and every structure it reaches.
     *
     * @param registers the unit's registers
     * @param memory the frames the snapshot holds
     * @param devices the functions behind the unit; each one's translation structures are decoded in its own
     *        {@link DecodedNode.Kind#GROUP} named after its BDF, whose {@link DecodedNode.Kind#TABLE} descendants
     *        form its page-table tree(s)
     * @return a {@link DecodedNode.Kind#GROUP} node for the unit
     */
    DecodedNode decode(RegisterValues registers, MemoryView memory, List<Device> devices);
}
