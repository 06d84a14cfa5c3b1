package dev.iommufd.smmuv3.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Hand-computed bit vectors for every layout: the expected values below were worked out by hand from IHI0070
 * (chapters 4-7) and the Arm ARM D8 descriptor formats, not produced by the code under test.
 */
class LayoutVectorsTest {

    @Test
    void steFieldPositionsMatchIhi0070Section5_2() {
        long[] ste = new long[8];
        BitField.set(ste, StreamTableEntry.V, 1);
        BitField.set(ste, StreamTableEntry.CONFIG, StreamTableEntry.CONFIG_S1_TRANS);
        BitField.set(ste, StreamTableEntry.S1FMT, StreamTableEntry.S1FMT_4K_L2);
        BitField.set(ste, StreamTableEntry.S1CDMAX, 20);
        ste[0] |= 0x0000_0040_0000_2000L; // S1ContextPtr kept in place
        // V=1, Config=0b101 -> 0xB, S1Fmt=1 -> 0x10, S1CDMax=20 at [63:59] -> 0xA000_0000_0000_0000
        assertEquals(0xA000_0040_0000_201BL, ste[0]);
        assertEquals(0x0000_0040_0000_2000L, StreamTableEntry.s1ContextPtr(ste[0]));

        BitField.set(ste, StreamTableEntry.S1DSS, StreamTableEntry.S1DSS_SSID0);
        BitField.set(ste, StreamTableEntry.S1CIR, 1);
        BitField.set(ste, StreamTableEntry.S1COR, 1);
        BitField.set(ste, StreamTableEntry.S1CSH, 3);
        BitField.set(ste, StreamTableEntry.EATS, StreamTableEntry.EATS_TRANS);
        BitField.set(ste, StreamTableEntry.SHCFG, 1);
        BitField.set(ste, StreamTableEntry.MEV, 1);
        // 2 | 1<<2 | 1<<4 | 3<<6 = 0xD6; EATS 1<<28; MEV 1<<19; SHCFG 1<<44
        assertEquals(0x0000_1000_1008_00D6L, ste[1]);
    }

    @Test
    void steStage2WordMatchesLinuxVtcrPacking() {
        long[] ste = new long[8];
        BitField.set(ste, StreamTableEntry.S2VMID, 5);
        BitField.set(ste, StreamTableEntry.S2T0SZ, 16);
        BitField.set(ste, StreamTableEntry.S2SL0, 2);
        BitField.set(ste, StreamTableEntry.S2IR0, 1);
        BitField.set(ste, StreamTableEntry.S2OR0, 1);
        BitField.set(ste, StreamTableEntry.S2SH0, 3);
        BitField.set(ste, StreamTableEntry.S2TG, StreamTableEntry.S2TG_4K);
        BitField.set(ste, StreamTableEntry.S2PS, 5);
        BitField.set(ste, StreamTableEntry.S2AA64, 1);
        BitField.set(ste, StreamTableEntry.S2PTW, 1);
        BitField.set(ste, StreamTableEntry.S2R, 1);
        assertEquals(0x044D_3590_0000_0005L, ste[2]);
        // STRTAB_STE_2_VTCR is GENMASK(50,32)
        assertEquals(0x0007_FFFF_0000_0000L, BitField.mask(StreamTableEntry.VTCR));
        ste[3] = 0x0000_0000_4123_4560L;
        assertEquals(0x4123_4560L, StreamTableEntry.s2Ttb(ste[3]));
        assertEquals(0x00FF_FFFF_FFFF_FFF0L, BitField.mask(StreamTableEntry.S2TTB));
    }

    @Test
    void configEncodingsSelectStages() {
        assertFalse(StreamTableEntry.stage1Enabled(StreamTableEntry.CONFIG_BYPASS));
        assertTrue(StreamTableEntry.stage1Enabled(StreamTableEntry.CONFIG_S1_TRANS));
        assertFalse(StreamTableEntry.stage2Enabled(StreamTableEntry.CONFIG_S1_TRANS));
        assertTrue(StreamTableEntry.stage2Enabled(StreamTableEntry.CONFIG_S2_TRANS));
        assertTrue(StreamTableEntry.stage1Enabled(StreamTableEntry.CONFIG_NESTED));
        assertTrue(StreamTableEntry.stage2Enabled(StreamTableEntry.CONFIG_NESTED));
        assertFalse(StreamTableEntry.stage1Enabled(StreamTableEntry.CONFIG_ABORT));
    }

