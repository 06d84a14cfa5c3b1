package dev.iommufd.spi.hw;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Where the architected registers of a hardware model's MMIO window are and how wide each is: the layout a model
 * checks every MMIO access against, and the register list it offers for snapshots. Only the layout; what a read
 * returns and what a write does stay in the model.
 *
 * <p>A register is 32 or 64 bits wide and naturally aligned (a 64-bit register at an offset that is a multiple of
 * 8, a 32-bit one at a multiple of 4), inside {@code [0, windowSize)}, and no two registers overlap. Any other
 * offset is a hole. A register is either <em>listed</em> (in {@link #registers()}, so snapshots and decoders read
 * it) or <em>write-only</em> (accessible, but reading it back means nothing, so it is not listed).
 *
 * <p>Access decoding ({@link #access(long, int)}), for models whose 64-bit registers may also be accessed as two
 * 32-bit halves (VT-d, SMMUv3: a 4-byte access at the register's offset is its low half, at offset + 4 its high
 * half). Models that allow only the register's own width use {@link #widthAt(long)} and check it themselves.
 *
 * <p>Immutable and thread-safe. {@link #widthAt} and {@link #access} allocate nothing (a binary search over
 * primitive arrays), so MMIO paths may call them on every access.
 */
public final class RegisterMap {
    /** {@link #access}: no register is accessed (a hole, a wrong width, a misaligned or out-of-window offset). */
    public static final int NONE = 0;
    /** {@link #access}: a 4-byte access to a 32-bit register at the offset. */
    public static final int REG32 = 1;
    /** {@link #access}: an 8-byte access to a 64-bit register at the offset. */
    public static final int REG64 = 2;
    /** {@link #access}: a 4-byte access to bits [31:0] of the 64-bit register at the offset. */
    public static final int LOW32 = 3;
    /** {@link #access}: a 4-byte access to bits [63:32] of the 64-bit register at offset - 4. */
    public static final int HIGH32 = 4;

    private final long windowSize;
    /** Every register's offset (listed and write-only), ascending. */
    private final long[] offsets;
    /** The width in bits of the register at the same index of {@link #offsets}. */
    private final int[] widths;
    /** The listed registers, ascending offset. */
    private final List<RegisterInfo> registers;

    private RegisterMap(long windowSize, long[] offsets, int[] widths, List<RegisterInfo> registers) {
        this.windowSize = windowSize;
        this.offsets = offsets;
        this.widths = widths;
        this.registers = registers;
    }

    /** A builder of a window of {@code windowSize} bytes ({@code > 0}). */
    public static Builder builder(long windowSize) {
        if (windowSize <= 0) {
            throw new IllegalArgumentException("window size " + windowSize + " is not positive");
        }
        return new Builder(windowSize);
    }

    /** The window's size in bytes. */
    public long windowSize() {
        return windowSize;
    }

    /** The listed registers (not the write-only ones), in ascending offset order; unmodifiable. */
    public List<RegisterInfo> registers() {
        return registers;
    }

    /** The width in bits (32 or 64) of the register at exactly {@code offset}, or 0 when none starts there. */
    public int widthAt(long offset) {
        int i = Arrays.binarySearch(offsets, offset);
        return i >= 0 ? widths[i] : 0;
    }

    /**
     * What an access of {@code width} bytes at {@code offset} reaches, allowing 32-bit halves of 64-bit
     * registers: {@link #REG32}, {@link #REG64}, {@link #LOW32}, {@link #HIGH32}, or {@link #NONE} for a bus error.
     * An 8-byte access reaches only a 64-bit register at exactly {@code offset}; every width other than 4 and 8 is
     * {@link #NONE}.
     */
    public int access(long offset, int width) {
        if (width == 8) {
            return widthAt(offset) == 64 ? REG64 : NONE;
        }
        if (width != 4 || (offset & 3) != 0) {
            return NONE;
        }
        int w = widthAt(offset);
        if (w == 32) {
            return REG32;
        }
        if (w == 64) {
            return LOW32;
        }
        return (offset & 7) == 4 && widthAt(offset - 4) == 64 ? HIGH32 : NONE;
    }

    /** Collects the registers of one window; {@link #build} checks the layout. Not thread-safe. */
    public static final class Builder {
        private final long windowSize;
        private final List<RegisterInfo> all = new ArrayList<>();
        private final List<Boolean> listed = new ArrayList<>();

        private Builder(long windowSize) {
            this.windowSize = windowSize;
        }

        /** Adds a listed register: {@code width} in bits, 32 or 64. */
        public Builder register(long offset, String name, int width) {
            return add(new RegisterInfo(offset, name, width), true);
        }

        /** Adds a write-only register: accessible at its width, not in {@link RegisterMap#registers()}. */
        public Builder writeOnly(long offset, String name, int width) {
            return add(new RegisterInfo(offset, name, width), false);
        }

        private Builder add(RegisterInfo r, boolean isListed) {
            if (r.width() != 32 && r.width() != 64) {
                throw new IllegalArgumentException(r.name() + ": width " + r.width() + " is not 32 or 64");
            }
            if (r.offset() < 0 || r.offset() > windowSize - r.width() / 8) {
                throw new IllegalArgumentException(r.name() + ": offset 0x" + Long.toHexString(r.offset())
                        + " is outside the 0x" + Long.toHexString(windowSize) + "-byte window");
            }
            if (r.offset() % (r.width() / 8) != 0) {
                throw new IllegalArgumentException(r.name() + ": offset 0x" + Long.toHexString(r.offset())
                        + " is not aligned to its width " + r.width());
            }
            all.add(r);
            listed.add(isListed);
            return this;
        }

        /**
         * The map.
         *
         * @throws IllegalArgumentException if two registers overlap
         */
        public RegisterMap build() {
            Integer[] order = new Integer[all.size()];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Long.compare(all.get(a).offset(), all.get(b).offset()));
            long[] offsets = new long[order.length];
            int[] widths = new int[order.length];
            List<RegisterInfo> registers = new ArrayList<>();
            for (int i = 0; i < order.length; i++) {
                RegisterInfo r = all.get(order[i]);
                if (i > 0 && offsets[i - 1] + widths[i - 1] / 8 > r.offset()) {
                    throw new IllegalArgumentException(r.name() + " at 0x" + Long.toHexString(r.offset())
                            + " overlaps " + all.get(order[i - 1]).name());
                }
                offsets[i] = r.offset();
                widths[i] = r.width();
                if (listed.get(order[i])) {
                    registers.add(r);
                }
            }
            return new RegisterMap(windowSize, offsets, widths, Collections.unmodifiableList(registers));
        }
    }
}
