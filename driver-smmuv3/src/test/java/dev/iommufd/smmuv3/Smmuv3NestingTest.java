package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.UserDataArray;
import dev.iommufd.spi.UserStructs;
import dev.iommufd.spi.Viommu;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Nesting through the vIOMMU: a guest builds stage-1 tables and a CD in its IPA space, hands the vSTE over
 * (IOMMU_HWPT_DATA_ARM_SMMUV3), the hardware model walks stage 1 with every table address translated by the
 * host's stage 2, and the guest's invalidations come back through the vIOMMU with VMID and SID rewritten.
 */
class Smmuv3NestingTest {
    static final String BDF = "00:05.0";
    static final long GUEST_RAM = 8L << 20;
    static final long VSID = 0x42;

    /** An array of 16-byte guest commands. */
    static UserDataArray commands(long... words) {
        byte[] bytes = new byte[words.length * 8];
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (long w : words) {
            b.putLong(w);
        }
        return new UserDataArray() {
            @Override
            public int type() {
                return Smmuv3Viommu.INVALIDATE_DATA_ARM_SMMUV3;
            }

            @Override
            public int entryLength() {
                return 16;
            }

            @Override
            public int entryCount() {
                return words.length / 2;
            }

            @Override
            public ByteBuffer copyEntry(int index, int expectedType, int kernelSize, int minSize) {
                return UserStructs.copyStruct(bytes, index * 16, 16, kernelSize, minSize, "entry");
            }
        };
    }

    static UserData vste(long ste0, long ste1) {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(ste0).putLong(ste1);
        return new UserData(Smmuv3Viommu.HWPT_DATA_ARM_SMMUV3, b.array());
    }

    /** The guest: RAM at IPA 0 backed by host frames, and its 4K stage-1 tables. */
    static final class Guest {
        final PhysicalMemory memory;
        final long base;

        Guest(PhysicalMemory memory, long base) {
            this.memory = memory;
            this.base = base;
        }

        void write(long ipa, long value) {
            memory.write64(base + ipa, value);
        }

        /** CD at IPA 0x10000; tables at 0x20000.. ; VA 0x1000_0000 -> IPA 0x50000. */
        void buildStage1() {
            // VA 0x1000_0000: L0 0, L1 0, L2 0x80, L3 0
            write(0x20000, 0x21000 | 3);
            write(0x21000, 0x22000 | 3);
            write(0x22000 + 0x80 * 8, 0x23000 | 3);
            write(0x23000, 0x50000 | 0xF47);
            // CD: T0SZ 16, TG0 4K, EPD1, V, IPS 48, AA64, R, A, ASID 7
            write(0x10000, 0x0007_6205_C000_0010L);
            write(0x10008, 0x20000);
            write(0x10018, 0x0000_0000_f404_ff44L);
        }
    }