    @Test
    void cdWordsMatchLinuxMakeS1Cd() {
        long[] cd = new long[8];
        BitField.set(cd, ContextDescriptor.T0SZ, 16);
        BitField.set(cd, ContextDescriptor.TG0, ContextDescriptor.TG0_4K);
        BitField.set(cd, ContextDescriptor.IR0, 1);
        BitField.set(cd, ContextDescriptor.OR0, 1);
        BitField.set(cd, ContextDescriptor.SH0, 3);
        BitField.set(cd, ContextDescriptor.EPD1, 1);
        BitField.set(cd, ContextDescriptor.V, 1);
        BitField.set(cd, ContextDescriptor.IPS, 5);
        BitField.set(cd, ContextDescriptor.AA64, 1);
        BitField.set(cd, ContextDescriptor.R, 1);
        BitField.set(cd, ContextDescriptor.A, 1);
        BitField.set(cd, ContextDescriptor.ASET, 1);
        BitField.set(cd, ContextDescriptor.ASID, 0x1234);
        assertEquals(0x1234_E205_C000_3510L, cd[0]);
        BitField.set(cd, ContextDescriptor.HA, 1);
        BitField.set(cd, ContextDescriptor.HD, 1);
        assertEquals(0x1234_EE05_C000_3510L, cd[0]); // HD bit 42, HA bit 43
        assertEquals(0x00FF_FFFF_FFFF_FFF0L, BitField.mask(ContextDescriptor.TTB0));
        assertEquals(0x4000_1001L, ContextDescriptor.encodeL1(0x4000_1000L));
        assertThrows(IllegalArgumentException.class, () -> ContextDescriptor.encodeL1(0x4000_1800L));
    }

    @Test
    void l1StreamTableDescriptorSpanAndAlignment() {
        long d = StreamTableDescriptor.encode(0x4000_4000L, 9);
        assertEquals(0x4000_4009L, d);
        assertEquals(9, StreamTableDescriptor.span(d));
        // Span 9 -> 256 STEs = 16 KiB: L2Ptr[13:0] treated as zero
        assertEquals(0x4000_4000L, StreamTableDescriptor.l2Table(0x4000_6009L));
        assertEquals(0x4000_6000L, StreamTableDescriptor.l2Table(0x4000_6007L)); // span 7 -> 64 STEs = 4 KiB
    }

    @Test
    void granuleGeometryPerArmArmD8_2() {
        assertEquals(39, TranslationGranule.G4K.levelShift(0));
        assertEquals(30, TranslationGranule.G4K.levelShift(1));
        assertEquals(21, TranslationGranule.G4K.levelShift(2));
        assertEquals(12, TranslationGranule.G4K.levelShift(3));
        assertEquals(47, TranslationGranule.G16K.levelShift(0));
        assertEquals(36, TranslationGranule.G16K.levelShift(1));
        assertEquals(25, TranslationGranule.G16K.levelShift(2));
        assertEquals(14, TranslationGranule.G16K.levelShift(3));
        assertEquals(42, TranslationGranule.G64K.levelShift(1));
        assertEquals(29, TranslationGranule.G64K.levelShift(2));
        assertEquals(16, TranslationGranule.G64K.levelShift(3));
        assertEquals(0, TranslationGranule.G4K.startLevel(48));
        assertEquals(1, TranslationGranule.G4K.startLevel(39));
        assertEquals(2, TranslationGranule.G4K.startLevel(30));
        assertEquals(0, TranslationGranule.G16K.startLevel(48));
        assertEquals(1, TranslationGranule.G16K.startLevel(47));
        assertEquals(1, TranslationGranule.G64K.startLevel(48));
        assertEquals(2, TranslationGranule.G64K.startLevel(42));
        assertTrue(TranslationGranule.G4K.blockAllowed(1, 48));
        assertFalse(TranslationGranule.G4K.blockAllowed(0, 48));
        assertFalse(TranslationGranule.G16K.blockAllowed(1, 48));
        assertFalse(TranslationGranule.G64K.blockAllowed(1, 48));
        assertTrue(TranslationGranule.G64K.blockAllowed(1, 52));
        assertEquals(16, TranslationGranule.G4K.contiguousEntries(3));
        assertEquals(128, TranslationGranule.G16K.contiguousEntries(3));
        assertEquals(32, TranslationGranule.G16K.contiguousEntries(2));
        assertEquals(32, TranslationGranule.G64K.contiguousEntries(3));
        assertEquals(TranslationGranule.G16K, TranslationGranule.fromTg0(2));
        assertEquals(TranslationGranule.G64K, TranslationGranule.fromS2tg(1));
        assertNull(TranslationGranule.fromTg0(3));
        assertEquals(3, TranslationGranule.G64K.tlbiTg());
    }

