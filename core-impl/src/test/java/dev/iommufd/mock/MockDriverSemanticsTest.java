package dev.iommufd.mock;

import static dev.iommufd.mock.MockPagingDomainTest.assertErrno;
import static dev.iommufd.mock.MockSelftestUapi.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.Viommu;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The mock driver's ops as the kernel's selftest mock (drivers/iommu/iommufd/selftest.c) implements them, with every
 * errno path the selftests (tools/testing/selftests/iommu/iommufd.c) exercise at the driver level.
 */
class MockDriverSemanticsTest {
    private final MockBench bench = new MockBench();

    @AfterEach
    void tearDown() {
        bench.close();
    }

    static UserData selftestData(int iotlb) {
        return new UserData(IOMMU_HWPT_DATA_SELFTEST,
                ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(iotlb).array());
    }

    private MockDomain paging(MockDevice dev, int flags) {
        return (MockDomain) bench.driver.allocPagingDomain(dev, flags, null);
    }

    private MockNestedDomain nested(MockDevice dev, IommuDomain parent, int flags) {
        return (MockNestedDomain) bench.driver.allocNestedDomain(dev, parent, flags, selftestData(IOMMU_TEST_IOTLB_DEFAULT));
    }

    @Test
    void providerDeclaresWhatWorks() {
        MockIommuProvider p = new MockIommuProvider();
        assertEquals("mock", p.id());
        assertEquals(EnumSet.of(Capability.PAGING, Capability.BLOCKED_DOMAIN, Capability.IDENTITY_DOMAIN,
                Capability.ENFORCE_CACHE_COHERENCY, Capability.NESTING, Capability.DIRTY_TRACKING, Capability.PASID,
                Capability.IOPF, Capability.VIOMMU, Capability.HW_INFO), p.capabilities());
        assertTrue(p.probe(bench.machine).available());
        assertEquals(java.util.List.of("mock0"), bench.driver.units());
    }

    @Test
    void createDeviceRejectsUnknownFlagsAndProbeRejectsForeignFunctions() {
        assertErrno(Errno.EINVAL, () -> MockIommu.createDevice(bench.machine, 1 << 3), "unknown flag");
        assertErrno(Errno.EINVAL, () -> MockIommu.createDevice(bench.machine, 1 << 31), "unknown flag");
        int before = bench.machine.pci().functions().size();
        assertEquals(before, bench.machine.pci().functions().size(), "nothing plugged in");
        assertErrno(Errno.ENODEV, () -> MockIommu.createDevice(bench.machine, "dmar9", 0, false), "no such unit");
        PciFunction f = MockIommu.createDevice(bench.machine, MOCK_FLAGS_DEVICE_PASID);
        assertEquals(20, f.pasidBits());
        MockDevice d = (MockDevice) bench.driver.probeDevice(f);
        assertSame(d, bench.driver.probeDevice(f), "probe is idempotent");
        assertSame(d, bench.driver.device(f));
        assertEquals(MOCK_FLAGS_DEVICE_PASID, d.flags(), "flags read back through DEVSEL/DEVCAP");
        PciFunction g = MockIommu.createDevice(bench.machine, 0);
        assertNotEquals(f.rid(), g.rid());
        assertEquals(0, bench.driver.probeDevice(g).maxPasidLog2());
    }

