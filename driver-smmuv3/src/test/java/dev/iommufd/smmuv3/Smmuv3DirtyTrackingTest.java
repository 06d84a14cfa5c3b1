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
import dev.iommufd.smmuv3.layout.ContextDescriptor;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Dirty tracking with HTTU (IO_PGTABLE_QUIRK_ARM_HD): writable leaves carry DBM, the SMMU clears AP[2] on a write
 * (atomically, PhysicalMemory.compareAndSet64), read_and_clear_dirty reports DBM && !AP[2] and sets AP[2] again.
 */
class Smmuv3DirtyTrackingTest {
    static final String BDF = "00:03.0";

    static final class Recorder implements DirtyRecorder {
        final List<long[]> ranges = new ArrayList<>();
        final IotlbGather gather = new IotlbGather();

        @Override
        public void record(long iova, long length) {
            ranges.add(new long[] {iova, length});
            gather.addRange(iova, length);
        }

        @Override
        public IotlbGather gather() {
            return gather;
        }
    }

    @Test
    void dirtyBitsFollowDeviceWrites() {
        try (DriverBench b = new DriverBench("server", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            assertTrue(b.driver.deviceCapable(dev, Capability.DIRTY_TRACKING));
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.DIRTY_TRACKING, null);
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(2);
            long iova = 0x100_0000L;
            d.mapPages(iova, pa, 4096, 4, IoProt.READ | IoProt.WRITE);
            d.mapPages(iova + 0x4000, pa, 4096, 1, IoProt.READ);
            // writable leaf: DBM(bit 51) nG AF SH=OS AP[1] AttrIndx 0 page, AP[2]=0: "writable-dirty"
            assertEquals(0x0008_0000_0000_0000L | pa | 0xE43L, Smmuv3DriverTest.leaf(b, d, iova, 3));
            d.setDirtyTracking(true);
            Recorder r = new Recorder();
            d.readAndClearDirty(iova, 0x5000, 0, r);
            assertEquals(4, r.ranges.size(), "freshly mapped writable pages start dirty");
            d.iotlbSync(r.gather);
            assertEquals(0x0008_0000_0000_0000L | pa | 0xEC3L, Smmuv3DriverTest.leaf(b, d, iova, 3), "AP[2] set: clean");
            assertEquals(DmaStatus.OK, fn.dmaWrite(iova + 0x2010, new byte[] {1, 2}));
            assertEquals(DmaStatus.OK, fn.dmaRead(iova + 0x1000, new byte[4]));
            Recorder r2 = new Recorder();
            d.readAndClearDirty(iova, 0x5000, IommuDomain.DIRTY_NO_CLEAR, r2);
            assertEquals(1, r2.ranges.size());
            assertEquals(iova + 0x2000, r2.ranges.get(0)[0]);
            assertEquals(4096, r2.ranges.get(0)[1]);
            Recorder r3 = new Recorder();
            d.readAndClearDirty(iova, 0x5000, 0, r3);
            assertEquals(1, r3.ranges.size(), "NO_CLEAR left the bit set");
            Recorder r4 = new Recorder();
            d.readAndClearDirty(iova, 0x5000, 0, r4);
            assertEquals(0, r4.ranges.size());
            // the CD enables HA and HD
            long cd = b.machine.memory().read64(b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()))
                    & ConfigurationUsedBits.S1CTXPTR_MASK);
            assertEquals(1, BitField.extract(ContextDescriptor.HA, cd));
            assertEquals(1, BitField.extract(ContextDescriptor.HD, cd));
        }
    }

    @Test
    void smmuWithoutHttuRefusesDirtyTracking() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            DeviceHandle dev = b.driver.probeDevice(b.function(BDF));
            assertFalse(b.driver.deviceCapable(dev, Capability.DIRTY_TRACKING));
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                    () -> b.driver.allocPagingDomain(dev, DomainAllocFlags.DIRTY_TRACKING, null)).errno());
            IommuDomain d = b.driver.allocPagingDomain(dev, 0, null);
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class, () -> d.setDirtyTracking(true)).errno());
        }
    }
}
