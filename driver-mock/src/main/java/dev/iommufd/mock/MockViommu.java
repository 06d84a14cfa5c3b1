package dev.iommufd.mock;

import static dev.iommufd.mock.MockSelftestUapi.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.UserDataArray;
import dev.iommufd.spi.Viommu;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * A mock vIOMMU ({@code struct mock_viommu}, type IOMMU_VIOMMU_TYPE_SELFTEST) over a nest-parent mock domain.
 *
 * <p>With user data ({@code struct iommu_viommu_selftest}), the driver allocates a two-page "MMIO" region whose
 * first u32 holds {@code in_data}, and answers {@code out_data = in_data}. As in the kernel, the region is mmap-able
 * through the iommufd file: the core reads {@link #mmapPhysicalAddress()} and {@link #mmapLength()} (the
 * {@link dev.iommufd.spi.Viommu} accessors), registers the region, chooses its mmap offset and writes the user
 * structure back with {@link #outputStruct(long)}.
 *
 * <h2>Test hooks</h2>
 * {@link #inData()}, {@link #outData()}, {@link #mmapPhysicalAddress()}, {@link #mmapLength()},
 * {@link #outputStruct(long)}, {@link #vdevice(long)}.
 *
 * <p>Lock: the vDEVICE maps are guarded by this object. Lock order: the driver's lock before this one; this object
 * never calls into the driver while holding its own lock.
 */
public final class MockViommu implements Viommu {
    /** Length of the mmap-able region: 2 CPU pages. */
    public static final long MMAP_LENGTH = 2 * 4096;

    private final MockIommu driver;
    private final MockDomain parent;
    private final boolean hasData;
    private final int inData;
    private final long mmapPa;
    private final Map<Long, MockVDevice> byVirtualId = new HashMap<>();
    private final Map<MockDevice, MockVDevice> byDevice = new HashMap<>();
    private boolean destroyed;
    private final MockHwQueue[] hwQueues = new MockHwQueue[IOMMU_TEST_HW_QUEUE_MAX];

    MockViommu(MockIommu driver, MockDomain parent, UserData data) {
        this.driver = driver;
        this.parent = parent;
        if (data != null) {
            ByteBuffer b = data.copyStruct(IOMMU_VIOMMU_TYPE_SELFTEST, IOMMU_VIOMMU_SELFTEST_SIZE,
                    IOMMU_VIOMMU_SELFTEST_MIN_SIZE);
            this.hasData = true;
            this.inData = b.getInt(0);
            this.mmapPa = driver.memory().frames().allocate(1);
            driver.memory().write32(mmapPa, inData);
        } else {
            this.hasData = false;
            this.inData = 0;
            this.mmapPa = 0;
        }
    }

    @Override
    public int type() {
        return IOMMU_VIOMMU_TYPE_SELFTEST;
    }

    /** The nest-parent domain (s2_parent). */
    public MockDomain parent() {
        return parent;
    }

    @Override
    public IommuDomain allocNestedDomain(DeviceHandle device, int flags, UserData data) {
        if ((flags & ~DomainAllocFlags.PASID) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vIOMMU nested domain flags %#x: only ALLOC_PASID is supported", flags);
        }
        return driver.newNested(parent, this, flags, data);
    }

    /**
     * {@code mock_viommu_cache_invalidate}: an empty array of the right type succeeds; otherwise the whole array is
     * copied first ({@code iommu_copy_struct_from_full_user_array}: wrong type EINVAL; each entry copied with
     * {@code copy_struct_from_user} rules), then each entry: flags other than FLAG_ALL EOPNOTSUPP, cache_id above
     * MOCK_DEV_CACHE_ID_MAX EINVAL, a vdev_id no vDEVICE of this vIOMMU has EINVAL; FLAG_ALL zeroes all four device
     * cache values, else the named one.
     */
    @Override
    public int cacheInvalidate(UserDataArray entries) {
        int n = entries.entryCount();
        if (n == 0 && entries.type() == IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST) {
            return 0;
        }
        if (entries.type() != IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST) {
            throw ErrnoException.of(Errno.EINVAL, "vIOMMU invalidation data_type %#x is not IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST",
                    entries.type()).withProgress(0);
        }
        if (n == 0) {
            throw ErrnoException.of(Errno.EINVAL, "vIOMMU invalidation: empty array");
        }
        int[] cmds = new int[3 * n];
        for (int i = 0; i < n; i++) {
            ByteBuffer b = entries.copyFullArrayEntry(i, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, IOMMU_VIOMMU_INVALIDATE_SELFTEST_SIZE);
            cmds[3 * i] = b.getInt(0);
            cmds[3 * i + 1] = b.getInt(4);
            cmds[3 * i + 2] = b.getInt(8);
        }
        int done = 0;
        try {
            for (; done < n; done++) {
                int flags = cmds[3 * done];
                long vdev = Integer.toUnsignedLong(cmds[3 * done + 1]);
                int cacheId = cmds[3 * done + 2];
                if ((flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) != 0) {
                    throw ErrnoException.of(Errno.EOPNOTSUPP, "entry %d: flags %#x has unknown bits", done, flags);
                }
                if (Integer.compareUnsigned(cacheId, MOCK_DEV_CACHE_ID_MAX) > 0) {
                    throw ErrnoException.of(Errno.EINVAL, "entry %d: cache_id %d is above %d", done,
                            Integer.toUnsignedLong(cacheId), MOCK_DEV_CACHE_ID_MAX);
                }
                MockVDevice v;
                synchronized (this) {
                    v = byVirtualId.get(vdev);
                }
                if (v == null) {
                    throw ErrnoException.of(Errno.EINVAL, "entry %d: vdev_id %#x is not a vDEVICE of this vIOMMU", done, vdev);
                }
                if ((flags & IOMMU_TEST_INVALIDATE_FLAG_ALL) != 0) {
                    for (int c = 0; c < MOCK_DEV_CACHE_NUM; c++) {
                        v.device.invalidateCache(c);
                    }
                } else {
                    v.device.invalidateCache(cacheId);
                }
            }
            return done;
        } catch (ErrnoException e) {
            throw e.withProgress(done);
        }
    }

    @Override
    public synchronized VDevice allocVDevice(DeviceHandle device, long virtualId) {
        MockDevice d = driver.owned(device);
        if (byVirtualId.containsKey(virtualId)) {
            throw ErrnoException.of(Errno.EEXIST, "virtual id %#x already has a vDEVICE", virtualId);
        }
        if (byDevice.containsKey(d)) {
            throw ErrnoException.of(Errno.EEXIST, "%s already has a vDEVICE on this vIOMMU", d);
        }
        MockVDevice v = new MockVDevice(d, virtualId);
        byVirtualId.put(virtualId, v);
        byDevice.put(d, v);
        return v;
    }

    /** The vDEVICE of {@code device}, or null. */
    synchronized MockVDevice vdeviceOf(MockDevice device) {
        return byDevice.get(device);
    }

    /** Test hook: the vDEVICE with that virtual id, or null. */
    public synchronized VDevice vdevice(long virtualId) {
        return byVirtualId.get(virtualId);
    }

    @Override
    public void destroy() {
        synchronized (this) { // released before taking the driver's lock (attach takes driver, then vIOMMU)
            if (destroyed) {
                return;
            }
            destroyed = true;
        }
        if (hasData) {
            driver.memory().frames().free(mmapPa, 1);
        }
        driver.viommuDestroyed(this);
    }

    /**
     * Test hook for IOMMU_HW_QUEUE_ALLOC ({@code get_hw_queue_size}): whether the mock vIOMMU has hardware queues of
     * {@code type} (only IOMMU_HW_QUEUE_TYPE_SELFTEST; the core answers EOPNOTSUPP otherwise).
     */
    public static boolean hwQueueTypeSupported(int type) {
        return type == IOMMU_HW_QUEUE_TYPE_SELFTEST;
    }

    /**
     * Test hook for IOMMU_HW_QUEUE_ALLOC ({@code mock_hw_queue_init_phys}), after the core validated and pinned the
     * guest queue memory: queue {@code index} at {@code baseIova} of the nest parent, which the core resolved to
     * {@code basePa}.
     *
     * @throws ErrnoException EINVAL for an index of IOMMU_TEST_HW_QUEUE_MAX or more; EEXIST when the slot is used;
     *         EIO when queue {@code index - 1} does not exist; EFAULT when {@code basePa} is not what the parent
     *         domain translates {@code baseIova} to
     */
    public synchronized MockHwQueue initHwQueue(int index, long baseIova, long basePa) {
        if (index < 0 || index >= IOMMU_TEST_HW_QUEUE_MAX) {
            throw ErrnoException.of(Errno.EINVAL, "hw queue index %d is not below %d", index, IOMMU_TEST_HW_QUEUE_MAX);
        }
        if (hwQueues[index] != null) {
            throw ErrnoException.of(Errno.EEXIST, "hw queue %d already exists", index);
        }
        if (index > 0 && hwQueues[index - 1] == null) {
            throw ErrnoException.of(Errno.EIO, "hw queue %d needs queue %d first", index, index - 1);
        }
        if (parent.iovaToPhys(baseIova) != basePa) {
            throw ErrnoException.of(Errno.EFAULT, "hw queue base %#x is not at physical %#x in the parent", baseIova, basePa);
        }
        MockHwQueue q = new MockHwQueue(index, baseIova, basePa);
        hwQueues[index] = q;
        return q;
    }

    /**
     * {@code mock_viommu_init}'s copy-back of {@code struct iommu_viommu_selftest} through the SPI. The iommufd mmap
     * of the region is not modelled, so {@code out_mmap_offset} is 0 (see {@link #outputStruct}).
     */
    @Override
    public byte[] userDataOut() {
        return hasData ? outputStruct(0) : null;
    }

    /** {@code mock_get_hw_queue_size} through the SPI: {@link #hwQueueTypeSupported}. */
    @Override
    public int hwQueueSize(int type) {
        return hwQueueTypeSupported(type) ? 1 : 0;
    }

    /** {@code mock_hw_queue_init_phys} through the SPI: {@link #initHwQueue(int, long, long)}. */
    @Override
    public HwQueue initHwQueue(int type, int index, long baseIova, long basePa, long length) {
        return initHwQueue(index, baseIova, basePa);
    }

    /** A mock hardware queue ({@code struct mock_hw_queue}); queue {@code i > 0} depends on queue {@code i - 1}. */
    public final class MockHwQueue implements HwQueue {
        private final int index;
        private final long baseIova;
        private final long basePa;

        MockHwQueue(int index, long baseIova, long basePa) {
            this.index = index;
            this.baseIova = baseIova;
            this.basePa = basePa;
        }

        public int index() {
            return index;
        }

        public long baseIova() {
            return baseIova;
        }

        public long basePhysicalAddress() {
            return basePa;
        }

        /** {@code iommufd_hw_queue_depend(this, prev)}: queue {@code index - 1}. */
        @Override
        public HwQueue dependsOn() {
            synchronized (MockViommu.this) {
                return index > 0 ? hwQueues[index - 1] : null;
            }
        }

        /**
         * Destroys the queue.
         *
         * @throws ErrnoException EBUSY while the next queue (which depends on this one) exists
         */
        @Override
        public void destroy() {
            synchronized (MockViommu.this) {
                if (index + 1 < IOMMU_TEST_HW_QUEUE_MAX && hwQueues[index + 1] != null) {
                    throw ErrnoException.of(Errno.EBUSY, "hw queue %d depends on queue %d", index + 1, index);
                }
                if (hwQueues[index] == this) {
                    hwQueues[index] = null;
                }
            }
        }
    }

    /** Test hook: {@code in_data}, or 0 without user data. */
    public int inData() {
        return inData;
    }

    /** Test hook: {@code out_data} (= in_data). */
    public int outData() {
        return inData;
    }

    /** Test hook: whether the vIOMMU was allocated with user data (and so has an mmap region). */
    public boolean hasUserData() {
        return hasData;
    }

    /** Test hook: the physical address of the mmap-able region (meaningful only with {@link #hasUserData()}). */
    public long mmapPhysicalAddress() {
        return mmapPa;
    }

    /** Test hook: {@code out_mmap_length}, 0 without user data. */
    public long mmapLength() {
        return hasData ? MMAP_LENGTH : 0;
    }

    /**
     * Test hook: the 24-byte {@code struct iommu_viommu_selftest} to copy back to the user, with the mmap offset the
     * core assigned.
     */
    public byte[] outputStruct(long mmapOffset) {
        return ByteBuffer.allocate(IOMMU_VIOMMU_SELFTEST_SIZE).order(ByteOrder.LITTLE_ENDIAN).putInt(inData)
                .putInt(inData).putLong(hasData ? mmapOffset : 0).putLong(mmapLength()).array();
    }

    /** A mock vDEVICE: a device's virtual ID on this vIOMMU. */
    final class MockVDevice implements VDevice {
        final MockDevice device;
        final long virtualId;

        MockVDevice(MockDevice device, long virtualId) {
            this.device = device;
            this.virtualId = virtualId;
        }

        @Override
        public DeviceHandle device() {
            return device;
        }

        @Override
        public long virtualId() {
            return virtualId;
        }

        @Override
        public void destroy() {
            synchronized (MockViommu.this) {
                byVirtualId.remove(virtualId, this);
                byDevice.remove(device, this);
            }
        }
    }
}
