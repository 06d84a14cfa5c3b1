package dev.iommufd.mock;

import static dev.iommufd.mock.hw.MockRegisters.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.mock.hw.MockHardwareModelProvider;
import dev.iommufd.mock.hw.MockIommuUnit;
import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.InterruptController;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MsiVector;
import dev.iommufd.platform.PciTopology;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.sim.SparsePhysicalMemory;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.Translation;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The mock hardware model on its own: software is played by the test, which writes registers and hand-computed
 * table words at fixed physical addresses, so every expected value below is computed by hand from the formats
 * documented in {@code MockContextEntry}, {@code MockIoPte}, {@code MockFaultRecord} and {@code MockPageRequest}.
 */
class MockIommuUnitTest {
    private static final int RID = 0x0100; // 0000:01:00.0
    private static final long DT = 0x0100_0000L;
    private static final long DTE = DT + RID * 16L; // 0x0100_1000
    private static final long ROOT = 0x0020_0000L;
    private static final long L1 = 0x0020_1000L;
    private static final long L0 = 0x0020_2000L;
    /** V | MODE=paging (2 << 1) | ROOT | DTAG 7 << 48. */
    private static final long DTE_PAGING = 0x0007_0000_0020_0005L;

    private PhysicalMemory memory;
    private final List<long[]> signals = new ArrayList<>();
    private MockIommuUnit unit;

    @BeforeEach
    void setUp() {
        memory = SparsePhysicalMemory.of(MachineProfile.Q35, 64L << 20);
        InterruptController irq = new InterruptController() {
            @Override
            public MsiVector allocate(String name, Runnable handler) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void free(MsiVector vector) {
            }

            @Override
            public boolean signal(long address, int data) {
                signals.add(new long[] {address, data});
                return true;
            }
        };
        HardwareContext ctx = new HardwareContext() {
            @Override
            public PhysicalMemory memory() {
                return memory;
            }

            @Override
            public InterruptController interrupts() {
                return irq;
            }

            @Override
            public PciTopology pci() {
                return null;
            }

            @Override
            public String profile() {
                return "q35";
            }
        };
        unit = (MockIommuUnit) new MockHardwareModelProvider().create(ctx, IommuUnitConfig.of("mock0", "mock", "default"));
    }

    private void enableWithTables() {
        unit.write(DTBR, 8, DT);
        memory.write64(DTE, DTE_PAGING);
        memory.write64(ROOT, 0x0000_0000_0020_1001L); // L2[0] -> L1 table (P)
        memory.write64(L1 + 16 * 8, 0x0000_0000_0020_2001L); // L1[16] (iova 0x0100_0000) -> L0 table
        memory.write64(L0, 0x0000_0000_0030_080BL); // L0[0]: PA 0x30_0800, P|R|L (read-only)
        memory.write64(L0 + 8, 0x0000_0000_0030_100FL); // L0[1]: PA 0x30_1000, P|R|W|L
        memory.write64(L1 + 17 * 8, 0x0000_0000_0040_000FL); // L1[17]: 1 MiB block at PA 0x40_0000, P|R|W|L
        unit.write(CTRL, 4, CTRL_TE);
    }

    private Translation translate(int pasid, long iova, int access) {
        return unit.translate(RID, pasid, iova, access, new Translation());
    }

    @Test
    void registersHaveTheirArchitectedWidthsAndValues() {
        assertEquals(0x0001_0000L, unit.read(VERSION, 4));
        long cap = unit.read(CAP, 8);
        assertEquals(48, cap & 0xff, "PAW");
        assertEquals(20, (cap >>> 8) & 0xff, "MAX_PASID_LOG2");
        assertEquals(0xfL << 32, cap & (0xfL << 32), "HUGE | DIRTY | PRQ | PASID");
        assertThrows(BusErrorException.class, () -> unit.read(VERSION, 8));
        assertThrows(BusErrorException.class, () -> unit.read(CAP, 4));
        assertThrows(BusErrorException.class, () -> unit.read(0x0a0, 4), "no register at 0xa0");
        assertThrows(BusErrorException.class, () -> unit.write(0x1000, 4, 0), "outside the window");
        unit.write(VERSION, 4, 0x1234); // read-only: ignored
        assertEquals(0x0001_0000L, unit.read(VERSION, 4));
        assertEquals(0, unit.read(INV_CMD, 8), "write-only reads as 0");
        assertEquals(21 + 2 * FRCD_COUNT, unit.registers().size());
    }