    @Test
    void descriptorAddressesPerGranule() {
        // 4K page at 0x4567_8000: AF | nG | SH=IS | AP[1] | AttrIndx=1 | page
        long page4k = 0x4567_8000L | TranslationDescriptor.AF | TranslationDescriptor.NG | TranslationDescriptor.SH_IS
                | TranslationDescriptor.AP_UNPRIV | 1L << TranslationDescriptor.ATTRINDX_SHIFT | TranslationDescriptor.TYPE_PAGE;
        assertEquals(0x4567_8F47L, page4k);
        assertEquals(0x4567_8000L, TranslationDescriptor.outputAddress(page4k, TranslationGranule.G4K, 12));
        // a 2 MiB block: OA[47:21]
        assertEquals(0x4560_0000L, TranslationDescriptor.outputAddress(0x4567_8F45L, TranslationGranule.G4K, 21));
        // 16K page: OA[47:14]
        assertEquals(0x4567_8000L, TranslationDescriptor.outputAddress(0x4567_BF47L, TranslationGranule.G16K, 14));
        // 64K with 52-bit PA: PA[51:48] in bits [15:12]
        long pa52 = 0x000A_BCDE_F001_0000L;
        assertEquals(0x0000_BCDE_F001_A000L, TranslationDescriptor.addressField(pa52, TranslationGranule.G64K));
        assertEquals(pa52, TranslationDescriptor.outputAddress(0x0000_BCDE_F001_A003L, TranslationGranule.G64K, 16));
        assertTrue(TranslationDescriptor.addressEncodable(pa52, TranslationGranule.G64K));
        assertFalse(TranslationDescriptor.addressEncodable(pa52, TranslationGranule.G4K));
        assertTrue(TranslationDescriptor.isTable(0x4000_1003L, 2));
        assertFalse(TranslationDescriptor.isTable(0x4000_1003L, 3));
        assertEquals(0x0060_0000_0000_0000L, TranslationDescriptor.XN);
    }

