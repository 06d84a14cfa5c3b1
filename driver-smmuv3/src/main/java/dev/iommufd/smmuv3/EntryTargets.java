package dev.iommufd.smmuv3;

import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.ContextDescriptor;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import dev.iommufd.smmuv3.layout.StreamTableEntry;

/**
 * The target STEs and CDs Linux builds ({@code arm_smmu_make_abort_ste}, {@code _bypass_ste},
 * {@code _cdtable_ste}, {@code _s2_domain_ste}, {@code arm_smmu_make_s1_cd}). Each fills all eight dwords.
 */
final class EntryTargets {
    private EntryTargets() {
    }

    private static long f(long field, long value) {
        return BitField.place(field, value);
    }

    static void abortSte(long[] t) {
        java.util.Arrays.fill(t, 0);
        t[0] = f(StreamTableEntry.V, 1) | f(StreamTableEntry.CONFIG, StreamTableEntry.CONFIG_ABORT);
    }

    static void bypassSte(long[] t, boolean attrTypesOverride) {
        java.util.Arrays.fill(t, 0);
        t[0] = f(StreamTableEntry.V, 1) | f(StreamTableEntry.CONFIG, StreamTableEntry.CONFIG_BYPASS);
        if (attrTypesOverride) {
            t[1] = f(StreamTableEntry.SHCFG, StreamTableEntry.SHCFG_INCOMING);
        }
    }

    /** {@code arm_smmu_make_cdtable_ste} (NS-EL1 StreamWorld: the SMMU model has no E2H). */
    static void cdTableSte(long[] t, long cdTable, int s1Fmt, int s1CdMax, boolean ats, int s1Dss,
            boolean stallDisable, boolean attrTypesOverride) {
        java.util.Arrays.fill(t, 0);
        t[0] = f(StreamTableEntry.V, 1) | f(StreamTableEntry.CONFIG, StreamTableEntry.CONFIG_S1_TRANS)
                | f(StreamTableEntry.S1FMT, s1Fmt) | cdTable & ConfigurationUsedBits.S1CTXPTR_MASK
                | f(StreamTableEntry.S1CDMAX, s1CdMax);
        t[1] = f(StreamTableEntry.S1DSS, s1Dss) | f(StreamTableEntry.S1CIR, StreamTableEntry.CACHE_WBRA)
                | f(StreamTableEntry.S1COR, StreamTableEntry.CACHE_WBRA) | f(StreamTableEntry.S1CSH, StreamTableEntry.SH_ISH)
                | (stallDisable ? f(StreamTableEntry.S1STALLD, 1) : 0)
                | (ats ? f(StreamTableEntry.EATS, StreamTableEntry.EATS_TRANS) : 0)
                | f(StreamTableEntry.STRW, StreamTableEntry.STRW_NSEL1);
        t[2] = f(StreamTableEntry.S2VMID, 0);
        if (s1Dss == StreamTableEntry.S1DSS_BYPASS && attrTypesOverride) {
            t[1] |= f(StreamTableEntry.SHCFG, StreamTableEntry.SHCFG_INCOMING);
        }
    }

    /** {@code arm_smmu_make_s2_domain_ste} for an {@link LpaeIoPageTable}. */
    static void s2DomainSte(long[] t, LpaeIoPageTable pt, int vmid, boolean ats, boolean fwb, boolean attrTypesOverride,
            boolean coherentWalk, boolean stall) {
        int cache = coherentWalk ? StreamTableEntry.CACHE_WBRA : 0;
        s2DomainSte(t, vmid, pt.tsz(), pt.sl0(), cache, cache, coherentWalk ? StreamTableEntry.SH_ISH : 0,
                pt.granule.s2tg(), SmmuRegisters.addressSizeEncoding(pt.oas), pt.pgd, ats, fwb, stall, attrTypesOverride);
    }

    /** {@code arm_smmu_make_s2_domain_ste} from raw VTCR fields ({@code struct arm_lpae_s2_cfg}). */
    static void s2DomainSte(long[] t, int vmid, int tsz, int sl, int irgn, int orgn, int sh, int tg, int ps, long vttbr,
            boolean ats, boolean fwb, boolean stall, boolean attrTypesOverride) {
        java.util.Arrays.fill(t, 0);
        t[0] = f(StreamTableEntry.V, 1) | f(StreamTableEntry.CONFIG, StreamTableEntry.CONFIG_S2_TRANS);
        t[1] = (ats ? f(StreamTableEntry.EATS, StreamTableEntry.EATS_TRANS) : 0) | (fwb ? f(StreamTableEntry.S2FWB, 1) : 0)
                | (attrTypesOverride ? f(StreamTableEntry.SHCFG, StreamTableEntry.SHCFG_INCOMING) : 0);
        t[2] = f(StreamTableEntry.S2VMID, vmid) | f(StreamTableEntry.S2T0SZ, tsz) | f(StreamTableEntry.S2SL0, sl)
                | f(StreamTableEntry.S2IR0, irgn) | f(StreamTableEntry.S2OR0, orgn) | f(StreamTableEntry.S2SH0, sh)
                | f(StreamTableEntry.S2TG, tg) | f(StreamTableEntry.S2PS, ps)
                | f(StreamTableEntry.S2AA64, 1) | f(StreamTableEntry.S2PTW, 1) | (stall ? f(StreamTableEntry.S2S, 1) : 0)
                | f(StreamTableEntry.S2R, 1);
        t[3] = vttbr & ConfigurationUsedBits.S2TTB_MASK;
    }

    /** {@code arm_smmu_make_s1_cd} for an {@link LpaeIoPageTable}. */
    static void s1Cd(long[] t, LpaeIoPageTable pt, int asid, boolean httu, boolean coherentWalk, boolean stall) {
        int cache = coherentWalk ? 1 : 0; // WBWA
        s1Cd(t, asid, pt.tsz(), pt.granule.tg0(), cache, cache, coherentWalk ? 3 : 0,
                SmmuRegisters.addressSizeEncoding(pt.oas), pt.pgd, ContextDescriptor.LINUX_MAIR, httu, stall);
    }

    /** {@code arm_smmu_make_s1_cd} from raw TCR fields ({@code struct arm_lpae_s1_cfg}). */
    static void s1Cd(long[] t, int asid, int tsz, int tg, int irgn, int orgn, int sh, int ips, long ttbr, long mair,
            boolean httu, boolean stall) {
        java.util.Arrays.fill(t, 0);
        t[0] = f(ContextDescriptor.T0SZ, tsz) | f(ContextDescriptor.TG0, tg)
                | f(ContextDescriptor.IR0, irgn) | f(ContextDescriptor.OR0, orgn)
                | f(ContextDescriptor.SH0, sh) | f(ContextDescriptor.EPD1, 1) | f(ContextDescriptor.V, 1)
                | f(ContextDescriptor.IPS, ips) | f(ContextDescriptor.AA64, 1) | (stall ? f(ContextDescriptor.S, 1) : 0)
                | f(ContextDescriptor.R, 1) | f(ContextDescriptor.A, 1) | f(ContextDescriptor.ASET, 1)
                | f(ContextDescriptor.ASID, asid);
        if (httu) {
            t[0] |= f(ContextDescriptor.HA, 1) | f(ContextDescriptor.HD, 1);
        }
        t[1] = ttbr & ConfigurationUsedBits.TTB0_MASK;
        t[3] = mair;
    }
}