    @Test
    void guestStage1OverHostStage2() {
        try (DriverBench b = new DriverBench("server", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain parent = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.NEST_PARENT, null);
            assertTrue(parent.stage2);
            long ram = b.machine.memory().frames().allocate(11);
            parent.mapPages(0, ram, 2L << 20, 4, IoProt.READ | IoProt.WRITE | IoProt.CACHE);
            // S2FWB leaf: MemAttr 0b0110 (FWB write-back) at a 2 MiB block
            assertEquals(ram | 0x7D9L, Smmuv3DriverTest.leaf(b, parent, 0, 2));
            Guest g = new Guest(b.machine.memory(), ram);
            g.buildStage1();
            b.machine.memory().write32(ram + 0x50010, 0x1234_5678);
            b.machine.memory().write32(ram + 0x60010, 0x0bad_cafe);

            Viommu viommu = b.driver.allocViommu(dev, parent, Smmuv3Viommu.TYPE_ARM_SMMUV3, null);
            Viommu.VDevice vdev = viommu.allocVDevice(dev, VSID);
            IommuDomain nested = viommu.allocNestedDomain(dev, 0, vste(0x10000 | 0xBL, 0));
            assertEquals(DomainType.NESTED, nested.type());
            nested.attachDevice(dev);
            long ste0 = b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()));
            long ste1 = b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()) + 8);
            long ste2 = b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()) + 16);
            assertEquals(0x10000 | 0xFL, ste0, "Config=nested with the guest's CD pointer (an IPA)");
            assertEquals(1, BitField.extract(StreamTableEntry.MEV, ste1));
            assertEquals(1, BitField.extract(StreamTableEntry.S2FWB, ste1));
            assertEquals(parent.vmid, BitField.extract(StreamTableEntry.S2VMID, ste2));

            byte[] buf = new byte[4];
            assertEquals(DmaStatus.OK, fn.dmaRead(0x1000_0010L, buf));
            assertEquals(0x1234_5678, ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN).getInt());

            // the guest remaps without invalidating: stale; then TLBI_NH_VA through the vIOMMU (guest VMID 0)
            g.write(0x23000, 0x60000 | 0xF47);
            assertEquals(DmaStatus.OK, fn.dmaRead(0x1000_0010L, buf));
            assertEquals(0x1234_5678, ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN).getInt());
            long[] c = new long[2];
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 7, 0x1000_0000L, true, 1, 3, 0, 0);
            assertEquals(1, viommu.cacheInvalidate(commands(c[0], c[1])));
            assertEquals(DmaStatus.OK, fn.dmaRead(0x1000_0010L, buf));
            assertEquals(0x0bad_cafe, ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN).getInt());

            // guest CD change + CFGI_CD with its vSID
            g.write(0x10000, 0x0007_6205_C000_0010L & ~(1L << 31)); // V=0
            Command.tlbiNsnhAll(c);
            long[] nsnh = c.clone();
            Command.cfgiCd(c, (int) VSID, 0, true);
            assertEquals(2, viommu.cacheInvalidate(commands(nsnh[0], nsnh[1], c[0], c[1])));
            assertEquals(DmaStatus.FAULT, fn.dmaRead(0x1000_0010L, buf));
            b.smmu().drainEventQueue();
            assertEquals(1, b.vevents.size(), "C_BAD_CD forwarded to the vEVENTQ");
            ByteBuffer ev = ByteBuffer.wrap(b.vevents.get(0)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(EventRecord.C_BAD_CD, BitField.extract(EventRecord.ID, ev.getLong(0)));
            assertEquals(VSID, BitField.extract(EventRecord.SID, ev.getLong(0)), "physical SID replaced by the vSID");
            vdev.destroy();
            b.driver.blockedDomain().attachDevice(dev);
            nested.free();
            viommu.destroy();
            parent.free();
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }

    @Test
    void nestParentUnmapAlsoFlushesCombinedEntries() {
        try (DriverBench b = new DriverBench("server", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain parent = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.NEST_PARENT, null);
            long ram = b.machine.memory().frames().allocate(11);
            parent.mapPages(0, ram, 4096, 2048, IoProt.READ | IoProt.WRITE);
            new Guest(b.machine.memory(), ram).buildStage1();
            Viommu viommu = b.driver.allocViommu(dev, parent, Smmuv3Viommu.TYPE_ARM_SMMUV3, null);
            IommuDomain nested = viommu.allocNestedDomain(dev, 0, vste(0x10000 | 0xBL, 0));
            nested.attachDevice(dev);
            assertEquals(DmaStatus.OK, fn.dmaRead(0x1000_0010L, new byte[4]));
            IotlbGather g = new IotlbGather();
            assertEquals(4096, parent.unmapPages(0x50000, 4096, 1, g));
            long before = b.smmu().cmdq.commandsIssued();
            parent.iotlbSync(g);
            assertEquals(3, b.smmu().cmdq.commandsIssued() - before, "TLBI_S2_IPA + TLBI_NH_ALL + CMD_SYNC");
            assertEquals(DmaStatus.FAULT, fn.dmaRead(0x1000_0010L, new byte[4]));
            b.smmu().drainEventQueue();
            long[] e = b.smmu().events().get(b.smmu().events().size() - 1);
            assertEquals(EventRecord.F_TRANSLATION, BitField.extract(EventRecord.ID, e[0]));
            assertEquals(1, BitField.extract(EventRecord.S2, e[1]), "stage-2 fault on the final IPA");
        }
    }

    @Test
    void vsteAndCommandValidation() {
        try (DriverBench b = new DriverBench("server", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            IommuDomain plain = b.driver.allocPagingDomain(dev, 0, null);
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                    () -> b.driver.allocViommu(dev, plain, Smmuv3Viommu.TYPE_ARM_SMMUV3, null)).errno());
            Smmuv3PagingDomain parent = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.NEST_PARENT, null);
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                    () -> b.driver.allocViommu(dev, parent, 2, null)).errno());
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                    () -> b.driver.allocNestedDomain(dev, parent, 0, vste(0, 0))).errno());
            Viommu viommu = b.driver.allocViommu(dev, parent, Smmuv3Viommu.TYPE_ARM_SMMUV3, null);
            // fields outside NESTING_ALLOWED, a stage-2 Config, EATS=2
            assertEquals(Errno.EIO, assertThrows(ErrnoException.class,
                    () -> viommu.allocNestedDomain(dev, 0, vste(0xB, 1L << 44))).errno());
            assertEquals(Errno.EIO, assertThrows(ErrnoException.class,
                    () -> viommu.allocNestedDomain(dev, 0, vste(0xD, 0))).errno());
            assertEquals(Errno.EIO, assertThrows(ErrnoException.class,
                    () -> viommu.allocNestedDomain(dev, 0, vste(0xB, 2L << 28))).errno());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                    () -> viommu.allocNestedDomain(dev, 0, new UserData(1, new byte[16]))).errno());
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                    () -> viommu.allocNestedDomain(dev, DomainAllocFlags.PASID, vste(0x9, 0))).errno());
            // an invalid vSTE installs an abort STE; a bypass vSTE installs the parent's S2 STE
            IommuDomain invalid = viommu.allocNestedDomain(dev, 0, vste(0, 0));
            invalid.attachDevice(dev);
            assertEquals(0x1L, b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid())));
            IommuDomain bypass = viommu.allocNestedDomain(dev, 0, vste(0x9, 0));
            bypass.attachDevice(dev);
            assertEquals(0xDL, b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid())));
            viommu.allocVDevice(dev, VSID);
            assertEquals(Errno.EEXIST, assertThrows(ErrnoException.class, () -> viommu.allocVDevice(dev, VSID)).errno());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> viommu.allocVDevice(dev, 1L << 32)).errno());
            long[] c = new long[2];
            Command.tlbiNhAsid(c, 0, 3);
            long[] ok = c.clone();
            ErrnoException e = assertThrows(ErrnoException.class,
                    () -> viommu.cacheInvalidate(commands(ok[0], ok[1], Command.OP_CFGI_STE | VSID << 32, 1)));
            assertEquals(Errno.EIO, e.errno(), "CFGI_STE is not a guest command");
            assertEquals(0, e.progress(), "a bad command fails its whole batch");
            Command.cfgiCd(c, 0x77, 0, true);
            long[] unknownVsid = c.clone();
            assertEquals(Errno.EIO, assertThrows(ErrnoException.class,
                    () -> viommu.cacheInvalidate(commands(unknownVsid[0], unknownVsid[1]))).errno());
            assertEquals(Errno.EIO, assertThrows(ErrnoException.class,
                    () -> viommu.cacheInvalidate(commands(ok[0] | 1L << 10, ok[1]))).errno(), "a RES0 bit");
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 3, 0x1000, true, 1, 0, 0, 0);
            long[] reserved = c.clone();
            assertEquals(Errno.EIO, assertThrows(ErrnoException.class,
                    () -> viommu.cacheInvalidate(commands(reserved[0], reserved[1]))).errno(), "TG!=0, NUM=SCALE=TTL=0");
            assertEquals(1, viommu.cacheInvalidate(commands(ok[0], ok[1])));
            assertEquals(0, b.smmu().cmdq.errors(), "nothing illegal reached the command queue");
        }
    }
}
