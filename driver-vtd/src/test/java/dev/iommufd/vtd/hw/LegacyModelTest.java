package dev.iommufd.vtd.hw;

import static dev.iommufd.vtd.layout.VtdRegisters.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.spi.hw.Translation;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.FaultReason;
import dev.iommufd.vtd.layout.FaultRecord;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.RootEntry;
import dev.iommufd.vtd.layout.SecondStagePte;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The hardware model in legacy mode (VT-d spec 3.4.2, 9.1, 9.3, 9.8, 7.1 fault recording, 6.5 invalidation). */
class LegacyModelTest {
    static final long RW = SecondStagePte.R | SecondStagePte.W;
    static final int RID = LegacyTables.RID;

    final ModelBench b = new ModelBench("qemu");
    final LegacyTables t = new LegacyTables(b);

    private void enableDefault() {
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, 7, false);
        b.enable(t.root, false);
    }

    private void assertFault(int reason, Translation tr) {
        assertEquals(Translation.FAULT, tr.status(), "status");
        assertEquals(reason, tr.faultReason(), () -> String.format("fault reason %#x", tr.faultReason()));
    }

    @Test
    void registersAfterResetAndPresetValues() {
        assertEquals(0x10, b.r32(VER_REG));
        assertEquals(0x00d2_008c_222f_0606L, b.r64(CAP_REG));
        assertEquals(0xf42L, b.r64(ECAP_REG));
        assertEquals(0, b.r32(GSTS_REG));
        assertEquals(ECTL_IM, b.r32(FECTL_REG));
        assertEquals(0x220, b.fro());
        assertEquals(0xf0, b.iro());
    }

    @Test
    void overridesReplaceRegisterValuesAndUnknownNamesFail() {
        ModelBench o = new ModelBench("qemu", Map.of("ECAP_REG", 0xf42L | ExtendedCapabilityRegister.DT));
        assertEquals(0xf46L, o.r64(ECAP_REG));
        ErrnoException e = assertThrows(ErrnoException.class, () -> new ModelBench("qemu", Map.of("CAPREG", 1L)));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("CAPREG"));
        ErrnoException p = assertThrows(ErrnoException.class, () -> new ModelBench("laptop"));
        assertTrue(p.getMessage().contains("laptop"));
    }

    @Test
    void accessWidthsFollowTheSpec() {
        // 64-bit registers: 64-bit and either 32-bit half
        assertEquals(0x222f_0606L, b.unit.read(CAP_REG, 4));
        assertEquals(0x00d2_008cL, b.unit.read(CAP_REG + 4, 4));
        // 32-bit registers: only 32-bit
        assertThrows(BusErrorException.class, () -> b.unit.read(GSTS_REG, 8));
        assertThrows(BusErrorException.class, () -> b.unit.read(VER_REG, 2));
        assertThrows(BusErrorException.class, () -> b.unit.read(CAP_REG, 1));
        assertThrows(BusErrorException.class, () -> b.unit.write(GCMD_REG, 8, 0));
        // holes
        assertThrows(BusErrorException.class, () -> b.unit.read(0x04, 4));
        assertThrows(BusErrorException.class, () -> b.unit.read(0x800, 4));
        // a 32-bit write to each half of RTADDR
        b.w32(RTADDR_REG, 0x1234_5000);
        b.w32(RTADDR_REG + 4, 0x1);
        assertEquals(0x1_1234_5000L, b.r64(RTADDR_REG));
    }

    @Test
    void translationDisabledPassesAddressesThrough() {
        Translation tr = b.read(RID, 0x1234_5678L);
        assertTrue(tr.isOk());
        assertEquals(0x1234_5678L, tr.physicalAddress());
    }

    @Test
    void globalCommandProtocol() {
        b.w64(RTADDR_REG, t.root);
        b.w32(GCMD_REG, GCMD_SRTP);
        assertEquals(GSTS_RTPS, b.r32(GSTS_REG));
        b.w32(GCMD_REG, GCMD_TE);
        assertEquals(GSTS_RTPS | GSTS_TES, b.r32(GSTS_REG));
        assertEquals(0, b.r32(GCMD_REG), "GCMD reads as 0");
        b.w32(GCMD_REG, GCMD_TE | GCMD_QIE);
        assertEquals(GSTS_RTPS | GSTS_TES | GSTS_QIES, b.r32(GSTS_REG));
        b.w32(GCMD_REG, GCMD_TE | GCMD_WBF);
        assertEquals(GSTS_RTPS | GSTS_TES, b.r32(GSTS_REG), "WBF completes at once, QIE cleared");
        b.w32(GCMD_REG, 0);
        assertEquals(GSTS_RTPS, b.r32(GSTS_REG));
    }

    @Test
    void translatesFourKibTwoMibAndOneGibPages() {
        enableDefault();
        t.map(0x1000, 0x10_0000, 1, RW);
        t.map(0x40_0000, 0x80_0000, 2, SecondStagePte.R);
        t.map(0x4000_0000L, 0x4000_0000L, 3, RW);
        Translation tr = b.read(RID, 0x1234);
        assertTrue(tr.isOk());
        assertEquals(0x10_0234L, tr.physicalAddress());
        assertEquals(4096, tr.pageSize());
        tr = b.read(RID, 0x41_2345);
        assertEquals(0x81_2345L, tr.physicalAddress());
        assertEquals(2 << 20, tr.pageSize());
        tr = b.write(RID, 0x7fff_f000L);
        assertEquals(0x7fff_f000L, tr.physicalAddress());
        assertEquals(1 << 30, tr.pageSize());
    }

    @Test
    void threeLevelTablesWithAw1() {
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 1, 7, false);
        LegacyTables.map(b, t.pgd, 3, 0x7f_ffff_f000L, 0x5000, 1, RW);
        b.enable(t.root, false);
        assertEquals(0x5abcL, b.read(RID, 0x7f_ffff_fabcL).physicalAddress());
        assertFault(FaultReason.ADDRESS_BEYOND_MGAW, b.read(RID, 0x80_0000_0000L));
    }

    @Test
    void passThroughContext() {
        t.context(RID, ContextEntry.TT_PASS_THROUGH, 2, 1, false);
        b.enable(t.root, false);
        assertEquals(0xdead_b000L, b.write(RID, 0xdead_b000L).physicalAddress());
    }

    @Test
    void faultRootNotPresentIsRecordedWithSidAddressAndType() {
        b.enable(t.root, false);
        assertFault(FaultReason.ROOT_NOT_PRESENT, b.write(0x0100, 0x5123));
        long hi = b.frcdHi(0);
        assertTrue(FaultRecord.fault(hi));
        assertEquals(0x0100, FaultRecord.sid(hi));
        assertEquals(FaultReason.ROOT_NOT_PRESENT, FaultRecord.reason(hi));
        assertFalse(FaultRecord.read(hi));
        assertEquals(0x5000L, b.frcdLo(0));
        int fsts = b.r32(FSTS_REG);
        assertEquals(FSTS_PPF, fsts & FSTS_PPF);
        assertEquals(0, (fsts & FSTS_FRI_MASK) >>> FSTS_FRI_SHIFT);
        b.clearFrcd(0);
        assertFalse(FaultRecord.fault(b.frcdHi(0)));
        assertEquals(0, b.r32(FSTS_REG) & FSTS_PPF);
    }

    @Test
    void faultContextNotPresent() {
        b.enable(t.root, false);
        assertFault(FaultReason.CONTEXT_NOT_PRESENT, b.read(RID, 0));
        assertTrue(FaultRecord.read(b.frcdHi(0)));
    }

    @Test
    void faultInvalidContextForReservedTtUnsupportedTtAndAw() {
        t.context(RID, 3, 2, 7, false);
        b.enable(t.root, false);
        assertFault(FaultReason.CONTEXT_INVALID, b.read(RID, 0));
        t.context(RID, ContextEntry.TT_DEV_IOTLB, 2, 7, false); // qemu preset: no ECAP.DT
        assertFault(FaultReason.CONTEXT_INVALID, b.read(RID, 0));
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 3, 7, false); // 57-bit not in SAGAW
        assertFault(FaultReason.CONTEXT_INVALID, b.read(RID, 0));
    }

    @Test
    void faultInvalidContextWhenTheTopLevelTableIsNotRam() {
        t.pgd = 0x8000_0000L; // the q35 hole
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, 7, false);
        b.enable(t.root, false);
        assertFault(FaultReason.CONTEXT_INVALID, b.read(RID, 0));
    }

    @Test
    void faultWriteAndReadDenied() {
        enableDefault();
        t.map(0x1000, 0x2000, 1, SecondStagePte.R);
        t.map(0x3000, 0x4000, 1, SecondStagePte.W);
        assertFault(FaultReason.WRITE_DENIED, b.write(RID, 0x1000));
        assertFault(FaultReason.READ_DENIED, b.read(RID, 0x3000));
        assertFault(FaultReason.READ_DENIED, b.read(RID, 0x9000)); // not present
    }

    @Test
    void nonLeafPermissionsAreAndedOverTheWalk() {
        enableDefault();
        t.map(0x1000, 0x2000, 1, RW);
        long l2 = LegacyTables.entryAddress(b, t.pgd, 4, 0x1000, 2);
        b.mem.write64(l2, b.mem.read64(l2) & ~SecondStagePte.W);
        assertFault(FaultReason.WRITE_DENIED, b.write(RID, 0x1000));
        assertTrue(b.read(RID, 0x1000).isOk());
    }

    @Test
    void faultNextLevelTablePointerInvalid() {
        enableDefault();
        b.mem.write64(t.pgd, SecondStagePte.table(0x8000_0000L));
        assertFault(FaultReason.PAGING_ENTRY_INVALID, b.read(RID, 0x1000));
    }

    @Test
    void faultRootTableAndContextTableAddressesInvalid() {
        b.enable(0x9000_0000L, false);
        assertFault(FaultReason.ROOT_TABLE_INVALID, b.read(RID, 0));
        b.mem.write64(t.root, RootEntry.encode(0x8000_0000L));
        b.enable(t.root, false);
        assertFault(FaultReason.CONTEXT_TABLE_INVALID, b.read(RID, 0));
    }

    @Test
    void faultReservedBitsInRootContextAndPagingEntries() {
        b.mem.write64(t.root, RootEntry.encode(t.context) | 0x10);
        b.enable(t.root, false);
        assertFault(FaultReason.ROOT_RESERVED, b.read(RID, 0));
        b.mem.write64(t.root, RootEntry.encode(t.context));
        t.context(RID, 0, 2, 7, false);
        long ce = ContextEntry.entryAddress(t.context, RID);
        b.mem.write64(ce + 8, b.mem.read64(ce + 8) | (1L << 40));
        assertFault(FaultReason.CONTEXT_RESERVED, b.read(RID, 0));
        t.context(RID, 0, 2, 7, false);
        t.map(0x1000, 0x2000, 1, RW | SecondStagePte.SNP); // SNP without ECAP.SC
        assertFault(FaultReason.PAGING_RESERVED, b.read(RID, 0x1000));
        t.map(0x20_0000, 0x30_1000, 2, RW); // 2 MiB leaf with address bits 20:12 set
        assertFault(FaultReason.PAGING_RESERVED, b.read(RID, 0x20_0000));
    }

    @Test
    void faultOutputInTheInterruptRange() {
        enableDefault();
        t.map(0x1000, 0xfee0_0000L, 1, RW);
        assertFault(FaultReason.INTERRUPT_ADDRESS, b.write(RID, 0x1000));
    }

    @Test
    void faultRequestWithPasidInLegacyMode() {
        enableDefault();
        assertFault(FaultReason.SM_LEGACY_PASID, b.access(RID, 1, 0, Translation.ACCESS_READ));
        assertEquals(1, FaultRecord.pasid(b.frcdHi(0)));
    }

    @Test
    void fpdSuppressesQualifiedFaultsOnly() {
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, 7, true);
        b.enable(t.root, false);
        assertFault(FaultReason.READ_DENIED, b.read(RID, 0x1000));
        assertFalse(FaultRecord.fault(b.frcdHi(0)), "suppressed by FPD");
        assertFault(FaultReason.ROOT_NOT_PRESENT, b.read(0x0100, 0));
        assertTrue(FaultRecord.fault(b.frcdHi(0)), "root-not-present is not qualified");
    }

    @Test
    void overflowAfterNfrPlusOneRecordsAndDuplicatesCollapse() {
        ModelBench s = new ModelBench("server"); // NFR 7: 8 records
        LegacyTables st = new LegacyTables(s);
        s.enable(st.root, false);
        for (int i = 0; i < 8; i++) {
            s.read(0x100 + i, 0);
        }
        s.read(0x100, 0); // duplicate of record 0: collapsed, no overflow
        assertEquals(0, s.r32(FSTS_REG) & FSTS_PFO);
        s.read(0x200, 0);
        assertEquals(FSTS_PFO, s.r32(FSTS_REG) & FSTS_PFO);
        for (int i = 0; i < 8; i++) {
            assertEquals(0x100 + i, FaultRecord.sid(s.frcdHi(i)));
        }
        // PFO set: further faults are dropped even after records are freed, until PFO is cleared
        s.clearFrcd(0);
        s.read(0x300, 0);
        assertFalse(FaultRecord.fault(s.frcdHi(0)));
        s.w32(FSTS_REG, FSTS_PFO);
        s.read(0x300, 0);
        assertEquals(0x300, FaultRecord.sid(s.frcdHi(0)));
    }

    @Test
    void faultEventInterruptMaskAndPending() {
        b.w32(FEDATA_REG, 0x41);
        b.w32(FEADDR_REG, 0xfee0_0000);
        b.enable(t.root, false);
        b.read(RID, 0); // masked after reset: IP set, no MSI
        assertEquals(ECTL_IM | ECTL_IP, b.r32(FECTL_REG));
        assertTrue(b.signals.isEmpty());
        b.w32(FECTL_REG, 0); // unmask: the pending interrupt is delivered
        assertEquals(1, b.signals.size());
        assertEquals(0xfee0_0000L, b.signals.get(0)[0]);
        assertEquals(0x41, b.signals.get(0)[1]);
        b.clearFrcd(0);
        b.read(RID, 0x5000);
        assertEquals(2, b.signals.size());
    }

    @Test
    void staleIotlbEntryStaysUntilRegisterInvalidation() {
        enableDefault();
        t.map(0x1000, 0x2000, 1, RW);
        assertEquals(0x2000L, b.read(RID, 0x1000).physicalAddress());
        long pte = LegacyTables.entryAddress(b, t.pgd, 4, 0x1000, 1);
        b.mem.write64(pte, SecondStagePte.leaf(0x9000, 1, RW));
        assertEquals(0x2000L, b.read(RID, 0x1000).physicalAddress(), "stale until invalidated");
        int iro = b.iro();
        b.w64(iro + IVA_OFFSET, iva(0x1000, false, 0));
        b.w64(iro + IOTLB_OFFSET, iotlbCommand(IOTLB_PAGE, 7));
        long reg = b.r64(iro + IOTLB_OFFSET);
        assertEquals(0, reg & IOTLB_IVT);
        assertEquals(IOTLB_PAGE, iotlbIaig(reg));
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress());
        // a page-selective invalidation of another page or another domain leaves the entry
        b.mem.write64(pte, SecondStagePte.leaf(0xa000, 1, RW));
        b.w64(iro + IVA_OFFSET, iva(0x2000, false, 0));
        b.w64(iro + IOTLB_OFFSET, iotlbCommand(IOTLB_PAGE, 7));
        b.w64(iro + IOTLB_OFFSET, iotlbCommand(IOTLB_DOMAIN, 8));
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress());
        b.w64(iro + IOTLB_OFFSET, iotlbCommand(IOTLB_DOMAIN, 7));
        assertEquals(0xa000L, b.read(RID, 0x1000).physicalAddress());
    }

    @Test
    void staleContextCacheUntilContextInvalidation() {
        enableDefault();
        t.map(0x1000, 0x2000, 1, RW);
        assertTrue(b.read(RID, 0x1000).isOk());
        b.mem.write64(ContextEntry.entryAddress(t.context, RID), 0);
        assertTrue(b.read(RID, 0x1000).isOk(), "context entry cached");
        b.w64(CCMD_REG, ccmd(CCMD_DEVICE, 0, RID, 0));
        assertEquals(CCMD_DEVICE, ccmdCaig(b.r64(CCMD_REG)));
        assertEquals(0, b.r64(CCMD_REG) & CCMD_ICC);
        assertFault(FaultReason.CONTEXT_NOT_PRESENT, b.read(RID, 0x1000));
    }

    @Test
    void queuedInvalidationWithWaitStatusWriteAndInterrupt() {
        enableDefault();
        t.map(0x1000, 0x2000, 1, RW);
        b.read(RID, 0x1000);
        long pte = LegacyTables.entryAddress(b, t.pgd, 4, 0x1000, 1);
        b.mem.write64(pte, SecondStagePte.leaf(0x9000, 1, RW));
        long q = b.enableQueue(false);
        long status = b.frame();
        b.w32(IEDATA_REG, 0x55);
        b.w32(IEADDR_REG, 0xfee0_1000);
        b.w32(IECTL_REG, 0);
        b.submit(q, false,
                InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DEVICE_OR_PAGE, 7), InvalidationDescriptor.addressHi(0x1000, false, 0),
                InvalidationDescriptor.waitLo(true, true, false, 2), status);
        assertEquals(2, b.mem.read32(status));
        assertEquals(ICS_IWC, b.r32(ICS_REG));
        assertEquals(32, b.r64(IQH_REG));
        assertEquals(1, b.signals.size());
        assertEquals(0x55, b.signals.get(0)[1]);
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress());
        // register-based invalidation is refused while QI is on (IAIG 0)
        b.w64(b.iro() + IOTLB_OFFSET, iotlbCommand(IOTLB_GLOBAL, 0));
        assertEquals(0, iotlbIaig(b.r64(b.iro() + IOTLB_OFFSET)));
    }

    @Test
    void queueErrorStopsAtTheBadDescriptorAndResumesWhenCleared() {
        long q = b.enableQueue(false);
        long status = b.frame();
        b.submit(q, false,
                InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_GLOBAL, 0) | (1L << 40), 0, // reserved bit
                InvalidationDescriptor.waitLo(false, true, false, 2), status);
        assertEquals(FSTS_IQE, b.r32(FSTS_REG) & FSTS_IQE);
        assertEquals(IQEI_RESERVED, b.r64(IQER_REG) & IQER_IQEI_MASK);
        assertEquals(0, b.r64(IQH_REG));
        assertEquals(0, b.mem.read32(status));
        // software replaces the bad descriptor (Linux copies its wait descriptor over it) and clears IQE
        b.mem.write64(q, InvalidationDescriptor.waitLo(false, true, false, 3));
        b.mem.write64(q + 8, status);
        b.w32(FSTS_REG, FSTS_IQE);
        assertEquals(2, b.mem.read32(status));
        assertEquals(32, b.r64(IQH_REG));
        assertEquals(0, b.r32(FSTS_REG) & FSTS_IQE);
    }

    @Test
    void unknownAndScalableOnlyDescriptorTypesAreQueueErrors() {
        long q = b.enableQueue(false);
        b.submit(q, false, InvalidationDescriptor.pasidCache(InvalidationDescriptor.PC_G_GLOBAL, 0, 0), 0);
        assertEquals(IQEI_TYPE_INVALID, b.r64(IQER_REG) & IQER_IQEI_MASK);
        b.mem.write64(q, 0xf);
        b.w32(FSTS_REG, FSTS_IQE);
        assertEquals(IQEI_TYPE_INVALID, b.r64(IQER_REG) & IQER_IQEI_MASK, "type 15 is unknown");
    }

    @Test
    void providerCreatesUnitsAtTheQ35Base() {
        var u = new VtdHardwareModelProvider().create(b, IommuUnitConfig.of("dmar1", "vtd", "server"));
        assertEquals(0xfed9_0000L, u.mmioBase());
        assertEquals("dmar1", u.name());
        assertEquals(0x1000, u.size());
        assertTrue(u.registers().stream().anyMatch(r -> r.name().equals("FRCD_REG7_HI") && r.offset() == 0x478));
        assertEquals(java.util.List.of("qemu", "server"), new VtdHardwareModelProvider().presets());
        assertEquals(DmaAttributes.NO_PASID, -1);
    }
}
