package dev.iommufd.vtd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.ReservedRegion;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.FaultReason;
import dev.iommufd.vtd.layout.FaultRecord;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.RootEntry;
import dev.iommufd.vtd.layout.SecondStagePte;
import dev.iommufd.vtd.layout.VtdRegisters;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The driver on QEMU's default unit (legacy mode, QI, PT): written by the driver, walked by the model. */
class LegacyDriverTest {
    static final int RW = IoProt.READ | IoProt.WRITE;
    final DriverBench b = new DriverBench("qemu", PciFunctionSpec.endpoint("00:04.0", "dmar0"),
            PciFunctionSpec.endpoint("00:05.0", "dmar0"));
    final VtdDevice dev = b.probe("00:04.0");
    final PciFunction fn = b.fn("00:04.0");

    @AfterEach
    void close() {
        b.close();
    }

    private PagingDomain domain() {
        return (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
    }

    @Test
    void bringUpProgramsTheUnitThroughRegisters() {
        int gsts = b.reg32(VtdRegisters.GSTS_REG);
        assertEquals(VtdRegisters.GSTS_TES | VtdRegisters.GSTS_RTPS | VtdRegisters.GSTS_QIES, gsts);
        long rtaddr = b.reg64(VtdRegisters.RTADDR_REG);
        assertEquals(0, rtaddr & VtdRegisters.RTADDR_TTM_MASK, "legacy mode");
        assertEquals(b.driver.units.get(0).rootTable, rtaddr);
        assertEquals(List.of("dmar0"), b.driver.units());
        assertTrue(new VtdDriverProvider().probe(b.machine).available());
    }

    @Test
    void geometryFollowsSagawAndSllps() {
        PagingDomain d = domain();
        assertEquals(4, d.table.levels, "SAGAW 39+48 bit: the largest is 4 levels");
        assertEquals((1L << 48) - 1, d.geometry().apertures().get(0).last());
        assertEquals((1L << 12) | (1L << 21) | (1L << 30), d.geometry().pgsizeBitmap());
        assertFalse(d.firstStage);
        d.free();
    }

    @Test
    void threeLevelDomainOnA39BitUnit() {
        try (DriverBench s = new DriverBench("qemu",
                java.util.Map.of("CAP_REG", 0x00d2_008c_2226_0206L), PciFunctionSpec.endpoint("00:04.0", "dmar0"))) {
            VtdDevice d = s.probe("00:04.0");
            PagingDomain pd = (PagingDomain) s.driver.allocPagingDomain(d, 0, null);
            assertEquals(3, pd.table.levels);
            assertEquals((1L << 39) - 1, pd.geometry().apertures().get(0).last());
            pd.attachDevice(d);
            long buf = s.frame();
            pd.mapPages(0x7f_ffff_f000L, buf, 4096, 1, RW);
            assertEquals(DmaStatus.OK, s.fn("00:04.0").dmaWrite(0x7f_ffff_f010L, new byte[] {9}));
            assertEquals(9, s.mem.read8(buf + 0x10));
        }
    }

    @Test
    void attachWritesRootAndContextEntriesTheModelDecodes() {
        PagingDomain d = domain();
        d.attachDevice(dev);
        DmarUnit u = b.driver.units.get(0);
        long root = b.mem.read64(u.rootTable);
        assertTrue(RootEntry.present(root));
        long ctp = RootEntry.contextTablePointer(root);
        assertEquals(ctp | 1, root);
        long lo = b.mem.read64(ctp + 0x20 * 16);
        long hi = b.mem.read64(ctp + 0x20 * 16 + 8);
        // SLPTPTR = pgd, TT 0, P ; AW 2 (4-level), DID 2 (0 and 1 are reserved)
        assertEquals(d.table.root | 1, lo);
        assertEquals(0x202L, hi);
        assertEquals(2, ContextEntry.did(hi));
    }

    @Test
    void mapDmaUnmapEndToEnd() {
        PagingDomain d = domain();
        d.attachDevice(dev);
        long pa = b.frame();
        assertEquals(4096, d.mapPages(0x10_0000, pa, 4096, 1, RW));
        assertEquals(pa + 0x123, d.iovaToPhys(0x10_0123));
        byte[] data = {1, 2, 3, 4};
        assertEquals(DmaStatus.OK, fn.dmaWrite(0x10_0100, data));
        byte[] back = new byte[4];
        b.mem.readBytes(pa + 0x100, back, 0, 4);
        assertArrayEquals(data, back);
        // the leaf the driver wrote: pa | R | W at level 1
        long l1 = pteAddress(d, 0x10_0000, 1);
        assertEquals(pa | 3, b.mem.read64(l1));
        assertEquals(4096, d.unmapPages(0x10_0000, 4096, 1, b.gather));
        d.iotlbSync(b.gather);
        b.gather.reset();
        assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(0x10_0000));
        assertEquals(DmaStatus.FAULT, fn.dmaRead(0x10_0100, back));
    }