    @Test
    void hwInfoIsTheSelftestStructure() {
        MockDevice dev = bench.device(MOCK_FLAGS_DEVICE_PASID);
        HwInfo info = bench.driver.hwInfo(dev, 0);
        assertEquals(0xfeedbeef, info.type());
        assertArrayEquals(new byte[] {0, 0, 0, 0, (byte) 0xef, (byte) 0xbe, (byte) 0xad, (byte) 0xde}, info.data(),
                "flags 0, test_reg 0xdeadbeef little-endian");
        assertEquals(HwInfo.CAP_DIRTY_TRACKING, info.capabilities());
        assertEquals(20, info.maxPasidLog2());
        assertEquals(0xfeedbeef, bench.driver.hwInfo(dev, 0xfeedbeef).type());
        assertErrno(Errno.EOPNOTSUPP, () -> bench.driver.hwInfo(dev, 0xfeedbeef + 1), "other type");
        MockDevice noDirty = bench.device(MOCK_FLAGS_DEVICE_NO_DIRTY);
        assertEquals(0, bench.driver.hwInfo(noDirty, 0).capabilities());
        assertEquals(0, bench.driver.hwInfo(noDirty, 0).maxPasidLog2());
        assertTrue(bench.driver.deviceCapable(noDirty, Capability.ENFORCE_CACHE_COHERENCY));
        assertFalse(bench.driver.deviceCapable(noDirty, Capability.DIRTY_TRACKING));
        assertTrue(bench.driver.deviceCapable(dev, Capability.DIRTY_TRACKING));
        assertFalse(bench.driver.deviceCapable(dev, Capability.DEFERRED_FLUSH));
        assertEquals(java.util.List.of(), bench.driver.reservedRegions(dev));
    }

    @Test
    void pagingAllocationValidatesFlagsDataAndDirtyCapability() {
        MockDevice dev = bench.device(0);
        assertErrno(Errno.EOPNOTSUPP, () -> bench.driver.allocPagingDomain(dev, 1 << 4, null), "unknown flag");
        assertErrno(Errno.EOPNOTSUPP, () -> bench.driver.allocPagingDomain(dev, DomainAllocFlags.FAULT_ID_VALID, null),
                "FAULT_ID_VALID never reaches a driver");
        assertErrno(Errno.EOPNOTSUPP, () -> bench.driver.allocPagingDomain(dev, 0, selftestData(1)), "user data");
        MockDevice noDirty = bench.device(MOCK_FLAGS_DEVICE_NO_DIRTY);
        long before = bench.allocatedFrames();
        assertErrno(Errno.EOPNOTSUPP, () -> bench.driver.allocPagingDomain(noDirty, DomainAllocFlags.DIRTY_TRACKING, null),
                "enforce_dirty: HWPT_ALLOC(DIRTY_TRACKING) on a NO_DIRTY device");
        assertEquals(before, bench.allocatedFrames());
        assertTrue(paging(dev, 0).enforceCacheCoherency());
    }

    @Test
    void aNoDirtyDeviceCannotAttachToADirtyTrackingDomain() {
        MockDevice dev = bench.device(0);
        MockDevice noDirty = bench.device(MOCK_FLAGS_DEVICE_NO_DIRTY);
        MockDomain dirty = paging(dev, DomainAllocFlags.DIRTY_TRACKING);
        MockDomain plain = paging(noDirty, 0);
        plain.attachDevice(noDirty);
        dirty.attachDevice(dev);
        assertErrno(Errno.EINVAL, () -> dirty.attachDevice(noDirty), "enforce_dirty: MOCK_DOMAIN_FLAGS(NO_DIRTY) on it");
        assertSame(plain, noDirty.domain(), "the old attachment stays");
        assertErrno(Errno.EOPNOTSUPP, () -> plain.setDirtyTracking(true), "allocated without DIRTY_TRACKING");
        assertErrno(Errno.EOPNOTSUPP, () -> plain.readAndClearDirty(MOCK_APERTURE_START, 2048, 0, new MockDmaTest.Recorder()),
                "no dirty ops");
        assertErrno(Errno.EINVAL, () -> dirty.readAndClearDirty(MOCK_APERTURE_START, 2048, 0, new MockDmaTest.Recorder()),
                "tracking not enabled");
        dirty.setDirtyTracking(true);
        dirty.setDirtyTracking(true);
        assertTrue(dirty.dirtyTrackingEnabled(), "idempotent");
        dirty.setDirtyTracking(false);
        assertFalse(dirty.dirtyTrackingEnabled());
    }

