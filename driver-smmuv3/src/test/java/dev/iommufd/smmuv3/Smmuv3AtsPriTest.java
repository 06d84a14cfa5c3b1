package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.PageResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** ATS (EATS, ATC invalidation after the IOTLB) and PRI (PRIQ drained by MSI, page responses). */
class Smmuv3AtsPriTest {
    static final String PRI_BDF = "00:06.0";
    static final String PLAIN_BDF = "00:07.0";

    @Test
    void pageRequestReachesTheFaultSinkAndTheResponseLetsTheDeviceRetry() {
        try (DriverBench b = new DriverBench("server", Map.of(), DriverBench.device(PRI_BDF).withPri(),
                DriverBench.device(PLAIN_BDF))) {
            PciFunction fn = b.function(PRI_BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            assertTrue(b.driver.deviceCapable(dev, Capability.IOPF));
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long ste1 = b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()) + 8);
            assertEquals(StreamTableEntry.EATS_TRANS, BitField.extract(StreamTableEntry.EATS, ste1));
            byte[] buf = new byte[8];
            assertEquals(DmaStatus.PAGE_REQUEST, fn.dmaWrite(0x7010, buf));
            assertEquals(1, b.faults.size());
            IoPageFault f = b.faults.get(0);
            assertEquals(0x7000, f.addr());
            assertTrue(f.lastPage());
            assertEquals(IoPageFault.PERM_WRITE, f.perm());
            assertFalse(f.pasidValid());
            long pa = b.machine.memory().frames().allocate(0);
            d.mapPages(0x7000, pa, 4096, 1, IoProt.READ | IoProt.WRITE);
            b.driver.pageResponse(dev, new PageResponse(0, false, f.grpid(), PageResponse.SUCCESS));
            assertEquals(0, b.smmu().cmdq.errors());
            assertEquals(DmaStatus.OK, fn.dmaWrite(0x7010, buf));
            // unmap: TLBI + CMD_SYNC, then CMD_ATC_INV + CMD_SYNC for the ATS master
            long before = b.smmu().cmdq.commandsIssued();
            IotlbGather g = new IotlbGather();
            d.unmapPages(0x7000, 4096, 1, g);
            d.iotlbSync(g);
            assertEquals(4, b.smmu().cmdq.commandsIssued() - before);
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                    () -> b.driver.pageResponse(dev, new PageResponse(0, false, 0, 7))).errno());

            DeviceHandle plain = b.driver.probeDevice(b.function(PLAIN_BDF));
            assertFalse(b.driver.deviceCapable(plain, Capability.IOPF));
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                    () -> b.driver.pageResponse(plain, new PageResponse(0, false, 0, PageResponse.SUCCESS))).errno());
            Smmuv3PagingDomain d2 = (Smmuv3PagingDomain) b.driver.allocPagingDomain(plain, 0, null);
            d2.attachDevice(plain);
            d2.mapPages(0x7000, pa, 4096, 1, IoProt.READ);
            before = b.smmu().cmdq.commandsIssued();
            g.reset();
            d2.unmapPages(0x7000, 4096, 1, g);
            d2.iotlbSync(g);
            assertEquals(2, b.smmu().cmdq.commandsIssued() - before, "no ATS: TLBI + CMD_SYNC only");
        }
    }
}
