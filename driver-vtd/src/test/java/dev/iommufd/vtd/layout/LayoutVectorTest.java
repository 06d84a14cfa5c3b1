package dev.iommufd.vtd.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Every VT-d entry kind against bit vectors computed by hand from the spec's field positions (and, where the
 * reference notes quote one, the value Linux produces).
 */
class LayoutVectorTest {

    @Test
    void capOfTheQemuPresetMatchesHandAssembly() {
        // ND=6 | SAGAW 39+48 (0b110 << 8) | MGAW 47 << 16 | FRO 0x22 << 24 | SLLPS 3 << 34 | PSI | MAMV 18 << 48 | DRD|DWD
        long expected = 0x00d2_008c_222f_0606L;
        long cap = CapabilityRegister.encode(6, 6, 48, 0x22, 3, 0, 18,
                CapabilityRegister.PSI | CapabilityRegister.DRD | CapabilityRegister.DWD);
        assertEquals(expected, cap);
        assertEquals(0x220, CapabilityRegister.faultRecordOffset(cap));
        assertEquals(1, CapabilityRegister.faultRecordCount(cap));
        assertEquals(48, CapabilityRegister.mgaw(cap));
        assertEquals(65536, CapabilityRegister.domainCount(cap));
        assertEquals(18, CapabilityRegister.mamv(cap));
    }

    @Test
    void ecapFieldsAtTheirBits() {
        // IRO 0xF << 8 | QI (bit 1) | PT (bit 6) = 0xf42
        assertEquals(0xf42L, ExtendedCapabilityRegister.encode(0xf, 0, ExtendedCapabilityRegister.QI | ExtendedCapabilityRegister.PT));
        assertEquals(0xf0, ExtendedCapabilityRegister.iotlbRegisterOffset(0xf42L));
        // PSS 19 at bits 39:35 = 19 << 35 = 0x98_0000_0000; SMTS bit 43 = 0x800_0000_0000
        long ecap = ExtendedCapabilityRegister.encode(0, 19, ExtendedCapabilityRegister.SMTS);
        assertEquals(0x898_0000_0000L, ecap);
        assertEquals(20, ExtendedCapabilityRegister.pasidBits(ecap));
    }

    @Test
    void agawArithmetic() {
        assertEquals(39, CapabilityRegister.agawToWidth(1));
        assertEquals(57, CapabilityRegister.agawToWidth(3));
        assertEquals(5, CapabilityRegister.agawToLevels(3));
        assertEquals(1, CapabilityRegister.widthToAgaw(39));
        assertEquals(2, CapabilityRegister.widthToAgaw(40));
        assertEquals(2, CapabilityRegister.widthToAgaw(48));
        assertEquals(3, CapabilityRegister.widthToAgaw(57));
    }

    @Test
    void rootEntry() {
        assertEquals(0x1234_5001L, RootEntry.encode(0x1234_5000L));
        assertEquals(0x1234_5000L, RootEntry.contextTablePointer(0x1234_5001L));
        assertEquals(0x1000L + 0x20 * 16, RootEntry.entryAddress(0x1000, 0x20));
        // HAW 48: bits 63:48 and 11:1 reserved
        assertEquals(0xffff_0000_0000_0ffeL, RootEntry.reservedLo(48));
    }

    @Test
    void legacyContextEntry() {
        // SLPTPTR 0x12345000, TT 1 (device TLB), P  -> lo = 0x12345005 ; AW 2, DID 5 -> hi = 0x502
        assertEquals(0x1234_5005L, ContextEntry.encodeLo(0x1234_5000L, ContextEntry.TT_DEV_IOTLB, false));
        assertEquals(0x1234_5007L, ContextEntry.encodeLo(0x1234_5000L, ContextEntry.TT_DEV_IOTLB, true));
        assertEquals(0x502L, ContextEntry.encodeHi(2, 5));
        // pass-through TT=2: lo = 0x9 with P
        assertEquals(0x9L, ContextEntry.encodeLo(0, ContextEntry.TT_PASS_THROUGH, false));
        assertEquals(0xffffL, ContextEntry.did(ContextEntry.encodeHi(1, 0xffff)));
        assertEquals(1, ContextEntry.aw(0xffff01L));
        assertEquals(0x1000 + 0x21 * 16, ContextEntry.entryAddress(0x1000, 0x21));
    }