    @Test
    void markDirtyIsTestOpDirtyAndReadAndClearReportsWholeIoptes() {
        MockDevice huge = bench.device(MOCK_FLAGS_DEVICE_HUGE_IOVA);
        MockDomain d = paging(huge, DomainAllocFlags.DIRTY_TRACKING);
        long pa = bench.memory.frames().allocate(9);
        long iova = MOCK_APERTURE_START;
        d.mapPages(iova, pa, 1 << 20, 1, 3);
        d.mapPages(iova + (1 << 20), pa + (1 << 20), 2048, 4, 3);
        long[] bitmap = {0b1_0000_0000_0101L | (1L << 40)}; // 2 KiB granules 0, 2, 12 and 40
        assertErrno(Errno.EINVAL, () -> d.markDirty(iova, 2L << 20, 2048, new long[1024]), "tracking disabled");
        d.setDirtyTracking(true);
        assertErrno(Errno.EINVAL, () -> d.markDirty(iova, 0, 2048, bitmap), "length 0");
        assertErrno(Errno.EINVAL, () -> d.markDirty(iova + 1, 2048, 2048, bitmap), "unaligned iova");
        assertErrno(Errno.EINVAL, () -> d.markDirty(iova, 2048, 0, bitmap), "page_size 0");
        // granules 0, 2, 12 fall in the 1 MiB block; 40 is past the 32 granules asked for here, so not looked at
        assertEquals(3, d.markDirty(iova, 32 * 2048, 2048, bitmap));
        long[] small = new long[(int) ((2L << 20) / 2048 / 64)];
        small[512 / 64] |= 1L << (513 % 64); // granule 513: the second 2 KiB page after the block
        small[1000 / 64] |= 1L << (1000 % 64); // unmapped: counted anyway
        assertEquals(2, d.markDirty(iova, 2L << 20, 2048, small));
        MockDmaTest.Recorder r = new MockDmaTest.Recorder();
        d.readAndClearDirty(iova, 2L << 20, 0, r);
        assertEquals(java.util.List.of(iova, 1L << 20, iova + (1 << 20) + 2048, 2048L), r.ranges,
                "a dirty huge IOPTE reports its whole 1 MiB");
        r.ranges.clear();
        d.readAndClearDirty(iova + 0x4000, 2048, 0, r);
        assertEquals(java.util.List.of(), r.ranges, "cleared");
        assertTrue(d.setDirty(iova + 0x7_0000));
        assertFalse(d.setDirty(iova + (3L << 20)));
        d.readAndClearDirty(iova + 0x10_0000 - 2048, 4096, IommuDomain.DIRTY_NO_CLEAR, r);
        assertEquals(java.util.List.of(iova, 1L << 20), r.ranges, "a range touching the block reports the block");
        d.iotlbSync(r.gather);
        r.gather.reset();
        dev.iommufd.spi.IotlbGather g = new dev.iommufd.spi.IotlbGather();
        d.unmapPages(iova, 1 << 20, 1, g);
        d.unmapPages(iova + (1 << 20), 2048, 4, g);
        d.iotlbSync(g);
        d.free();
        bench.memory.frames().free(pa, 9);
    }

