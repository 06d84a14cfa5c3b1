package dev.iommufd.platform;

/**
 * A PCI function's address: segment (domain), bus, device, function.
 *
 * <p>The requester ID (RID) that tags the function's DMA is {@code bus << 8 | device << 3 | function}.
 */
public record PciAddress(int segment, int bus, int device, int function) implements Comparable<PciAddress> {

    public PciAddress {
        if (segment < 0 || segment > 0xffff || bus < 0 || bus > 0xff || device < 0 || device > 0x1f
                || function < 0 || function > 7) {
            throw new IllegalArgumentException(String.format("bad PCI address %x:%x:%x.%x", segment, bus, device, function));
        }
    }

    /** The 16-bit requester ID. */
    public int rid() {
        return bus << 8 | device << 3 | function;
    }

    /** {@code devfn} as Linux packs it. */
    public int devfn() {
        return device << 3 | function;
    }

    /**
     * Parses {@code SSSS:BB:DD.F} or {@code BB:DD.F} (segment 0).
     *
     * @throws IllegalArgumentException with the offending text
     */
    public static PciAddress parse(String text) {
        String[] parts = text.split(":");
        try {
            int seg = 0;
            int i = 0;
            if (parts.length == 3) {
                seg = Integer.parseInt(parts[0], 16);
                i = 1;
            } else if (parts.length != 2) {
                throw new IllegalArgumentException("not a PCI address (SSSS:BB:DD.F): '" + text + "'");
            }
            int bus = Integer.parseInt(parts[i], 16);
            String[] df = parts[i + 1].split("\\.");
            if (df.length != 2) {
                throw new IllegalArgumentException("not a PCI address (SSSS:BB:DD.F): '" + text + "'");
            }
            return new PciAddress(seg, bus, Integer.parseInt(df[0], 16), Integer.parseInt(df[1], 16));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a PCI address (SSSS:BB:DD.F): '" + text + "'", e);
        }
    }

    @Override
    public int compareTo(PciAddress o) {
        int c = Integer.compare(segment, o.segment);
        return c != 0 ? c : Integer.compare(rid(), o.rid());
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%x", segment, bus, device, function);
    }
}
