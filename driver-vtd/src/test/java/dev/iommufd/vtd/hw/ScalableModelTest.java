package dev.iommufd.vtd.hw;

import static dev.iommufd.vtd.layout.VtdRegisters.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.spi.hw.Translation;
import dev.iommufd.vtd.layout.FaultReason;
import dev.iommufd.vtd.layout.FaultRecord;
import dev.iommufd.vtd.layout.FirstStagePte;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.PageRequestDescriptor;
import dev.iommufd.vtd.layout.PasidDirectoryEntry;
import dev.iommufd.vtd.layout.PasidTableEntry;
import dev.iommufd.vtd.layout.RootEntry;
import dev.iommufd.vtd.layout.ScalableContextEntry;
import dev.iommufd.vtd.layout.SecondStagePte;
import org.junit.jupiter.api.Test;

/** The hardware model in scalable mode (VT-d spec 3.4.3, 9.4-9.7, 3.8 nesting, 7.5 page requests). */
class ScalableModelTest {
    static final int RID = ScalableTables.RID;
    static final int R = Translation.ACCESS_READ;
    static final int W = Translation.ACCESS_WRITE;
    static final long RW = SecondStagePte.R | SecondStagePte.W;
    static final int NP = DmaAttributes.NO_PASID;

    final ModelBench b = new ModelBench("server");
    final ScalableTables t = new ScalableTables(b);

    private void on() {
        b.enable(t.root, true);
    }

    private void fault(int reason, Translation tr) {
        assertEquals(Translation.FAULT, tr.status());
        assertEquals(reason, tr.faultReason(), () -> String.format("fault reason %#x", tr.faultReason()));
    }

    private Translation go(int pasid, long iova, int access) {
        return b.access(RID, pasid, iova, access);
    }

    // ---------------- root, context, PASID structures ----------------

    @Test
    void ttmScalableWithoutSmtsAndReservedTtm() {
        ModelBench q = new ModelBench("qemu");
        q.enable(q.frame(), true);
        fault(FaultReason.SM_RTADDR_INVALID, q.read(RID, 0));
        b.w64(RTADDR_REG, t.root | (2L << RTADDR_TTM_SHIFT));
        b.w32(GCMD_REG, GCMD_SRTP);
        b.w32(GCMD_REG, GCMD_TE);
        fault(FaultReason.SM_RTADDR_INVALID, go(NP, 0, R));
    }

    @Test
    void rootEntryFaults() {
        b.enable(0x9000_0000L, true);
        fault(FaultReason.SM_ROOT_ACCESS, go(NP, 0, R));
        on();
        fault(FaultReason.SM_ROOT_NOT_PRESENT, b.access(0x80, NP, 0, R)); // devfn >= 128 uses the upper half
        b.mem.write64(t.root, RootEntry.encode(t.context) | 0x100);
        fault(FaultReason.SM_ROOT_RESERVED, go(NP, 0, R));
        b.mem.write64(t.root, RootEntry.encode(0x8000_0000L));
        fault(FaultReason.SM_CONTEXT_ACCESS, go(NP, 0, R));
    }

    @Test
    void contextEntryFaults() {
        on();
        b.mem.write64(t.contextAddress(), 0);
        fault(FaultReason.SM_CONTEXT_NOT_PRESENT, go(NP, 0, R));
        t.context(2, false, true);
        b.mem.write64(t.contextAddress() + 16, 1);
        fault(FaultReason.SM_CONTEXT_RESERVED, go(NP, 0, R));
        b.mem.write64(t.contextAddress() + 16, 0);
        b.mem.write64(t.contextAddress() + 8, ScalableContextEntry.encodeQ1(5)); // RID_PASID without ECAP.RPS
        fault(FaultReason.SM_CONTEXT_INVALID, go(NP, 0, R));
    }

    @Test
    void pasidEnableAndRange() {
        t.context(0, false, false);
        on();
        fault(FaultReason.SM_PASIDE_CLEAR, go(1, 0, R));
        t.context(0, false, true);
        b.w64(CCMD_REG, 0); // (register-based invalidation is refused with QI off? QI is off here: it works)
        b.w64(CCMD_REG, ccmd(CCMD_GLOBAL, 0, 0, 0));
        fault(FaultReason.SM_PASID_RANGE, go(1 << 13, 0, R)); // PDTS 0: 2^7 directory entries, 2^13 PASIDs
    }

