package dev.iommufd.spi.hw;

import dev.iommufd.platform.MmioRegion;
import java.util.List;
import java.util.Objects;
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

    /** {@link #translateWindow}'s entry for a request that did not translate (a fault, or a queued page request). */
    long NOT_TRANSLATED = -1L;

    /**
     * Translates a window of requests one function has outstanding at the same time, as a device with several
     * non-posted reads in flight issues them (PCIe allows 32 outstanding requests per function with the 5-bit Tag
     * field, 256 with Extended Tags, 768+ with 10-bit Tags), all with the same PASID and access.
     *
     * <p>The result of each request is what {@link #translate} gives it alone, in window order: the same physical
     * address, the same fault (recorded, or suppressed, exactly as {@code translate} would record it, one record per
     * faulting request, in window order), the same page request. A fault does not stop the window: the requests
     * after it are translated too, as a device's other outstanding requests are. What a unit may change is the
     * time: hardware looks every request up in its IOTLB first and walks the misses together (hit-under-miss,
     * several table walkers), and a model may do the same. The IOTLB may end up holding the same entries in another
     * order than after one-by-one translation (replacement is the unit's choice either way).
     *
     * <p>The default translates the requests one by one with {@link #translate}.
     *
     * @param rid the 16-bit requester ID
     * @param pasid the PASID of every request, or {@link dev.iommufd.platform.DmaAttributes#NO_PASID}
     * @param access the access of every request ({@link Translation#ACCESS_READ}, ...)
     * @param iovas the addresses: {@code iovas[from]} to {@code iovas[from + count - 1]}
     * @param from the index of the window's first request in {@code iovas} and in {@code physOut}
     * @param count the number of requests (0 or more)
     * @param physOut receives at the same index the physical address of each request, or {@link #NOT_TRANSLATED}
     * @param scratch a result the call may overwrite (so that the call allocates nothing)
     * @return the number of requests that translated
     * @throws IndexOutOfBoundsException if the window is not inside {@code iovas} and {@code physOut}; then no
     *         request was translated
     */
    default int translateWindow(int rid, int pasid, int access, long[] iovas, int from, int count, long[] physOut,
            Translation scratch) {
        Objects.checkFromIndexSize(from, count, iovas.length);
        Objects.checkFromIndexSize(from, count, physOut.length);
        int done = 0;
        for (int i = from; i < from + count; i++) {
            done += windowResult(translate(rid, pasid, iovas[i], access, scratch), physOut, i);
        }
        return done;
    }

    /**
     * Stores one request's result as {@link #translateWindow} reports it: {@code physOut[i]} is the translation's
     * physical address, or {@link #NOT_TRANSLATED} when it faulted or queued a page request.
     *
     * @return 1 if the request translated, else 0 (what {@code translateWindow} counts)
     */
    static int windowResult(Translation t, long[] physOut, int i) {
        if (t.isOk()) {
            physOut[i] = t.physicalAddress();
            return 1;
        }
        physOut[i] = NOT_TRANSLATED;
        return 0;
    }

    /**
     * Reports the physical address of every frame the unit may read or write while translating or processing
     * commands, as it finds them from its registers (root/context/PASID tables, stream tables, CDs, page tables,
     * queues). Decoded from memory, not from any driver state.
     */
    void visitStructureFrames(LongConsumer framePhysicalAddress);
}