    private long pteAddress(PagingDomain d, long iova, int level) {
        long t = d.table.root;
        for (int l = d.table.levels; l > level; l--) {
            t = SecondStagePte.address(b.mem.read64(t + SecondStagePte.index(iova, l) * 8L));
        }
        return t + SecondStagePte.index(iova, level) * 8L;
    }

    @Test
    void readOnlyMappingFaultsWritesWithReasonFive() {
        PagingDomain d = domain();
        d.attachDevice(dev);
        d.mapPages(0x20_0000, b.frame(), 4096, 1, IoProt.READ);
        assertEquals(DmaStatus.OK, fn.dmaRead(0x20_0000, new byte[8]));
        assertEquals(DmaStatus.FAULT, fn.dmaWrite(0x20_0000, new byte[8]));
        // the driver's fault handler cleared the record; the model wrote reason 5 into it
        assertTrue(b.driver.units.get(0).faultsCleared >= 1);
    }

    @Test
    void largePagesAreSingleLeaves() {
        PagingDomain d = domain();
        d.attachDevice(dev);
        long two = b.mem.frames().allocate(9);
        long one = 0x4000_0000L; // 1 GiB aligned RAM (not allocated: the test only writes one byte)
        d.mapPages(0x4000_0000L, one, 1L << 30, 1, RW);
        d.mapPages(0x20_0000, two, 1L << 21, 1, RW);
        assertEquals(two | SecondStagePte.PS | 3, b.mem.read64(pteAddress(d, 0x20_0000, 2)));
        assertEquals(one | SecondStagePte.PS | 3, b.mem.read64(pteAddress(d, 0x4000_0000L, 3)));
        assertEquals(DmaStatus.OK, fn.dmaWrite(0x4123_4567L, new byte[] {7}));
        assertEquals(7, b.mem.read8(one + 0x123_4567L));
        assertEquals(two + 0x1f_ffff, d.iovaToPhys(0x3f_ffff));
        // unmapping part of a large page is refused (0 bytes)
        assertEquals(0, d.unmapPages(0x20_0000, 4096, 1, b.gather));
        assertEquals(1L << 21, d.unmapPages(0x20_0000, 1L << 21, 1, b.gather));
        d.iotlbSync(b.gather);
    }