    @Test
    void pasidDirectoryAndTableFaults() {
        t.context(2, false, true);
        b.mem.write64(t.contextAddress(), ScalableContextEntry.encodeQ0(0x8000_0000L, 2, false, true, false, false));
        on();
        fault(FaultReason.SM_PDE_ACCESS, go(NP, 0, R));
        t.context(2, false, true);
        b.w64(CCMD_REG, ccmd(CCMD_GLOBAL, 0, 0, 0));
        fault(FaultReason.SM_PDE_NOT_PRESENT, go(64, 0, R));
        b.mem.write64(t.dir + 8, PasidDirectoryEntry.encode(t.pasidTable, false) | 0x10);
        fault(FaultReason.SM_PDE_RESERVED, go(64, 0, R));
        b.mem.write64(t.dir + 8, PasidDirectoryEntry.encode(0x8000_0000L, false));
        fault(FaultReason.SM_PE_ACCESS, go(64, 0, R));
        fault(FaultReason.SM_PE_NOT_PRESENT, go(NP, 0, R));
        t.firstStage(0, 0);
        b.mem.write64(t.entryAddress(0) + 8, PasidTableEntry.encodeQ1(3, false, false) | (1L << 16));
        fault(FaultReason.SM_PE_RESERVED, go(NP, 0, R));
        t.firstStage(0, 0);
        b.mem.write64(t.entryAddress(0), PasidTableEntry.encodeQ0(0, 2, 5, false, false));
        fault(FaultReason.SM_PE_INVALID, go(NP, 0, R));
        b.mem.write64(t.entryAddress(0), PasidTableEntry.encodeQ0(t.ssRoot, 1, PasidTableEntry.PGTT_SECOND_STAGE, false, false));
        fault(FaultReason.SM_PE_INVALID, go(NP, 0, R)); // AW 1 (39 bit) not in this unit's SAGAW
    }

    @Test
    void executeAndSupervisorRequestsNeedEreAndSre() {
        t.firstStage(1, 0);
        on();
        fault(FaultReason.SM_ERE_CLEAR, go(1, 0, R | Translation.ACCESS_EXEC));
        fault(FaultReason.SM_SRE_CLEAR, go(1, 0, R | Translation.ACCESS_PRIV));
        assertTrue(FaultRecord.pasidPresent(b.frcdHi(0)));
    }

    @Test
    void fpdInThePasidEntrySuppressesQualifiedFaults() {
        t.firstStage(0, 0);
        b.mem.write64(t.entryAddress(0), b.mem.read64(t.entryAddress(0)) | PasidTableEntry.FPD);
        on();
        fault(FaultReason.SM_FS_NOT_PRESENT, go(NP, 0x1000, R));
        assertFalse(FaultRecord.fault(b.frcdHi(0)));
    }

    // ---------------- first stage ----------------

    @Test
    void firstStageTranslatesAndSetsAccessedAndDirty() {
        long pa = b.frame();
        ScalableTables.mapFs(b, t.fsRoot, 0x7000, pa | FirstStagePte.P | FirstStagePte.RW | FirstStagePte.US);
        b.mem.write64(t.fsRoot, b.mem.read64(t.fsRoot) & ~FirstStagePte.A);
        t.firstStage(0, 0);
        on();
        Translation tr = go(NP, 0x7123, R);
        assertTrue(tr.isOk());
        assertEquals(pa + 0x123, tr.physicalAddress());
        long leaf = ScalableTables.fsEntryAddress(b, t.fsRoot, 0x7000, 1);
        assertEquals(FirstStagePte.A, b.mem.read64(leaf) & (FirstStagePte.A | FirstStagePte.D), "read: A only");
        assertEquals(FirstStagePte.A, b.mem.read64(t.fsRoot) & FirstStagePte.A, "A on the PML4E too");
        assertTrue(go(NP, 0x7123, W).isOk()); // IOTLB hit without D: the walk runs again and sets D
        assertEquals(FirstStagePte.D, b.mem.read64(leaf) & FirstStagePte.D);
    }

