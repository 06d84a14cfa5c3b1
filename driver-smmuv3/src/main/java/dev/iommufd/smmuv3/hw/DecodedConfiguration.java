package dev.iommufd.smmuv3.hw;

/**
 * The configuration a transaction of one (StreamID, SubstreamID) uses, decoded from its STE and CD once and
 * cached until a CFGI command drops it ({@link ConfigurationCache}): the TLB tag (kind, VMID, ASID), which stages
 * translate, and the decoded table formats (a frozen {@link TranslationTableWalker} that walks copy from).
 *
 * <p>Only configurations that reach the TLB are cached this way (stage 1 and/or stage 2 translating); abort,
 * bypass and every configuration error take the unit's locked path, which reports them. Immutable once
 * published: safe to read without a lock.
 */
final class DecodedConfiguration {
    final int sid;
    /** The transaction's SubstreamID, or {@code DmaAttributes.NO_PASID}. */
    final int ssid;
    /** The TLB kind the configuration produces ({@link Smmuv3Tlb#KIND_S1}, {@code KIND_S2}, {@code KIND_NESTED}). */
    final int kind;
    final int vmid;
    final int asid;
    /** Stage 1 translates (otherwise the input address is the IPA). */
    final boolean useS1;
    /** Stage 2 translates. */
    final boolean s2;
    /** The decoded STE and CD; never walked with (walks copy it, see TranslationTableWalker.loadConfiguration). */
    final TranslationTableWalker decoded;

    DecodedConfiguration(int sid, int ssid, int kind, int vmid, int asid, boolean useS1, boolean s2,
            TranslationTableWalker decoded) {
        this.sid = sid;
        this.ssid = ssid;
        this.kind = kind;
        this.vmid = vmid;
        this.asid = asid;
        this.useS1 = useS1;
        this.s2 = s2;
        this.decoded = decoded;
    }
}
