package dev.iommufd.spi.hw;

import dev.iommufd.platform.MmioRegion;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * One IOMMU hardware unit: a register window and a translation engine.
 *
 * <p>Thread-safety: {@link #translate} may run concurrently from many device threads and concurrently with
 * register accesses; the model documents its locks. A hit in the unit's IOTLB allocates nothing.
 */
public interface IommuUnitModel extends MmioRegion {

    /** The unit's name ({@code dmar0}). */
    String name();

    /** The hardware model id ({@code vtd}). */
    String model();

    /** Where the register window sits. */
    long mmioBase();

    /** Every architected register software can read, in offset order (for snapshots). */
    List<RegisterInfo> registers();

    /** Reads a register's current value without side effects (for snapshots and decoders). */
    long peekRegister(RegisterInfo register);

    /**
     * Translates one DMA access from the function with requester ID {@code rid}.
     *
     * @param rid the 16-bit requester ID
     * @param pasid the PASID of the TLP prefix, or {@link dev.iommufd.platform.DmaAttributes#NO_PASID}
     * @param iova the address the device used
     * @param access {@link Translation#ACCESS_READ}, {@code ACCESS_WRITE}, {@code ACCESS_EXEC}, {@code ACCESS_PRIV}
     * @param out receives the result; also returned
     */
    Translation translate(int rid, int pasid, long iova, int access, Translation out);

    /**
     * Reports the physical address of every frame the unit may read or write while translating or processing
     * commands, as it finds them from its registers (root/context/PASID tables, stream tables, CDs, page tables,
     * queues). Decoded from memory, not from any driver state.
     */
    void visitStructureFrames(LongConsumer framePhysicalAddress);
}