    @Test
    void scalableContextEntryAsLinuxWritesIt() {
        // reference: PASIDDIR 0x105a84000, PDTS 2, DTE, P -> 0x1_05a8_4405
        assertEquals(0x1_05a8_4405L, ScalableContextEntry.encodeQ0(0x1_05a8_4000L, 2, true, false, false, false));
        // PASIDE bit 3, PRE bit 4: 0x18
        assertEquals(0x1_05a8_441dL, ScalableContextEntry.encodeQ0(0x1_05a8_4000L, 2, true, true, true, false));
        assertEquals(2, ScalableContextEntry.pdts(0x1_05a8_4405L));
        // PDTS 2 -> 2^9 directory entries -> 2^15 PASIDs
        assertEquals(1 << 15, ScalableContextEntry.pasidLimit(0x1_05a8_4405L));
        // 2^20 PASIDs -> 2^14 directory entries -> PDTS 7
        assertEquals(7, ScalableContextEntry.pdtsFor(1 << 20));
        // devfn 0x85 sits in the upper table at index 5
        assertEquals(0x2000 + 5 * 32, ScalableContextEntry.entryAddress(0x2000, 0x85));
    }

    @Test
    void pasidDirectoryEntry() {
        assertEquals(0x5000 + 3 * 8, PasidDirectoryEntry.entryAddress(0x5000, (3 << 6) | 7));
        assertEquals(0x7001L, PasidDirectoryEntry.encode(0x7000, false));
        assertEquals(0x7003L, PasidDirectoryEntry.encode(0x7000, true));
    }

    @Test
    void pasidTableEntriesAsLinuxWritesThem() {
        // first stage: val0 = 0x49 (P, AW=2, PGTT=1), val1 = 2 (DID 2), val2 = 0x1_05a8_6000 (FLPTPTR, FLPM 0)
        assertEquals(0x49L, PasidTableEntry.encodeQ0(0, 2, PasidTableEntry.PGTT_FIRST_STAGE, false, false));
        assertEquals(2L, PasidTableEntry.encodeQ1(2, false, false));
        assertEquals(0x1_05a8_6000L, PasidTableEntry.encodeQ2(0x1_05a8_6000L, 0, false, false, false));
        // second stage: val0 = 0x1_049b_b089 (SLPTR, PGTT=2, AW=2, P)
        assertEquals(0x1_049b_b089L, PasidTableEntry.encodeQ0(0x1_049b_b000L, 2, PasidTableEntry.PGTT_SECOND_STAGE, false, false));
        // SSADE bit 9 + FPD bit 1
        assertEquals(0x1_049b_b28bL, PasidTableEntry.encodeQ0(0x1_049b_b000L, 2, PasidTableEntry.PGTT_SECOND_STAGE, true, true));
        // pass-through PGTT=4 -> 0x100 | AW 2 << 2 | P
        assertEquals(0x109L, PasidTableEntry.encodeQ0(0, 2, PasidTableEntry.PGTT_PASS_THROUGH, false, false));
        // PWSNP bit 87 = q1 bit 23, PGSNP bit 88 = q1 bit 24
        assertEquals(0x180_0001L, PasidTableEntry.encodeQ1(1, true, true));
        // 5-level FSPM=1 -> bit 130 = q2 bit 2; SRE q2 bit 0; WPE bit 4; EAFE bit 7
        assertEquals(0x3000L | 0x4 | 0x1 | 0x10 | 0x80, PasidTableEntry.encodeQ2(0x3000, 1, true, true, true));
        assertEquals(0x9000 + 5 * 64, PasidTableEntry.entryAddress(0x9000, (1 << 6) | 5));
    }