    @Test
    void unknownPresetOrOverrideIsEinval() {
        HardwareContext ctx = null;
        ErrnoException e = assertThrows(ErrnoException.class,
                () -> new MockHardwareModelProvider().create(ctx, IommuUnitConfig.of("m", "mock", "qemu")));
        assertEquals(Errno.EINVAL, e.errno());
        e = assertThrows(ErrnoException.class, () -> new MockHardwareModelProvider().create(ctx,
                new IommuUnitConfig("m", "mock", 0x0a00_0000L, "default", Map.of("CAP", 1L))));
        assertEquals(Errno.EINVAL, e.errno());
    }

    @Test
    void translationDisabledFaultsAndRecordsTheFault() {
        Translation t = translate(DmaAttributes.NO_PASID, 0x0100_0000L, Translation.ACCESS_READ);
        assertEquals(Translation.FAULT, t.status());
        assertEquals(7, t.faultReason(), "REASON_NOT_ENABLED");
        assertEquals(0x0100_0000L, unit.read(frcdLo(0), 8));
        // F | REASON 7 << 40 | ACCESS R (1) << 37 | RID 0x100
        assertEquals(0x8000_0720_0000_0100L, unit.read(frcdHi(0), 8));
        assertEquals(1, unit.read(FSTS, 4), "FRI advanced to 1");
    }

    @Test
    void walksPagesAndBlocksAndChecksPermissions() {
        enableWithTables();
        Translation t = translate(DmaAttributes.NO_PASID, 0x0100_0123L, Translation.ACCESS_READ);
        assertTrue(t.isOk());
        assertEquals(0x0030_0923L, t.physicalAddress());
        assertEquals(2048, t.pageSize());

        t = translate(DmaAttributes.NO_PASID, 0x0100_0123L, Translation.ACCESS_WRITE);
        assertEquals(Translation.FAULT, t.status());
        assertEquals(5, t.faultReason(), "REASON_PERMISSION on a read-only leaf");
        // F | REASON 5 << 40 | ACCESS W (2) << 37 | RID
        assertEquals(0x8000_0540_0000_0100L, unit.read(frcdHi(0), 8));

        t = translate(DmaAttributes.NO_PASID, 0x0112_3456L, Translation.ACCESS_WRITE);
        assertTrue(t.isOk());
        assertEquals(0x0042_3456L, t.physicalAddress());
        assertEquals(1 << 20, t.pageSize());

        t = translate(DmaAttributes.NO_PASID, 0x0120_0000L, Translation.ACCESS_READ);
        assertEquals(4, t.faultReason(), "REASON_NOT_PRESENT");
        t = translate(DmaAttributes.NO_PASID, 1L << 38, Translation.ACCESS_READ);
        assertEquals(6, t.faultReason(), "REASON_ADDRESS_SIZE");
    }

    @Test
    void dirtyBitIsSetOnlyWhenTheContextEnablesIt() {
        enableWithTables();
        assertTrue(translate(DmaAttributes.NO_PASID, 0x0100_0810L, Translation.ACCESS_WRITE).isOk());
        assertEquals(0x0030_100FL, memory.read64(L0 + 8), "DE clear: D untouched");
        memory.write64(DTE, DTE_PAGING | 0x8); // DE
        Translation t = translate(DmaAttributes.NO_PASID, 0x0100_0810L, Translation.ACCESS_WRITE);
        assertEquals(0x0030_1010L, t.physicalAddress());
        assertEquals(0x0030_101FL, memory.read64(L0 + 8), "D (bit 4) set through the cached entry");
        translate(DmaAttributes.NO_PASID, 0x0100_0000L, Translation.ACCESS_READ);
        assertEquals(0x0030_080BL, memory.read64(L0), "a read sets no D");
        translate(DmaAttributes.NO_PASID, 0x0110_0000L, Translation.ACCESS_WRITE);
        assertEquals(0x0040_001FL, memory.read64(L1 + 17 * 8), "a block leaf gets D on a walk");
    }