    @Test
    void firstStageFaults() {
        t.firstStage(0, 0);
        on();
        fault(FaultReason.SM_FS_NOT_PRESENT, go(NP, 0x1000, R));
        fault(FaultReason.SM_NON_CANONICAL, go(NP, 1L << 47, R));
        ScalableTables.mapFs(b, t.fsRoot, 0x1000, 0x10_0000 | FirstStagePte.P); // supervisor, read-only
        fault(FaultReason.SM_USER_TO_SUPERVISOR, go(NP, 0x1000, R));
        ScalableTables.mapFs(b, t.fsRoot, 0x2000, 0x10_0000 | FirstStagePte.P | FirstStagePte.US);
        fault(FaultReason.SM_WRITE_DENIED, go(NP, 0x2000, W));
        ScalableTables.mapFs(b, t.fsRoot, 0x3000, 0xfee0_0000L | FirstStagePte.P | FirstStagePte.US);
        fault(FaultReason.SM_INTERRUPT_ADDRESS, go(NP, 0x3000, R));
        b.mem.write64(t.fsRoot + 8, FirstStagePte.table(b.frame()) | FirstStagePte.PS); // PS in a PML4E
        fault(FaultReason.SM_FS_RESERVED, go(NP, 1L << 39, R));
        b.mem.write64(t.fsRoot + 16, FirstStagePte.table(0x8000_0000L));
        fault(FaultReason.SM_FS_ACCESS, go(NP, 2L << 39, R));
        t.firstStage(1, 0);
        b.mem.write64(t.entryAddress(1) + 16, PasidTableEntry.encodeQ2(0x8000_0000L, 0, false, false, false));
        fault(FaultReason.SM_FS_ROOT_ACCESS, go(1, 0, R));
    }

    @Test
    void executeDisableWithNxe() {
        t.firstStage(2, PasidTableEntry.NXE | PasidTableEntry.ERE);
        ScalableTables.mapFs(b, t.fsRoot, 0x5000, 0x10_0000 | FirstStagePte.P | FirstStagePte.US | FirstStagePte.XD);
        on();
        assertTrue(go(2, 0x5000, R).isOk());
        fault(FaultReason.SM_EXECUTE_DISABLED, go(2, 0x5000, R | Translation.ACCESS_EXEC));
        // without NXE, XD is a reserved bit
        t.firstStage(3, PasidTableEntry.ERE);
        fault(FaultReason.SM_FS_RESERVED, go(3, 0x5000, R));
    }

    // ---------------- second stage ----------------

    @Test
    void secondStageWithSsadeSetsAccessedAndDirty() {
        long pa = b.frame();
        LegacyTables.map(b, t.ssRoot, 4, 0x9000, pa, 1, RW);
        t.secondStage(0, true);
        on();
        assertEquals(pa + 4, go(NP, 0x9004, R).physicalAddress());
        long leaf = LegacyTables.entryAddress(b, t.ssRoot, 4, 0x9000, 1);
        assertEquals(SecondStagePte.A, b.mem.read64(leaf) & (SecondStagePte.A | SecondStagePte.D));
        assertEquals(SecondStagePte.A, b.mem.read64(t.ssRoot) & SecondStagePte.A);
        assertTrue(go(NP, 0x9004, W).isOk());
        assertEquals(SecondStagePte.D, b.mem.read64(leaf) & SecondStagePte.D);
    }

    @Test
    void secondStageWithoutSsadeLeavesAccessedAndDirtyAlone() {
        LegacyTables.map(b, t.ssRoot, 4, 0x9000, b.frame(), 1, RW);
        t.secondStage(0, false);
        on();
        assertTrue(go(NP, 0x9000, W).isOk());
        long leaf = LegacyTables.entryAddress(b, t.ssRoot, 4, 0x9000, 1);
        assertEquals(0, b.mem.read64(leaf) & (SecondStagePte.A | SecondStagePte.D));
    }

