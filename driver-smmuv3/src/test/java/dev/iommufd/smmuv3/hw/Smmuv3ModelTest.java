package dev.iommufd.smmuv3.hw;

import static dev.iommufd.smmuv3.layout.SmmuRegisters.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.MsiVector;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.smmuv3.layout.TranslationDescriptor;
import dev.iommufd.smmuv3.layout.TranslationGranule;
import dev.iommufd.spi.hw.Translation;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The hardware model programmed by hand: registers over MMIO, structures written as hand-computed words at fixed
 * physical addresses (0x7000_0000 and up, above what the tests' allocations use). Every event the model raises
 * has a test here (IHI0070 7.3).
 */
class Smmuv3ModelTest {
    static final int SID = 0x08; // 00:01.0
    static final String BDF = "00:01.0";
    static final int NO_PASID = DmaAttributes.NO_PASID;
    static final int R = Translation.ACCESS_READ;
    static final int W = Translation.ACCESS_WRITE;

    // ---- the 4 KiB stage-1 fixture (hand-computed; see LayoutVectorsTest for the field arithmetic)
    static final long CD_4K = 0x7010_0000L;
    /** T0SZ=16, TG0=4K, EPD1, V, IPS=48 bits, AA64, R, A, ASID=1. */
    static final long CD_4K_DW0 = 0x0001_6205_C000_0010L;
    static final long VA_4K = 0x0000_0080_8060_4ABCL; // L0 1, L1 2, L2 3, L3 4, offset 0xABC

    static void build4kTables(ModelBench b) {
        b.writeStruct(0x7000_0008L, 0x7000_1003L); // L0[1] -> L1 table
        b.writeStruct(0x7000_1010L, 0x7000_2003L); // L1[2] -> L2 table
        b.writeStruct(0x7000_2018L, 0x7000_3003L); // L2[3] -> L3 table
        b.writeStruct(0x7000_3020L, 0x4567_8F47L); // L3[4]: page 0x4567_8000 nG AF SH=IS AP[1] AttrIndx 1
        b.writeStruct(0x7000_3030L, 0x4567_9B47L); // L3[6]: AF=0
        b.writeStruct(0x7000_3038L, 0x4567_AFC7L); // L3[7]: AP[2]=1 read-only
        b.writeStruct(0x7000_2028L, 0x4560_0F45L); // L2[5]: 2 MiB block at 0x4560_0000
        b.writeStruct(0x7000_1018L, 0x4000_0F45L); // L1[3]: 1 GiB block at 0x4000_0000
        b.writeStruct(0x7000_2030L, 0x2000_0003L); // L2[6]: table in non-RAM
        b.writeStruct(CD_4K, CD_4K_DW0, 0x7000_0000L, 0, 0x0000_0000_f404_ff44L, 0, 0, 0, 0);
    }

    static ModelBench qemuWithS1(long[] strtab) {
        ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF));
        strtab[0] = b.linearStreamTable(8);
        build4kTables(b);
        b.writeStruct(b.steAddress(strtab[0], SID), CD_4K | 0xBL, 0, 0, 0, 0, 0, 0, 0);
        return b;
    }

    static long va4k(int l0, int l1, int l2, int l3, int offset) {
        return (long) l0 << 39 | (long) l1 << 30 | (long) l2 << 21 | (long) l3 << 12 | offset;
    }

    static void assertEvent(long[] e, int id, int sid, long input, boolean read, int s2, int clazz) {
        assertNotNull(e, "expected event " + EventRecord.name(id));
        assertEquals(EventRecord.name(id), EventRecord.name((int) BitField.extract(EventRecord.ID, e[0])));
        assertEquals(sid, (int) BitField.extract(EventRecord.SID, e[0]));
        assertEquals(input, e[2]);
        assertEquals(read ? 1 : 0, BitField.extract(EventRecord.RNW, e[1]));
        assertEquals(s2, BitField.extract(EventRecord.S2, e[1]));
        assertEquals(clazz, BitField.extract(EventRecord.CLASS, e[1]));
    }

    // =====================================================================================================
    // registers

    @Test
    void presetsReportQemuAndServerIdRegisters() {
        try (ModelBench q = new ModelBench("qemu", Map.of()); ModelBench s = new ModelBench("server", Map.of())) {
            int idr0 = q.mmio.read32(q.regs + IDR0);
            assertEquals(IDR0_S1P, idr0 & (IDR0_S1P | IDR0_S2P));
            assertEquals(1, idr0 >>> IDR0_ST_LEVEL_SHIFT & 3);
            assertEquals(4, q.mmio.read32(q.regs + IDR5) & 7); // 44-bit OAS
            assertEquals(16, q.mmio.read32(q.regs + IDR1) & 0x3f);
            int sidr0 = s.mmio.read32(s.regs + IDR0);
            assertEquals(IDR0_S1P | IDR0_S2P, sidr0 & (IDR0_S1P | IDR0_S2P));
            assertEquals(2, sidr0 >>> IDR0_HTTU_SHIFT & 3);
            assertEquals(20, s.mmio.read32(s.regs + IDR1) >>> IDR1_SSIDSIZE_SHIFT & 0x1f);
            assertEquals(0x0905_0000L, q.regs); // virt default base
        }
    }

    @Test
    void overridesReplaceRegistersByNameAndUnknownNamesFail() {
        try (ModelBench b = new ModelBench("qemu", Map.of("IDR5", 0x46L))) {
            assertEquals(0x46, b.mmio.read32(b.regs + IDR5));
        }
        ErrnoException e = assertThrows(ErrnoException.class, () -> new ModelBench("qemu", Map.of("IDR9", 1L)));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("IDR9"));
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> new ModelBench("bogus", Map.of())).errno());
        // advertising what the model does not implement fails loudly
        long qemuIdr0;
        try (ModelBench q = new ModelBench("qemu", Map.of())) {
            qemuIdr0 = q.mmio.read32(q.regs + IDR0) & 0xffff_ffffL;
        }
        long aarch32 = qemuIdr0 | 1L << IDR0_TTF_SHIFT;
        ErrnoException e32 = assertThrows(ErrnoException.class, () -> new ModelBench("qemu", Map.of("IDR0", aarch32)));
        assertEquals(Errno.EOPNOTSUPP, e32.errno());
        assertTrue(e32.getMessage().contains("not implemented: AArch32"));
        long mixedEndian = qemuIdr0 & ~(3L << IDR0_TTENDIAN_SHIFT);
        assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                () -> new ModelBench("qemu", Map.of("IDR0", mixedEndian))).errno());
        assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                () -> new ModelBench("qemu", Map.of("IDR5", 0xF4L))).errno(), "IDR5.DS");
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                () -> new ModelBench("qemu", Map.of("IDR5", 0x4L))).errno(), "no granule");
    }

    @Test
    void wrongAccessWidthsAreBusErrors() {
        try (ModelBench b = new ModelBench("qemu", Map.of())) {
            assertThrows(BusErrorException.class, () -> b.mmio.read(b.regs + IDR0, 8));
            assertThrows(BusErrorException.class, () -> b.mmio.read(b.regs + CR0, 2));
            assertThrows(BusErrorException.class, () -> b.mmio.write(b.regs + CMDQ_PROD, 1, 0));
            assertThrows(BusErrorException.class, () -> b.mmio.read(b.regs + 0x30, 4)); // no register there
            assertThrows(BusErrorException.class, () -> b.mmio.read(b.regs + STRTAB_BASE + 2, 4));
            // 64-bit registers take 32-bit halves
            b.mmio.write32(b.regs + STRTAB_BASE, 0x4000_1000);
            b.mmio.write32(b.regs + STRTAB_BASE + 4, 0x0000_0001);
            assertEquals(0x1_4000_1000L, b.mmio.read64(b.regs + STRTAB_BASE));
            assertEquals(1, b.mmio.read32(b.regs + STRTAB_BASE + 4));
        }
    }

    @Test
    void queueSizesAreCappedByIdr1AndBasesLockWhileEnabled() {
        try (ModelBench b = new ModelBench("qemu", Map.of())) {
            b.mmio.write64(b.regs + CMDQ_BASE, 0x4000_0000L | 20); // CMDQS is 19
            assertEquals(0x4000_0000L | 19, b.mmio.read64(b.regs + CMDQ_BASE) & ~Q_BASE_RWA);
            b.mmio.write64(b.regs + EVENTQ_BASE, 0x4001_0000L | 7);
            assertEquals(0x4001_0000L | 7, b.mmio.read64(b.regs + EVENTQ_BASE));
            b.mmio.write32(b.regs + CR0, CR0_CMDQEN);
            b.mmio.write64(b.regs + CMDQ_BASE, 0x4100_0000L | 4); // ignored while the queue is enabled
            assertEquals(0x4000_0000L | 19, b.mmio.read64(b.regs + CMDQ_BASE));
            b.mmio.write64(b.regs + PRIQ_BASE, 0x4002_0000L | 4); // no PRI on this SMMU: RES0
            assertEquals(0, b.mmio.read64(b.regs + PRIQ_BASE));
        }
    }

    @Test
    void cr0AckFollowsAndDisabledSmmuUsesGbpa() {
        try (ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF))) {
            b.mmio.write32(b.regs + CR0, CR0_CMDQEN | CR0_EVTQEN);
            assertEquals(CR0_CMDQEN | CR0_EVTQEN, b.mmio.read32(b.regs + CR0ACK));
            Translation t = b.translate(SID, NO_PASID, 0x4000_1234L, R);
            assertTrue(t.isOk(), "SMMUEN=0, GBPA.ABORT=0: bypass");
            assertEquals(0x4000_1234L, t.physicalAddress());
            b.mmio.write32(b.regs + GBPA, GBPA_UPDATE | GBPA_ABORT);
            assertEquals(GBPA_ABORT, b.mmio.read32(b.regs + GBPA), "UPDATE completes at once");
            assertEquals(Translation.FAULT, b.translate(SID, NO_PASID, 0x4000_1234L, R).status());
        }
    }

    // =====================================================================================================
    // stream table

    @Test
    void bypassSteAndSilentAbortSte() {
        try (ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            b.writeStruct(b.steAddress(st, SID), 0x9L); // V, Config=bypass
            Translation t = b.translate(SID, NO_PASID, 0x5000_0010L, W);
            assertTrue(t.isOk());
            assertEquals(0x5000_0010L, t.physicalAddress());
            b.writeStruct(b.steAddress(st, SID + 1), 0x1L); // V, Config=abort
            assertEquals(Translation.FAULT, b.translate(SID + 1, NO_PASID, 0x5000_0010L, R).status());
            assertNull(b.nextEvent(), "Config=abort terminates without an event");
        }
    }

    @Test
    void invalidSteRaisesCBadSteAndIllegalConfigToo() {
        try (ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            assertEquals(EventRecord.C_BAD_STE, b.translate(SID, NO_PASID, 0x1000, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.C_BAD_STE, SID, 0x1000, true, 0, 0);
            b.writeStruct(b.steAddress(st, SID + 1), 0xDL); // Config=S2 on an SMMU without S2P: ILLEGAL
            assertEquals(EventRecord.C_BAD_STE, b.translate(SID + 1, NO_PASID, 0x1000, W).faultReason());
            assertEvent(b.nextEvent(), EventRecord.C_BAD_STE, SID + 1, 0x1000, false, 0, 0);
        }
    }

    @Test
    void streamIdBeyondLog2SizeIsCBadStreamId() {
        try (ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF))) {
            b.linearStreamTable(4); // 16 StreamIDs
            assertEquals(EventRecord.C_BAD_STREAMID, b.translate(0x10, NO_PASID, 0x2000, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.C_BAD_STREAMID, 0x10, 0x2000, true, 0, 0);
        }
    }

    @Test
    void twoLevelStreamTableWithSplit8() {
        try (ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF))) {
            long l1 = 0x7600_0000L;
            long l2 = 0x7601_0000L;
            // LOG2SIZE 16, SPLIT 8, FMT 2-level
            b.enable(l1, 16 | 8 << STRTAB_BASE_CFG_SPLIT_SHIFT | 1 << STRTAB_BASE_CFG_FMT_SHIFT);
            b.writeStruct(l1 + 2 * 8, l2 | 9); // SIDs 0x200..0x2ff -> 256 STEs
            b.writeStruct(l1 + 3 * 8, l2 + 0x4000 | 2); // Span 2: only 2 STEs
            b.writeStruct(l2 + 0x34 * 64, 0x9L); // SID 0x234: bypass
            assertTrue(b.translate(0x234, NO_PASID, 0x4444_0000L, R).isOk());
            assertEquals(EventRecord.C_BAD_STREAMID, b.translate(0x134, NO_PASID, 0x1000, R).faultReason(), "L1 Span 0");
            assertEvent(b.nextEvent(), EventRecord.C_BAD_STREAMID, 0x134, 0x1000, true, 0, 0);
            assertEquals(EventRecord.C_BAD_STREAMID, b.translate(0x302, NO_PASID, 0x1000, R).faultReason(),
                    "L2 index 2 >= 2^(Span-1)");
            assertEquals(EventRecord.C_BAD_STE, b.translate(0x301, NO_PASID, 0x1000, R).faultReason());
        }
    }

    @Test
    void externalAbortFetchingSteIsFSteFetch() {
        try (ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF))) {
            b.enable(0x2000_0000L, 8); // no RAM there
            assertEquals(EventRecord.F_STE_FETCH, b.translate(SID, NO_PASID, 0x1000, R).faultReason());
            long[] e = b.nextEvent();
            assertEvent(e, EventRecord.F_STE_FETCH, SID, 0x1000, true, 0, 0);
            assertEquals(0x2000_0000L + SID * 64, e[3] & BitField.mask(EventRecord.FETCH_ADDR));
        }
    }

    // =====================================================================================================
    // stage 1

    @Test
    void stage1FourKilobytePagesAndBlocks() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            Translation t = b.translate(SID, NO_PASID, VA_4K, R);
            assertTrue(t.isOk());
            assertEquals(0x4567_8ABCL, t.physicalAddress());
            assertEquals(4096, t.pageSize());
            t = b.translate(SID, NO_PASID, va4k(1, 2, 5, 0, 0) + 0x12345, W);
            assertEquals(0x4561_2345L, t.physicalAddress());
            assertEquals(2L << 20, t.pageSize());
            t = b.translate(SID, NO_PASID, va4k(1, 3, 0, 0, 0) + 0x1234_5678, R);
            assertEquals(0x5234_5678L, t.physicalAddress());
            assertEquals(1L << 30, t.pageSize());
            // the top VA bit of the 48-bit range (bit 47) is part of the L0 index, not out of range
            b.writeStruct(0x7000_0000L + 256 * 8, 0x7000_1003L); // L0[256] -> the same L1 table
            t = b.translate(SID, NO_PASID, va4k(256, 2, 3, 4, 0xABC), R);
            assertTrue(t.isOk());
            assertEquals(0x4567_8ABCL, t.physicalAddress());
            assertEquals(EventRecord.F_TRANSLATION, b.translate(SID, NO_PASID, 1L << 48, R).faultReason(), "bit 48");
            b.nextEvent();
            assertNull(b.nextEvent());
        }
    }

    @Test
    void stage1FaultsRecordTheirEvents() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            long va = va4k(1, 2, 3, 5, 0x10);
            assertEquals(EventRecord.F_TRANSLATION, b.translate(SID, NO_PASID, va, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_TRANSLATION, SID, va, true, 0, EventRecord.CLASS_IN);
            va = va4k(1, 2, 3, 6, 0x20);
            assertEquals(EventRecord.F_ACCESS, b.translate(SID, NO_PASID, va, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_ACCESS, SID, va, true, 0, EventRecord.CLASS_IN);
            va = va4k(1, 2, 3, 7, 0x30);
            assertTrue(b.translate(SID, NO_PASID, va, R).isOk());
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, va, W).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_PERMISSION, SID, va, false, 0, EventRecord.CLASS_IN);
            va = va4k(1, 2, 6, 9, 0);
            assertEquals(EventRecord.F_WALK_EABT, b.translate(SID, NO_PASID, va, R).faultReason());
            long[] e = b.nextEvent();
            assertEvent(e, EventRecord.F_WALK_EABT, SID, va, true, 0, EventRecord.CLASS_TT);
            assertEquals(0x2000_0000L + 9 * 8, e[3] & BitField.mask(EventRecord.FETCH_ADDR));
            // VA outside the 48-bit TTB0 range
            assertEquals(EventRecord.F_TRANSLATION, b.translate(SID, NO_PASID, 1L << 50, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_TRANSLATION, SID, 1L << 50, true, 0, EventRecord.CLASS_IN);
        }
    }

    @Test
    void outputBeyondIpsIsFAddrSize() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            // second stream: IPS=0 (32 bits) and a page at 0x1_0000_0000
            long cd = 0x7010_0040L;
            b.writeStruct(cd, CD_4K_DW0 & ~(7L << 32), 0x7000_0000L, 0, 0x0000_0000_f404_ff44L);
            b.writeStruct(0x7000_3040L, 0x1_0000_0F47L); // L3[8]
            b.writeStruct(b.steAddress(st[0], SID + 1), cd | 0xBL);
            long va = va4k(1, 2, 3, 8, 0);
            assertEquals(EventRecord.F_ADDR_SIZE, b.translate(SID + 1, NO_PASID, va, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_ADDR_SIZE, SID + 1, va, true, 0, EventRecord.CLASS_IN);
            // a next-level table address beyond IPS is also F_ADDR_SIZE
            b.writeStruct(0x7000_2038L, 0x1_0000_0003L); // L2[7]
            long tableVa = va4k(1, 2, 7, 0, 0);
            assertEquals(EventRecord.F_ADDR_SIZE, b.translate(SID + 1, NO_PASID, tableVa, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_ADDR_SIZE, SID + 1, tableVa, true, 0, EventRecord.CLASS_IN);
        }
    }

    @Test
    void contextDescriptorErrors() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            b.writeStruct(b.steAddress(st[0], SID + 1), 0x7010_0080L | 0xBL); // CD there is all zero: V=0
            assertEquals(EventRecord.C_BAD_CD, b.translate(SID + 1, NO_PASID, 0x1000, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.C_BAD_CD, SID + 1, 0x1000, true, 0, 0);
            // CD.A=0 with TERM_MODEL=1 is ILLEGAL
            b.writeStruct(0x7010_00C0L, CD_4K_DW0 & ~(1L << 46), 0x7000_0000L);
            b.writeStruct(b.steAddress(st[0], SID + 2), 0x7010_00C0L | 0xBL);
            assertEquals(EventRecord.C_BAD_CD, b.translate(SID + 2, NO_PASID, 0x1000, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.C_BAD_CD, SID + 2, 0x1000, true, 0, 0);
            b.writeStruct(b.steAddress(st[0], SID + 3), 0x2000_0000L | 0xBL); // CD in non-RAM
            assertEquals(EventRecord.F_CD_FETCH, b.translate(SID + 3, NO_PASID, 0x1000, R).faultReason());
            long[] e = b.nextEvent();
            assertEvent(e, EventRecord.F_CD_FETCH, SID + 3, 0x1000, true, 0, 0);
            assertEquals(0x2000_0000L, e[3] & BitField.mask(EventRecord.FETCH_ADDR));
            // an SSID on a stream without substreams
            assertEquals(EventRecord.C_BAD_SUBSTREAMID, b.translate(SID, 1, VA_4K, R).faultReason());
            e = b.nextEvent();
            assertEvent(e, EventRecord.C_BAD_SUBSTREAMID, SID, VA_4K, true, 0, 0);
            assertEquals(1, BitField.extract(EventRecord.SSV, e[0]));
            assertEquals(1, BitField.extract(EventRecord.SSID, e[0]));
        }
    }

    @Test
    void substreamsAndS1dss() {
        try (ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            build4kTables(b);
            long cdTable = 0x7010_1000L; // 4 CDs, linear
            b.writeStruct(cdTable + 64, CD_4K_DW0, 0x7000_0000L, 0, 0x0000_0000_f404_ff44L); // CD 1
            // S1CDMax=2, S1DSS=terminate
            b.writeStruct(b.steAddress(st, SID), cdTable | 0xBL | 2L << 59, 0);
            assertEquals(EventRecord.F_STREAM_DISABLED, b.translate(SID, NO_PASID, VA_4K, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_STREAM_DISABLED, SID, VA_4K, true, 0, 0);
            Translation t = b.translate(SID, 1, VA_4K, R);
            assertTrue(t.isOk());
            assertEquals(0x4567_8ABCL, t.physicalAddress());
            assertEquals(EventRecord.C_BAD_SUBSTREAMID, b.translate(SID, 4, VA_4K, R).faultReason(), "SSID >= 2^S1CDMax");
            assertEvent(b.nextEvent(), EventRecord.C_BAD_SUBSTREAMID, SID, VA_4K, true, 0, 0);
            assertEquals(EventRecord.C_BAD_CD, b.translate(SID, 2, VA_4K, R).faultReason());
            // S1DSS=bypass on another stream: no-SSID traffic bypasses stage 1
            b.writeStruct(b.steAddress(st, SID + 1), cdTable | 0xBL | 2L << 59, 1);
            t = b.translate(SID + 1, NO_PASID, 0x4444_0000L, R);
            assertTrue(t.isOk());
            assertEquals(0x4444_0000L, t.physicalAddress());
            // S1DSS=SSID0: SSID 0 is invalid, no-SSID uses CD 0
            b.writeStruct(b.steAddress(st, SID + 2), cdTable | 0xBL | 2L << 59, 2);
            assertEquals(EventRecord.C_BAD_SUBSTREAMID, b.translate(SID + 2, 0, VA_4K, R).faultReason());
        }
    }

    @Test
    void stage1SixteenKilobyteGranule() {
        try (ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            b.writeStruct(0x7100_0000L, 0x7100_4003L); // L0[0]
            b.writeStruct(0x7100_4008L, 0x7100_8003L); // L1[1]
            b.writeStruct(0x7100_8010L, 0x7100_C003L); // L2[2]
            b.writeStruct(0x7100_C018L, 0x4568_0F47L); // L3[3]: 16 KiB page
            b.writeStruct(0x7100_8020L, 0x4600_0F45L); // L2[4]: 32 MiB block
            b.writeStruct(0x7010_0000L, CD_4K_DW0 | 0x80L, 0x7100_0000L, 0, 0x0000_0000_f404_ff44L); // TG0=16K
            b.writeStruct(b.steAddress(st, SID), 0x7010_000BL);
            Translation t = b.translate(SID, NO_PASID, 0x0000_0010_0400_DABCL, R);
            assertEquals(0x4568_1ABCL, t.physicalAddress());
            assertEquals(16 * 1024, t.pageSize());
            t = b.translate(SID, NO_PASID, 0x0000_0010_0812_3456L, R);
            assertEquals(0x4612_3456L, t.physicalAddress());
            assertEquals(32L << 20, t.pageSize());
        }
    }

    @Test
    void stage1SixtyFourKilobyteGranuleWith52BitOutput() {
        // OAS 52 bits (IDR5.OAS=6) and all granules
        try (ModelBench b = new ModelBench("qemu", Map.of("IDR5", 0x76L), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            b.writeStruct(0x7200_0008L, 0x7201_0003L); // L1[1]
            b.writeStruct(0x7201_0010L, 0x7202_0003L); // L2[2]
            b.writeStruct(0x7202_0018L, 0x4570_0F47L); // L3[3]
            b.writeStruct(0x7201_0028L, 0x6000_0F45L); // L2[5]: 512 MiB block
            b.writeStruct(0x7202_0020L, 0x0000_BCDE_F001_AF47L); // L3[4]: PA 0x000A_BCDE_F001_0000
            long dw0 = CD_4K_DW0 & ~(7L << 32) | 6L << 32 | 0x40L; // IPS 52, TG0=64K
            b.writeStruct(0x7010_0000L, dw0, 0x7200_0000L, 0, 0x0000_0000_f404_ff44L);
            b.writeStruct(b.steAddress(st, SID), 0x7010_000BL);
            Translation t = b.translate(SID, NO_PASID, 0x0000_0400_4003_ABCDL, R);
            assertEquals(0x4570_ABCDL, t.physicalAddress());
            assertEquals(64 * 1024, t.pageSize());
            t = b.translate(SID, NO_PASID, 0x0000_0400_A123_4567L, R);
            assertEquals(0x6123_4567L, t.physicalAddress());
            assertEquals(512L << 20, t.pageSize());
            t = b.translate(SID, NO_PASID, 0x0000_0400_4004_0010L, R);
            assertEquals(0x000A_BCDE_F001_0010L, t.physicalAddress());
        }
    }

    // =====================================================================================================
    // stage 2 and nesting

    /** Server preset, Config=S2: S2T0SZ=24 (40-bit IPA), S2SL0=1 (level 1), 2 concatenated level-1 tables. */
    static final long S2_DW2 = 0x040D_0058_0000_0003L; // VMID 3, T0SZ 24, SL0 1, TG 4K, PS 48, AA64, R

    static void buildS2Tables(ModelBench b) {
        b.writeStruct(0x7300_1010L, 0x7301_0003L); // concatenated L1 index 514 (IPA bit 39 selects table 2)
        b.writeStruct(0x7301_0018L, 0x7302_0003L); // L2[3]
        b.writeStruct(0x7302_0020L, 0x4580_07FFL); // L3[4]: S2AP=RW, MemAttr=0xF, SH=IS, AF
        b.writeStruct(0x7302_0028L, 0x4580_177FL); // L3[5]: read-only
        b.writeStruct(0x7300_0000L, 0x4000_07FDL); // L1[0]: 1 GiB block: IPA [0, 1G) -> PA 0x4000_0000
    }

    @Test
    void stage2WalkWithConcatenatedStartTables() {
        try (ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            buildS2Tables(b);
            b.writeStruct(b.steAddress(st, SID), 0xDL, 0, S2_DW2, 0x7300_0000L);
            long ipa = 0x0000_0080_8060_4123L;
            Translation t = b.translate(SID, NO_PASID, ipa, W);
            assertTrue(t.isOk());
            assertEquals(0x4580_0123L, t.physicalAddress());
            long ro = ipa + 0x1000;
            assertTrue(b.translate(SID, NO_PASID, ro, R).isOk());
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, ro, W).faultReason());
            long[] e = b.nextEvent();
            assertEvent(e, EventRecord.F_PERMISSION, SID, ro, false, 1, EventRecord.CLASS_IN);
            assertEquals(ro & ~0xfffL, e[3] & BitField.mask(EventRecord.IPA));
            assertEquals(EventRecord.F_TRANSLATION, b.translate(SID, NO_PASID, 1L << 40, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_TRANSLATION, SID, 1L << 40, true, 1, EventRecord.CLASS_IN);
            // stage 1 bypassed and the input beyond IAS (48 bits): F_ADDR_SIZE at stage 1 (S2=0, CLASS=IN)
            assertEquals(EventRecord.F_ADDR_SIZE, b.translate(SID, NO_PASID, 1L << 50, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_ADDR_SIZE, SID, 1L << 50, true, 0, EventRecord.CLASS_IN);
        }
    }

    @Test
    void stageTwoConfigurationChecks() {
        try (ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            // S2T0SZ=24 with SL0=0 (level 2) needs 2^(40-30)=1024 L2 tables: inconsistent -> ILLEGAL
            b.writeStruct(b.steAddress(st, SID), 0xDL, 0, S2_DW2 & ~(3L << 38), 0x7300_0000L);
            assertEquals(EventRecord.C_BAD_STE, b.translate(SID, NO_PASID, 0, R).faultReason());
            // S2AA64=0 (VMSAv8-32) is not supported by an AArch64-only SMMU
            b.writeStruct(b.steAddress(st, SID + 1), 0xDL, 0, S2_DW2 & ~(1L << 51), 0x7300_0000L);
            assertEquals(EventRecord.C_BAD_STE, b.translate(SID + 1, NO_PASID, 0, R).faultReason());
            // S2S=1 with a terminate-only stall model
            b.writeStruct(b.steAddress(st, SID + 2), 0xDL, 0, S2_DW2 | 1L << 57, 0x7300_0000L);
            assertEquals(EventRecord.C_BAD_STE, b.translate(SID + 2, NO_PASID, 0, R).faultReason());
        }
    }

    @Test
    void nestedWalkTranslatesCdAndTableAddressesThroughStage2() {
        try (ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            buildS2Tables(b); // IPA x in [0, 1G) -> PA x + 0x4000_0000
            // stage-1 tables at PA 0x7500_xxxx = IPA 0x3500_xxxx, descriptors hold IPAs
            b.writeStruct(0x7500_0008L, 0x3500_1003L);
            b.writeStruct(0x7500_1010L, 0x3500_2003L);
            b.writeStruct(0x7500_2018L, 0x3500_3003L);
            b.writeStruct(0x7500_3020L, 0x0567_8F47L); // output IPA 0x0567_8000 -> PA 0x4567_8000
            b.writeStruct(0x7500_1018L, 0x8000_0003L); // L1[3] -> IPA 0x8000_0000, not mapped by stage 2
            b.writeStruct(0x7510_0000L, CD_4K_DW0, 0x3500_0000L, 0, 0x0000_0000_f404_ff44L); // CD at IPA 0x3510_0000
            b.writeStruct(b.steAddress(st, SID), 0x3510_0000L | 0xFL, 0, S2_DW2, 0x7300_0000L);
            Translation t = b.translate(SID, NO_PASID, VA_4K, R);
            assertTrue(t.isOk());
            assertEquals(0x4567_8ABCL, t.physicalAddress());
            // a stage-1 fault of a nested walk is reported as a stage-1 fault (S2=0, CLASS=IN)
            long s1Hole = va4k(1, 2, 3, 5, 0);
            assertEquals(EventRecord.F_TRANSLATION, b.translate(SID, NO_PASID, s1Hole, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_TRANSLATION, SID, s1Hole, true, 0, EventRecord.CLASS_IN);
            long va = va4k(1, 3, 0, 0, 0);
            assertEquals(EventRecord.F_TRANSLATION, b.translate(SID, NO_PASID, va, R).faultReason());
            long[] e = b.nextEvent();
            assertEvent(e, EventRecord.F_TRANSLATION, SID, va, true, 1, EventRecord.CLASS_TT);
            assertEquals(0x8000_0000L, e[3] & BitField.mask(EventRecord.IPA));
            // CD pointer at an unmapped IPA: stage-2 fault with CLASS=CD
            b.writeStruct(b.steAddress(st, SID + 1), 0x8000_0000L | 0xFL, 0, S2_DW2, 0x7300_0000L);
            assertEquals(EventRecord.F_TRANSLATION, b.translate(SID + 1, NO_PASID, VA_4K, R).faultReason());
            e = b.nextEvent();
            assertEvent(e, EventRecord.F_TRANSLATION, SID + 1, VA_4K, true, 1, EventRecord.CLASS_CD);
            assertEquals(0x8000_0000L, e[3] & BitField.mask(EventRecord.IPA));
            // a stage-1 table in an IPA page stage 2 maps without read permission: F_PERMISSION, CLASS=TT, TTRnW=1
            b.writeStruct(0x7300_0008L, 0x7303_0003L); // S2 L1[1] -> L2 table for IPA [1G, 2G)
            b.writeStruct(0x7303_0000L, 0x7304_0003L); // L2[0] -> L3
            b.writeStruct(0x7304_0000L, 0x7600_073FL); // L3[0]: IPA 0x4000_0000 -> PA 0x7600_0000, S2AP=none
            b.writeStruct(0x7500_1020L, 0x4000_0003L); // stage-1 L1[4] -> table at IPA 0x4000_0000
            long noRead = va4k(1, 4, 0, 0, 0);
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, noRead, R).faultReason());
            e = b.nextEvent();
            assertEvent(e, EventRecord.F_PERMISSION, SID, noRead, true, 1, EventRecord.CLASS_TT);
            assertEquals(1, BitField.extract(EventRecord.TTRNW, e[1]));
            assertEquals(0x4000_0000L, e[3] & BitField.mask(EventRecord.IPA));
            // a stage-2 table in non-RAM: F_WALK_EABT at stage 2
            b.writeStruct(0x7300_0010L, 0x2000_0003L); // S2 L1[2] -> table in non-RAM
            b.writeStruct(0x7500_1028L, 0x8000_0003L); // stage-1 L1[5] -> table at IPA 0x8000_0000
            long eabt = va4k(1, 5, 0, 0, 0);
            assertEquals(EventRecord.F_WALK_EABT, b.translate(SID, NO_PASID, eabt, R).faultReason());
            e = b.nextEvent();
            assertEvent(e, EventRecord.F_WALK_EABT, SID, eabt, true, 1, EventRecord.CLASS_TT);
            assertEquals(0x2000_0000L, e[3] & BitField.mask(EventRecord.FETCH_ADDR));
            // structure frames of a nested stream: the CD and the stage-1 tables are found through stage 2
            java.util.Set<Long> frames = new java.util.HashSet<>();
            b.unit.visitStructureFrames(frames::add);
            for (long f : new long[] {0x7300_0000L, 0x7300_1000L, 0x7301_0000L, 0x7510_0000L, 0x7500_0000L,
                    0x7500_1000L, 0x7500_2000L, 0x7500_3000L}) {
                assertTrue(frames.contains(f), "frame " + Long.toHexString(f));
            }
        }
    }

    // =====================================================================================================
    // caches and commands

    @Test
    void tlbEntriesStayUsableUntilInvalidated() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            assertEquals(0x4567_8ABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress());
            b.writeStruct(0x7000_3020L, 0x4567_BF47L); // remap without invalidation
            assertEquals(0x4567_8ABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress(), "stale TLB entry");
            long[] c = new long[2];
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 2, VA_4K, true, 0, 0, 0, 0); // other ASID
            b.command(c);
            assertEquals(0x4567_8ABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress());
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, VA_4K & ~0xfffL, true, 0, 0, 0, 0);
            b.command(c);
            assertEquals(0x4567_BABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress());
            // ASID-wide and global invalidation
            b.writeStruct(0x7000_3020L, 0x4567_8F47L);
            Command.tlbiNhAsid(c, 0, 1);
            b.command(c);
            assertEquals(0x4567_8ABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress());
            b.writeStruct(0x7000_3020L, 0x4567_BF47L);
            Command.tlbiNsnhAll(c);
            b.command(c);
            assertEquals(0x4567_BABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress());
        }
    }

    @Test
    void rangeInvalidationCoversNumAndScale() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            for (int i = 8; i < 16; i++) {
                b.writeStruct(0x7000_3000L + i * 8, 0x4500_0F47L + ((long) i << 12));
            }
            for (int i = 8; i < 16; i++) {
                assertTrue(b.translate(SID, NO_PASID, va4k(1, 2, 3, i, 0), R).isOk());
                b.writeStruct(0x7000_3000L + i * 8, 0); // unmapped without invalidation
            }
            long[] c = new long[2];
            // TG=4K, SCALE=1, NUM=1: (1+1) << 1 = 4 pages from page 9
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, va4k(1, 2, 3, 9, 0), true, 1, 3, 1, 1);
            b.command(c);
            assertTrue(b.translate(SID, NO_PASID, va4k(1, 2, 3, 8, 0), R).isOk(), "page 8 before the range");
            for (int i = 9; i < 13; i++) {
                assertEquals(EventRecord.F_TRANSLATION, b.translate(SID, NO_PASID, va4k(1, 2, 3, i, 0), R).faultReason());
            }
            assertTrue(b.translate(SID, NO_PASID, va4k(1, 2, 3, 13, 0), R).isOk(), "page 13 after the range");
        }
    }

    /** TLBI level hint arithmetic: hand-computed (Arm ARM D8: level block sizes; D8.6.1: contiguous set sizes). */
    @Test
    void levelHintShiftIsTheLargestEntryOfTheLevel() {
        assertEquals(Smmuv3Tlb.ANY_SIZE, Smmuv3Unit.levelHintShift(TranslationGranule.G4K, 0));
        assertEquals(16, Smmuv3Unit.levelHintShift(TranslationGranule.G4K, 3)); // 4 KiB x 16
        assertEquals(25, Smmuv3Unit.levelHintShift(TranslationGranule.G4K, 2)); // 2 MiB x 16
        assertEquals(34, Smmuv3Unit.levelHintShift(TranslationGranule.G4K, 1)); // 1 GiB x 16
        assertEquals(21, Smmuv3Unit.levelHintShift(TranslationGranule.G16K, 3)); // 16 KiB x 128
        assertEquals(30, Smmuv3Unit.levelHintShift(TranslationGranule.G16K, 2)); // 32 MiB x 32
        assertEquals(21, Smmuv3Unit.levelHintShift(TranslationGranule.G64K, 3)); // 64 KiB x 32
        assertEquals(34, Smmuv3Unit.levelHintShift(TranslationGranule.G64K, 2)); // 512 MiB x 32
        assertEquals(42, Smmuv3Unit.levelHintShift(TranslationGranule.G64K, 1)); // 4 TiB, no contiguous hint
    }

    /**
     * IHI0070 4.4.1.1: with TG != 0 and TTL != 0 the SMMU is only required to invalidate entries from the hinted
     * level; the model invalidates those (contiguous spans of that level included) and keeps larger ones. TTL=0 with
     * NUM=SCALE=0 is reserved (CERROR_ILL), and so is 16K TTL=1 without IDR5.DS (treated as TTL=0).
     */
    @Test
    void theLevelHintOfARangeTlbiSelectsTheEntriesOfItsLevel() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            long block = va4k(1, 2, 5, 0, 0);
            for (int i = 0; i < 16; i++) { // L3[16..31]: one contiguous set of 16 pages at 0x4590_0000
                b.writeStruct(0x7000_3000L + (16 + i) * 8, 0x4590_0F47L + ((long) i << 12) | TranslationDescriptor.CONT);
            }
            long cont = va4k(1, 2, 3, 20, 0);
            assertEquals(0x4567_8ABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress());
            assertEquals(0x4560_0000L, b.translate(SID, NO_PASID, block, R).physicalAddress());
            Translation t = b.translate(SID, NO_PASID, cont, R);
            assertEquals(0x4590_4000L, t.physicalAddress());
            assertEquals(1L << 16, t.pageSize());
            b.writeStruct(0x7000_3020L, 0x4567_BF47L); // remap all three without invalidation
            b.writeStruct(0x7000_2028L, 0x4580_0F45L);
            b.writeStruct(0x7000_3000L + 20 * 8, 0x45A0_4F47L | TranslationDescriptor.CONT);
            long[] c = new long[2];
            // TG=4K, TTL=3 (level 3), NUM=0, SCALE=0, Leaf=1: one page, as the driver sends for a 4 KiB leaf
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, block, true, 1, 3, 0, 0);
            b.command(c);
            assertEquals(0x4560_0000L, b.translate(SID, NO_PASID, block, R).physicalAddress(),
                    "a level-2 block is not an entry of level 3");
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, VA_4K & ~0xfffL, true, 1, 3, 0, 0);
            b.command(c);
            assertEquals(0x4567_BABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress());
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, cont, true, 1, 3, 0, 0);
            b.command(c);
            assertEquals(0x45A0_4000L, b.translate(SID, NO_PASID, cont, R).physicalAddress(),
                    "a contiguous level-3 span is an entry of level 3");
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, block, true, 1, 2, 0, 0); // TTL=2
            b.command(c);
            assertEquals(0x4580_0000L, b.translate(SID, NO_PASID, block, R).physicalAddress());
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, 0x4000, true, 2, 1, 0, 0); // 16K, TTL=1, no DS
            int cons = b.command(c);
            assertEquals(CERROR_ILL, cons >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK);
        }
    }

    @Test
    void stage2InvalidationByIpaAndVmid() {
        try (ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            buildS2Tables(b);
            b.writeStruct(b.steAddress(st, SID), 0xDL, 0, S2_DW2, 0x7300_0000L);
            long ipa = 0x0000_0080_8060_4123L;
            assertEquals(0x4580_0123L, b.translate(SID, NO_PASID, ipa, R).physicalAddress());
            b.writeStruct(0x7302_0020L, 0x4590_07FFL);
            assertEquals(0x4580_0123L, b.translate(SID, NO_PASID, ipa, R).physicalAddress());
            long[] c = new long[2];
            Command.tlbiAddress(c, Command.OP_TLBI_S2_IPA, 4, 0, ipa & ~0xfffL, true, 0, 0, 0, 0); // other VMID
            b.command(c);
            assertEquals(0x4580_0123L, b.translate(SID, NO_PASID, ipa, R).physicalAddress());
            Command.tlbiAddress(c, Command.OP_TLBI_S2_IPA, 3, 0, ipa & ~0xfffL, true, 0, 0, 0, 0);
            b.command(c);
            assertEquals(0x4590_0123L, b.translate(SID, NO_PASID, ipa, R).physicalAddress());
            b.writeStruct(0x7302_0020L, 0x4580_07FFL);
            Command.tlbiS12Vmall(c, 3);
            b.command(c);
            assertEquals(0x4580_0123L, b.translate(SID, NO_PASID, ipa, R).physicalAddress());
        }
    }

    @Test
    void configurationCacheIsStaleUntilCfgi() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            assertTrue(b.translate(SID, NO_PASID, VA_4K, R).isOk());
            b.writeStruct(b.steAddress(st[0], SID), 0x1L); // abort, without CFGI
            long[] c = new long[2];
            Command.tlbiNsnhAll(c);
            b.command(c); // even with the TLB empty the cached STE+CD still translate
            assertTrue(b.translate(SID, NO_PASID, VA_4K, R).isOk(), "cached STE still used");
            Command.cfgiSte(c, SID, true);
            b.command(c);
            assertEquals(Translation.FAULT, b.translate(SID, NO_PASID, VA_4K, R).status());
            // CD cache: restore the STE, then invalidate the CD in memory only
            b.writeStruct(b.steAddress(st[0], SID), CD_4K | 0xBL);
            Command.cfgiSte(c, SID, true);
            b.command(c);
            assertTrue(b.translate(SID, NO_PASID, VA_4K, R).isOk());
            b.writeStruct(CD_4K, 0);
            Command.tlbiNsnhAll(c);
            b.command(c);
            assertTrue(b.translate(SID, NO_PASID, VA_4K, R).isOk(), "cached CD still used");
            Command.cfgiCd(c, SID, 0, true);
            b.command(c);
            assertEquals(EventRecord.C_BAD_CD, b.translate(SID, NO_PASID, VA_4K, R).faultReason());
            Command.cfgiAll(c);
            b.command(c);
        }
    }

    @Test
    void illegalCommandStopsTheQueueUntilGerrorIsAcknowledged() {
        try (ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF))) {
            b.linearStreamTable(8);
            int cons = b.command(0x7fL, 0); // unknown opcode
            assertEquals(CERROR_ILL, cons >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK);
            assertEquals(0, queueIndex(cons, ModelBench.QSHIFT), "CONS stays on the bad command");
            int gerror = b.mmio.read32(b.regs + GERROR);
            assertEquals(GERROR_CMDQ_ERR, (gerror ^ b.mmio.read32(b.regs + GERRORN)) & GERROR_CMDQ_ERR);
            long[] c = new long[2];
            cons = b.command(Command.OP_CMD_SYNC, 0); // queued behind the error: not consumed
            assertEquals(0, queueIndex(cons, ModelBench.QSHIFT));
            Command.sync(c, Command.SYNC_CS_NONE, 0, 0);
            b.writeStruct(b.cmdq, c[0], c[1]); // arm_smmu_cmdq_skip_err: replace with CMD_SYNC
            b.mmio.write32(b.regs + GERRORN, gerror);
            cons = b.mmio.read32(b.regs + CMDQ_CONS);
            assertEquals(2, cons);
            // reserved TLBI range encoding (TG != 0, NUM = SCALE = TTL = 0) and RESUME without stall support
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, 0x1000, true, 1, 0, 0, 0);
            cons = b.command(c);
            assertEquals(CERROR_ILL, cons >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK);
        }
    }

    @Test
    void resumeIsIllegalWithoutStallSupportAndSyncWritesMsi() {
        try (ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF))) {
            b.linearStreamTable(8);
            long[] c = new long[2];
            long msi = b.alloc(0);
            b.memory.write32(msi, -1);
            Command.sync(c, Command.SYNC_CS_IRQ, msi, 0xdead);
            assertEquals(1, b.command(c));
            assertEquals(0xdead, b.memory.read32(msi));
            Command.resume(c, SID, 0, Command.RESUME_RETRY);
            int cons = b.command(c);
            assertEquals(CERROR_ILL, cons >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK);
        }
    }

    @Test
    void eventQueueOverflowTogglesOvflgAndSignalsMsi() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            AtomicInteger irqs = new AtomicInteger();
            MsiVector v = b.machine.interrupts().allocate("evtq", irqs::incrementAndGet);
            b.mmio.write64(b.regs + EVENTQ_IRQ_CFG0, v.address());
            b.mmio.write32(b.regs + EVENTQ_IRQ_CFG1, v.data());
            b.mmio.write32(b.regs + IRQ_CTRL, IRQ_CTRL_EVTQ_IRQEN);
            for (int i = 0; i < 17; i++) {
                b.translate(SID, NO_PASID, va4k(1, 2, 3, 5, 0), R);
            }
            int prod = b.mmio.read32(b.regs + EVENTQ_PROD);
            assertEquals(Q_OVERFLOW_FLAG, prod & Q_OVERFLOW_FLAG);
            assertTrue(queueFull(prod, 0, ModelBench.QSHIFT));
            assertEquals(1, b.unit.eventsLost());
            assertEquals(17, irqs.get());
        }
    }

    // =====================================================================================================
    // HTTU and PRI

    @Test
    void hardwareUpdatesAccessFlagAndDirtyState() {
        try (ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            build4kTables(b);
            b.writeStruct(0x7000_3048L, 0x0008_0000_4567_CBC7L); // L3[9]: DBM, AP[2]=1 (writable-clean), AF=0
            b.writeStruct(CD_4K, CD_4K_DW0 | 3L << 42, 0x7000_0000L, 0, 0x0000_0000_f404_ff44L); // HA | HD
            b.writeStruct(b.steAddress(st, SID), CD_4K | 0xBL);
            long va = va4k(1, 2, 3, 9, 0);
            assertTrue(b.translate(SID, NO_PASID, va, R).isOk());
            assertEquals(0x0008_0000_4567_CFC7L, b.memory.read64(0x7000_3048L), "AF set by the SMMU");
            assertTrue(b.translate(SID, NO_PASID, va, W).isOk());
            assertEquals(0x0008_0000_4567_CF47L, b.memory.read64(0x7000_3048L), "AP[2] cleared: dirty");
            // without DBM a write to a read-only page still faults
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, va4k(1, 2, 3, 7, 0), W).faultReason());
        }
    }

    @Test
    void priCapableFunctionGetsPageRequestInsteadOfEvent() {
        try (ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF).withPri())) {
            long st = b.linearStreamTable(8);
            build4kTables(b);
            b.writeStruct(b.steAddress(st, SID), CD_4K | 0xBL, 1L << 28); // EATS=1
            byte[] buf = new byte[8];
            assertEquals(DmaStatus.PAGE_REQUEST, b.function(BDF).dmaRead(va4k(1, 2, 3, 5, 0x40), buf));
            assertNull(b.nextEvent());
            long p0 = b.memory.read64(b.priq);
            long p1 = b.memory.read64(b.priq + 8);
            assertEquals(SID, BitField.extract(dev.iommufd.smmuv3.layout.PageRequestRecord.SID, p0));
            assertEquals(1, BitField.extract(dev.iommufd.smmuv3.layout.PageRequestRecord.PERM_READ, p0));
            assertEquals(va4k(1, 2, 3, 5, 0), p1 & ~0xfffL);
            assertEquals(1, b.mmio.read32(b.regs + PRIQ_PROD));
        }
    }

    @Test
    void dmaThroughTheMachineUsesTheModel() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            byte[] data = {1, 2, 3, 4};
            assertEquals(DmaStatus.OK, b.function(BDF).dmaWrite(VA_4K, data));
            assertEquals(0x04030201, b.memory.read32(0x4567_8ABCL));
            assertEquals(DmaStatus.FAULT, b.function(BDF).dmaWrite(va4k(1, 2, 3, 7, 0), data));
            assertTrue(b.unit.tlbLiveEntries() > 0);
        }
    }

    @Test
    void remainingInvalidationCommands() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            long[] c = new long[2];
            // TLBI_NH_VAA: every ASID
            assertTrue(b.translate(SID, NO_PASID, VA_4K, R).isOk());
            b.writeStruct(0x7000_3020L, 0x4567_BF47L);
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VAA, 0, 0, VA_4K & ~0xfffL, true, 0, 0, 0, 0);
            b.command(c);
            assertEquals(0x4567_BABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress());
            // TLBI_NH_ALL of the stream's VMID (0 on an SMMU without stage 2)
            b.writeStruct(0x7000_3020L, 0x4567_8F47L);
            Command.tlbiNhAll(c, 0);
            b.command(c);
            assertEquals(0x4567_8ABCL, b.translate(SID, NO_PASID, VA_4K, R).physicalAddress());
            // CFGI_STE_RANGE: Range=3 covers 16 StreamIDs from SID & ~15
            b.writeStruct(b.steAddress(st[0], SID), 0x1L);
            Command.cfgiSteRange(c, SID + 5, 3);
            b.command(c);
            assertEquals(Translation.FAULT, b.translate(SID, NO_PASID, VA_4K, R).status());
            // CFGI_CD_ALL
            b.writeStruct(b.steAddress(st[0], SID), CD_4K | 0xBL);
            Command.cfgiAll(c);
            b.command(c);
            assertTrue(b.translate(SID, NO_PASID, VA_4K, R).isOk());
            b.writeStruct(CD_4K, 0);
            Command.cfgiCdAll(c, SID);
            b.command(c);
            Command.tlbiNsnhAll(c);
            b.command(c);
            assertEquals(EventRecord.C_BAD_CD, b.translate(SID, NO_PASID, VA_4K, R).faultReason());
            // PREFETCH_* are accepted; TLBI_S12_VMALL, ATC_INV and PRI_RESP are illegal on this SMMU (no S2/ATS/PRI)
            assertEquals(b.command(Command.OP_PREFETCH_CONFIG | (long) SID << 32, 0) & 0xfffff,
                    b.mmio.read32(b.regs + CMDQ_PROD));
            Command.tlbiS12Vmall(c, 1);
            int cons = b.command(c);
            assertEquals(CERROR_ILL, cons >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK);
        }
        try (ModelBench s = new ModelBench("server", Map.of(), ModelBench.device(BDF))) {
            s.linearStreamTable(8);
            long[] c = new long[2];
            Command.atcInv(c, SID, 0, false, 0x10_0000L, 8);
            assertEquals(1, s.command(c), "ATC_INV accepted with IDR0.ATS");
            Command.priResp(c, SID, 0, false, 1, 3);
            int cons = s.command(c);
            assertEquals(CERROR_ILL, cons >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK, "PRI_RESP Resp=3 is reserved");
        }
    }

    @Test
    void structureFramesAreFoundFromTheRegisters() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            java.util.Set<Long> frames = new java.util.HashSet<>();
            b.unit.visitStructureFrames(frames::add);
            assertTrue(frames.contains(st[0]), "stream table");
            assertTrue(frames.contains(b.cmdq), "command queue");
            assertTrue(frames.contains(b.evtq), "event queue");
            assertTrue(frames.contains(CD_4K), "CD");
            for (long table : new long[] {0x7000_0000L, 0x7000_1000L, 0x7000_2000L, 0x7000_3000L}) {
                assertTrue(frames.contains(table), "page table " + Long.toHexString(table));
            }
            assertTrue(!frames.contains(0x4567_8000L), "data pages are not structures");
        }
    }

    static long serverIdr0WithStallModel(int model) {
        try (ModelBench probe = new ModelBench("server", Map.of())) {
            long idr0 = probe.mmio.read32(probe.regs + IDR0) & 0xffff_ffffL;
            return idr0 & ~(3L << IDR0_STALL_MODEL_SHIFT) | (long) model << IDR0_STALL_MODEL_SHIFT;
        }
    }

    @Test
    void stallModelHoldsFaultsUntilResume() {
        long idr0 = serverIdr0WithStallModel(IDR0_STALL_MODEL_STALL_TERMINATE);
        // STALL_MAX = 1, OAS 48, all granules
        try (ModelBench b = new ModelBench("server", Map.of("IDR0", idr0, "IDR5", 0x1_0075L), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            build4kTables(b);
            b.writeStruct(CD_4K, CD_4K_DW0 | 1L << 44, 0x7000_0000L, 0, 0x0000_0000_f404_ff44L); // CD.S=1
            b.writeStruct(b.steAddress(st, SID), CD_4K | 0xBL);
            long va = va4k(1, 2, 3, 5, 0x40);
            Translation t = b.translate(SID, NO_PASID, va, W);
            assertEquals(Translation.PAGE_REQUEST, t.status(), "stalled: the device retries after the response");
            long[] e = b.nextEvent();
            assertEvent(e, EventRecord.F_TRANSLATION, SID, va, false, 0, EventRecord.CLASS_IN);
            assertEquals(1, BitField.extract(EventRecord.STALL, e[1]));
            int stag = (int) BitField.extract(EventRecord.STAG, e[1]);
            assertEquals(1, b.unit.stalledTransactions());
            // STALL_MAX reached: the next fault terminates with an ordinary event
            assertEquals(Translation.FAULT, b.translate(SID, NO_PASID, va, R).status());
            assertEquals(0, BitField.extract(EventRecord.STALL, b.nextEvent()[1]));
            long[] c = new long[2];
            Command.resume(c, SID, stag + 1, Command.RESUME_RETRY); // no such STAG: ignored
            b.command(c);
            assertEquals(1, b.unit.stalledTransactions());
            Command.resume(c, SID, stag, Command.RESUME_RETRY);
            assertEquals(0, b.command(c) >>> CMDQ_CONS_ERR_SHIFT & CMDQ_CONS_ERR_MASK);
            assertEquals(0, b.unit.stalledTransactions());
            assertEquals(Translation.PAGE_REQUEST, b.translate(SID, NO_PASID, va, W).status());
            b.nextEvent();
            b.command(Command.OP_STALL_TERM | (long) SID << 32, 0);
            assertEquals(0, b.unit.stalledTransactions());
            // S1STALLD=1 forbids CD.S=1
            b.writeStruct(b.steAddress(st, SID + 1), CD_4K | 0xBL, 1L << 27);
            assertEquals(EventRecord.C_BAD_CD, b.translate(SID + 1, NO_PASID, va, R).faultReason());
        }
    }

    static final int X = Translation.ACCESS_EXEC;
    static final int P = Translation.ACCESS_PRIV;

    @Test
    void stage1ExecutePrivilegeAndTopByteChecks() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            b.writeStruct(0x7000_3050L, 0x0040_0000_4567_DF47L); // L3[10]: UXN
            b.writeStruct(0x7000_3058L, 0x0020_0000_4567_EFC7L); // L3[11]: PXN, read-only, EL0
            b.writeStruct(0x7000_3060L, 0x4567_FF07L); // L3[12]: AP[1]=0, privileged only
            long uxn = va4k(1, 2, 3, 10, 0);
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, uxn, R | X).faultReason());
            long[] e = b.nextEvent();
            assertEvent(e, EventRecord.F_PERMISSION, SID, uxn, true, 0, EventRecord.CLASS_IN);
            assertEquals(1, BitField.extract(EventRecord.IND, e[1]));
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, uxn, R | X | P).faultReason(),
                    "EL0-writable pages are privileged-execute-never");
            assertEquals(1, BitField.extract(EventRecord.PNU, b.nextEvent()[1]));
            long pxn = va4k(1, 2, 3, 11, 0);
            assertTrue(b.translate(SID, NO_PASID, pxn, R | X).isOk());
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, pxn, R | X | P).faultReason());
            b.nextEvent();
            long priv = va4k(1, 2, 3, 12, 0);
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, priv, R).faultReason());
            b.nextEvent();
            assertTrue(b.translate(SID, NO_PASID, priv, W | P).isOk());
            // top byte: without TBI0 VA[63:56] must match VA[55]
            long tagged = 0x5A00_0000_0000_0000L | VA_4K;
            assertEquals(EventRecord.F_TRANSLATION, b.translate(SID, NO_PASID, tagged, R).faultReason());
            b.nextEvent();
            // a second stream whose CD has TBI0 (bit 38), AFFD (bit 35) and PAN (bit 40)
            long cd = 0x7010_0100L;
            b.writeStruct(cd, CD_4K_DW0 | 1L << 38 | 1L << 35 | 1L << 40, 0x7000_0000L, 0, 0x0000_0000_f404_ff44L);
            b.writeStruct(b.steAddress(st[0], SID + 1), cd | 0xBL);
            assertEquals(0x4567_8ABCL, b.translate(SID + 1, NO_PASID, tagged, R).physicalAddress(), "TBI0 ignores the tag");
            assertTrue(b.translate(SID + 1, NO_PASID, va4k(1, 2, 3, 6, 0), R).isOk(), "AFFD: AF=0 does not fault");
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID + 1, NO_PASID, VA_4K, R | P).faultReason(),
                    "PAN: privileged data access to an EL0 page");
        }
    }

    @Test
    void stage2HardwareUpdatesAndExecuteNever() {
        try (ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF))) {
            long st = b.linearStreamTable(8);
            buildS2Tables(b);
            b.writeStruct(0x7302_0030L, 0x0008_0000_4580_237FL); // L3[6]: DBM, S2AP=RO, AF=0
            b.writeStruct(0x7302_0038L, 0x0040_0000_4580_37FFL); // L3[7]: XN
            b.writeStruct(b.steAddress(st, SID), 0xDL, 0, S2_DW2 | 1L << 56 | 1L << 55, 0x7300_0000L); // S2HA|S2HD
            long ipa = 0x0000_0080_8060_6000L;
            assertTrue(b.translate(SID, NO_PASID, ipa, R).isOk());
            assertEquals(0x0008_0000_4580_277FL, b.memory.read64(0x7302_0030L), "S2 AF set by the SMMU");
            assertTrue(b.translate(SID, NO_PASID, ipa, W).isOk());
            assertEquals(0x0008_0000_4580_27FFL, b.memory.read64(0x7302_0030L), "S2AP[1] set: dirty");
            long xn = ipa + 0x1000;
            assertTrue(b.translate(SID, NO_PASID, xn, R).isOk());
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, xn, R | X).faultReason());
            long[] e = b.nextEvent();
            assertEvent(e, EventRecord.F_PERMISSION, SID, xn, true, 1, EventRecord.CLASS_IN);
            // without S2HA an AF=0 leaf faults at stage 2
            b.writeStruct(0x7302_0040L, 0x4580_437BL); // L3[8]: AF=0, RW
            b.writeStruct(b.steAddress(st, SID + 1), 0xDL, 0, S2_DW2, 0x7300_0000L);
            assertEquals(EventRecord.F_ACCESS, b.translate(SID + 1, NO_PASID, ipa + 0x2000, R).faultReason());
            assertEvent(b.nextEvent(), EventRecord.F_ACCESS, SID + 1, ipa + 0x2000, true, 1, EventRecord.CLASS_IN);
        }
    }

    @Test
    void contiguousHintLetsOneTlbEntryCoverTheSet() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            // L3[16..31]: 16 contiguous 4 KiB pages (64 KiB aligned VA and PA) with Contiguous (bit 52)
            for (int i = 16; i < 32; i++) {
                b.writeStruct(0x7000_3000L + i * 8, 0x0010_0000_4570_0F47L + ((long) (i - 16) << 12));
            }
            long va = va4k(1, 2, 3, 20, 0x34);
            Translation t = b.translate(SID, NO_PASID, va, R);
            assertEquals(0x4570_4034L, t.physicalAddress());
            assertEquals(64 * 1024, t.pageSize(), "one entry spans the contiguous set");
            for (int i = 16; i < 32; i++) {
                b.writeStruct(0x7000_3000L + i * 8, 0); // gone from memory, not invalidated
            }
            assertEquals(0x4570_F008L, b.translate(SID, NO_PASID, va4k(1, 2, 3, 31, 8), R).physicalAddress(),
                    "another page of the set comes from the same TLB entry");
            long[] c = new long[2];
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, va4k(1, 2, 3, 17, 0), true, 0, 0, 0, 0);
            b.command(c); // invalidating any page of the set drops the entry
            assertEquals(EventRecord.F_TRANSLATION, b.translate(SID, NO_PASID, va, R).faultReason());
        }
    }
}
