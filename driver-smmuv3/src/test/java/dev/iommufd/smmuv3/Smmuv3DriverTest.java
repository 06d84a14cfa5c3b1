package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.ReservedRegion;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The driver end to end on a virt machine: tables written by the driver, DMA decoded by the independent hardware
 * model, descriptors compared with hand-computed words.
 */
class Smmuv3DriverTest {
    static final String BDF = "00:02.0";
    static final int RW = IoProt.READ | IoProt.WRITE;

    /** Reads the leaf descriptor for {@code iova} at {@code leafLevel} by walking with hand-written index math. */
    static long leaf(DriverBench b, Smmuv3PagingDomain d, long iova, int leafLevel) {
        LpaeIoPageTable pt = d.pageTable;
        long table = pt.pgd;
        for (int level = pt.startLevel; level <= leafLevel; level++) {
            int shift = pt.granule.levelShift(level);
            int bits = level == pt.startLevel ? pt.startBits : pt.granule.stride();
            long desc = b.machine.memory().read64(table + ((iova >>> shift) & ((1L << bits) - 1)) * 8);
            if (level == leafLevel) {
                return desc;
            }
            assertEquals(3, desc & 3, "table descriptor at level " + level);
            table = desc & 0x0000_ffff_ffff_f000L & -pt.granule.size();
        }
        throw new AssertionError();
    }

    private static byte[] pattern(int n, int seed) {
        byte[] a = new byte[n];
        for (int i = 0; i < n; i++) {
            a[i] = (byte) (i * 7 + seed);
        }
        return a;
    }

