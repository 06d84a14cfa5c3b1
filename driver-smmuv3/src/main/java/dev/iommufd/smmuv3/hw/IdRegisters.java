package dev.iommufd.smmuv3.hw;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import java.util.List;
import java.util.Map;

/**
 * The identification registers of one unit (SMMU_IDR0-5, IIDR, AIDR) and the features decoded from them.
 * Built from a named preset plus per-register overrides ({@code IommuUnitConfig.overrides}: {@code "IDR0"},
 * ..., {@code "IDR5"}, {@code "IIDR"}, {@code "AIDR"}). Immutable.
 *
 * <h2>Presets</h2>
 * <ul>
 *   <li>{@code qemu}: QEMU's {@code smmuv3} defaults (hw/arm/smmuv3.c smmuv3_init_regs): stage 1 only,
 *       AArch64 tables, little-endian, COHACC, ASID16, 2-level stream table, terminate-only stall model with
 *       TERM_MODEL=1, SIDSIZE 16, no substreams, 2^19-entry queues, RIL, 44-bit OAS, 4K/16K/64K granules.
 *       One deviation: IDR0.MSI=1, because this platform has no wired interrupts (QEMU signals wired IRQs).</li>
 *   <li>{@code server}: a current server SMMU: S1P+S2P, ASID16/VMID16, HTTU access+dirty, BTM, COHACC, ATS and
 *       PRI, MSI, 2-level CD tables, SSIDSIZE 20, SIDSIZE 16, attribute overrides, RIL, FWB, 48-bit OAS,
 *       4K/16K/64K granules. STALL_MODEL is terminate-only (PCI functions never stall); override IDR0 with
 *       STALL_MODEL 0 (stall and terminate) or 2 (forced) to exercise the stall model.</li>
 * </ul>
 */
final class IdRegisters {
    static final List<String> PRESETS = List.of("qemu", "server");

    final int idr0;
    final int idr1;
    final int idr2;
    final int idr3;
    final int idr4;
    final int idr5;
    final int iidr;
    final int aidr;

    IdRegisters(int idr0, int idr1, int idr2, int idr3, int idr4, int idr5, int iidr, int aidr) {
        this.idr0 = idr0;
        this.idr1 = idr1;
        this.idr2 = idr2;
        this.idr3 = idr3;
        this.idr4 = idr4;
        this.idr5 = idr5;
        this.iidr = iidr;
        this.aidr = aidr;
    }