    @Test
    void secondStageEntries() {
        assertEquals(0x1003L, SecondStagePte.table(0x1000));
        // 2 MiB leaf at 0x4020_0000, R|W: PS bit 7 -> 0x4020_0083
        assertEquals(0x4020_0083L, SecondStagePte.leaf(0x4020_0000L, 2, SecondStagePte.R | SecondStagePte.W));
        assertEquals(0x5001L, SecondStagePte.leaf(0x5000, 1, SecondStagePte.R));
        assertEquals(0x5803L, SecondStagePte.leaf(0x5000, 1, SecondStagePte.R | SecondStagePte.W | SecondStagePte.SNP));
        // indexes: iova 0x0000_7fc0_1234_5000 -> L1 0x145, L2 0x091, L3 0x100, L4 0x0ff
        long iova = 0x0000_7fc0_1234_5000L;
        assertEquals(0x145, SecondStagePte.index(iova, 1));
        assertEquals(0x091, SecondStagePte.index(iova, 2));
        assertEquals(0x100, SecondStagePte.index(iova, 3));
        assertEquals(0x0ff, SecondStagePte.index(iova, 4));
        assertFalse(SecondStagePte.present(SecondStagePte.A | SecondStagePte.SNP));
        assertTrue(SecondStagePte.present(SecondStagePte.W));
    }

    @Test
    void secondStageReservedMasks() {
        // HAW 48, no SC: level-2 2 MiB leaf: bits 51:48, TM (62), SNP (11), 20:12
        assertEquals(0x400f_0000_001f_f800L, SecondStagePte.reserved(2, true, 48, false));
        // level-3 1 GiB leaf with SC: bits 51:48, TM, 29:12
        assertEquals(0x400f_0000_3fff_f000L, SecondStagePte.reserved(3, true, 48, true));
        // level-4 table: bits 51:48, TM, SNP, PS
        assertEquals(0x400f_0000_0000_0880L, SecondStagePte.reserved(4, false, 48, true));
        // level-1 leaf, HAW 52, SC: only TM
        assertEquals(0x4000_0000_0000_0000L, SecondStagePte.reserved(1, false, 52, true));
    }

    @Test
    void firstStageEntries() {
        // Linux: table = phys | P | RW | US | A = 0x2027 ; writable leaf = | P | US | A | RW | D = 0x5067
        assertEquals(0x2027L, FirstStagePte.table(0x2000));
        assertEquals(0x5067L, FirstStagePte.leaf(0x5000, 1, true));
        assertEquals(0x5025L, FirstStagePte.leaf(0x5000, 1, false));
        // 2 MiB leaf: PS -> 0x20_00e7
        assertEquals(0x20_00e7L, FirstStagePte.leaf(0x20_0000, 2, true));
        assertEquals(0x20_0000L, FirstStagePte.address(0x20_10e7L, 2)); // PAT bit 12 is not address in a large leaf
        // reserved: level 2 large, HAW 48, NXE: bits 51:48 and 20:13
        assertEquals(0x000f_0000_001f_e000L, FirstStagePte.reserved(2, true, 48, true));
        // level 4 without NXE: 51:48, XD, PS
        assertEquals(0x800f_0000_0000_0080L, FirstStagePte.reserved(4, false, 48, false));
    }