    @Test
    void secondStageFaultsUseScalableModeReasons() {
        t.secondStage(0, false);
        on();
        fault(FaultReason.SM_SS_NOT_PRESENT, go(NP, 0x1000, R));
        fault(FaultReason.SM_BEYOND_SS_AGAW, go(NP, 1L << 48, R));
        LegacyTables.map(b, t.ssRoot, 4, 0x1000, 0x10_0000, 1, SecondStagePte.R);
        fault(FaultReason.SM_WRITE_DENIED, go(NP, 0x1000, W));
        LegacyTables.map(b, t.ssRoot, 4, 0x2000, 0x10_0000, 1, SecondStagePte.W);
        fault(FaultReason.SM_READ_DENIED, go(NP, 0x2000, R));
        LegacyTables.map(b, t.ssRoot, 4, 0x3000, 0x10_0000, 1, RW | SecondStagePte.TM);
        fault(FaultReason.SM_SS_RESERVED, go(NP, 0x3000, R));
        b.mem.write64(t.ssRoot + 8, SecondStagePte.table(0x8000_0000L));
        fault(FaultReason.SM_SS_ACCESS, go(NP, 1L << 39, R));
        b.mem.write64(t.entryAddress(1) + 8, PasidTableEntry.encodeQ1(4, false, false));
        b.mem.write64(t.entryAddress(1), PasidTableEntry.encodeQ0(0x8000_0000L, 2, PasidTableEntry.PGTT_SECOND_STAGE, false, false));
        fault(FaultReason.SM_SS_ROOT_INVALID, go(1, 0, R));
    }

    @Test
    void snpIsALegalLeafBitInScalableMode() {
        LegacyTables.map(b, t.ssRoot, 4, 0x1000, 0x10_0000, 1, RW | SecondStagePte.SNP);
        t.secondStage(0, false);
        on();
        assertTrue(go(NP, 0x1000, R).isOk());
    }

    // ---------------- nested ----------------

    @Test
    void nestedWalkTranslatesEveryFirstStageTableThroughTheSecondStage() {
        // guest-physical 0x40_0000.. (first-stage tables and the data page) mapped by the second stage
        long[] hpa = new long[5];
        for (int i = 0; i < 5; i++) {
            hpa[i] = b.frame();
            LegacyTables.map(b, t.ssRoot, 4, 0x40_0000 + i * 4096L, hpa[i], 1, RW);
        }
        long va = 0x1234_5000L;
        for (int l = 4; l > 1; l--) {
            b.mem.write64(hpa[4 - l] + SecondStagePte.index(va, l) * 8L, FirstStagePte.table(0x40_0000 + (5 - l) * 4096L));
        }
        b.mem.write64(hpa[3] + SecondStagePte.index(va, 1) * 8L, FirstStagePte.leaf(0x40_4000, 1, true));
        t.nested(0, 0x40_0000);
        on();
        Translation tr = go(NP, va + 0x44, W);
        assertTrue(tr.isOk(), () -> String.format("%#x", tr.faultReason()));
        assertEquals(hpa[4] + 0x44, tr.physicalAddress());
        // A/D of the guest's entries were written at their host-physical addresses
        assertEquals(FirstStagePte.D, b.mem.read64(hpa[3] + SecondStagePte.index(va, 1) * 8L) & FirstStagePte.D);
        // a first-stage table outside the second stage's address width
        t.nested(1, 1L << 50);
        fault(FaultReason.SM_NESTED_FS_TABLE_BEYOND_SS, go(1, va, R));
        // a first-stage leaf whose output GPA is beyond the second stage's 48-bit width
        b.mem.write64(hpa[3] + SecondStagePte.index(va + 4096, 1) * 8L, FirstStagePte.leaf(1L << 49, 1, true));
        fault(FaultReason.SM_BEYOND_SS_AGAW, go(NP, va + 4096, R));
        // a first-stage table GPA the second stage does not map
        t.nested(2, 0x80_0000);
        fault(FaultReason.SM_SS_NOT_PRESENT, go(2, va, R));
    }

    // ---------------- caches and invalidation ----------------