    @Test
    void commandVectorsMatchIhi0070Chapter4() {
        long[] c = new long[2];
        Command.cfgiSte(c, 0x1234, true);
        assertEquals(0x0000_1234_0000_0003L, c[0]);
        assertEquals(1L, c[1]);
        Command.cfgiCd(c, 0x10, 5, true);
        assertEquals(0x0000_0010_0000_5005L, c[0]);
        Command.cfgiAll(c);
        assertEquals(0x04L, c[0]);
        assertEquals(31L, c[1]);
        Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 3, 7, 0x1234_5000L, true, 1, 3, 0, 0);
        assertEquals(0x0007_0003_0000_0012L, c[0]);
        assertEquals(0x1234_5701L, c[1]);
        Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, 0x20_0000L, false, 2, 0, 4, 30);
        // NUM=30 at [16:12] -> 0x1E000, SCALE=4 at [24:20] -> 0x400000
        assertEquals(0x0001_0000_0041_E012L, c[0]);
        assertEquals(0x20_0800L, c[1]);
        Command.tlbiNhAsid(c, 0, 0xBEEF);
        assertEquals(0xBEEF_0000_0000_0011L, c[0]);
        Command.tlbiS12Vmall(c, 0x42);
        assertEquals(0x0000_0042_0000_0028L, c[0]);
        Command.sync(c, Command.SYNC_CS_IRQ, 0x4000_0010L, 0);
        assertEquals(0x0FC0_1046L, c[0]);
        assertEquals(0x4000_0010L, c[1]);
        Command.atcInv(c, 0x8, 3, true, 0x10_0000L, 8);
        assertEquals(0x0000_0008_0000_3840L, c[0]);
        assertEquals(0x10_0008L, c[1]);
        Command.priResp(c, 0x9, 0, false, 0x1ff, Command.PRI_RESP_SUCC);
        assertEquals(0x0000_0009_0000_0041L, c[0]);
        assertEquals(0x21FFL, c[1]);
    }

    @Test
    void eventAndPriFieldsDecode() {
        long e0 = 0x0000_0020_0000_3810L; // F_TRANSLATION, SSV, SSID 3, SID 0x20
        long e1 = 1L << 39 | 1L << 41 | 1L << 35; // S2, CLASS=IN, RnW
        assertEquals(EventRecord.F_TRANSLATION, BitField.extract(EventRecord.ID, e0));
        assertEquals(1, BitField.extract(EventRecord.SSV, e0));
        assertEquals(3, BitField.extract(EventRecord.SSID, e0));
        assertEquals(0x20, BitField.extract(EventRecord.SID, e0));
        assertEquals(EventRecord.CLASS_IN, BitField.extract(EventRecord.CLASS, e1));
        assertEquals(1, BitField.extract(EventRecord.S2, e1));
        assertEquals(1, BitField.extract(EventRecord.RNW, e1));
        assertTrue(EventRecord.forwardedToVeventq(EventRecord.C_BAD_CD));
        assertFalse(EventRecord.forwardedToVeventq(EventRecord.F_WALK_EABT));
        assertEquals("F_PERMISSION", EventRecord.name(0x13));
        long p0 = 0xD000_0005_0000_0042L; // SSID_V | LAST | READ, SSID 5, SID 0x42
        assertEquals(0x42, BitField.extract(PageRequestRecord.SID, p0));
        assertEquals(5, BitField.extract(PageRequestRecord.SSID, p0));
        assertEquals(1, BitField.extract(PageRequestRecord.PERM_READ, p0));
        assertEquals(0, BitField.extract(PageRequestRecord.PERM_WRITE, p0));
        assertEquals(1, BitField.extract(PageRequestRecord.LAST, p0));
    }

    @Test
    void queuePointerArithmetic() {
        // 8-entry queue: index [2:0], wrap bit 3
        assertTrue(SmmuRegisters.queueEmpty(0b0101, 0b0101, 3));
        assertTrue(SmmuRegisters.queueFull(0b1000, 0b0000, 3));
        assertFalse(SmmuRegisters.queueFull(0b1000, 0b1000, 3));
        assertEquals(0b1000, SmmuRegisters.queueIncrement(0b0111, 3));
        assertEquals(0, SmmuRegisters.queueIncrement(0b1111, 3));
        assertEquals(0x8000_0000, SmmuRegisters.queueIncrement(0x8000_000F, 3)); // OVFLG kept
        assertEquals(44, SmmuRegisters.addressSizeBits(4));
        assertEquals(6, SmmuRegisters.addressSizeEncoding(52));
        assertTrue(SmmuRegisters.is64Bit(SmmuRegisters.STRTAB_BASE));
        assertFalse(SmmuRegisters.is64Bit(SmmuRegisters.STRTAB_BASE_CFG));
    }

    @Test
    void bitFieldRejectsOverflowingValues() {
        assertThrows(IllegalArgumentException.class, () -> BitField.place(StreamTableEntry.CONFIG, 8));
        assertThrows(IllegalArgumentException.class, () -> BitField.of(0, 60, 8));
        assertEquals(0xEL, BitField.mask(StreamTableEntry.CONFIG));
    }
}
