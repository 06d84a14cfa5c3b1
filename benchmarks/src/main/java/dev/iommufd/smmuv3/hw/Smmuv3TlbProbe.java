package dev.iommufd.smmuv3.hw;

import dev.iommufd.benchmarks.IotlbProbe;

/**
 * B7's access to the SMMUv3 model's {@link Smmuv3Tlb} (package-private): a fresh TLB of {@link Smmuv3Unit}'s size,
 * filled with stage-1 4 KiB entries (VMID 0, one ASID per domain) and invalidated with the verbs the command queue
 * calls for {@code TLBI_NH_VA} ({@code invalidateVa}) and {@code TLBI_NH_ASID} ({@code invalidateAsid}). Lives in
 * the benchmarks module, in the model's package, on the classpath.
 */
public final class Smmuv3TlbProbe implements IotlbProbe {
    /** {@code Smmuv3Unit}'s TLB size. */
    static final int ENTRIES = 4096;
    static final int VMID = 0;
    static final int RW = Smmuv3Tlb.PERM_READ_PRIV | Smmuv3Tlb.PERM_WRITE_PRIV | Smmuv3Tlb.PERM_READ_UNPRIV
            | Smmuv3Tlb.PERM_WRITE_UNPRIV;

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
        tlb.invalidateVa(VMID, domain, false, iova, (long) pages << 12);
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