    @Test
    void pasidCacheStaysStaleUntilPasidCacheInvalidation() {
        ScalableTables.mapFs(b, t.fsRoot, 0x1000, FirstStagePte.leaf(0x10_0000, 1, true));
        t.firstStage(0, 0);
        on();
        long q = b.enableQueue(true);
        assertTrue(go(NP, 0x1000, R).isOk());
        b.mem.write64(t.entryAddress(0), 0);
        b.submit(q, true, InvalidationDescriptor.pasidIotlbLo(InvalidationDescriptor.PIOTLB_G_PASID, 3, 0), 0, 0, 0);
        assertTrue(go(NP, 0x1000, R).isOk(), "the PASID entry is still cached");
        b.submit(q, true, InvalidationDescriptor.pasidCache(InvalidationDescriptor.PC_G_PASID, 3, 0), 0, 0, 0);
        fault(FaultReason.SM_PE_NOT_PRESENT, go(NP, 0x1000, R));
    }

    @Test
    void firstStageEntriesIgnoreIotlbDescriptorsAndFollowPasidBasedOnes() {
        long leaf;
        ScalableTables.mapFs(b, t.fsRoot, 0x1000, FirstStagePte.leaf(0x10_0000, 1, true));
        t.firstStage(0, 0);
        on();
        long q = b.enableQueue(true);
        assertEquals(0x10_0000L, go(NP, 0x1000, R).physicalAddress());
        leaf = ScalableTables.fsEntryAddress(b, t.fsRoot, 0x1000, 1);
        b.mem.write64(leaf, FirstStagePte.leaf(0x20_0000, 1, true));
        b.submit(q, true, InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DEVICE_OR_PAGE, 3),
                InvalidationDescriptor.addressHi(0x1000, false, 0), 0, 0);
        assertEquals(0x10_0000L, go(NP, 0x1000, R).physicalAddress(), "type 2 PSI does not touch first-stage entries");
        b.submit(q, true, InvalidationDescriptor.pasidIotlbLo(InvalidationDescriptor.PIOTLB_G_PAGE, 3, 1),
                InvalidationDescriptor.addressHi(0x1000, false, 0), 0, 0);
        assertEquals(0x10_0000L, go(NP, 0x1000, R).physicalAddress(), "another PASID");
        b.submit(q, true, InvalidationDescriptor.pasidIotlbLo(InvalidationDescriptor.PIOTLB_G_PAGE, 3, 0),
                InvalidationDescriptor.addressHi(0x1000, false, 0), 0, 0);
        assertEquals(0x20_0000L, go(NP, 0x1000, R).physicalAddress());
        assertEquals(0, b.r32(FSTS_REG) & FSTS_IQE);
    }

    @Test
    void wideQueueErrors() {
        long q = b.enableQueue(true);
        b.w64(IQT_REG, 0x10); // bit 4 with 256-bit descriptors
        assertEquals(FSTS_IQE, b.r32(FSTS_REG) & FSTS_IQE);
        assertEquals(IQEI_TAIL_MISALIGNED, b.r64(IQER_REG) & IQER_IQEI_MASK);
        b.w32(FSTS_REG, FSTS_IQE);
        b.w64(IQT_REG, 0x2_0000); // beyond the 2-page queue of 256 descriptors
        assertEquals(IQEI_TAIL_INVALID, b.r64(IQER_REG) & IQER_IQEI_MASK);
        b.w32(FSTS_REG, FSTS_IQE);
        b.submit(q, true, InvalidationDescriptor.waitLo(false, false, false, 0), 0, 1, 0); // qword 2 must be 0
        assertEquals(IQEI_RESERVED, b.r64(IQER_REG) & IQER_IQEI_MASK);
        ModelBench narrow = new ModelBench("server");
        narrow.enable(new ScalableTables(narrow).root, true);
        long nq = narrow.enableQueue(false);
        narrow.submit(nq, false, InvalidationDescriptor.pageGroupResponseLo(0x20, 0, false, 0), 0);
        assertEquals(IQEI_WIDTH, narrow.r64(IQER_REG) & IQER_IQEI_MASK, "page group responses are 256-bit only");
    }

    @Test
    void deviceTlbAndPageGroupResponseDescriptorsComplete() {
        on();
        long q = b.enableQueue(true);
        b.submit(q, true,
                InvalidationDescriptor.deviceTlbLo(0x20, 0, 0), InvalidationDescriptor.deviceTlbHi(0, 52), 0, 0,
                InvalidationDescriptor.pasidDeviceTlbLo(0x20, 5, 0, 0), InvalidationDescriptor.pasidDeviceTlbHi(0, 52, false), 0, 0,
                InvalidationDescriptor.pageGroupResponseLo(0x20, 5, true, 0), InvalidationDescriptor.pageGroupResponseHi(3, true), 0, 0);
        assertEquals(0, b.r32(FSTS_REG) & FSTS_IQE);
        assertEquals(2, b.unit.deviceTlbInvalidations());
        assertEquals(1, b.unit.pageGroupResponses());
        assertEquals(InvalidationDescriptor.pageGroupResponseLo(0x20, 5, true, 0), b.unit.lastPageGroupResponse());
        b.submit(q, true, InvalidationDescriptor.deviceTlbLo(0x20, 0, 0x7), 0, 0, 0); // PFSID without ECAP.DIT
        assertEquals(IQEI_RESERVED, b.r64(IQER_REG) & IQER_IQEI_MASK);
    }

    @Test
    void scalableOnlyDescriptorsInLegacyModeAreTtmErrors() {
        b.enable(t.root, false); // a scalable-capable unit running legacy tables
        long q = b.enableQueue(false);
        b.submit(q, false, InvalidationDescriptor.pasidCache(InvalidationDescriptor.PC_G_GLOBAL, 0, 0), 0);
        assertEquals(IQEI_INVALID_TTM, b.r64(IQER_REG) & IQER_IQEI_MASK);
    }

    // ---------------- page requests ----------------

    @Test
    void pageRequestsGoToTheQueueForPriDevicesWithPre() {
        b.addPriFunction(RID);
        t.context(2, true, true);
        t.firstStage(0, 0);
        t.firstStage(7, 0);
        long prq = b.frame();
        b.w64(PQA_REG, prq); // PQS 0: one page, 128 descriptors
        b.w32(PEDATA_REG, 0x66);
        b.w32(PEADDR_REG, 0xfee0_2000);
        b.w32(PECTL_REG, 0);
        on();
        Translation tr = go(7, 0x4000, W);
        assertEquals(Translation.PAGE_REQUEST, tr.status());
        assertEquals(FaultReason.SM_FS_NOT_PRESENT, tr.faultReason());
        assertFalse(FaultRecord.fault(b.frcdHi(0)), "a page request is not a recorded fault");
        long q0 = b.mem.read64(prq);
        long q1 = b.mem.read64(prq + 8);
        assertEquals(PageRequestDescriptor.encodeQ0(RID, 7, false, false), q0);
        assertEquals(0x4000L | PageRequestDescriptor.WR | PageRequestDescriptor.LPIG, q1);
        assertEquals(32, b.r64(PQT_REG));
        assertEquals(PRS_PPR, b.r32(PRS_REG));
        assertEquals(1, b.signals.size());
        assertEquals(0x66, b.signals.get(0)[1]);
        // full queue: PRO, and the fault is recorded instead
        for (int i = 1; i < 127; i++) {
            assertEquals(Translation.PAGE_REQUEST, go(7, 0x4000 + i * 4096L, R).status());
        }
        fault(FaultReason.SM_FS_NOT_PRESENT, go(7, 0x20_0000, R));
        assertEquals(PRS_PRO, b.r32(PRS_REG) & PRS_PRO);
        assertTrue(FaultRecord.fault(b.frcdHi(0)));
    }

    @Test
    void noPageRequestWithoutPre() {
        b.addPriFunction(RID);
        t.firstStage(0, 0);
        b.w64(PQA_REG, b.frame());
        on();
        fault(FaultReason.SM_FS_NOT_PRESENT, go(NP, 0x4000, R));
        assertEquals(0, b.r64(PQT_REG));
    }
}
