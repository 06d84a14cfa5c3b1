package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** PASID attachment through the CD table (substreams, S1CDMax, S1DSS), as arm_smmu_set_pasid does it. */
class Smmuv3PasidTest {
    static final String BDF = "00:04.0";
    static final int RW = IoProt.READ | IoProt.WRITE;

    private static long ste0(DriverBench b, PciFunction fn) {
        return b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()));
    }

    private static long ste1(DriverBench b, PciFunction fn) {
        return b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()) + 8);
    }

    @Test
    void pasidsUseTheirOwnCdsAndTheRidFollowsS1dss() {
        try (DriverBench b = new DriverBench("server", Map.of(), DriverBench.device(BDF).withPasid(8))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            assertEquals(8, dev.maxPasidLog2(), "min(SSIDSIZE 20, PASID width 8)");
            Smmuv3PagingDomain rid = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            Smmuv3PagingDomain p5 = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.PASID, null);
            long a = b.machine.memory().frames().allocate(0);
            long c = b.machine.memory().frames().allocate(0);
            b.machine.memory().write32(a, 0xA);
            b.machine.memory().write32(c, 0xC);
            rid.mapPages(0x9000, a, 4096, 1, RW);
            p5.mapPages(0x9000, c, 4096, 1, RW);
            // RID identity, then PASID 5: CD-table STE with S1DSS=bypass, 2-level CD table (256 SSIDs > 64)
            b.driver.identityDomain().attachDevice(dev);
            p5.setDevicePasid(dev, 5, b.driver.blockedDomain());
            assertEquals(StreamTableEntry.CONFIG_S1_TRANS, BitField.extract(StreamTableEntry.CONFIG, ste0(b, fn)));
            assertEquals(8, BitField.extract(StreamTableEntry.S1CDMAX, ste0(b, fn)));
            assertEquals(StreamTableEntry.S1FMT_4K_L2, BitField.extract(StreamTableEntry.S1FMT, ste0(b, fn)));
            assertEquals(StreamTableEntry.S1DSS_BYPASS, BitField.extract(StreamTableEntry.S1DSS, ste1(b, fn)));
            byte[] buf = new byte[4];
            assertEquals(DmaStatus.OK, fn.dmaRead(DmaAttributes.pasid(5), 0x9000, buf, 0, 4));
            assertEquals(0xC, buf[0]);
            assertEquals(DmaStatus.OK, fn.dmaRead(a, buf), "RID bypasses stage 1");
            assertEquals(0xA, buf[0]);
            assertEquals(DmaStatus.FAULT, fn.dmaRead(DmaAttributes.pasid(6), 0x9000, buf, 0, 4));
            // RID to a stage-1 domain: CD 0 + S1DSS=SSID0
            rid.attachDevice(dev);
            assertEquals(StreamTableEntry.S1DSS_SSID0, BitField.extract(StreamTableEntry.S1DSS, ste1(b, fn)));
            assertEquals(DmaStatus.OK, fn.dmaRead(0x9000, buf));
            assertEquals(0xA, buf[0]);
            assertEquals(DmaStatus.OK, fn.dmaRead(DmaAttributes.pasid(5), 0x9000, buf, 0, 4));
            assertEquals(0xC, buf[0]);
            // a stage-2 domain cannot take the RID while PASIDs are attached (the server SMMU has both stages,
            // so every paging domain is stage 1: checked on the blocked path instead)
            b.driver.blockedDomain().attachDevice(dev);
            assertEquals(StreamTableEntry.S1DSS_TERMINATE, BitField.extract(StreamTableEntry.S1DSS, ste1(b, fn)));
            assertEquals(DmaStatus.FAULT, fn.dmaRead(0x9000, buf));
            b.smmu().drainEventQueue();
            List<long[]> events = b.smmu().events();
            assertEquals(EventRecord.F_STREAM_DISABLED,
                    BitField.extract(EventRecord.ID, events.get(events.size() - 1)[0]));
            // removing the last PASID downgrades the STE to a plain abort STE
            b.driver.blockedDomain().setDevicePasid(dev, 5, p5);
            assertEquals(0x1L, ste0(b, fn));
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                    () -> p5.setDevicePasid(dev, 1 << 8, b.driver.blockedDomain())).errno());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                    () -> p5.setDevicePasid(dev, 0, b.driver.blockedDomain())).errno());
            b.driver.releaseDevice(dev);
            rid.free();
            p5.free();
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }

    @Test
    void stage2RidDomainRefusesPasidsAndViceVersa() {
        try (DriverBench probe = new DriverBench("server", Map.of())) {
            long idr0 = probe.machine.mmio().read32(probe.smmu().regs) & 0xffff_ffffL;
            // keep S1P for PASIDs but model a stage-2 RID domain by clearing S1P on a second SMMU is not possible
            // with one unit; instead check the EBUSY rule directly on a stage-2-only SMMU without PASIDs
            try (DriverBench b = new DriverBench("server", Map.of("IDR0", idr0 & ~2L), DriverBench.device(BDF).withPasid(8))) {
                DeviceHandle dev = b.driver.probeDevice(b.function(BDF));
                assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                        () -> b.driver.allocPagingDomain(dev, DomainAllocFlags.PASID, null)).errno());
                IommuDomain s2 = b.driver.allocPagingDomain(dev, 0, null);
                assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                        () -> s2.setDevicePasid(dev, 3, b.driver.blockedDomain())).errno());
            }
        }
    }
}
