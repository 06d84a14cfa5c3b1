package dev.iommufd.smmuv3;

import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.ContextDescriptor;
import dev.iommufd.smmuv3.layout.StreamTableEntry;

/**
 * What Linux believes the SMMU reads of an STE or CD in a given configuration ({@code arm_smmu_get_ste_used},
 * {@code arm_smmu_get_ste_update_safe}, {@code arm_smmu_get_cd_used}); the input of {@link EntryWriter}.
 * Address masks are Linux's ({@code STRTAB_STE_0_S1CTXPTR_MASK} GENMASK(51,6), {@code STRTAB_STE_3_S2TTB_MASK}
 * GENMASK(51,4), {@code CTXDESC_CD_1_TTB0_MASK} GENMASK(51,4)).
 */
final class ConfigurationUsedBits {
    private ConfigurationUsedBits() {
    }

    static final long S1CTXPTR_MASK = 0x000f_ffff_ffff_ffc0L;
    static final long S2TTB_MASK = 0x000f_ffff_ffff_fff0L;
    static final long TTB0_MASK = 0x000f_ffff_ffff_fff0L;

    private static long m(long field) {
        return BitField.mask(field);
    }

    /** {@code arm_smmu_get_ste_used}. */
    static void steUsed(long[] ent, long[] used) {
        used[0] = m(StreamTableEntry.V);
        if ((ent[0] & m(StreamTableEntry.V)) == 0) {
            return;
        }
        used[0] |= m(StreamTableEntry.CONFIG);
        int cfg = (int) BitField.get(ent, StreamTableEntry.CONFIG);
        if ((cfg & 1) != 0) { // S1 translates
            used[0] |= m(StreamTableEntry.S1FMT) | S1CTXPTR_MASK | m(StreamTableEntry.S1CDMAX);
            used[1] |= m(StreamTableEntry.S1DSS) | m(StreamTableEntry.S1CIR) | m(StreamTableEntry.S1COR)
                    | m(StreamTableEntry.S1CSH) | m(StreamTableEntry.S1STALLD) | m(StreamTableEntry.STRW)
                    | m(StreamTableEntry.EATS) | m(StreamTableEntry.MEV);
            used[2] |= m(StreamTableEntry.S2VMID);
            if (BitField.get(ent, StreamTableEntry.S1DSS) == StreamTableEntry.S1DSS_BYPASS) {
                used[1] |= m(StreamTableEntry.SHCFG);
            }
        }
        if ((cfg & 2) != 0) { // S2 translates
            used[1] |= m(StreamTableEntry.S2FWB) | m(StreamTableEntry.EATS) | m(StreamTableEntry.SHCFG)
                    | m(StreamTableEntry.MEV);
            used[2] |= m(StreamTableEntry.S2VMID) | m(StreamTableEntry.VTCR) | m(StreamTableEntry.S2AA64)
                    | m(StreamTableEntry.S2ENDI) | m(StreamTableEntry.S2PTW) | m(StreamTableEntry.S2S)
                    | m(StreamTableEntry.S2R);
            used[3] |= S2TTB_MASK;
        }
        if (cfg == StreamTableEntry.CONFIG_BYPASS) {
            used[1] |= m(StreamTableEntry.SHCFG);
        }
    }

    /** {@code arm_smmu_get_ste_update_safe}. */
    static void steUpdateSafe(long[] cur, long[] target, long[] safe) {
        long eatsS1chk = BitField.place(StreamTableEntry.EATS, StreamTableEntry.EATS_S1CHK);
        long eatsTrans = BitField.place(StreamTableEntry.EATS, StreamTableEntry.EATS_TRANS);
        if (((cur[1] | target[1]) & eatsS1chk) == 0 && ((cur[2] | target[2]) & m(StreamTableEntry.S2S)) == 0) {
            safe[1] |= eatsTrans;
        }
        safe[1] |= m(StreamTableEntry.MEV);
    }

    /** {@code arm_smmu_get_cd_used}. */
    static void cdUsed(long[] ent, long[] used) {
        used[0] = m(ContextDescriptor.V);
        if ((ent[0] & m(ContextDescriptor.V)) == 0) {
            return;
        }
        java.util.Arrays.fill(used, -1L);
        if ((ent[0] & m(ContextDescriptor.EPD0)) != 0) {
            used[0] &= ~(m(ContextDescriptor.T0SZ) | m(ContextDescriptor.TG0) | m(ContextDescriptor.IR0)
                    | m(ContextDescriptor.OR0) | m(ContextDescriptor.SH0));
            used[1] &= ~TTB0_MASK;
        }
    }
}
