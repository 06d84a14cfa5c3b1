package dev.iommufd.vtd.layout;

/**
 * Root-table entry (VT-d spec 9.1 legacy, 9.2 scalable mode): 128 bits, 256 entries per 4 KiB root table,
 * indexed by PCI bus number.
 *
 * <pre>
 *  Legacy (RTADDR.TTM = 00):
 *   63                               12 11        1   0
 *  +-----------------------------------+-----------+---+
 *  |               CTP                 | reserved  | P |   lo (qword 0)
 *  +-----------------------------------+-----------+---+
 *  |                    reserved                       |   hi (qword 1)
 *  +---------------------------------------------------+
 *
 *  Scalable mode (TTM = 01): both halves have the lo layout.
 *   lo: LCTP/LP - context table for devfn   0..127 (32-byte scalable-mode context entries)
 *   hi: UCTP/UP - context table for devfn 128..255
 * </pre>
 *
 * Bits at and above the host address width (HAW) of every pointer are reserved.
 */
public final class RootEntry {
    private RootEntry() {
    }

    /** Bytes per root entry. */
    public static final int SIZE = 16;
    public static final long P = 1L;
    public static final long CTP_MASK = 0xffff_ffff_ffff_f000L;
    /** Reserved bits 11:1 of each half (bits above HAW come from {@link #reservedLo(int)}). */
    public static final long RESERVED_LOW_BITS = 0xffeL;

    public static long entryAddress(long rta, int bus) {
        return rta + (long) bus * SIZE;
    }

    public static long encode(long ctp) {
        return (ctp & CTP_MASK) | P;
    }

    public static boolean present(long half) {
        return (half & P) != 0;
    }

    public static long contextTablePointer(long half) {
        return half & CTP_MASK;
    }

    /** Reserved bits of a legacy lo half, or of either scalable-mode half, for host address width {@code haw}. */
    public static long reservedLo(int haw) {
        return RESERVED_LOW_BITS | Bits.aboveHaw(haw);
    }
}