    @Test
    void nestedAllocationFollowsTheSelftestRules() {
        MockDevice dev = bench.device(0);
        MockDomain parent = paging(dev, DomainAllocFlags.NEST_PARENT);
        MockDomain notParent = paging(dev, 0);
        assertErrno(Errno.EOPNOTSUPP, () -> bench.driver.allocNestedDomain(dev, parent, DomainAllocFlags.NEST_PARENT,
                selftestData(1)), "flags other than ALLOC_PASID");
        assertErrno(Errno.EINVAL, () -> nested(dev, notParent, 0), "parent not NEST_PARENT");
        MockNestedDomain n0 = nested(dev, parent, 0);
        assertErrno(Errno.EINVAL, () -> nested(dev, n0, 0), "nested on nested");
        assertErrno(Errno.EOPNOTSUPP, () -> bench.driver.allocNestedDomain(dev, parent, 0,
                new UserData(IOMMU_HWPT_DATA_SELFTEST + 1, new byte[4])), "data_type SELFTEST+1");
        assertErrno(Errno.EOPNOTSUPP, () -> bench.driver.allocNestedDomain(dev, parent, 0, null), "no data");
        assertErrno(Errno.EINVAL, () -> bench.driver.allocNestedDomain(dev, parent, 0,
                new UserData(IOMMU_HWPT_DATA_SELFTEST, new byte[3])), "len = min - 1");
        assertErrno(Errno.EINVAL, () -> bench.driver.allocNestedDomain(dev, parent, 0,
                new UserData(IOMMU_HWPT_DATA_SELFTEST, new byte[5])), "len > sizeof: iommu_copy_struct_from_user");
        assertEquals(DomainType.NESTED, n0.type());
        assertSame(parent, n0.parent());
        for (int i = 0; i < 4; i++) {
            assertEquals(IOMMU_TEST_IOTLB_DEFAULT, n0.iotlb(i));
        }
        assertErrno(Errno.EINVAL, () -> n0.iotlb(4), "MD_CHECK_IOTLB id 4");
        MockNestedDomain pasidCapable = nested(dev, parent, DomainAllocFlags.PASID);
        assertEquals(DomainAllocFlags.PASID, pasidCapable.allocFlags());
    }

    private static FakeUserDataArray hwptInv(int entryLen, int[]... entries) {
        return FakeUserDataArray.of(IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, entryLen, 8, entries);
    }

    private static int invalidateFails(IommuDomain d, FakeUserDataArray a, Errno errno) {
        ErrnoException e = assertThrows(ErrnoException.class, () -> d.cacheInvalidateUser(a));
        assertEquals(errno, e.errno(), e.getMessage());
        return (int) e.progress();
    }

