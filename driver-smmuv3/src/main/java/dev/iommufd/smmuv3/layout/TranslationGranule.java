package dev.iommufd.smmuv3.layout;

/**
 * The three VMSAv8-64 translation granules and their geometry (Arm ARM D8.2): levels, bits per level, block
 * levels, contiguous spans, and the encodings of the granule in CD.TG0, STE.S2TG and TLBI TG.
 *
 * <pre>
 *            granule  stride  level 0     level 1     level 2      level 3    blocks at         contiguous (L1/L2/L3)
 *  4 KiB     12       9       [47:39]     [38:30]     [29:21]      [20:12]    L1 1G, L2 2M      16 / 16 / 16
 *  16 KiB    14       11      [47]        [46:36]     [35:25]      [24:14]    L2 32M            -  / 32 / 128
 *  64 KiB    16       13      -           [51:42]     [41:29]      [28:16]    L2 512M (L1 4T*)  -  / 32 / 32
 *                                                                            * only with 52-bit output (LPA)
 * </pre>
 */
public enum TranslationGranule {
    G4K(12, ContextDescriptor.TG0_4K, StreamTableEntry.S2TG_4K, 1),
    G16K(14, ContextDescriptor.TG0_16K, StreamTableEntry.S2TG_16K, 2),
    G64K(16, ContextDescriptor.TG0_64K, StreamTableEntry.S2TG_64K, 3);

    private final int shift;
    private final int tg0;
    private final int s2tg;
    private final int tlbiTg;

    TranslationGranule(int shift, int tg0, int s2tg, int tlbiTg) {
        this.shift = shift;
        this.tg0 = tg0;
        this.s2tg = s2tg;
        this.tlbiTg = tlbiTg;
    }

    /** log2 of the granule size. */
    public int shift() {
        return shift;
    }

    public long size() {
        return 1L << shift;
    }

    /** Address bits resolved per level: {@code shift - 3}. */
    public int stride() {
        return shift - 3;
    }

    /** Bytes per table (one granule). */
    public int entriesPerTable() {
        return 1 << stride();
    }

    /** The lowest input address bit a descriptor at {@code level} (0..3) resolves. */
    public int levelShift(int level) {
        return shift + stride() * (3 - level);
    }

    /** Bytes a block or page descriptor at {@code level} maps. */
    public long levelSize(int level) {
        return 1L << levelShift(level);
    }

    /**
     * Whether a block descriptor is allowed at {@code level} (without FEAT_LPA2/DS): 4K L1 and L2; 16K L2;
     * 64K L2, and L1 when the output size is 52 bits.
     */
    public boolean blockAllowed(int level, int outputBits) {
        switch (this) {
            case G4K: return level == 1 || level == 2;
            case G16K: return level == 2;
            default: return level == 2 || (level == 1 && outputBits == 52);
        }
    }

    /** Entries in a contiguous set at {@code level} (Arm ARM D8.6.1), 0 where the hint does not apply. */
    public int contiguousEntries(int level) {
        switch (this) {
            case G4K: return level >= 1 ? 16 : 0;
            case G16K: return level == 3 ? 128 : level == 2 ? 32 : 0;
            default: return level >= 2 ? 32 : 0;
        }
    }

    /** Number of levels needed for an input size of {@code inputBits}: {@code ceil((ia - g) / stride)}. */
    public int levels(int inputBits) {
        return (inputBits - shift + stride() - 1) / stride();
    }

    /** Start level of a stage-1 walk for {@code inputBits} (= 64 - TxSZ). */
    public int startLevel(int inputBits) {
        return 4 - levels(inputBits);
    }

    /** CD.TG0 encoding. */
    public int tg0() {
        return tg0;
    }

    /** STE.S2TG encoding. */
    public int s2tg() {
        return s2tg;
    }

    /** TLBI range TG encoding (1 4K, 2 16K, 3 64K). */
    public int tlbiTg() {
        return tlbiTg;
    }

    /** The granule for CD.TG0, or null when reserved. */
    public static TranslationGranule fromTg0(int tg0) {
        switch (tg0) {
            case ContextDescriptor.TG0_4K: return G4K;
            case ContextDescriptor.TG0_16K: return G16K;
            case ContextDescriptor.TG0_64K: return G64K;
            default: return null;
        }
    }

    /** The granule for STE.S2TG, or null when reserved. */
    public static TranslationGranule fromS2tg(int s2tg) {
        switch (s2tg) {
            case StreamTableEntry.S2TG_4K: return G4K;
            case StreamTableEntry.S2TG_16K: return G16K;
            case StreamTableEntry.S2TG_64K: return G64K;
            default: return null;
        }
    }

    /** The granule for a TLBI TG, or null for 0 (no range/hint). */
    public static TranslationGranule fromTlbiTg(int tg) {
        switch (tg) {
            case 1: return G4K;
            case 2: return G16K;
            case 3: return G64K;
            default: return null;
        }
    }

    /** The granule of {@code 2^shift} bytes. */
    public static TranslationGranule ofShift(int shift) {
        switch (shift) {
            case 12: return G4K;
            case 14: return G16K;
            case 16: return G64K;
            default: throw new IllegalArgumentException("not a granule shift: " + shift);
        }
    }

    /** The IDR5 bit that advertises this granule. */
    public int idr5Bit() {
        switch (this) {
            case G4K: return SmmuRegisters.IDR5_GRAN4K;
            case G16K: return SmmuRegisters.IDR5_GRAN16K;
            default: return SmmuRegisters.IDR5_GRAN64K;
        }
    }
}