    @Test
    void invalidationDescriptorsAsLinuxEncodesThem() {
        // IOTLB DSI did 5 with DR|DW: 2 | 2<<4 | 1<<6 | 1<<7 | 5<<16
        assertEquals(0x5_00e2L, InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DOMAIN, 5));
        assertEquals(0x1234_5043L, InvalidationDescriptor.addressHi(0x1234_5000L, true, 3));
        // wait: SW | status data QI_DONE (2) -> 0x2_0000_0025
        assertEquals(0x2_0000_0025L, InvalidationDescriptor.waitLo(false, true, false, 2));
        assertEquals(0x2_0000_0075L, InvalidationDescriptor.waitLo(true, true, true, 2));
        // context cache device-selective, SID 0x20
        assertEquals(0x20_0000_0031L, InvalidationDescriptor.contextCache(3, 0, 0x20, 0));
        assertEquals(0x3_0020_0000_0031L, InvalidationDescriptor.contextCache(3, 0, 0x20, 3));
        // PASID cache PASID-selective did 2 pasid 1
        assertEquals(0x1_0002_0017L, InvalidationDescriptor.pasidCache(1, 2, 1));
        // PASID-based IOTLB page-selective did 2 pasid 5
        assertEquals(0x5_0002_0036L, InvalidationDescriptor.pasidIotlbLo(3, 2, 5));
        // device TLB sid 0x100, qdep 0: 3 | 0x100 << 32 ; all: mask 52 -> 0x7fff_ffff_ffff_f001
        assertEquals(0x100_0000_0003L, InvalidationDescriptor.deviceTlbLo(0x100, 0, 0));
        assertEquals(0x7fff_ffff_ffff_f001L, InvalidationDescriptor.deviceTlbHi(0, 52));
        assertEquals(0x1000L, InvalidationDescriptor.deviceTlbHi(0x1000, 0));
        // 4 pages at 0x10000: addr | 0x1fff -> 0x11000 | S
        assertEquals(0x1_1001L, InvalidationDescriptor.deviceTlbHi(0x1_0000L, 2));
        assertEquals(14, InvalidationDescriptor.deviceTlbSizeLog2(0x1_1001L, InvalidationDescriptor.DEVTLB_S));
        assertEquals(12, InvalidationDescriptor.deviceTlbSizeLog2(0x1_1000L, InvalidationDescriptor.DEVTLB_S));
        // PASID device TLB: 8 | qdep 1 << 4 | sid 0x100 << 16 | pasid 5 << 32
        assertEquals(0x5_0100_0018L, InvalidationDescriptor.pasidDeviceTlbLo(0x100, 5, 1, 0));
        assertEquals(0x7fff_ffff_ffff_f801L, InvalidationDescriptor.pasidDeviceTlbHi(0, 52, true));
        // page group response: 9 | P (bit 4) | RID 0x100 << 16 | PASID 5 << 32 ; hi: PRG 7 << 3 | LPIG
        assertEquals(0x5_0100_0019L, InvalidationDescriptor.pageGroupResponseLo(0x100, 5, true, 0));
        assertEquals(0x5_0100_1019L, InvalidationDescriptor.pageGroupResponseLo(0x100, 5, true, 1));
        assertEquals(0x3cL, InvalidationDescriptor.pageGroupResponseHi(7, true));
        assertEquals(9, InvalidationDescriptor.type(0x5_0100_0019L));
        assertEquals(0x15, InvalidationDescriptor.type(0x205L)); // qw0[11:9] = 1 -> type 0x15
    }

    @Test
    void faultRecord() {
        // SID 0x20, reason 5, write, no PASID: F | FR 5 << 32 | SID
        assertEquals(0x8000_0005_0000_0020L, FaultRecord.encodeHi(0x20, 5, false, -1, false, false));
        // read + PASID 3: T bit 62, PP bit 31, PV 3 << 40
        long hi = FaultRecord.encodeHi(0x20, 0x71, true, 3, false, false);
        assertEquals(0xc000_0371_8000_0020L, hi);
        assertEquals(3, FaultRecord.pasid(hi));
        assertEquals(0x71, FaultRecord.reason(hi));
        assertTrue(FaultRecord.read(hi));
    }

    @Test
    void pageRequestDescriptor() {
        // RID 0x100, PASID 5: type 1 | PP bit 8 | RID << 16 | PASID << 32
        assertEquals(0x5_0100_0101L, PageRequestDescriptor.encodeQ0(0x100, 5, false, false));
        assertEquals(0x30_0000_0100_0001L, PageRequestDescriptor.encodeQ0(0x100, -1, true, true));
        // addr 0x7000, write, LPIG, PRG 9: 0x7000 | 9 << 3 | 4 | 2
        assertEquals(0x704eL, PageRequestDescriptor.encodeQ1(0x7000, false, true, true, 9));
        assertEquals(9, PageRequestDescriptor.prgIndex(0x704eL));
    }

    @Test
    void registerCommands() {
        // CCMD global: ICC | CIRG 1 << 61
        assertEquals(0xa000_0000_0000_0000L, VtdRegisters.ccmd(1, 0, 0, 0));
        // IOTLB DSI did 3: IVT | IIRG 2 << 60 | DR | DW | DID 3 << 32
        assertEquals(0xa003_0003_0000_0000L, VtdRegisters.iotlbCommand(2, 3));
        assertEquals(256, VtdRegisters.iqEntries(0));
        assertEquals(256, VtdRegisters.iqEntries(VtdRegisters.IQA_DW_256 | 1));
        assertEquals(64 * 1024, VtdRegisters.pqBytes(4));
    }
}