    private static void assertIotlb(MockNestedDomain d, int... expected) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], d.iotlb(i), "iotlb[" + i + "]");
        }
    }

    @Test
    void nestedCacheInvalidationFollowsAllocHwptNested() {
        MockDevice dev = bench.device(0);
        MockDomain parent = paging(dev, DomainAllocFlags.NEST_PARENT);
        MockNestedDomain n0 = nested(dev, parent, 0);
        MockNestedDomain n1 = nested(dev, parent, 0);
        int def = IOMMU_TEST_IOTLB_DEFAULT;
        assertEquals(0, n0.cacheInvalidateUser(hwptInv(8)), "zero entries");
        assertEquals(0, invalidateFails(n0, FakeUserDataArray.of(IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID, 8, 8,
                new int[][] {{0, 0}}), Errno.EINVAL));
        assertEquals(0, invalidateFails(n0, hwptInv(9, new int[] {0, 0}), Errno.EINVAL), "entry_len 9");
        assertEquals(0, invalidateFails(n0, hwptInv(1, new int[] {0, 0}), Errno.EINVAL), "entry_len 1");
        assertEquals(0, invalidateFails(n0, hwptInv(8, new int[] {0xffffffff, 0}), Errno.EOPNOTSUPP), "flags");
        assertEquals(0, invalidateFails(n0, hwptInv(8, new int[] {0, 4}), Errno.EINVAL), "iotlb_id 4");
        assertIotlb(n0, def, def, def, def);
        assertEquals(1, invalidateFails(n0, hwptInv(8, new int[] {0, 0}, new int[] {0xffffffff, 1}), Errno.EOPNOTSUPP));
        assertIotlb(n0, 0, def, def, def);
        assertEquals(1, invalidateFails(n0, hwptInv(8, new int[] {0, 0}, new int[] {0, 4}), Errno.EINVAL));
        assertIotlb(n0, 0, def, def, def);
        assertEquals(1, n0.cacheInvalidateUser(hwptInv(8, new int[] {0, 1})));
        assertIotlb(n0, 0, 0, def, def);
        assertEquals(2, n0.cacheInvalidateUser(hwptInv(8, new int[] {0, 2}, new int[] {0, 3})));
        assertIotlb(n0, 0, 0, 0, 0);
        assertEquals(1, n1.cacheInvalidateUser(hwptInv(8, new int[] {IOMMU_TEST_INVALIDATE_FLAG_ALL, 0})));
        assertIotlb(n1, 0, 0, 0, 0);
        assertErrno(Errno.EOPNOTSUPP, () -> parent.cacheInvalidateUser(hwptInv(8, new int[] {0, 0})), "paging domain");
    }

    @Test
    void viommuAllocationAndUserData() {
        MockDevice dev = bench.device(0);
        MockDomain parent = paging(dev, DomainAllocFlags.NEST_PARENT);
        MockDomain notParent = paging(dev, 0);
        assertErrno(Errno.EOPNOTSUPP, () -> bench.driver.allocViommu(dev, parent, 0xdead, null), "type 0xdead");
        assertErrno(Errno.EINVAL, () -> bench.driver.allocViommu(dev, notParent, IOMMU_VIOMMU_TYPE_SELFTEST, null),
                "parent not NEST_PARENT");
        long before = bench.allocatedFrames();
        byte[] in = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(0xbeef).array();
        MockViommu v = (MockViommu) bench.driver.allocViommu(dev, parent, IOMMU_VIOMMU_TYPE_SELFTEST,
                new UserData(IOMMU_VIOMMU_TYPE_SELFTEST, in));
        assertEquals(IOMMU_VIOMMU_TYPE_SELFTEST, v.type());
        assertEquals(0xbeef, v.outData());
        assertEquals(8192, v.mmapLength());
        assertEquals(0xbeef, bench.memory.read32(v.mmapPhysicalAddress()), "the mmap page holds in_data");
        assertEquals(before + 2, bench.allocatedFrames());
        ByteBuffer out = ByteBuffer.wrap(v.outputStruct(0x5000)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xbeef, out.getInt(0));
        assertEquals(0xbeef, out.getInt(4));
        assertEquals(0x5000, out.getLong(8));
        assertEquals(8192, out.getLong(16));
        v.destroy();
        assertEquals(before, bench.allocatedFrames());
        assertErrno(Errno.EINVAL, () -> bench.driver.allocViommu(dev, parent, IOMMU_VIOMMU_TYPE_SELFTEST,
                new UserData(IOMMU_VIOMMU_TYPE_SELFTEST, new byte[7])), "shorter than out_data");
        assertErrno(Errno.EINVAL, () -> bench.driver.allocViommu(dev, parent, IOMMU_VIOMMU_TYPE_SELFTEST,
                new UserData(IOMMU_VIOMMU_TYPE_SELFTEST, new byte[25])), "longer than the struct");
        Viommu plain = bench.driver.allocViommu(dev, parent, IOMMU_VIOMMU_TYPE_SELFTEST, null);
        assertEquals(0, ((MockViommu) plain).mmapLength());
        assertErrno(Errno.EOPNOTSUPP, () -> plain.allocNestedDomain(dev, DomainAllocFlags.FAULT_ID_VALID | (1 << 31),
                selftestData(1)), "flags other than ALLOC_PASID");
        plain.destroy();
    }

    @Test
    void hwQueuesFollowTheSelftestRules() {
        MockDevice dev = bench.device(0);
        MockDomain parent = paging(dev, DomainAllocFlags.NEST_PARENT);
        long pa = bench.dataFrame();
        long iova = MOCK_APERTURE_START;
        parent.mapPages(iova, pa, 2048, 2, 3);
        MockViommu v = (MockViommu) bench.driver.allocViommu(dev, parent, IOMMU_VIOMMU_TYPE_SELFTEST, null);
        assertTrue(MockViommu.hwQueueTypeSupported(IOMMU_HW_QUEUE_TYPE_SELFTEST));
        assertFalse(MockViommu.hwQueueTypeSupported(0), "IOMMU_HW_QUEUE_TYPE_DEFAULT");
        assertErrno(Errno.EIO, () -> v.initHwQueue(1, iova, pa), "index 1 before 0");
        assertErrno(Errno.EINVAL, () -> v.initHwQueue(IOMMU_TEST_HW_QUEUE_MAX, iova, pa), "index 2");
        assertErrno(Errno.EFAULT, () -> v.initHwQueue(0, iova, pa + 0x800), "base_pa is not the parent's translation");
        MockViommu.MockHwQueue q0 = v.initHwQueue(0, iova, pa);
        assertErrno(Errno.EEXIST, () -> v.initHwQueue(0, iova, pa), "slot used");
        MockViommu.MockHwQueue q1 = v.initHwQueue(1, iova + 0x400, pa + 0x400);
        assertErrno(Errno.EBUSY, q0::destroy, "q1 depends on q0");
        q1.destroy();
        q0.destroy();
        assertEquals(0, v.initHwQueue(0, iova + 0x800, pa + 0x800).index(), "slot free again");
    }

    private static FakeUserDataArray viommuInv(int entryLen, int[]... entries) {
        return FakeUserDataArray.of(IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, entryLen, 12, entries);
    }

    private static int viommuInvalidateFails(Viommu v, FakeUserDataArray a, Errno errno) {
        ErrnoException e = assertThrows(ErrnoException.class, () -> v.cacheInvalidate(a));
        assertEquals(errno, e.errno(), e.getMessage());
        return (int) e.progress();
    }

    private static void assertCache(MockDevice d, int... expected) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], d.cache(i), "cache[" + i + "]");
        }
    }

    @Test
    void viommuCacheInvalidationFollowsVdeviceCache() {
        MockDevice dev = bench.device(0);
        MockDomain parent = paging(dev, DomainAllocFlags.NEST_PARENT);
        Viommu v = bench.driver.allocViommu(dev, parent, IOMMU_VIOMMU_TYPE_SELFTEST, null);
        Viommu.VDevice vdev = v.allocVDevice(dev, 0x99);
        assertErrno(Errno.EEXIST, () -> v.allocVDevice(dev, 0x98), "one vDEVICE per device");
        int def = IOMMU_TEST_DEV_CACHE_DEFAULT;
        assertCache(dev, def, def, def, def);
        assertErrno(Errno.EINVAL, () -> dev.cache(4), "DEV_CHECK_CACHE id 4");
        assertEquals(0, v.cacheInvalidate(viommuInv(12)));
        assertEquals(0, viommuInvalidateFails(v, FakeUserDataArray.of(IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID, 12, 12,
                new int[][] {{0, 0x99, 0}}), Errno.EINVAL));
        assertEquals(0, viommuInvalidateFails(v, viommuInv(13, new int[] {0, 0x99, 0}, new int[] {0x55, 0, 0}), Errno.E2BIG),
                "entry_len 13: the 13th byte is not zero");
        assertEquals(0, viommuInvalidateFails(v, viommuInv(1, new int[] {0, 0x99, 0}), Errno.EINVAL),
                "entry_len 1: vdev_id reads as 0");
        assertEquals(0, viommuInvalidateFails(v, viommuInv(12, new int[] {0xffffffff, 0x99, 0}), Errno.EOPNOTSUPP));
        assertEquals(0, viommuInvalidateFails(v, viommuInv(12, new int[] {0, 0x99, 4}), Errno.EINVAL), "cache_id 4");
        assertEquals(0, viommuInvalidateFails(v, viommuInv(12, new int[] {0, 0x9, 0}), Errno.EINVAL), "unknown vdev_id");
        assertCache(dev, def, def, def, def);
        assertEquals(1, viommuInvalidateFails(v, viommuInv(12, new int[] {0, 0x99, 0}, new int[] {0xffffffff, 0x99, 1}),
                Errno.EOPNOTSUPP));
        assertCache(dev, 0, def, def, def);
        assertEquals(1, viommuInvalidateFails(v, viommuInv(12, new int[] {0, 0x99, 0}, new int[] {0, 0x99, 4}), Errno.EINVAL));
        assertEquals(1, v.cacheInvalidate(viommuInv(12, new int[] {0, 0x99, 1})));
        assertCache(dev, 0, 0, def, def);
        assertEquals(2, v.cacheInvalidate(viommuInv(12, new int[] {0, 0x99, 2}, new int[] {0, 0x99, 3})));
        assertCache(dev, 0, 0, 0, 0);
        MockDevice other = bench.device(0);
        v.allocVDevice(other, 0x88);
        assertEquals(1, v.cacheInvalidate(viommuInv(12, new int[] {IOMMU_TEST_INVALIDATE_FLAG_ALL, 0x88, 0})));
        assertCache(other, 0, 0, 0, 0);
        vdev.destroy();
        assertEquals(0, viommuInvalidateFails(v, viommuInv(12, new int[] {0, 0x99, 0}), Errno.EINVAL), "vDEVICE gone");
    }

    @Test
    void viommuNestedDomainsNeedAVdeviceAndReportVevents() {
        MockDevice dev = bench.device(0);
        MockDomain parent = paging(dev, DomainAllocFlags.NEST_PARENT);
        Viommu v = bench.driver.allocViommu(dev, parent, IOMMU_VIOMMU_TYPE_SELFTEST, null);
        MockNestedDomain n = (MockNestedDomain) v.allocNestedDomain(dev, 0, selftestData(IOMMU_TEST_IOTLB_DEFAULT));
        assertSame(v, n.viommu());
        assertErrno(Errno.ENOENT, () -> n.attachDevice(dev), "vdevice_alloc: REPLACE before VDEVICE_ALLOC");
        assertSame(bench.driver.blocked(), dev.domain());
        assertErrno(Errno.ENOENT, dev::triggerVevent, "not attached through a vIOMMU");
        v.allocVDevice(dev, 0x99);
        n.attachDevice(dev);
        dev.triggerVevent();
        dev.triggerVevent();
        assertEquals(2, bench.events.size());
        assertSame(v, bench.eventViommus.get(0));
        assertEquals(IOMMU_VEVENTQ_TYPE_SELFTEST, bench.eventTypes.get(0));
        assertArrayEquals(new byte[] {(byte) 0x99, 0, 0, 0}, bench.events.get(0), "struct {u32 virt_id}");
        parent.attachDevice(dev);
        assertErrno(Errno.ENOENT, dev::triggerVevent, "moved off the vIOMMU");
    }

    @Test
    void pasidAttachHonoursTheReservedPasidTrickAndLimits() {
        MockDevice dev = bench.device(MOCK_FLAGS_DEVICE_PASID);
        MockDevice noPasid = bench.device(0);
        MockDomain s2 = paging(dev, DomainAllocFlags.PASID);
        MockDomain parent = paging(dev, DomainAllocFlags.NEST_PARENT);
        MockNestedDomain n0 = nested(dev, parent, DomainAllocFlags.PASID);
        assertErrno(Errno.EINVAL, () -> s2.setDevicePasid(noPasid, 100, bench.driver.blocked()), "no PASID capability");
        assertErrno(Errno.EINVAL, () -> s2.setDevicePasid(noPasid, 0, bench.driver.blocked()), "not even PASID 0");
        assertErrno(Errno.EINVAL, () -> s2.setDevicePasid(dev, 1 << 20, bench.driver.blocked()), "pasid out of range");

        s2.setDevicePasid(dev, IOMMU_TEST_PASID_RESERVED, bench.driver.blocked());
        assertSame(s2, dev.pasidDomain(IOMMU_TEST_PASID_RESERVED));
        assertErrno(Errno.ENOMEM, () -> n0.setDevicePasid(dev, IOMMU_TEST_PASID_RESERVED, s2),
                "pasid_attach step 10: the replace fails once");
        assertSame(s2, dev.pasidDomain(IOMMU_TEST_PASID_RESERVED), "the old domain stays");
        s2.setDevicePasid(dev, IOMMU_TEST_PASID_RESERVED, s2); // the core's rollback call succeeds
        bench.driver.blocked().setDevicePasid(dev, IOMMU_TEST_PASID_RESERVED, s2);
        assertNull(dev.pasidDomain(IOMMU_TEST_PASID_RESERVED));
        s2.setDevicePasid(dev, IOMMU_TEST_PASID_RESERVED, bench.driver.blocked()); // re-armed after blocked
        assertErrno(Errno.ENOMEM, () -> n0.setDevicePasid(dev, IOMMU_TEST_PASID_RESERVED, s2), "fails again");
        n0.setDevicePasid(dev, IOMMU_TEST_PASID_RESERVED, s2); // the failure disarmed it
        assertSame(n0, dev.pasidDomain(IOMMU_TEST_PASID_RESERVED));
        bench.driver.blocked().setDevicePasid(dev, IOMMU_TEST_PASID_RESERVED, n0);

        n0.setDevicePasid(dev, 200, bench.driver.blocked());
        assertSame(n0, dev.pasidDomain(200));
        s2.setDevicePasid(dev, 200, n0);
        assertSame(s2, dev.pasidDomain(200));
        bench.driver.blocked().setDevicePasid(dev, 200, s2);
        bench.driver.blocked().setDevicePasid(dev, 300, bench.driver.blocked()); // detach of nothing: fine
        assertNull(dev.pasidDomain(300));
    }

    @Test
    void triggerIopfDeliversAPageRequestToTheFaultSink() {
        MockDevice dev = bench.device(MOCK_FLAGS_DEVICE_PASID);
        dev.triggerIopf(0x1, 0x2, IoPageFault.PERM_READ | IoPageFault.PERM_WRITE, 0xdeadbeafL);
        dev.triggerIopf(0, 0x3, IoPageFault.PERM_READ, 0x1000);
        assertEquals(2, bench.faults.size());
        IoPageFault f = bench.faults.get(0);
        assertSame(dev, bench.faultDevices.get(0));
        assertEquals(new IoPageFault(IoPageFault.FLAG_LAST_PAGE | IoPageFault.FLAG_PASID_VALID, 1, 2,
                IoPageFault.PERM_READ | IoPageFault.PERM_WRITE, 0xdeadbeafL, 0, 0), f);
        assertEquals(IoPageFault.FLAG_LAST_PAGE, bench.faults.get(1).flags(), "IOMMU_NO_PASID: no PASID_VALID");
    }

    @Test
    void driverCloseReturnsEveryFrameItAllocated() {
        MockDevice dev = bench.device(MOCK_FLAGS_DEVICE_PASID);
        MockDomain d = paging(dev, DomainAllocFlags.PASID);
        d.setDevicePasid(dev, 5, bench.driver.blocked());
        d.attachDevice(dev);
        bench.driver.blocked().attachDevice(dev);
        bench.driver.blocked().setDevicePasid(dev, 5, d);
        d.free();
        bench.driver.close();
        assertEquals(bench.baselineFrames, bench.allocatedFrames(), "device table, PQ, PASID tables freed");
        assertErrno(Errno.ENODEV, () -> bench.driver.probeDevice(MockIommu.createDevice(bench.machine, 0)), "closed");
    }

    @Test
    void aFunctionFromTheMachineConfigHasNoMockFlagsAndForeignDomainsAreRefused() {
        PciFunction f = bench.machine.pci().add(PciFunctionSpec.endpoint("0000:00:05.0", "mock0"));
        MockDevice d = (MockDevice) bench.driver.probeDevice(f);
        assertEquals(0, d.flags(), "a function placed by the machine config has no mock flags");
        assertErrno(Errno.EINVAL, () -> bench.driver.attach(d, new MockDomainStub()), "a foreign domain");
        assertSame(bench.driver.blocked(), d.domain());
    }

    /** A domain from no mock driver. */
    private static final class MockDomainStub implements IommuDomain {
        @Override
        public DomainType type() {
            return DomainType.PAGING;
        }

        @Override
        public dev.iommufd.spi.IommuDriver driver() {
            return null;
        }

        @Override
        public void attachDevice(dev.iommufd.spi.DeviceHandle device) {
        }

        @Override
        public void free() {
        }
    }
}
