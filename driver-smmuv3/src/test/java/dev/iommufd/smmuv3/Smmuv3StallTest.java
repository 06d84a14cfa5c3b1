package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.ContextDescriptor;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.PageResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The stall model from the driver's side: S1STALLD for PCI masters, and forced stalling reported as IOPF. */
class Smmuv3StallTest {
    static final String BDF = "00:09.0";

    static long serverIdr0(int stallModel) {
        try (DriverBench probe = new DriverBench("server", Map.of())) {
            long idr0 = probe.machine.mmio().read32(probe.smmu().regs) & 0xffff_ffffL;
            return idr0 & ~(3L << SmmuRegisters.IDR0_STALL_MODEL_SHIFT) | (long) stallModel << SmmuRegisters.IDR0_STALL_MODEL_SHIFT;
        }
    }

    @Test
    void pciMastersGetS1stalldWhenTheSmmuCanStall() {
        try (DriverBench b = new DriverBench("server", Map.of("IDR0", serverIdr0(0)), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            assertFalse(b.driver.deviceCapable(dev, Capability.IOPF));
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long ste1 = b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()) + 8);
            assertEquals(1, BitField.extract(StreamTableEntry.S1STALLD, ste1));
            assertEquals(DmaStatus.FAULT, fn.dmaRead(0x1000, new byte[4]), "no stall: terminated");
        }
    }

    @Test
    void forcedStallsBecomePageFaultsAndResume() {
        try (DriverBench b = new DriverBench("server", Map.of("IDR0", serverIdr0(2)), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            assertTrue(b.driver.deviceCapable(dev, Capability.IOPF));
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long ste0 = b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()));
            long cd0 = b.machine.memory().read64(ste0 & ConfigurationUsedBits.S1CTXPTR_MASK);
            assertEquals(1, BitField.extract(ContextDescriptor.S, cd0));
            assertEquals(DmaStatus.PAGE_REQUEST, fn.dmaRead(0x3008, new byte[4]));
            assertEquals(1, b.faults.size());
            IoPageFault f = b.faults.get(0);
            assertEquals(0x3008, f.addr());
            assertEquals(IoPageFault.PERM_READ, f.perm());
            assertTrue(f.lastPage());
            long pa = b.machine.memory().frames().allocate(0);
            d.mapPages(0x3000, pa, 4096, 1, IoProt.READ);
            b.driver.pageResponse(dev, new PageResponse(0, false, f.grpid(), PageResponse.SUCCESS));
            assertEquals(0, b.smmu().cmdq.errors());
            assertEquals(DmaStatus.OK, fn.dmaRead(0x3008, new byte[4]));
        }
    }
}
