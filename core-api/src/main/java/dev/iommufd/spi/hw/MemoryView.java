package dev.iommufd.spi.hw;

/**
 * Read-only physical memory as a {@link StructureDecoder} sees it: the frames a snapshot holds, nothing else. The
 * decoder must ask {@link #contains} before trusting a read: a frame that is not held reads as zeros.
 */
public interface MemoryView {
    /** Whether the 4 KiB frame holding {@code physicalAddress} is held. */
    boolean contains(long physicalAddress);

    /** The little-endian 64-bit word at {@code physicalAddress} (8-byte aligned); 0 when the frame is not held. */
    long read64(long physicalAddress);
}
