package dev.iommufd.vtd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.PageResponse;
import dev.iommufd.spi.UserData;
import dev.iommufd.vtd.layout.FirstStagePte;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.PasidDirectoryEntry;
import dev.iommufd.vtd.layout.PasidTableEntry;
import dev.iommufd.vtd.layout.RootEntry;
import dev.iommufd.vtd.layout.ScalableContextEntry;
import dev.iommufd.vtd.layout.SecondStagePte;
import dev.iommufd.vtd.layout.VtdRegisters;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The driver on the "server" unit: scalable mode, first and second stage, PASIDs, nesting, dirty tracking, PRI, ATS. */
class ScalableDriverTest {
    static final int RW = IoProt.READ | IoProt.WRITE;
    final DriverBench b = new DriverBench("server", PciFunctionSpec.endpoint("00:04.0", "dmar0"),
            PciFunctionSpec.endpoint("00:05.0", "dmar0").withPasid(20).withPri(),
            PciFunctionSpec.endpoint("00:06.0", "dmar0").withAts());
    final VtdDevice dev = b.probe("00:04.0");
    final PciFunction fn = b.fn("00:04.0");

    @AfterEach
    void close() {
        b.close();
    }

    private long contextQ0(int rid) {
        long root = b.mem.read64(b.driver.units.get(0).rootTable + (rid >>> 8) * 16L + ((rid & 0x80) != 0 ? 8 : 0));
        return b.mem.read64(ScalableContextEntry.entryAddress(RootEntry.contextTablePointer(root), rid & 0xff));
    }

    private long pasidEntryAddress(int rid, int pasid) {
        long dir = ScalableContextEntry.pasidDirPointer(contextQ0(rid));
        long pde = b.mem.read64(PasidDirectoryEntry.entryAddress(dir, pasid));
        return PasidTableEntry.entryAddress(PasidDirectoryEntry.tablePointer(pde), pasid);
    }

    @Test
    void bringUpUsesScalableModeWideDescriptorsAndThePageRequestQueue() {
        assertEquals(VtdRegisters.RTADDR_SMT, b.reg64(VtdRegisters.RTADDR_REG) & VtdRegisters.RTADDR_TTM_MASK);
        long iqa = b.reg64(VtdRegisters.IQA_REG);
        assertEquals(VtdRegisters.IQA_DW_256 | 1, iqa & 0xfff);
        assertEquals(DmarUnit.PRQ_ORDER, b.reg64(VtdRegisters.PQA_REG) & 7);
        assertTrue(b.driver.units.get(0).scalable);
    }

    @Test
    void firstStageDomainByDefaultWithFiveLevelsAndLowerCanonicalAperture() {
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        assertTrue(d.firstStage);
        assertEquals(5, d.table.levels);
        assertEquals((1L << 56) - 1, d.geometry().apertures().get(0).last());
        d.attachDevice(dev);
        // context: PASIDDIRPTR | PDTS 2 (one-page directory: 2^15 PASIDs) | P
        long c0 = contextQ0(0x20);
        assertEquals(ScalableContextEntry.pasidDirPointer(c0) | 0x401, c0);
        long pe = pasidEntryAddress(0x20, 0);
        // q0: AW 3 (bits 4:2 = 0xc) | PGTT 1 (0x40) | P = 0x4d ; q1: DID 2 | PWSNP (SMPWC) ; q2: FSPTPTR | FSPM 1 (bit 2)
        assertEquals(0x4dL, b.mem.read64(pe));
        assertEquals(0x80_0002L, b.mem.read64(pe + 8));
        assertEquals(d.table.root | 4, b.mem.read64(pe + 16));
        long pa = b.frame();
        d.mapPages(0x1234_5000L, pa, 4096, 1, RW);
        assertEquals(DmaStatus.OK, fn.dmaWrite(0x1234_5008L, new byte[] {42}));
        assertEquals(42, b.mem.read8(pa + 8));
        // the leaf as Linux writes it: pa | P | R/W | U/S | A | D
        long t = d.table.root;
        for (int l = 5; l > 1; l--) {
            long e = b.mem.read64(t + SecondStagePte.index(0x1234_5000L, l) * 8L);
            assertEquals(FirstStagePte.table(FirstStagePte.address(e, l)), e, "table entry at level " + l);
            t = FirstStagePte.address(e, l);
        }
        assertEquals(pa | 0x67, b.mem.read64(t + SecondStagePte.index(0x1234_5000L, 1) * 8L));
    }