    @Test
    void mappingOverAMappingFailsWithEexistAndLeavesNothing() {
        PagingDomain d = domain();
        long pa = b.frame();
        d.mapPages(0x3000, pa, 4096, 1, RW);
        ErrnoException e = assertThrows(ErrnoException.class, () -> d.mapPages(0x1000, b.frame(), 4096, 3, RW));
        assertEquals(Errno.EEXIST, e.errno());
        assertEquals(IommuDomain.NO_TRANSLATION, d.iovaToPhys(0x1000), "the pages mapped before the conflict are undone");
        assertEquals(pa, d.iovaToPhys(0x3000));
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                () -> d.mapPages(1L << 48, pa, 4096, 1, RW)).errno());
    }

    @Test
    void missingInvalidationLeavesAStaleTranslationUntilTheDriverSyncs() {
        PagingDomain d = domain();
        d.attachDevice(dev);
        long pa = b.frame();
        d.mapPages(0x50_0000, pa, 4096, 1, RW);
        assertEquals(DmaStatus.OK, fn.dmaWrite(0x50_0000, new byte[] {1})); // fills the IOTLB
        assertEquals(4096, d.unmapPages(0x50_0000, 4096, 1, b.gather));
        // the PTE is gone, but without the invalidation the IOTLB still translates
        assertEquals(0, b.mem.read64(pteAddress(d, 0x50_0000, 1)));
        assertEquals(DmaStatus.OK, fn.dmaWrite(0x50_0000, new byte[] {2}));
        assertEquals(2, b.mem.read8(pa));
        b.clearQueue();
        d.iotlbSync(b.gather);
        b.gather.reset();
        assertEquals(DmaStatus.FAULT, fn.dmaWrite(0x50_0000, new byte[] {3}));
        assertEquals(2, b.mem.read8(pa));
        // the sync was one page-selective invalidation: DID 2, AM 0, IH 1 (no table freed), addr 0x500000
        List<long[]> psi = b.queued(InvalidationDescriptor.TYPE_IOTLB);
        assertEquals(1, psi.size());
        assertEquals(InvalidationDescriptor.iotlbLo(3, 2), psi.get(0)[0]);
        assertEquals(0x50_0040L, psi.get(0)[1]);
    }

    @Test
    void emptiedTablesAreFreedOnlyAfterTheSyncWithIhClear() {
        PagingDomain d = domain();
        d.attachDevice(dev);
        long buf = b.mem.frames().allocate(9);
        long before = b.mem.frames().allocatedFrames();
        d.mapPages(0x4000_0000L, buf, 4096, 512, RW); // one whole L1 table; plus L3/L2 tables
        long mapped = b.mem.frames().allocatedFrames();
        assertEquals(before + 3, mapped);
        assertEquals(512 * 4096, d.unmapPages(0x4000_0000L, 4096, 512, b.gather));
        assertEquals(1, b.gather.freelistSize(), "the L1 table is queued, not freed");
        assertEquals(mapped, b.mem.frames().allocatedFrames());
        b.clearQueue();
        d.iotlbSync(b.gather);
        assertEquals(mapped - 1, b.mem.frames().allocatedFrames());
        List<long[]> psi = b.queued(InvalidationDescriptor.TYPE_IOTLB);
        // 512 pages at 0x40000000: AM 9, IH 0 because a table was freed
        assertEquals(0x4000_0009L, psi.get(0)[1]);
        b.gather.reset();
    }

    /**
     * Stale-PDE detector (VT-d 6.2.4, 6.5.1.2; Linux intel_iommu_tlb_sync: IH = freelist empty): a DMA fills the
     * unit's PDE cache with the leaf table; unmapping the whole table frees it, so the sync must send IH = 0; the
     * range remapped through a new leaf table must then translate to the new page, not through the freed table.
     */
    @Test
    void remapThroughANewLeafTableAfterItsTableWasFreedSeesTheNewMapping() {
        PagingDomain d = domain();
        d.attachDevice(dev);
        long buf = b.mem.frames().allocate(9);
        d.mapPages(0x4000_0000L, buf, 4096, 512, RW);
        long oldTable = pteAddress(d, 0x4000_0000L, 1) & ~0xfffL;
        assertEquals(DmaStatus.OK, fn.dmaWrite(0x4000_1000L, new byte[] {1})); // fills the IOTLB and the PDE cache
        assertEquals(512 * 4096, d.unmapPages(0x4000_0000L, 4096, 512, b.gather));
        d.iotlbSync(b.gather);
        b.gather.reset();
        long hold = b.frame(); // keeps the freed table's frame from being the new table
        long pa = b.mem.frames().allocate(1);
        d.mapPages(0x4000_0000L, pa, 4096, 2, RW);
        assertTrue((pteAddress(d, 0x4000_0000L, 1) & ~0xfffL) != oldTable || hold == oldTable,
                "the remap uses a new leaf table");
        assertEquals(DmaStatus.OK, fn.dmaWrite(0x4000_1000L, new byte[] {7}));
        assertEquals(7, b.mem.read8(pa + 4096));
        assertEquals(1, b.mem.read8(buf + 4096), "the old page is not written through the freed table");
    }

    @Test
    void psiMaskGrowsForUnalignedRangesAndFallsBackToDsiAboveMamv() {
        assertEquals(2, VtdDomain.psiMask(0x10000, 0x13fff));
        // 2 pages at pfn 1..2 straddle an aligned pair: the mask grows to cover pfn 0..3
        assertEquals(2, VtdDomain.psiMask(0x1000, 0x2fff));
        assertEquals(0, VtdDomain.psiAddress(0x1000, 2));
        PagingDomain d = domain();
        d.attachDevice(dev);
        b.clearQueue();
        d.flushRange(0, (1L << 31) - 1, true); // 2^19 pages > MAMV 18: domain-selective
        List<long[]> dsi = b.queued(InvalidationDescriptor.TYPE_IOTLB);
        assertEquals(InvalidationDescriptor.iotlbLo(2, 2), dsi.get(0)[0]);
    }

    @Test
    void blockedDomainFaultsAndIdentityPassesThrough() {
        PagingDomain d = domain();
        d.attachDevice(dev);
        d.mapPages(0x1000, b.frame(), 4096, 1, RW);
        assertEquals(DmaStatus.OK, fn.dmaRead(0x1000, new byte[4]));
        b.driver.blockedDomain().attachDevice(dev);
        assertEquals(DmaStatus.FAULT, fn.dmaRead(0x1000, new byte[4]));
        assertEquals(DomainType.BLOCKED, b.driver.blockedDomain().type());
        b.driver.identityDomain().attachDevice(dev);
        long pa = b.frame();
        assertEquals(DmaStatus.OK, fn.dmaWrite(pa + 8, new byte[] {5}));
        assertEquals(5, b.mem.read8(pa + 8));
        long ce = RootEntry.contextTablePointer(b.mem.read64(b.driver.units.get(0).rootTable)) + 0x20 * 16;
        // TT 2 (pass-through), P ; AW 2, DID 1 (FLPT_DEFAULT_DID)
        assertEquals(0x9L, b.mem.read64(ce));
        assertEquals(0x102L, b.mem.read64(ce + 8));
        d.unmapPages(0x1000, 4096, 1, b.gather);
        d.iotlbSync(b.gather);
        d.free();
    }

    @Test
    void domainIdsAreReleasedWhenTheLastDeviceLeaves() {
        VtdDevice dev2 = b.probe("00:05.0");
        PagingDomain d = domain();
        d.attachDevice(dev);
        d.attachDevice(dev2);
        PagingDomain e = domain();
        e.attachDevice(dev);
        long ce = RootEntry.contextTablePointer(b.mem.read64(b.driver.units.get(0).rootTable));
        assertEquals(3, ContextEntry.did(b.mem.read64(ce + 0x20 * 16 + 8)), "second domain gets DID 3");
        assertEquals(2, ContextEntry.did(b.mem.read64(ce + 0x28 * 16 + 8)));
        b.driver.blockedDomain().attachDevice(dev2);
        PagingDomain f = domain();
        f.attachDevice(dev2);
        assertEquals(2, ContextEntry.did(b.mem.read64(ce + 0x28 * 16 + 8)), "DID 2 was free again");
        assertThrows(ErrnoException.class, e::free);
    }

    @Test
    void reservedRegionsHwInfoAndUnsupportedFeatures() {
        assertEquals(List.of(ReservedRegion.X86_MSI_WINDOW), b.driver.reservedRegions(dev));
        HwInfo info = b.driver.hwInfo(dev, 0);
        assertEquals(1, info.type());
        ByteBuffer bb = ByteBuffer.wrap(info.data()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(24, info.data().length);
        assertEquals(0, bb.getInt(0));
        assertEquals(0x00d2_008c_222f_0606L, bb.getLong(8));
        assertEquals(0xf42L, bb.getLong(16));
        assertEquals(0, info.maxPasidLog2());
        assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class, () -> b.driver.hwInfo(dev, 2)).errno());
        assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                () -> b.driver.allocPagingDomain(dev, DomainAllocFlags.NEST_PARENT, null)).errno());
        assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                () -> b.driver.allocPagingDomain(dev, DomainAllocFlags.DIRTY_TRACKING, null)).errno());
        assertFalse(b.driver.deviceCapable(dev, Capability.NESTING));
        assertFalse(b.driver.deviceCapable(dev, Capability.ENFORCE_CACHE_COHERENCY));
        assertFalse(domain().enforceCacheCoherency(), "no ECAP.SC");
        assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                () -> domain().setDevicePasid(dev, 1, b.driver.blockedDomain())).errno());
    }

    @Test
    void probeRefusesFunctionsBehindOtherUnits() {
        PciFunction f = b.fn("00:05.0");
        b.driver.probeDevice(f);
        assertEquals(Errno.EBUSY, assertThrows(ErrnoException.class, () -> b.driver.probeDevice(f)).errno());
    }

    @Test
    void releaseClearsTheContextEntry() {
        PagingDomain d = domain();
        d.attachDevice(dev);
        b.driver.releaseDevice(dev);
        long ce = RootEntry.contextTablePointer(b.mem.read64(b.driver.units.get(0).rootTable)) + 0x20 * 16;
        assertEquals(0, b.mem.read64(ce));
        assertEquals(DmaStatus.FAULT, fn.dmaRead(0, new byte[1]));
        d.free();
    }

    @Test
    void registerBasedInvalidationWithoutQi() {
        // ECAP without QI: the driver uses CCMD and the IOTLB registers
        try (DriverBench s = new DriverBench("qemu", java.util.Map.of("ECAP_REG", 0xf40L),
                PciFunctionSpec.endpoint("00:04.0", "dmar0"))) {
            VtdDevice d = s.probe("00:04.0");
            PagingDomain pd = (PagingDomain) s.driver.allocPagingDomain(d, 0, null);
            pd.attachDevice(d);
            long pa = s.frame();
            pd.mapPages(0x1000, pa, 4096, 1, RW);
            PciFunction f = s.fn("00:04.0");
            assertEquals(DmaStatus.OK, f.dmaRead(0x1000, new byte[1]));
            pd.unmapPages(0x1000, 4096, 1, s.gather);
            assertEquals(DmaStatus.OK, f.dmaRead(0x1000, new byte[1]), "stale before the sync");
            pd.iotlbSync(s.gather);
            assertEquals(DmaStatus.FAULT, f.dmaRead(0x1000, new byte[1]));
            assertEquals(VtdRegisters.IOTLB_PAGE, VtdRegisters.iotlbIaig(s.reg64(0xf8)));
            assertEquals(0, s.reg32(VtdRegisters.GSTS_REG) & VtdRegisters.GSTS_QIES);
        }
    }

    @Test
    void faultRecordDecodesAsTheModelWroteIt() {
        // mask the fault interrupt so the record stays for the test to read
        b.machine.mmio().write32(DriverBench.UNIT_BASE + VtdRegisters.FECTL_REG, VtdRegisters.ECTL_IM);
        PagingDomain d = domain();
        d.attachDevice(dev);
        fn.dmaWrite(0x7000, new byte[1]);
        long hi = b.reg64(0x220 + 8);
        assertEquals(FaultReason.WRITE_DENIED, FaultRecord.reason(hi));
        assertEquals(0x20, FaultRecord.sid(hi));
        assertEquals(0x7000L, b.reg64(0x220));
    }
}
