package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** DMA through an IOMMU unit's translation into physical memory, with the test model's offset translation. */
class DmaPathTest {

    private static SimulatedMachine machine() {
        return SimulatedMachineTest.machine(64L << 20, PciFunctionSpec.endpoint("00:04.0", "t0"));
    }

    @Test
    void writesLandAtTheTranslatedAddressAndSplitAtPages() {
        try (SimulatedMachine m = machine()) {
            m.mmio().write64(SimulatedMachineTest.UNIT_BASE + OffsetTranslationModel.OFFSET_REG, 0x30_0000L);
            PciFunction fn = m.pci().function(PciAddress.parse("00:04.0"));
            byte[] data = new byte[10000];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (i * 7 + 1);
            }
            assertEquals(DmaStatus.OK, fn.dmaWrite(0x1ff0, data));
            byte[] back = new byte[data.length];
            m.memory().readBytes(0x30_1ff0L, back, 0, back.length);
            assertArrayEquals(data, back);
            byte[] viaDma = new byte[data.length];
            assertEquals(DmaStatus.OK, fn.dmaRead(0x1ff0, viaDma));
            assertArrayEquals(data, viaDma);
        }
    }

    @Test
    void aFaultStopsTheRequestAfterTheBytesBeforeIt() {
        try (SimulatedMachine m = machine()) {
            PciFunction fn = m.pci().function(PciAddress.parse("00:04.0"));
            byte[] data = new byte[8192];
            Arrays.fill(data, (byte) 0x5a);
            long iova = OffsetTranslationModel.FAULT_BASE - 4096; // first page translates, second faults
            assertEquals(DmaStatus.FAULT, fn.dmaWrite(iova, data));
            assertEquals(0x5a, m.memory().read8(iova + 4095), "the page before the fault was written");
            assertEquals(0, m.memory().read8(OffsetTranslationModel.FAULT_BASE), "nothing at or after the fault");
            assertEquals(1L, m.mmio().read64(SimulatedMachineTest.UNIT_BASE + OffsetTranslationModel.FAULTS_REG));
            assertEquals(DmaStatus.PAGE_REQUEST, fn.dmaRead(OffsetTranslationModel.PRI_BASE + 8, new byte[4]));
        }
    }

    @Test
    void aTranslationOutsideRamIsABusError() {
        try (SimulatedMachine m = machine()) {
            PciFunction fn = m.pci().function(PciAddress.parse("00:04.0"));
            byte[] buf = new byte[16];
            assertEquals(DmaStatus.BUS_ERROR, fn.dmaRead((64L << 20) - 8, buf), "runs past the end of RAM");
            assertEquals(DmaStatus.BUS_ERROR, fn.dmaWrite(0x8000_0000L, buf));
        }
    }

    @Test
    void attributesReachTheUnit() {
        // The unit sees the requester ID, PASID and access bits: a capturing model would show them; here the
        // offset model ignores them, so check only that every attribute combination is accepted and hits.
        try (SimulatedMachine m = machine()) {
            PciFunction fn = m.pci().function(PciAddress.parse("00:04.0"));
            byte[] b = new byte[8];
            assertEquals(DmaStatus.OK, fn.dmaRead(new DmaAttributes(5, true, true), 0x1000, b, 0, 8));
            assertEquals(DmaStatus.OK, fn.dmaWrite(DmaAttributes.pasid(0), 0x1000, b, 0, 8));
            assertEquals(DmaStatus.OK, fn.dmaWrite(DmaAttributes.NONE, 0x1000, b, 0, 0), "empty request");
        }
    }

    @Test
    void theHitPathAllocatesNothing() {
        try (SimulatedMachine m = machine()) {
            PciFunction fn = m.pci().function(PciAddress.parse("00:04.0"));
            byte[] buf = new byte[3 * 4096 + 100];
            for (int i = 0; i < 200; i++) { // warm up: first-write frames, thread-local Translation, JIT
                fn.dmaWrite(DmaAttributes.NONE, 0x10_0000L + 17, buf, 0, buf.length);
                fn.dmaRead(DmaAttributes.NONE, 0x10_0000L + 17, buf, 0, buf.length);
            }
            long before = BuddyFrameAllocatorTest.allocatedBytes();
            for (int i = 0; i < 10000; i++) {
                fn.dmaWrite(DmaAttributes.NONE, 0x10_0000L + 17, buf, 0, buf.length);
                fn.dmaRead(DmaAttributes.NONE, 0x10_0000L + 17, buf, 0, buf.length);
            }
            long allocated = BuddyFrameAllocatorTest.allocatedBytes() - before;
            // One object per request would be at least 16 bytes x 20000; allow a few KiB of JIT/measurement noise.
            assertTrue(allocated < 16 * 1024, "20000 DMA requests allocated " + allocated + " bytes");
        }
    }

    @Test
    void onX86AnAlignedDwordWriteToTheInterruptWindowIsAnMsi() {
        try (SimulatedMachine m = machine()) {
            PciFunction fn = m.pci().function(PciAddress.parse("00:04.0"));
            int[] fired = new int[1];
            dev.iommufd.platform.MsiVector v = m.interrupts().allocate("dev-msi", () -> fired[0]++);
            byte[] data = {(byte) v.data(), (byte) (v.data() >>> 8), 0, 0};
            long faultsBefore = m.mmio().read64(SimulatedMachineTest.UNIT_BASE + OffsetTranslationModel.FAULTS_REG);
            assertEquals(DmaStatus.OK, fn.dmaWrite(v.address(), data));
            assertEquals(1, fired[0], "delivered synchronously");
            assertEquals(0, m.memory().framesWithStorage(), "not a memory write");
            assertEquals(DmaStatus.FAULT, fn.dmaRead(v.address(), new byte[4]), "a read of the window is refused");
            assertEquals(DmaStatus.FAULT, fn.dmaWrite(v.address(), new byte[8]), "an 8-byte write is no MSI");
            assertEquals(DmaStatus.FAULT, fn.dmaWrite(0xfedf_fffeL, new byte[4]), "straddling into the window");
            assertEquals(faultsBefore,
                    m.mmio().read64(SimulatedMachineTest.UNIT_BASE + OffsetTranslationModel.FAULTS_REG),
                    "the window is never handed to the IOMMU's translation");
            assertEquals(1, fired[0]);
            // With a PASID the request is ordinary DMA through translation (no RAM at 0xfee00000 → bus error).
            assertEquals(DmaStatus.BUS_ERROR, fn.dmaWrite(DmaAttributes.pasid(1), v.address(), data, 0, 4));
        }
    }

    @Test
    void armHasNoInterruptWindowOutsideTranslation() {
        try (SimulatedMachine m = SimulatedMachine.create(dev.iommufd.platform.MachineConfig.builder(
                dev.iommufd.platform.MachineProfile.VIRT).ramSize(64L << 20)
                .iommu(SimulatedMachineTest.testUnit("t0", 0x0a00_0000L, "identity"))
                .device(PciFunctionSpec.endpoint("00:04.0", "t0")).build())) {
            PciFunction fn = m.pci().function(PciAddress.parse("00:04.0"));
            // 0xfee00000 is just an address on Arm: translated (identity) to a hole.
            assertEquals(DmaStatus.BUS_ERROR, fn.dmaWrite(0xfee0_0000L, new byte[4]));
            // MSIs on Arm are DMA writes that reach the ITS doorbell through the IOMMU's translation.
            int[] fired = new int[1];
            dev.iommufd.platform.MsiVector v = m.interrupts().allocate("evtq", () -> { });
            dev.iommufd.platform.MsiVector w = m.interrupts().allocate("dev", () -> fired[0]++);
            m.mmio().write64(0x0a00_0000L + OffsetTranslationModel.OFFSET_REG, w.address() - 0x8000_0040L);
            byte[] eventId = {(byte) w.data(), 0, 0, 0};
            assertEquals(DmaStatus.OK, fn.dmaWrite(0x8000_0040L, eventId));
            assertEquals(1, fired[0]);
            assertEquals(DmaStatus.BUS_ERROR, fn.dmaWrite(0x8000_0040L, new byte[8]), "only a 4-byte write rings it");
            assertEquals(1, fired[0]);
            assertEquals(0, v.data());
        }
    }
}