    @Test
    void bindBringsTheSmmuUpThroughMmio() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            long regs = b.smmu().regs;
            int cr0 = b.machine.mmio().read32(regs + SmmuRegisters.CR0ACK);
            assertEquals(SmmuRegisters.CR0_SMMUEN | SmmuRegisters.CR0_CMDQEN | SmmuRegisters.CR0_EVTQEN, cr0);
            // qemu: SIDSIZE 16 with 2-level support -> 2-level table, SPLIT 8
            int cfg = b.machine.mmio().read32(regs + SmmuRegisters.STRTAB_BASE_CFG);
            assertEquals(16 | 8 << 6 | 1 << 16, cfg);
            assertEquals(0, b.smmu().cmdq.errors());
            assertEquals(List.of(DriverBench.UNIT), b.driver.units());
        }
    }

    @Test
    void stage1FourKilobyteMapDmaUnmap() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            assertEquals(1L << 12 | 1L << 21 | 1L << 30, d.geometry().pgsizeBitmap());
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(0);
            long iova = 0x0000_0080_8060_4000L; // L0 1, L1 2, L2 3, L3 4
            assertEquals(4096, d.mapPages(iova, pa, 4096, 1, RW | IoProt.CACHE));
            // hand-computed leaf: PA | nG(0x800) AF(0x400) SH=IS(0x300) AP[1](0x40) AttrIndx 1 (0x4) page (3)
            assertEquals(pa | 0xF47L, leaf(b, d, iova, 3));
            assertEquals(pa + 0x123, d.iovaToPhys(iova + 0x123));
            // the last page of the 48-bit aperture
            long top = (1L << 48) - 4096;
            d.mapPages(top, pa, 4096, 1, RW);
            assertEquals(DmaStatus.OK, fn.dmaRead(top + 0xff0, new byte[16]));
            byte[] data = pattern(64, 1);
            assertEquals(DmaStatus.OK, fn.dmaWrite(iova + 0x80, data));
            byte[] back = new byte[64];
            b.machine.memory().readBytes(pa + 0x80, back, 0, 64);
            assertArrayEquals(data, back);
            IotlbGather g = new IotlbGather();
            assertEquals(4096, d.unmapPages(iova, 4096, 1, g));
            d.iotlbSync(g);
            g.reset();
            assertEquals(DmaStatus.FAULT, fn.dmaRead(iova, back));
            b.smmu().drainEventQueue();
            long[] evt = b.smmu().events().get(b.smmu().events().size() - 1);
            assertEquals(EventRecord.F_TRANSLATION, BitField.extract(EventRecord.ID, evt[0]));
            assertEquals(fn.rid(), BitField.extract(EventRecord.SID, evt[0]));
            assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(iova));
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }

    @Test
    void blockMappingsUseLargestLevelsWithHandComputedDescriptors() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long block2m = b.machine.memory().frames().allocate(9);
            d.mapPages(0x4000_0000L, block2m, 2L << 20, 1, IoProt.READ);
            // 2 MiB block, read-only, non-cacheable: nG AF SH=OS(0x200) AP[2](0x80) AP[1] AttrIndx 0 block(1)
            assertEquals(block2m | 0xEC1L, leaf(b, d, 0x4000_0000L, 2));
            long block1g = 0x4000_0000L; // RAM base, 1 GiB aligned (not allocated: the test only decodes)
            d.mapPages(0x80_0000_0000L, block1g, 1L << 30, 1, RW | IoProt.NOEXEC);
            // XN(bits 53,54) nG AF SH=OS AP[1] block
            assertEquals(0x0060_0000_0000_0000L | block1g | 0xE41L, leaf(b, d, 0x80_0000_0000L, 1));
            assertEquals(block1g + 0x1234_5678L, b.machine.iommuUnit(DriverBench.UNIT)
                    .translate(fn.rid(), -1, 0x80_1234_5678L, 1, new dev.iommufd.spi.hw.Translation()).physicalAddress());
            byte[] buf = new byte[16];
            assertEquals(DmaStatus.FAULT, fn.dmaWrite(0x4000_0000L, buf), "read-only block");
            assertEquals(DmaStatus.OK, fn.dmaRead(0x4000_0000L + 0x1000, buf));
        }
    }

    /**
     * With IDR3.RIL the driver's leaf TLBI_NH_VA carries TG and the level of the unmapped leaves in TTL
     * (__arm_smmu_tlb_inv_range: TTL = 4 - (log2(granule) - 3) / (tg - 3)), and the model removes only entries of
     * that level (IHI0070 4.4.1.1): a 4 KiB page, a 2 MiB block and a 1 GiB block each stop translating after their
     * unmap and sync, which they would not if the driver sent the level of a 4 KiB page for the blocks.
     */
    @Test
    void eachUnmappedLeafLevelIsInvalidatedByItsLevelHint() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long block2m = b.machine.memory().frames().allocate(9);
            long[][] leaves = {{0x1000_0000L, block2m, 4096}, {0x4000_0000L, block2m, 2L << 20},
                {0x80_0000_0000L, 0x4000_0000L, 1L << 30}};
            dev.iommufd.spi.hw.Translation t = new dev.iommufd.spi.hw.Translation();
            var unit = b.machine.iommuUnit(DriverBench.UNIT);
            IotlbGather g = new IotlbGather();
            for (long[] l : leaves) {
                assertEquals(l[2], d.mapPages(l[0], l[1], l[2], 1, RW));
                assertEquals(l[1] + 8, unit.translate(fn.rid(), -1, l[0] + 8, 1, t).physicalAddress());
                assertEquals(l[2], t.pageSize(), "cached as one entry of the leaf's size");
            }
            for (long[] l : leaves) {
                assertEquals(l[2], d.unmapPages(l[0], l[2], 1, g));
                d.iotlbSync(g);
                g.reset();
                assertFalse(unit.translate(fn.rid(), -1, l[0] + 8, 1, t).isOk(),
                        "the " + l[2] + "-byte leaf still translates after its unmap and sync");
            }
        }
    }

    @Test
    void sixteenKilobyteGranuleWhenOnlyItIsAdvertised() {
        // IDR5: OAS 44, GRAN16K only
        try (DriverBench b = new DriverBench("qemu", Map.of("IDR5", 0x24L), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            assertEquals(1L << 14 | 1L << 25, d.geometry().pgsizeBitmap());
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(2);
            long iova = 0x0000_0010_0400_C000L; // L0 0, L1 1, L2 2, L3 3
            d.mapPages(iova, pa, 16384, 1, RW | IoProt.CACHE);
            assertEquals(pa | 0xF47L, leaf(b, d, iova, 3));
            long blk = b.machine.memory().frames().allocate(13); // 32 MiB
            d.mapPages(0x0000_0010_0800_0000L, blk, 32L << 20, 1, RW | IoProt.CACHE);
            assertEquals(blk | 0xF45L, leaf(b, d, 0x0000_0010_0800_0000L, 2));
            byte[] data = pattern(32, 3);
            assertEquals(DmaStatus.OK, fn.dmaWrite(iova + 0x3fe0, data)); // the last 32 bytes of the 16 KiB page
            byte[] back = new byte[32];
            b.machine.memory().readBytes(pa + 0x3fe0, back, 0, 32);
            assertArrayEquals(data, back);
            assertEquals(DmaStatus.FAULT, fn.dmaRead(iova + 0x3ff0, back), "second half lies in the next, unmapped page");
            assertEquals(DmaStatus.OK, fn.dmaRead(0x0000_0010_0812_3450L, back));
        }
    }

    @Test
    void sixtyFourKilobyteGranuleWhenOnlyItIsAdvertised() {
        try (DriverBench b = new DriverBench("qemu", Map.of("IDR5", 0x44L), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            assertEquals(1L << 16 | 1L << 29, d.geometry().pgsizeBitmap());
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(4);
            long iova = 0x0000_0400_4003_0000L; // L1 1, L2 2, L3 3
            d.mapPages(iova, pa, 65536, 1, RW | IoProt.CACHE);
            assertEquals(pa | 0xF47L, leaf(b, d, iova, 3));
            byte[] data = pattern(128, 5);
            assertEquals(DmaStatus.OK, fn.dmaWrite(iova + 0xff00, data));
            byte[] back = new byte[128];
            b.machine.memory().readBytes(pa + 0xff00, back, 0, 128);
            assertArrayEquals(data, back);
            // a 512 MiB block at level 2 (RAM at 0x6000_0000 is 512 MiB aligned; decoded only)
            d.mapPages(0x0000_0400_A000_0000L, 0x6000_0000L, 512L << 20, 1, RW | IoProt.CACHE);
            assertEquals(0x6000_0F45L, leaf(b, d, 0x0000_0400_A000_0000L, 2));
            dev.iommufd.spi.hw.Translation t = b.machine.iommuUnit(DriverBench.UNIT).translate(fn.rid(), -1,
                    0x0000_0400_A123_4567L, 1, new dev.iommufd.spi.hw.Translation());
            assertEquals(0x6123_4567L, t.physicalAddress());
            assertEquals(512L << 20, t.pageSize());
        }
    }

    /** Stage-2 domains with 16K (two concatenated level-1 tables for a 48-bit IPA) and 64K granules. */
    @Test
    void stage2SixteenAndSixtyFourKilobyteGranules() {
        long idr0;
        try (DriverBench probe = new DriverBench("server", Map.of())) {
            idr0 = probe.machine.mmio().read32(probe.smmu().regs) & 0xffff_ffffL & ~SmmuRegisters.IDR0_S1P;
        }
        for (long idr5 : new long[] {0x25L, 0x45L}) { // OAS 48 with GRAN16K, with GRAN64K
            try (DriverBench b = new DriverBench("server", Map.of("IDR0", idr0, "IDR5", idr5), DriverBench.device(BDF))) {
                PciFunction fn = b.function(BDF);
                DeviceHandle dev = b.driver.probeDevice(fn);
                Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
                assertTrue(d.stage2);
                boolean g16 = idr5 == 0x25L;
                assertEquals(1, d.pageTable.startLevel);
                assertEquals(g16 ? 12 : 6, d.pageTable.startBits, g16 ? "2 concatenated level-1 tables" : "64 entries");
                assertEquals(2, d.pageTable.sl0(), "SL0 for a level-1 start with 16K/64K");
                d.attachDevice(dev);
                long size = g16 ? 16384 : 65536;
                long pa = b.machine.memory().frames().allocate(g16 ? 2 : 4);
                long iova = 0x0000_8000_0000_0000L | size * 3; // IPA bit 47 set: the second concatenated table for 16K
                d.mapPages(iova, pa, size, 1, RW | IoProt.CACHE);
                assertEquals(pa | 0x7FFL, leaf(b, d, iova, 3));
                byte[] data = pattern(40, 11);
                assertEquals(DmaStatus.OK, fn.dmaWrite(iova + 8, data));
                byte[] back = new byte[40];
                b.machine.memory().readBytes(pa + 8, back, 0, 40);
                assertArrayEquals(data, back);
                long ste2 = b.machine.memory().read64(b.smmu().streamTable.ensureSte(fn.rid()) + 16);
                assertEquals(16, ste2 >>> 32 & 0x3f, "S2T0SZ for a 48-bit IPA");
                assertEquals(g16 ? 2 : 1, ste2 >>> 46 & 3, "S2TG");
            }
        }
    }

    @Test
    void stage2DomainsWhenStage1IsAbsent() {
        // IDR0 of the server preset with S1P cleared
        long idr0 = 0x0D0F_75FDL & ~SmmuRegisters.IDR0_S1P;
        try (DriverBench probe = new DriverBench("server", Map.of())) {
            idr0 = probe.machine.mmio().read32(probe.smmu().regs) & 0xffff_ffffL & ~SmmuRegisters.IDR0_S1P;
        }
        try (DriverBench b = new DriverBench("server", Map.of("IDR0", idr0), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            assertTrue(d.stage2);
            assertEquals(48, d.pageTable.ias);
            assertEquals(0, d.pageTable.startLevel, "48-bit IPA with 4K: level 0, 512 entries, no concatenation");
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(0);
            long iova = 0x1234_5000L;
            d.mapPages(iova, pa, 4096, 1, RW | IoProt.CACHE);
            // stage 2 leaf: S2AP RW (0xC0) MemAttr OIWB (0x3C) SH=IS AF page
            assertEquals(pa | 0x7FFL, leaf(b, d, iova, 3));
            byte[] data = pattern(16, 9);
            assertEquals(DmaStatus.OK, fn.dmaWrite(iova + 0x10, data));
            IotlbGather g = new IotlbGather();
            d.unmapPages(iova, 4096, 1, g);
            d.iotlbSync(g);
            assertEquals(DmaStatus.FAULT, fn.dmaWrite(iova + 0x10, data));
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }

    @Test
    void missingTlbiLeavesStaleTranslationsWhichTheModelKeeps() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(0);
            long iova = 0x10_0000L;
            d.mapPages(iova, pa, 4096, 1, RW);
            byte[] buf = new byte[8];
            assertEquals(DmaStatus.OK, fn.dmaRead(iova, buf));
            IotlbGather g = new IotlbGather();
            d.unmapPages(iova, 4096, 1, g);
            // a driver that forgot iotlbSync: the device still reaches the old page through the TLB
            assertEquals(DmaStatus.OK, fn.dmaRead(iova, buf), "the model keeps the stale TLB entry");
            d.iotlbSync(g);
            assertEquals(DmaStatus.FAULT, fn.dmaRead(iova, buf));
        }
    }

    @Test
    void invalidationCommandsFollowLinuxRangeEncoding() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(6);
            long iova = 0x20_0000L;
            d.mapPages(iova, pa, 4096, 64, RW);
            byte[] buf = new byte[8];
            for (int i = 0; i < 64; i++) {
                assertEquals(DmaStatus.OK, fn.dmaRead(iova + i * 4096L, buf));
            }
            long before = b.smmu().cmdq.commandsIssued();
            IotlbGather g = new IotlbGather();
            assertEquals(64 * 4096, d.unmapPages(iova, 4096, 64, g));
            d.iotlbSync(g);
            // RIL: 64 pages = one command (SCALE 6, NUM 0) + CMD_SYNC
            assertEquals(2, b.smmu().cmdq.commandsIssued() - before);
            for (int i = 0; i < 64; i++) {
                assertEquals(DmaStatus.FAULT, fn.dmaRead(iova + i * 4096L, buf), "page " + i);
            }
        }
    }

    @Test
    void withoutRilLargeRangesFallBackToAsidInvalidation() {
        try (DriverBench b = new DriverBench("qemu", Map.of("IDR3", 0L), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(0);
            d.mapPages(0x1000, pa, 4096, 1, RW);
            d.mapPages(0x2000, pa, 4096, 1, RW);
            byte[] buf = new byte[8];
            assertEquals(DmaStatus.OK, fn.dmaRead(0x1000, buf));
            assertEquals(DmaStatus.OK, fn.dmaRead(0x2000, buf));
            long before = b.smmu().cmdq.commandsIssued();
            IotlbGather g = new IotlbGather();
            d.unmapPages(0x1000, 4096, 2, g);
            d.iotlbSync(g);
            assertEquals(3, b.smmu().cmdq.commandsIssued() - before, "one TLBI_NH_VA per page + CMD_SYNC");
            assertEquals(DmaStatus.FAULT, fn.dmaRead(0x2000, buf));
            long big = b.machine.memory().frames().allocate(9);
            d.mapPages(0x4000_0000L, big, 4096, 512, RW);
            before = b.smmu().cmdq.commandsIssued();
            g.reset();
            d.unmapPages(0x4000_0000L, 4096, 512, g);
            d.iotlbSync(g);
            assertEquals(2, b.smmu().cmdq.commandsIssued() - before, "TLBI_NH_ASID + CMD_SYNC");
        }
    }

    @Test
    void blockedAndIdentityDomains() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            byte[] buf = new byte[8];
            assertEquals(DmaStatus.FAULT, fn.dmaRead(0x4000_0000L, buf), "probed devices start blocked (abort STE)");
            IommuDomain identity = b.driver.identityDomain();
            assertEquals(DomainType.IDENTITY, identity.type());
            identity.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(0);
            b.machine.memory().write64(pa, 0x1122_3344_5566_7788L);
            assertEquals(DmaStatus.OK, fn.dmaRead(pa, buf));
            assertEquals(0x88, buf[0] & 0xff);
            IommuDomain blocked = b.driver.blockedDomain();
            assertSame(DomainType.BLOCKED, blocked.type());
            blocked.attachDevice(dev);
            assertEquals(DmaStatus.FAULT, fn.dmaRead(pa, buf));
            b.smmu().drainEventQueue();
            assertTrue(b.smmu().events().isEmpty(), "an abort STE terminates silently");
        }
    }

    @Test
    void replacingDomainsSwitchesTranslation() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d1 = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            Smmuv3PagingDomain d2 = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            assertFalse(d1.asid == d2.asid);
            long p1 = b.machine.memory().frames().allocate(0);
            long p2 = b.machine.memory().frames().allocate(0);
            b.machine.memory().write32(p1, 1);
            b.machine.memory().write32(p2, 2);
            d1.mapPages(0x5000, p1, 4096, 1, RW);
            d2.mapPages(0x5000, p2, 4096, 1, RW);
            byte[] buf = new byte[4];
            d1.attachDevice(dev);
            fn.dmaRead(0x5000, buf);
            assertEquals(1, buf[0]);
            d2.attachDevice(dev);
            fn.dmaRead(0x5000, buf);
            assertEquals(2, buf[0], "CD rewritten with CFGI_CD: the new ASID's tables are used");
            b.driver.identityDomain().attachDevice(dev);
            d1.free();
            d2.free();
            b.driver.releaseDevice(dev);
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }

    @Test
    void reservedRegionsHwInfoAndErrors() {
        try (DriverBench b = new DriverBench("server", Map.of(), DriverBench.device(BDF))) {
            DeviceHandle dev = b.driver.probeDevice(b.function(BDF));
            assertEquals(List.of(ReservedRegion.ARM_SW_MSI_WINDOW), b.driver.reservedRegions(dev));
            HwInfo info = b.driver.hwInfo(dev, 0);
            assertEquals(2, info.type());
            ByteBuffer bb = ByteBuffer.wrap(info.data()).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(40, info.data().length);
            assertEquals(0, bb.getInt(0));
            long regs = b.smmu().regs;
            for (int i = 0; i < 6; i++) {
                assertEquals(b.machine.mmio().read32(regs + 4L * i), bb.getInt(8 + 4 * i), "idr[" + i + "]");
            }
            assertEquals(b.machine.mmio().read32(regs + SmmuRegisters.IIDR), bb.getInt(32));
            assertEquals(b.machine.mmio().read32(regs + SmmuRegisters.AIDR), bb.getInt(36));
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class, () -> b.driver.hwInfo(dev, 1)).errno());
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                    () -> b.driver.allocPagingDomain(dev, DomainAllocFlags.NEST_PARENT | DomainAllocFlags.DIRTY_TRACKING,
                            null)).errno(), "a NEST_PARENT is stage 2; dirty tracking is stage 1");
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                    () -> b.driver.allocPagingDomain(dev, 1 << 7, null)).errno(), "unknown flag");
            IommuDomain d = b.driver.allocPagingDomain(dev, 0, null);
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> d.mapPages(0, 0x4000_0000L, 4096, 1, 0)).errno());
            assertEquals(Errno.ERANGE, assertThrows(ErrnoException.class,
                    () -> d.mapPages(1L << 48, 0x4000_0000L, 4096, 1, RW)).errno());
            d.mapPages(0x1000, 0x4000_0000L, 4096, 1, RW);
            assertEquals(Errno.EEXIST, assertThrows(ErrnoException.class,
                    () -> d.mapPages(0x1000, 0x4000_0000L, 4096, 1, RW)).errno());
            IotlbGather g = new IotlbGather();
            assertEquals(0, d.unmapPages(0x3000, 4096, 1, g), "hole");
            assertEquals(4096, d.unmapPages(0x1000, 4096, 1, g));
            d.iotlbSync(g);
            d.free();
        }
    }

    @Test
    void providerProbesTheRegistersAndNeedsAnSmmu() {
        Smmuv3DriverProvider p = new Smmuv3DriverProvider();
        try (DriverBench b = new DriverBench("qemu", Map.of())) {
            assertTrue(p.probe(b.machine).available());
        }
        // AIDR major revision 1 is not SMMUv3
        try (DriverBench probe = new DriverBench("qemu", Map.of())) {
            dev.iommufd.sim.SimulatedMachine m = dev.iommufd.sim.SimulatedMachine.create(
                    dev.iommufd.platform.MachineConfig.builder(dev.iommufd.platform.MachineProfile.VIRT)
                            .iommu(new dev.iommufd.platform.IommuUnitConfig("smmu0", "smmuv3", 0, "qemu",
                                    Map.of("AIDR", 0x10L)))
                            .build());
            try {
                assertFalse(p.probe(m).available());
            } finally {
                m.close();
            }
        }
        dev.iommufd.sim.SimulatedMachine none = dev.iommufd.sim.SimulatedMachine.create(
                dev.iommufd.platform.MachineConfig.builder(dev.iommufd.platform.MachineProfile.VIRT).build());
        try {
            assertFalse(p.probe(none).available());
            assertEquals(Errno.ENODEV, assertThrows(ErrnoException.class, () -> p.bind(new dev.iommufd.spi.DriverContext() {
                @Override
                public dev.iommufd.platform.Machine machine() {
                    return none;
                }

                @Override
                public dev.iommufd.spi.FaultSink faultSink() {
                    return (d, f) -> { };
                }

                @Override
                public dev.iommufd.spi.ViommuEventSink viommuEventSink() {
                    return (v, t, data) -> { };
                }
            })).errno());
        } finally {
            none.close();
        }
    }

    @Test
    void smallSidSizeGivesALinearStreamTable() {
        // IDR1 of the qemu preset with SIDSIZE 8: Linux uses a linear table when SIDSIZE <= STRTAB_SPLIT
        long idr1 = 8 | 19 << SmmuRegisters.IDR1_EVENTQS_SHIFT | 19 << SmmuRegisters.IDR1_CMDQS_SHIFT;
        try (DriverBench b = new DriverBench("qemu", Map.of("IDR1", idr1), DriverBench.device(BDF))) {
            long regs = b.smmu().regs;
            assertEquals(8, b.machine.mmio().read32(regs + SmmuRegisters.STRTAB_BASE_CFG), "LOG2SIZE 8, FMT linear");
            assertFalse(b.smmu().streamTable.twoLevel);
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            assertEquals(b.smmu().streamTable.base + fn.rid() * 64L, b.smmu().streamTable.ensureSte(fn.rid()));
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(0);
            d.mapPages(0x3000, pa, 4096, 1, RW);
            assertEquals(DmaStatus.OK, fn.dmaWrite(0x3000, new byte[8]));
        }
    }

    @Test
    void qemuPresetCannotNest() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            DeviceHandle dev = b.driver.probeDevice(b.function(BDF));
            assertFalse(b.driver.deviceCapable(dev, Capability.NESTING));
            assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                    () -> b.driver.allocPagingDomain(dev, DomainAllocFlags.NEST_PARENT, null)).errno());
        }
    }

    @Test
    void unmappingABlockSizedRangeFreesTheTableAfterTheSync() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(9);
            d.mapPages(0x4000_0000L, pa, 4096, 512, RW);
            long frames = b.machine.memory().frames().allocatedFrames();
            IotlbGather g = new IotlbGather();
            assertEquals(2L << 20, d.unmapPages(0x4000_0000L, 2L << 20, 1, g));
            assertEquals(1, g.freelistSize(), "the level-3 table waits for the sync");
            assertEquals(frames, b.machine.memory().frames().allocatedFrames());
            d.iotlbSync(g);
            assertEquals(frames - 1, b.machine.memory().frames().allocatedFrames());
            assertEquals(DmaStatus.FAULT, fn.dmaRead(0x4000_0000L, new byte[4]));
        }
    }

    @Test
    void domainFreeReleasesEveryFrame() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            DeviceHandle dev = b.driver.probeDevice(b.function(BDF));
            long frames = b.machine.memory().frames().allocatedFrames();
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.mapPages(0x1000_0000L, 0x4000_0000L, 4096, 3, RW);
            d.mapPages(0x80_0000_0000L, 0x4000_0000L, 1L << 30, 1, RW);
            IotlbGather g = new IotlbGather();
            d.unmapPages(0x1000_0000L, 4096, 3, g);
            d.unmapPages(0x80_0000_0000L, 1L << 30, 1, g);
            d.iotlbSync(g);
            d.free();
            assertEquals(frames, b.machine.memory().frames().allocatedFrames());
        }
    }

    /**
     * The TTL of a leaf range TLBI (IHI0070 4.4.1.1, TTL = the level of the leaf; arm_smmu_tlb_inv_range_cmd:
     * {@code 4 - (ilog2(granule) - 3) / (tg - 3)}): hand values for the three translation granules, and the formula
     * over every leaf size each granule has.
     */
    @Test
    void leafRangeInvalidationTtlIsTheLevelOfTheLeaf() {
        assertEquals(3, Smmuv3PagingDomain.leafTtl(12, 12), "4K granule, 4 KiB page");
        assertEquals(2, Smmuv3PagingDomain.leafTtl(12, 21), "4K granule, 2 MiB block");
        assertEquals(1, Smmuv3PagingDomain.leafTtl(12, 30), "4K granule, 1 GiB block");
        assertEquals(3, Smmuv3PagingDomain.leafTtl(14, 14), "16K granule, 16 KiB page");
        assertEquals(2, Smmuv3PagingDomain.leafTtl(14, 25), "16K granule, 32 MiB block");
        assertEquals(3, Smmuv3PagingDomain.leafTtl(16, 16), "64K granule, 64 KiB page");
        assertEquals(2, Smmuv3PagingDomain.leafTtl(16, 29), "64K granule, 512 MiB block");
        for (int tg : new int[] {12, 14, 16}) {
            for (int level = 1; level <= 3; level++) {
                int log2 = tg + (3 - level) * (tg - 3);
                assertEquals(level, Smmuv3PagingDomain.leafTtl(tg, log2), "tg " + tg + " leaf of 2^" + log2);
            }
        }
    }
}