    static IdRegisters preset(String name, Map<String, Long> overrides) {
        int[] r;
        switch (name) {
            case "qemu":
                r = new int[] {
                    SmmuRegisters.IDR0_S1P | SmmuRegisters.IDR0_TTF_AARCH64 << SmmuRegisters.IDR0_TTF_SHIFT
                            | SmmuRegisters.IDR0_COHACC | SmmuRegisters.IDR0_ASID16 | SmmuRegisters.IDR0_MSI
                            | SmmuRegisters.IDR0_TTENDIAN_LE << SmmuRegisters.IDR0_TTENDIAN_SHIFT
                            | SmmuRegisters.IDR0_STALL_MODEL_TERMINATE << SmmuRegisters.IDR0_STALL_MODEL_SHIFT
                            | SmmuRegisters.IDR0_TERM_MODEL
                            | SmmuRegisters.IDR0_ST_LEVEL_2LVL << SmmuRegisters.IDR0_ST_LEVEL_SHIFT,
                    16 | 19 << SmmuRegisters.IDR1_EVENTQS_SHIFT | 19 << SmmuRegisters.IDR1_CMDQS_SHIFT,
                    0,
                    SmmuRegisters.IDR3_RIL | 2 << SmmuRegisters.IDR3_BBML_SHIFT,
                    0,
                    4 | SmmuRegisters.IDR5_GRAN4K | SmmuRegisters.IDR5_GRAN16K | SmmuRegisters.IDR5_GRAN64K,
                    0x0000_043b, // Implementer 0x43b (Arm)
                    0x01, // SMMUv3.1
                };
                break;
            case "server":
                r = new int[] {
                    SmmuRegisters.IDR0_S2P | SmmuRegisters.IDR0_S1P
                            | SmmuRegisters.IDR0_TTF_AARCH64 << SmmuRegisters.IDR0_TTF_SHIFT
                            | SmmuRegisters.IDR0_COHACC | SmmuRegisters.IDR0_BTM
                            | SmmuRegisters.IDR0_HTTU_ACCESS_DIRTY << SmmuRegisters.IDR0_HTTU_SHIFT
                            | SmmuRegisters.IDR0_ATS | SmmuRegisters.IDR0_ASID16 | SmmuRegisters.IDR0_MSI
                            | SmmuRegisters.IDR0_SEV | SmmuRegisters.IDR0_PRI | SmmuRegisters.IDR0_VMID16
                            | SmmuRegisters.IDR0_CD2L
                            | SmmuRegisters.IDR0_TTENDIAN_LE << SmmuRegisters.IDR0_TTENDIAN_SHIFT
                            | SmmuRegisters.IDR0_STALL_MODEL_TERMINATE << SmmuRegisters.IDR0_STALL_MODEL_SHIFT
                            | SmmuRegisters.IDR0_TERM_MODEL
                            | SmmuRegisters.IDR0_ST_LEVEL_2LVL << SmmuRegisters.IDR0_ST_LEVEL_SHIFT,
                    16 | 20 << SmmuRegisters.IDR1_SSIDSIZE_SHIFT | 19 << SmmuRegisters.IDR1_PRIQS_SHIFT
                            | 19 << SmmuRegisters.IDR1_EVENTQS_SHIFT | 19 << SmmuRegisters.IDR1_CMDQS_SHIFT
                            | SmmuRegisters.IDR1_ATTR_TYPES_OVR | SmmuRegisters.IDR1_ATTR_PERMS_OVR,
                    0,
                    SmmuRegisters.IDR3_RIL | SmmuRegisters.IDR3_FWB | 2 << SmmuRegisters.IDR3_BBML_SHIFT,
                    0,
                    5 | SmmuRegisters.IDR5_GRAN4K | SmmuRegisters.IDR5_GRAN16K | SmmuRegisters.IDR5_GRAN64K
                            | 256 << SmmuRegisters.IDR5_STALL_MAX_SHIFT,
                    0x0000_043b,
                    0x02, // SMMUv3.2
                };
                break;
            default:
                throw ErrnoException.of(Errno.EINVAL, "unknown smmuv3 preset '%s' (known: %s)", name, PRESETS);
        }
        for (Map.Entry<String, Long> o : overrides.entrySet()) {
            int idx;
            switch (o.getKey()) {
                case "IDR0": idx = 0; break;
                case "IDR1": idx = 1; break;
                case "IDR2": idx = 2; break;
                case "IDR3": idx = 3; break;
                case "IDR4": idx = 4; break;
                case "IDR5": idx = 5; break;
                case "IIDR": idx = 6; break;
                case "AIDR": idx = 7; break;
                default:
                    throw ErrnoException.of(Errno.EINVAL,
                            "unknown smmuv3 override '%s' (known: IDR0-IDR5, IIDR, AIDR)", o.getKey());
            }
            long v = o.getValue();
            if ((v >>> 32) != 0) {
                throw ErrnoException.of(Errno.EINVAL, "override %s=%#x does not fit the 32-bit register", o.getKey(), v);
            }
            r[idx] = (int) v;
        }
        IdRegisters id = new IdRegisters(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
        id.checkImplemented();
        return id;
    }

    private static ErrnoException notImplemented(String what) {
        return ErrnoException.of(Errno.EOPNOTSUPP, "smmuv3 model: not implemented: %s", what);
    }

    /**
     * Refuses ID values that advertise what this model does not implement, so that no configuration claims a
     * feature that would then silently misbehave; refuses reserved encodings with EINVAL.
     */
    private void checkImplemented() {
        if (ttf() == 0) {
            throw ErrnoException.of(Errno.EINVAL, "IDR0.TTF=0 is reserved");
        }
        if ((ttf() & 1) != 0) {
            throw notImplemented("AArch32 (VMSAv8-32 LPAE) translation tables (IDR0.TTF=" + ttf() + ")");
        }
        if (ttEndian() != SmmuRegisters.IDR0_TTENDIAN_LE) {
            throw notImplemented("big-endian translation tables (IDR0.TTENDIAN=" + ttEndian() + ")");
        }
        if (hyp()) {
            throw notImplemented("the EL2 StreamWorld (IDR0.Hyp=1)");
        }
        if (stallModel() == 3) {
            throw ErrnoException.of(Errno.EINVAL, "IDR0.STALL_MODEL=3 is reserved");
        }
        if ((idr5 & (SmmuRegisters.IDR5_DS | 1 << 8)) != 0) {
            throw notImplemented("FEAT_LPA2 / 128-bit descriptors (IDR5.DS, IDR5.D128)");
        }
        if ((idr1 & (SmmuRegisters.IDR1_REL | SmmuRegisters.IDR1_QUEUES_PRESET | SmmuRegisters.IDR1_TABLES_PRESET
                | 1 << 31)) != 0) {
            throw notImplemented("preset/relative queue and table bases or ECMDQ (IDR1.REL/QUEUES_PRESET/TABLES_PRESET/ECMDQ)");
        }
        if ((idr5 & (SmmuRegisters.IDR5_GRAN4K | SmmuRegisters.IDR5_GRAN16K | SmmuRegisters.IDR5_GRAN64K)) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "IDR5 advertises no translation granule");
        }
    }

