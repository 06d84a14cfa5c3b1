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

    /** {@code arm_smmu_make_s2_domain_ste}. */
    static void s2DomainSte(long[] t, LpaeIoPageTable pt, int vmid, boolean ats, boolean fwb, boolean attrTypesOverride,
            boolean coherentWalk) {
        java.util.Arrays.fill(t, 0);
        t[0] = f(StreamTableEntry.V, 1) | f(StreamTableEntry.CONFIG, StreamTableEntry.CONFIG_S2_TRANS);
        t[1] = (ats ? f(StreamTableEntry.EATS, StreamTableEntry.EATS_TRANS) : 0) | (fwb ? f(StreamTableEntry.S2FWB, 1) : 0)
                | (attrTypesOverride ? f(StreamTableEntry.SHCFG, StreamTableEntry.SHCFG_INCOMING) : 0);
        int cache = coherentWalk ? StreamTableEntry.CACHE_WBRA : 0;
        t[2] = f(StreamTableEntry.S2VMID, vmid) | f(StreamTableEntry.S2T0SZ, pt.tsz()) | f(StreamTableEntry.S2SL0, pt.sl0())
                | f(StreamTableEntry.S2IR0, cache) | f(StreamTableEntry.S2OR0, cache)
                | f(StreamTableEntry.S2SH0, coherentWalk ? StreamTableEntry.SH_ISH : 0)
                | f(StreamTableEntry.S2TG, pt.granule.s2tg())
                | f(StreamTableEntry.S2PS, SmmuRegisters.addressSizeEncoding(pt.oas))
                | f(StreamTableEntry.S2AA64, 1) | f(StreamTableEntry.S2PTW, 1) | f(StreamTableEntry.S2R, 1);
        t[3] = pt.pgd & ConfigurationUsedBits.S2TTB_MASK;
    }

    /** {@code arm_smmu_make_s1_cd}. */
    static void s1Cd(long[] t, LpaeIoPageTable pt, int asid, boolean httu, boolean coherentWalk) {
        java.util.Arrays.fill(t, 0);
        int cache = coherentWalk ? 1 : 0; // WBWA
        t[0] = f(ContextDescriptor.T0SZ, pt.tsz()) | f(ContextDescriptor.TG0, pt.granule.tg0())
                | f(ContextDescriptor.IR0, cache) | f(ContextDescriptor.OR0, cache)
                | f(ContextDescriptor.SH0, coherentWalk ? 3 : 0) | f(ContextDescriptor.EPD1, 1) | f(ContextDescriptor.V, 1)
                | f(ContextDescriptor.IPS, SmmuRegisters.addressSizeEncoding(pt.oas)) | f(ContextDescriptor.AA64, 1)
                | f(ContextDescriptor.R, 1) | f(ContextDescriptor.A, 1) | f(ContextDescriptor.ASET, 1)
                | f(ContextDescriptor.ASID, asid);
        if (httu) {
            t[0] |= f(ContextDescriptor.HA, 1) | f(ContextDescriptor.HD, 1);
        }
        t[1] = pt.pgd & ConfigurationUsedBits.TTB0_MASK;
        t[3] = ContextDescriptor.LINUX_MAIR;
    }
}
