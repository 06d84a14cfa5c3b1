package dev.iommufd.smmuv3;

import static dev.iommufd.smmuv3.layout.SmmuRegisters.*;

import dev.iommufd.smmuv3.layout.TranslationGranule;

/**
 * What the driver learned from the ID registers ({@code arm_smmu_device_hw_probe}): decoded by the driver from
 * the raw register values it read over MMIO, independently of the hardware model. Immutable.
 */
final class SmmuFeatures {
    final int[] idr = new int[6];
    final int iidr;
    final int aidr;

    final boolean stage1;
    final boolean stage2;
    final boolean twoLevelStrtab;
    final boolean twoLevelCdtab;
    final boolean coherent;
    final boolean httuAccess;
    final boolean httuDirty;
    final boolean ats;
    final boolean pri;
    final boolean msi;
    final boolean hyp;
    final boolean rangeInvalidation;
    final boolean fwb;
    final boolean attrTypesOverride;
    final boolean stall;
    /** STALL_MODEL=0b10: every fault stalls ({@code ARM_SMMU_FEAT_STALL_FORCE}). */
    final boolean stallForce;
    final int asidBits;
    final int vmidBits;
    final int sidBits;
    final int ssidBits;
    final int cmdqShift;
    final int evtqShift;
    final int priqShift;
    final int oas;
    final int ias;
    final long pgsizeBitmap;

    SmmuFeatures(int[] raw, int iidr, int aidr) {
        System.arraycopy(raw, 0, idr, 0, 6);
        this.iidr = iidr;
        this.aidr = aidr;
        int idr0 = raw[0];
        int idr1 = raw[1];
        int idr3 = raw[3];
        int idr5 = raw[5];
        twoLevelStrtab = (idr0 >>> IDR0_ST_LEVEL_SHIFT & 3) == IDR0_ST_LEVEL_2LVL;
        twoLevelCdtab = (idr0 & IDR0_CD2L) != 0;
        coherent = (idr0 & IDR0_COHACC) != 0;
        int httu = idr0 >>> IDR0_HTTU_SHIFT & 3;
        httuAccess = httu >= IDR0_HTTU_ACCESS;
        httuDirty = httu >= IDR0_HTTU_ACCESS_DIRTY;
        ats = (idr0 & IDR0_ATS) != 0;
        pri = (idr0 & IDR0_PRI) != 0;
        msi = (idr0 & IDR0_MSI) != 0;
        hyp = (idr0 & IDR0_HYP) != 0;
        int stallModel = idr0 >>> IDR0_STALL_MODEL_SHIFT & 3;
        stall = stallModel == IDR0_STALL_MODEL_STALL_TERMINATE || stallModel == IDR0_STALL_MODEL_FORCED;
        stallForce = stallModel == IDR0_STALL_MODEL_FORCED;
        asidBits = (idr0 & IDR0_ASID16) != 0 ? 16 : 8;
        vmidBits = (idr0 & IDR0_VMID16) != 0 ? 16 : 8;
        int ttf = idr0 >>> IDR0_TTF_SHIFT & 3;
        boolean aarch64 = (ttf & 2) != 0;
        stage1 = (idr0 & IDR0_S1P) != 0 && aarch64;
        stage2 = (idr0 & IDR0_S2P) != 0 && aarch64;
        cmdqShift = Math.min(idr1 >>> IDR1_CMDQS_SHIFT & 0x1f, 8);
        evtqShift = Math.min(idr1 >>> IDR1_EVENTQS_SHIFT & 0x1f, 7);
        priqShift = Math.min(idr1 >>> IDR1_PRIQS_SHIFT & 0x1f, 8);
        sidBits = idr1 & 0x3f;
        ssidBits = idr1 >>> IDR1_SSIDSIZE_SHIFT & 0x1f;
        attrTypesOverride = (idr1 & IDR1_ATTR_TYPES_OVR) != 0;
        rangeInvalidation = (idr3 & IDR3_RIL) != 0;
        fwb = (idr3 & IDR3_FWB) != 0;
        int oasBits = addressSizeBits(idr5 & IDR5_OAS_MASK);
        oas = Math.min(oasBits, 52);
        ias = (ttf & 1) != 0 ? Math.max(oas, 40) : oas;
        long bitmap = 0;
        if ((idr5 & IDR5_GRAN4K) != 0) {
            bitmap |= 1L << 12 | 1L << 21 | 1L << 30;
        }
        if ((idr5 & IDR5_GRAN16K) != 0) {
            bitmap |= 1L << 14 | 1L << 25;
        }
        if ((idr5 & IDR5_GRAN64K) != 0) {
            bitmap |= 1L << 16 | 1L << 29;
        }
        pgsizeBitmap = bitmap;
    }

    /**
     * The granule a domain uses ({@code arm_lpae_restrict_pgsizes} with the kernel's 4 KiB PAGE_SIZE): 4 KiB if
     * supported, else the smallest larger supported granule.
     */
    TranslationGranule granule() {
        if ((pgsizeBitmap & 1L << 12) != 0) {
            return TranslationGranule.G4K;
        }
        if ((pgsizeBitmap & 1L << 14) != 0) {
            return TranslationGranule.G16K;
        }
        return TranslationGranule.G64K;
    }
}