    @Test
    void firstStageStaleUntilPasidBasedInvalidation() {
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        d.attachDevice(dev);
        d.mapPages(0x40_0000, b.frame(), 4096, 4, RW);
        assertEquals(DmaStatus.OK, fn.dmaRead(0x40_1000, new byte[1]));
        IotlbGather g = new IotlbGather();
        d.unmapPages(0x40_0000, 4096, 4, g);
        assertEquals(DmaStatus.OK, fn.dmaRead(0x40_1000, new byte[1]), "stale without the invalidation");
        b.clearQueue();
        d.iotlbSync(g);
        assertEquals(DmaStatus.FAULT, fn.dmaRead(0x40_1000, new byte[1]));
        List<long[]> p = b.queued(InvalidationDescriptor.TYPE_PASID_IOTLB);
        assertEquals(1, p.size());
        // type 6, G 3 (page-selective), DID 2, PASID 0 ; 4 pages: AM 2, IH 1
        assertEquals(InvalidationDescriptor.pasidIotlbLo(3, 2, 0), p.get(0)[0]);
        assertEquals(0x40_0042L, p.get(0)[1]);
        assertTrue(b.queued(InvalidationDescriptor.TYPE_IOTLB).isEmpty());
    }

    @Test
    void deviceTlbIsInvalidatedForAtsDevices() {
        VtdDevice ats = b.probe("00:06.0");
        assertTrue(ats.ats);
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(ats, 0, null);
        d.attachDevice(ats);
        assertEquals(ScalableContextEntry.DTE, contextQ0(0x30) & ScalableContextEntry.DTE);
        d.mapPages(0x10000, b.frame(), 4096, 2, RW);
        IotlbGather g = new IotlbGather();
        d.unmapPages(0x10000, 4096, 2, g);
        b.clearQueue();
        d.iotlbSync(g);
        List<long[]> dt = b.queued(InvalidationDescriptor.TYPE_DEVICE_TLB);
        assertEquals(1, dt.size());
        assertEquals(InvalidationDescriptor.deviceTlbLo(0x30, 0, 0), dt.get(0)[0]);
        assertEquals(0x10000L | InvalidationDescriptor.DEVTLB_S, dt.get(0)[1], "2 pages: S with no trailing ones");
    }

