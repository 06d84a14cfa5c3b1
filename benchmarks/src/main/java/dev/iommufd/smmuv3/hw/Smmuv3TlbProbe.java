package dev.iommufd.smmuv3.hw;

import dev.iommufd.benchmarks.IotlbProbe;
import dev.iommufd.smmuv3.layout.TranslationGranule;

/**
 * B7's access to the SMMUv3 model's {@link Smmuv3Tlb} (package-private): a fresh TLB of {@link Smmuv3Unit}'s size,
 * filled with stage-1 4 KiB entries (VMID 0, one ASID per domain) and invalidated with the verbs the command queue
 * calls for {@code TLBI_NH_VA} ({@code invalidateVa}) and {@code TLBI_NH_ASID} ({@code invalidateAsid}). Lives in
 * the benchmarks module, in the model's package, on the classpath.
 *
 * <p>The page and range invalidations carry the arguments the driver's commands carry: both presets advertise
 * IDR3.RIL, so {@code Smmuv3PagingDomain.invalidateRange} (as Linux's {@code __arm_smmu_tlb_inv_range}) sends
 * TG=4K and, for leaf invalidations of 4 KiB pages, TTL=3; the unit turns that hint into the largest entry a level-3
 * leaf makes ({@link Smmuv3Unit#levelHintShift}) and passes it to {@code invalidateVa}.
 */
public final class Smmuv3TlbProbe implements IotlbProbe {
    /** {@code Smmuv3Unit}'s TLB size. */
    static final int ENTRIES = 4096;
    static final int VMID = 0;
    static final int RW = Smmuv3Tlb.PERM_READ_PRIV | Smmuv3Tlb.PERM_WRITE_PRIV | Smmuv3Tlb.PERM_READ_UNPRIV
            | Smmuv3Tlb.PERM_WRITE_UNPRIV;

    /** The level hint of the driver's leaf TLBI_NH_VA for 4 KiB pages: TG=4K, TTL=3. */
    static final int LEAF_4K_HINT = Smmuv3Unit.levelHintShift(TranslationGranule.G4K, 3);

    private final Smmuv3Tlb tlb = new Smmuv3Tlb(ENTRIES);

    @Override
    public int capacity() {
        return ENTRIES;
    }

    @Override
    public void fill(int domain, long iova, long pa) {
        tlb.fill(Smmuv3Tlb.KIND_S1, VMID, domain, iova, pa, 12, RW);
    }

    @Override
    public void invalidatePages(int domain, long iova, int pages) {
        tlb.invalidateVa(VMID, domain, false, iova, (long) pages << 12, LEAF_4K_HINT);
    }

    @Override
    public void invalidateDomain(int domain) {
        tlb.invalidateAsid(domain);
    }

    @Override
    public int liveEntries() {
        return tlb.liveEntries();
    }
}