    @Test
    void iotlbStaysStaleUntilTheTagRangeIsInvalidated() {
        enableWithTables();
        assertTrue(translate(DmaAttributes.NO_PASID, 0x0100_0810L, Translation.ACCESS_READ).isOk());
        long misses = unit.read(IOTLB_MISSES, 8);
        memory.write64(L0 + 8, 0); // software unmaps the leaf but does not invalidate
        Translation t = translate(DmaAttributes.NO_PASID, 0x0100_0810L, Translation.ACCESS_READ);
        assertTrue(t.isOk(), "stale IOTLB entry still translates");
        assertEquals(0x0030_1010L, t.physicalAddress());
        assertEquals(misses, unit.read(IOTLB_MISSES, 8), "served from the IOTLB");

        unit.write(INV_CMD, 8, INV_OP_TAG | (8L << 16)); // another tag: no effect
        assertTrue(translate(DmaAttributes.NO_PASID, 0x0100_0810L, Translation.ACCESS_READ).isOk());

        unit.write(INV_ADDR, 8, 0x0100_0800L);
        unit.write(INV_LAST, 8, 0x0100_0fffL);
        unit.write(INV_CMD, 8, 0x0007_0003L); // TAG_RANGE, DTAG 7
        assertEquals(4, translate(DmaAttributes.NO_PASID, 0x0100_0810L, Translation.ACCESS_READ).faultReason());
        assertEquals(2, unit.read(INV_COUNT, 4), "two commands executed");
    }

    @Test
    void blockEntriesAreInvalidatedByAnyOverlappingRange() {
        enableWithTables();
        assertTrue(translate(DmaAttributes.NO_PASID, 0x0118_0000L, Translation.ACCESS_READ).isOk());
        memory.write64(L1 + 17 * 8, 0);
        assertTrue(translate(DmaAttributes.NO_PASID, 0x0118_0000L, Translation.ACCESS_READ).isOk(), "stale");
        unit.write(INV_ADDR, 8, 0x0110_0000L);
        unit.write(INV_LAST, 8, 0x0110_07ffL); // first 2 KiB of the block only
        unit.write(INV_CMD, 8, 0x0007_0003L);
        assertFalse(translate(DmaAttributes.NO_PASID, 0x0118_0000L, Translation.ACCESS_READ).isOk());
    }

    @Test
    void pasidRequestsUseThePasidTable() {
        enableWithTables();
        memory.write64(DTE + 8, 0x0000_0000_0021_0001L); // PDV | PDIR 0x21_0000
        memory.write64(0x0021_0008L, 0x0000_0000_0021_4001L); // dir[1] (PASIDs 512..1023) -> table 0x21_4000
        memory.write64(0x0021_4028L, 0x0000_0000_0000_0003L); // PASID 517 = 512 + 5: V | MODE identity
        Translation t = translate(517, 0x0005_0000L, Translation.ACCESS_WRITE);
        assertTrue(t.isOk());
        assertEquals(0x0005_0000L, t.physicalAddress());
        assertEquals(2, translate(516, 0x5000, Translation.ACCESS_READ).faultReason(), "REASON_PASID_INVALID");
        assertEquals(2, translate(5, 0x5000, Translation.ACCESS_READ).faultReason(), "dir[0] absent");
        // F | REASON 2 | ACCESS R | PV | PASID 5 << 16 | RID
        assertEquals(0x8000_0230_0005_0100L, unit.read(frcdHi(1), 8));
        assertTrue(translate(DmaAttributes.NO_PASID, 0x0100_0000L, Translation.ACCESS_READ).isOk(), "RID path");
    }