    @Test
    void dirtyTrackingSetsSsadeAndReadsDirtyBitsTheModelSet() {
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.DIRTY_TRACKING, null);
        assertFalse(d.firstStage, "dirty tracking forces the second stage");
        d.attachDevice(dev);
        long pe = pasidEntryAddress(0x20, 0);
        // SSPTPTR | AW 3 (0xc) | PGTT 2 (0x80) | P
        assertEquals(d.table.root | 0x8d, b.mem.read64(pe));
        long pa = b.mem.frames().allocate(1);
        d.mapPages(0x8000, pa, 4096, 2, RW);
        d.setDirtyTracking(true);
        assertEquals(PasidTableEntry.SSADE, b.mem.read64(pe) & PasidTableEntry.SSADE);
        assertEquals(DmaStatus.OK, fn.dmaRead(0x8000, new byte[1]));
        assertEquals(DmaStatus.OK, fn.dmaWrite(0x9000, new byte[1]));
        List<long[]> dirty = new ArrayList<>();
        IotlbGather g = new IotlbGather();
        DirtyRecorder rec = new DirtyRecorder() {
            @Override
            public void record(long iova, long length) {
                dirty.add(new long[] {iova, length});
            }

            @Override
            public IotlbGather gather() {
                return g;
            }
        };
        d.readAndClearDirty(0, 1L << 20, IommuDomain.DIRTY_NO_CLEAR, rec);
        assertEquals(1, dirty.size());
        assertEquals(0x9000L, dirty.get(0)[0]);
        assertEquals(4096L, dirty.get(0)[1]);
        dirty.clear();
        d.readAndClearDirty(0, 1L << 20, 0, rec);
        assertEquals(1, dirty.size());
        assertEquals(0x9000L, g.start());
        d.iotlbSync(g);
        dirty.clear();
        d.readAndClearDirty(0, 1L << 20, 0, rec);
        assertTrue(dirty.isEmpty(), "cleared");
        HwInfo info = b.driver.hwInfo(dev, 1);
        assertEquals(HwInfo.CAP_DIRTY_TRACKING, info.capabilities());
        d.setDirtyTracking(false);
        assertEquals(0, b.mem.read64(pe) & PasidTableEntry.SSADE);
        assertEquals(DmaStatus.OK, fn.dmaWrite(0x9000, new byte[1]));
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> d.readAndClearDirty(0, 4096, 0, rec)).errno(),
                "a bitmap read of a tracking-off domain");
        dirty.clear();
        d.readAndClearDirty(0, 1L << 20, 0, new DirtyRecorder() {
            @Override
            public void record(long iova, long length) {
                dirty.add(new long[] {iova, length});
            }

            @Override
            public IotlbGather gather() {
                return g;
            }

            @Override
            public boolean hasBitmap() {
                return false;
            }
        });
        assertTrue(dirty.isEmpty(), "no D bits while tracking is off; the clear-only pass is accepted");
    }

    @Test
    void pasidAttachmentsTranslateTaggedDma() {
        VtdDevice p = b.probe("00:05.0");
        assertEquals(20, p.maxPasidLog2);
        PciFunction pf = b.fn("00:05.0");
        PagingDomain rid = (PagingDomain) b.driver.allocPagingDomain(p, 0, null);
        PagingDomain tagged = (PagingDomain) b.driver.allocPagingDomain(p, DomainAllocFlags.PASID, null);
        rid.attachDevice(p);
        tagged.setDevicePasid(p, 5, b.driver.blockedDomain());
        long c0 = contextQ0(0x28);
        assertEquals(ScalableContextEntry.PASIDE | ScalableContextEntry.PRE | ScalableContextEntry.DTE,
                c0 & (ScalableContextEntry.PASIDE | ScalableContextEntry.PRE | ScalableContextEntry.DTE));
        assertEquals(7, ScalableContextEntry.pdts(c0), "2^20 PASIDs: PDTS 7");
        long a = b.frame();
        long t = b.frame();
        rid.mapPages(0x1000, a, 4096, 1, RW);
        tagged.mapPages(0x1000, t, 4096, 1, RW);
        pf.dmaWrite(DmaAttributes.NONE, 0x1000, new byte[] {1}, 0, 1);
        pf.dmaWrite(DmaAttributes.pasid(5), 0x1000, new byte[] {2}, 0, 1);
        assertEquals(1, b.mem.read8(a));
        assertEquals(2, b.mem.read8(t));
        b.driver.blockedDomain().setDevicePasid(p, 5, tagged);
        assertEquals(DmaStatus.FAULT, pf.dmaWrite(DmaAttributes.pasid(5), 0x1000, new byte[] {3}, 0, 1));
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                () -> tagged.setDevicePasid(dev, 5, b.driver.blockedDomain())).errno(), "00:04.0 has no PASID capability");
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                () -> tagged.setDevicePasid(p, 0, b.driver.blockedDomain())).errno());
    }

    @Test
    void pageRequestsReachTheFaultSinkAndResponsesGoBackThroughTheQueue() {
        VtdDevice p = b.probe("00:05.0");
        PciFunction pf = b.fn("00:05.0");
        assertTrue(b.driver.deviceCapable(p, Capability.IOPF));
        PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(p, 0, null);
        d.attachDevice(p);
        assertEquals(DmaStatus.PAGE_REQUEST, pf.dmaWrite(DmaAttributes.pasid(0), 0x7000, new byte[1], 0, 1));
        assertEquals(1, b.faults.size());
        IoPageFault f = b.faults.get(0);
        assertEquals(0x7000L, f.addr());
        assertTrue(f.lastPage());
        assertTrue(f.pasidValid());
        assertEquals(IoPageFault.PERM_WRITE, f.perm());
        assertEquals(p, b.faultDevices.get(0));
        assertEquals(b.reg64(VtdRegisters.PQT_REG), b.reg64(VtdRegisters.PQH_REG), "the driver consumed the queue");
        b.clearQueue();
        b.driver.pageResponse(p, new PageResponse(0, true, f.grpid(), PageResponse.SUCCESS));
        List<long[]> r = b.queued(InvalidationDescriptor.TYPE_PAGE_GROUP_RESPONSE);
        assertEquals(1, r.size());
        assertEquals(InvalidationDescriptor.pageGroupResponseLo(0x28, 0, true, 0), r.get(0)[0]);
        assertEquals(InvalidationDescriptor.pageGroupResponseHi(f.grpid(), true), r.get(0)[1]);
        assertEquals(0, b.reg32(VtdRegisters.FSTS_REG) & VtdRegisters.FSTS_IQE);
        assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                () -> b.driver.pageResponse(dev, new PageResponse(0, false, 0, 0))).errno());
    }

    @Test
    void identityDomainInScalableMode() {
        b.driver.identityDomain().attachDevice(dev);
        long pe = pasidEntryAddress(0x20, 0);
        // AW 3 | PGTT 4 (0x100) | P ; DID 1 | PWSNP
        assertEquals(0x10dL, b.mem.read64(pe));
        assertEquals(0x80_0001L, b.mem.read64(pe + 8));
        long pa = b.frame();
        assertEquals(DmaStatus.OK, fn.dmaWrite(pa, new byte[] {6}));
        assertEquals(6, b.mem.read8(pa));
        b.driver.blockedDomain().attachDevice(dev);
        assertEquals(0, b.mem.read64(pe));
        assertEquals(DmaStatus.FAULT, fn.dmaWrite(pa, new byte[] {7}));
    }

    @Test
    void enforceCacheCoherencySetsPgsnpOrSnp() {
        PagingDomain fs = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        assertTrue(fs.enforceCacheCoherency());
        fs.attachDevice(dev);
        assertEquals(PasidTableEntry.PGSNP, b.mem.read64(pasidEntryAddress(0x20, 0) + 8) & PasidTableEntry.PGSNP);
        PagingDomain ss = (PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.NEST_PARENT, null);
        assertTrue(ss.enforceCacheCoherency());
        long pa = b.frame();
        ss.mapPages(0x1000, pa, 4096, 1, RW);
        assertEquals(pa | SecondStagePte.SNP | 3, b.mem.read64(leaf(ss, 0x1000)));
    }

    private long leaf(PagingDomain d, long iova) {
        long t = d.table.root;
        for (int l = d.table.levels; l > 1; l--) {
            t = SecondStagePte.address(b.mem.read64(t + SecondStagePte.index(iova, l) * 8L));
        }
        return t + SecondStagePte.index(iova, 1) * 8L;
    }

    private static UserData s1(long flags, long pgtbl, int aw) {
        ByteBuffer bb = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(flags).putLong(pgtbl).putInt(aw).putInt(0);
        return new UserData(NestedDomain.IOMMU_HWPT_DATA_VTD_S1, bb.array());
    }

    @Test
    void nestedTranslationWalksGuestTablesThroughTheParent() {
        PagingDomain parent = (PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.NEST_PARENT, null);
        assertFalse(parent.firstStage);
        // guest memory: GPA 0x10_0000.. backed by fresh frames through the parent (second stage)
        long[] hpa = new long[8];
        for (int i = 0; i < 8; i++) {
            hpa[i] = b.frame();
            parent.mapPages(0x10_0000 + i * 4096L, hpa[i], 4096, 1, RW);
        }
        // guest 4-level first-stage tables at GPA 0x100000 (PML4), 0x101000, 0x102000, 0x103000 (PT); data page GPA 0x104000
        long gva = 0x4000_0000_1000L & ((1L << 47) - 1);
        for (int l = 4; l > 1; l--) {
            int i = 4 - l;
            b.mem.write64(hpa[i] + SecondStagePte.index(gva, l) * 8L, FirstStagePte.table(0x10_0000 + (i + 1) * 4096L));
        }
        b.mem.write64(hpa[3] + SecondStagePte.index(gva, 1) * 8L, FirstStagePte.leaf(0x10_4000, 1, true));
        NestedDomain n = (NestedDomain) b.driver.allocNestedDomain(dev, parent, 0, s1(0, 0x10_0000, 48));
        n.attachDevice(dev);
        long pe = pasidEntryAddress(0x20, 0);
        // q0: SSPTPTR = parent pgd | AW 3 | PGTT 3 (0xc0) | P ; q2: FSPTPTR = guest GPA, FSPM 0
        assertEquals(parent.table.root | 0xcd, b.mem.read64(pe));
        assertEquals(0x10_0000L, b.mem.read64(pe + 16));
        assertEquals(DmaStatus.OK, fn.dmaWrite(gva + 0x10, new byte[] {77}));
        assertEquals(77, b.mem.read8(hpa[4] + 0x10));
        // the guest changes its PTE; stale until the guest's invalidation
        b.mem.write64(hpa[3] + SecondStagePte.index(gva, 1) * 8L, FirstStagePte.leaf(0x10_5000, 1, true));
        assertEquals(DmaStatus.OK, fn.dmaWrite(gva + 0x10, new byte[] {78}));
        assertEquals(78, b.mem.read8(hpa[4] + 0x10));
        int handled = n.cacheInvalidateUser(new TestUserDataArray(0, 24, TestUserDataArray.inv(gva, 1, 0, 0)));
        assertEquals(1, handled);
        assertEquals(DmaStatus.OK, fn.dmaWrite(gva + 0x10, new byte[] {79}));
        assertEquals(79, b.mem.read8(hpa[5] + 0x10));
        // a bad entry stops the array with the count of entries handled before it
        ErrnoException e = assertThrows(ErrnoException.class, () -> n.cacheInvalidateUser(new TestUserDataArray(0, 24,
                TestUserDataArray.inv(0, -1L, 0, 0), TestUserDataArray.inv(0x1001, 1, 0, 0))));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals(1, e.progress());
        ErrnoException f = assertThrows(ErrnoException.class, () -> n.cacheInvalidateUser(new TestUserDataArray(0, 24,
                TestUserDataArray.inv(0, 1, 2, 0))));
        assertEquals(Errno.EOPNOTSUPP, f.errno());
        assertEquals(0, f.progress());
        // the parent's second-stage change reaches the nested combined entries
        assertEquals(DmaStatus.OK, fn.dmaWrite(gva + 0x10, new byte[] {80})); // refills the combined entry
        long moved = b.frame();
        IotlbGather g = new IotlbGather();
        parent.unmapPages(0x10_5000, 4096, 1, g);
        parent.mapPages(0x10_5000, moved, 4096, 1, RW);
        assertEquals(DmaStatus.OK, fn.dmaWrite(gva + 0x10, new byte[] {81}));
        assertEquals(81, b.mem.read8(hpa[5] + 0x10), "stale through the old second stage");
        parent.iotlbSync(g);
        assertEquals(DmaStatus.OK, fn.dmaWrite(gva + 0x10, new byte[] {82}));
        assertEquals(82, b.mem.read8(moved + 0x10));
        assertThrows(ErrnoException.class, parent::free);
    }

    @Test
    void nestedAllocationValidatesTheUserData() {
        PagingDomain parent = (PagingDomain) b.driver.allocPagingDomain(dev, DomainAllocFlags.NEST_PARENT, null);
        PagingDomain plain = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                () -> b.driver.allocNestedDomain(dev, plain, 0, s1(0, 0x1000, 48))).errno());
        assertEquals(Errno.EOPNOTSUPP, assertThrows(ErrnoException.class,
                () -> b.driver.allocNestedDomain(dev, parent, 0, new UserData(2, new byte[24]))).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                () -> b.driver.allocNestedDomain(dev, parent, 0, s1(0, 0x1000, 39))).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                () -> b.driver.allocNestedDomain(dev, parent, 0, s1(NestedDomain.IOMMU_VTD_S1_SRE, 0x1000, 48))).errno(),
                "no ECAP.SRS on the server preset");
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class,
                () -> b.driver.allocNestedDomain(dev, parent, 0, new UserData(1, new byte[20]))).errno(), "too short");
        NestedDomain n = (NestedDomain) b.driver.allocNestedDomain(dev, parent, 0, s1(NestedDomain.IOMMU_VTD_S1_WPE, 0x1000, 57));
        assertEquals(57, n.addrWidth);
        n.free();
    }
}