    boolean s1p() {
        return (idr0 & SmmuRegisters.IDR0_S1P) != 0;
    }

    boolean s2p() {
        return (idr0 & SmmuRegisters.IDR0_S2P) != 0;
    }

    int ttf() {
        return idr0 >>> SmmuRegisters.IDR0_TTF_SHIFT & 3;
    }

    int httu() {
        return idr0 >>> SmmuRegisters.IDR0_HTTU_SHIFT & 3;
    }

    boolean hyp() {
        return (idr0 & SmmuRegisters.IDR0_HYP) != 0;
    }

    boolean ats() {
        return (idr0 & SmmuRegisters.IDR0_ATS) != 0;
    }

    boolean ns1ats() {
        return (idr0 & SmmuRegisters.IDR0_NS1ATS) != 0;
    }

    boolean asid16() {
        return (idr0 & SmmuRegisters.IDR0_ASID16) != 0;
    }

    boolean msi() {
        return (idr0 & SmmuRegisters.IDR0_MSI) != 0;
    }

    boolean pri() {
        return (idr0 & SmmuRegisters.IDR0_PRI) != 0;
    }

    boolean vmid16() {
        return (idr0 & SmmuRegisters.IDR0_VMID16) != 0;
    }

    boolean cd2l() {
        return (idr0 & SmmuRegisters.IDR0_CD2L) != 0;
    }

    int ttEndian() {
        return idr0 >>> SmmuRegisters.IDR0_TTENDIAN_SHIFT & 3;
    }

    int stallModel() {
        return idr0 >>> SmmuRegisters.IDR0_STALL_MODEL_SHIFT & 3;
    }

    boolean termModel() {
        return (idr0 & SmmuRegisters.IDR0_TERM_MODEL) != 0;
    }

    boolean twoLevelStreamTable() {
        return (idr0 >>> SmmuRegisters.IDR0_ST_LEVEL_SHIFT & 3) == SmmuRegisters.IDR0_ST_LEVEL_2LVL;
    }

    int sidSize() {
        return idr1 & 0x3f;
    }

    int ssidSize() {
        return idr1 >>> SmmuRegisters.IDR1_SSIDSIZE_SHIFT & 0x1f;
    }

    int priqs() {
        return idr1 >>> SmmuRegisters.IDR1_PRIQS_SHIFT & 0x1f;
    }

    int eventqs() {
        return idr1 >>> SmmuRegisters.IDR1_EVENTQS_SHIFT & 0x1f;
    }

    int cmdqs() {
        return idr1 >>> SmmuRegisters.IDR1_CMDQS_SHIFT & 0x1f;
    }

    boolean stt() {
        return (idr3 & SmmuRegisters.IDR3_STT) != 0;
    }

    boolean ril() {
        return (idr3 & SmmuRegisters.IDR3_RIL) != 0;
    }

    boolean fwb() {
        return (idr3 & SmmuRegisters.IDR3_FWB) != 0;
    }

    /** Output address size in bits (IDR5.OAS). */
    int oasBits() {
        return SmmuRegisters.addressSizeBits(idr5 & SmmuRegisters.IDR5_OAS_MASK);
    }

    /** Input (IPA) size in bits: max(OAS, 40 if AArch32 tables are supported). */
    int iasBits() {
        int ias = oasBits();
        if ((ttf() & 1) != 0) {
            ias = Math.max(ias, 40);
        }
        return ias;
    }

    boolean granuleSupported(int idr5Bit) {
        return (idr5 & idr5Bit) != 0;
    }

    int vax() {
        return idr5 >>> SmmuRegisters.IDR5_VAX_SHIFT & 3;
    }
}