    @Test
    void translationFaultOfAPriDeviceQueuesAPageRequestAndSignalsTheMsi() {
        enableWithTables();
        memory.write64(DTE, DTE_PAGING | 0x10); // PRE
        unit.write(PQ_BASE, 8, 0x0022_0000L);
        unit.write(PQ_MSI_ADDR, 8, 0xfee0_0000L);
        unit.write(PQ_MSI_DATA, 4, 0x41);
        Translation t = translate(DmaAttributes.NO_PASID, 0x0120_0abcL, Translation.ACCESS_WRITE);
        assertEquals(Translation.FAULT, t.status(), "PQE is off: recorded as a fault");
        unit.write(CTRL, 4, CTRL_TE | CTRL_PQE);
        t = translate(DmaAttributes.NO_PASID, 0x0120_0abcL, Translation.ACCESS_WRITE);
        assertEquals(Translation.PAGE_REQUEST, t.status());
        assertEquals(0x0120_0012L, memory.read64(0x0022_0000L), "ADDR 0x120_0000 | LAST | W");
        assertEquals(0x0000_0000_0000_0100L, memory.read64(0x0022_0008L), "RID 0x100, PASID 0, PRGI 0");
        assertEquals(1, unit.read(PQ_TAIL, 4));
        assertEquals(1, signals.size());
        assertEquals(0xfee0_0000L, signals.get(0)[0]);
        assertEquals(0x41, signals.get(0)[1]);

        memory.write64(DTE + 8, 0x0000_0000_0021_0001L);
        memory.write64(0x0021_0000L, 0x0000_0000_0021_4001L);
        memory.write64(0x0021_4018L, DTE_PAGING); // PASID 3 -> same tables
        t = translate(3, 0x0100_0000L, Translation.ACCESS_WRITE); // read-only leaf: permission
        assertEquals(Translation.PAGE_REQUEST, t.status());
        assertEquals(0x0100_0032L, memory.read64(0x0022_0010L), "ADDR | PV | LAST | W");
        assertEquals((1L << 36) | (3L << 16) | 0x100, memory.read64(0x0022_0018L), "PRGI 1, PASID 3, RID");
    }

    @Test
    void faultRingOverflowSetsPfoAndRecordsAreClearedByW1c() {
        enableWithTables();
        for (int i = 0; i < FRCD_COUNT; i++) {
            translate(DmaAttributes.NO_PASID, 0x0120_0000L + i * 2048L, Translation.ACCESS_READ);
        }
        assertEquals(0, unit.read(FSTS, 4), "FRI wrapped, no overflow yet");
        translate(DmaAttributes.NO_PASID, 0x0130_0000L, Translation.ACCESS_READ);
        assertEquals(FSTS_PFO, unit.read(FSTS, 4));
        assertEquals(0x0120_0000L, unit.read(frcdLo(0), 8), "record 0 kept");
        unit.write(frcdHi(0), 8, 1L << 63);
        assertEquals(0, unit.read(frcdHi(0), 8) >>> 63);
        unit.write(FSTS, 4, FSTS_PFO);
        assertEquals(0, unit.read(FSTS, 4));
        translate(DmaAttributes.NO_PASID, 0x0130_0000L, Translation.ACCESS_READ);
        assertEquals(0x0130_0000L, unit.read(frcdLo(0), 8));
    }

    @Test
    void invalidAndBlockedContextsFault() {
        enableWithTables();
        assertEquals(1, unit.translate(0x0200, DmaAttributes.NO_PASID, 0, Translation.ACCESS_READ, new Translation())
                .faultReason(), "REASON_CONTEXT_INVALID");
        memory.write64(DTE, 0x1); // V, MODE blocked
        assertEquals(3, translate(DmaAttributes.NO_PASID, 0x0100_0000L, Translation.ACCESS_READ).faultReason());
        memory.write64(DTE, 0x7); // V, MODE 3 (reserved)
        assertEquals(9, translate(DmaAttributes.NO_PASID, 0x0100_0000L, Translation.ACCESS_READ).faultReason());
    }

    @Test
    void dtbrIsReadOnlyWhileTranslating() {
        enableWithTables();
        unit.write(DTBR, 8, 0x0200_0000L);
        assertEquals(DT, unit.read(DTBR, 8));
    }

    @Test
    void structureFramesAreFoundFromTheRegisters() {
        enableWithTables();
        List<Long> frames = new ArrayList<>();
        unit.visitStructureFrames(frames::add);
        assertTrue(frames.contains(DT) && frames.contains(DT + 255 * 4096L));
        assertTrue(frames.contains(ROOT) && frames.contains(L1) && frames.contains(L0));
        assertEquals(256 + 3, frames.size());
    }
}
