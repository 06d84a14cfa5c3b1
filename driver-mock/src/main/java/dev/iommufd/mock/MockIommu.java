package dev.iommufd.mock;

import static dev.iommufd.mock.MockSelftestUapi.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.mock.hw.MockContextEntry;
import dev.iommufd.mock.hw.MockHardwareModelProvider;
import dev.iommufd.mock.hw.MockIommuUnit;
import dev.iommufd.mock.hw.MockRegisters;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.FaultSink;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.PageResponse;
import dev.iommufd.spi.ReservedRegion;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.Viommu;
import dev.iommufd.spi.ViommuEventSink;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The mock IOMMU driver bound to a machine: the kernel selftest's {@code mock_ops} over every unit of hardware
 * model {@code mock}. It programs the units only through their registers and the tables it writes in physical
 * memory.
 *
 * <p>Devices: a mock device is a PCI function behind a mock unit. {@link #createDevice} is the board-level step
 * that plugs one in with MOCK_FLAGS_DEVICE_* flags (the PCI function spec has no room for them, so the unit
 * carries them as a per-RID capability the driver reads at probe).
 *
 * <p>Lock: this object's monitor guards attachments (device and PASID context entries), dirty-tracking switches,
 * domain tags and the device registry. Page-table operations do not take it.
 *
 * <h2>Test hooks</h2>
 * {@link #createDevice}, {@link #device(PciFunction)}, {@link #warningCount()}, {@link #blocked()},
 * {@link #identity()}; and the hooks of {@link MockDomain}, {@link MockNestedDomain}, {@link MockDevice},
 * {@link MockViommu}.
 */
public final class MockIommu implements IommuDriver {
    private final IommuDriverProvider provider;
    private final DriverContext context;
    private final Machine machine;
    private final PhysicalMemory memory;
    private final Map<String, MockUnitBinding> units = new LinkedHashMap<>();
    /** The units as an array, for the allocation-free invalidation paths. */
    private final MockUnitBinding[] unitArray;
    private final MockStaticDomain blocked = new MockStaticDomain(this, DomainType.BLOCKED);
    private final MockStaticDomain identity = new MockStaticDomain(this, DomainType.IDENTITY);
    private final BitSet tags = new BitSet();
    private final AtomicLong warnings = new AtomicLong();
    private final Set<MockViommu> viommus = new HashSet<>();
    private boolean closed;
    private volatile boolean invalidationSuppressed;
    private volatile BooleanSupplier mapFailureInjector;

    MockIommu(IommuDriverProvider provider, DriverContext context) {
        this.provider = provider;
        this.context = context;
        this.machine = context.machine();
        this.memory = machine.memory();
        List<MockUnitBinding> done = new ArrayList<>();
        try {
            for (IommuUnitModel unit : machine.iommuUnits()) {
                if (!unit.model().equals(MockHardwareModelProvider.ID)) {
                    continue;
                }
                int version = machine.mmio().read32(unit.mmioBase() + MockRegisters.VERSION);
                if ((version >>> MockRegisters.VERSION_MAJOR_SHIFT) != 1) {
                    throw ErrnoException.of(Errno.ENODEV, "mock unit %s reports unsupported version %#x", unit.name(), version);
                }
                MockUnitBinding b = new MockUnitBinding(this, machine, unit.name(), unit.mmioBase());
                done.add(b);
                units.put(unit.name(), b);
            }
        } catch (RuntimeException e) {
            for (MockUnitBinding b : done) {
                b.shutdown(machine);
            }
            throw e;
        }
        if (units.isEmpty()) {
            throw ErrnoException.of(Errno.ENODEV, "the machine has no mock IOMMU unit");
        }
        unitArray = units.values().toArray(new MockUnitBinding[0]);
    }

    // ---------------------------------------------------------------- board

    /** {@link #createDevice(Machine, String, int, boolean)} on the first mock unit, without PRI. */
    public static PciFunction createDevice(Machine machine, int flags) {
        return createDevice(machine, null, flags, false);
    }

    /**
     * Plugs a mock device into {@code machine} (the board-level half of the kernel's {@code mock_dev_create}): a
     * new PCI function on the first free address of bus 1..255 (device 0..31, function 0), behind mock unit
     * {@code unitName} (null: the first mock unit), with 20 PASID bits when {@code flags} has
     * MOCK_FLAGS_DEVICE_PASID, and ATS + PRI when {@code pri}. The unit records the flags for the driver to read.
     *
     * @throws ErrnoException EINVAL for unknown flags (nothing is created); ENODEV without a mock unit; ENOSPC when
     *         no address is free
     */
    public static PciFunction createDevice(Machine machine, String unitName, int flags, boolean pri) {
        if ((flags & ~MOCK_FLAGS_DEVICE_VALID) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "mock device flags %#x has unknown bits (valid: %#x)", flags,
                    MOCK_FLAGS_DEVICE_VALID);
        }
        MockIommuUnit unit = null;
        for (IommuUnitModel u : machine.iommuUnits()) {
            if (u instanceof MockIommuUnit && (unitName == null || u.name().equals(unitName))) {
                unit = (MockIommuUnit) u;
                break;
            }
        }
        if (unit == null) {
            throw ErrnoException.of(Errno.ENODEV, "no mock IOMMU unit%s on the machine",
                    unitName == null ? "" : " named " + unitName);
        }
        Set<Integer> used = new HashSet<>();
        for (PciFunction f : machine.pci().functions()) {
            if (f.address().segment() == 0) {
                used.add(f.rid());
            }
        }
        synchronized (unit) {
            for (int bus = 1; bus < 256; bus++) {
                for (int dev = 0; dev < 32; dev++) {
                    PciAddress a = new PciAddress(0, bus, dev, 0);
                    if (used.contains(a.rid())) {
                        continue;
                    }
                    PciFunctionSpec spec = new PciFunctionSpec(a, unit.name(),
                            (flags & MOCK_FLAGS_DEVICE_PASID) != 0 ? MOCK_PASID_WIDTH : 0, pri, pri, true);
                    unit.installDeviceFlags(a.rid(), flags);
                    try {
                        return machine.pci().add(spec);
                    } catch (ErrnoException e) {
                        unit.removeDeviceFlags(a.rid());
                        if (e.errno() != Errno.EEXIST) {
                            throw e;
                        }
                        used.add(a.rid());
                    }
                }
            }
        }
        throw ErrnoException.of(Errno.ENOSPC, "no free PCI address for a mock device");
    }

    // ---------------------------------------------------------------- driver

    @Override
    public IommuDriverProvider provider() {
        return provider;
    }

    @Override
    public List<String> units() {
        return List.copyOf(units.keySet());
    }

    PhysicalMemory memory() {
        return memory;
    }

    FaultSink faultSink() {
        return context.faultSink();
    }

    ViommuEventSink viommuEventSink() {
        return context.viommuEventSink();
    }

    void countWarning() {
        warnings.incrementAndGet();
    }

    /** Test hook: contract violations detected in every domain of this driver (the kernel mock's WARN_ONs). */
    public long warningCount() {
        return warnings.get();
    }

    /** The blocked domain. */
    public MockStaticDomain blocked() {
        return blocked;
    }

    /** The identity domain. */
    public MockStaticDomain identity() {
        return identity;
    }

    /** Test hook: the probed device of {@code function}, or null. */
    public synchronized MockDevice device(PciFunction function) {
        MockUnitBinding u = units.get(function.iommuUnit());
        return u == null ? null : u.devices.get(function.rid());
    }

    synchronized MockDevice deviceAt(MockUnitBinding unit, int rid) {
        return unit.devices.get(rid);
    }

    MockDevice owned(DeviceHandle device) {
        if (!(device instanceof MockDevice) || device.driver() != this) {
            throw ErrnoException.of(Errno.EINVAL, "device %s was not probed by this mock driver", device);
        }
        return (MockDevice) device;
    }

    @Override
    public synchronized DeviceHandle probeDevice(PciFunction function) {
        checkOpen();
        MockUnitBinding unit = units.get(function.iommuUnit());
        if (unit == null) {
            throw ErrnoException.of(Errno.ENODEV, "%s sits behind unit %s, not a mock unit of this driver",
                    function.address(), function.iommuUnit());
        }
        MockDevice existing = unit.devices.get(function.rid());
        if (existing != null && existing.function() == function) {
            return existing;
        }
        if (existing != null) {
            throw ErrnoException.of(Errno.EBUSY, "RID %#x on %s is already probed for another function", function.rid(),
                    unit.name);
        }
        MockDevice d = new MockDevice(this, unit, function, unit.deviceFlags(function.rid()));
        unit.devices.put(function.rid(), d);
        d.setDomain(blocked);
        writeDeviceContext(d, contextWord(blocked));
        return d;
    }

    @Override
    public synchronized void releaseDevice(DeviceHandle device) {
        MockDevice d = owned(device);
        MockUnitBinding unit = d.binding();
        if (unit.devices.get(d.rid()) != d) {
            return;
        }
        long dte = MockContextEntry.dtePa(unit.deviceTable, d.rid());
        memory.write64(dte, 0);
        memory.write64(dte + 8, 0);
        freePasidTables(d);
        d.pasidDomainsLocked().clear();
        d.setDomain(null);
        d.setViommu(null, 0);
        unit.devices.remove(d.rid());
    }

    @Override
    public boolean deviceCapable(DeviceHandle device, Capability capability) {
        MockDevice d = owned(device);
        switch (capability) {
            case ENFORCE_CACHE_COHERENCY:
                return true;
            case DIRTY_TRACKING:
                return !d.noDirty();
            default:
                return capabilities().contains(capability);
        }
    }

    @Override
    public HwInfo hwInfo(DeviceHandle device, int requestedType) {
        MockDevice d = owned(device);
        if (requestedType != 0 && requestedType != IOMMU_HW_INFO_TYPE_SELFTEST) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "hw_info type %#x is not supported (mock: %#x)", requestedType,
                    IOMMU_HW_INFO_TYPE_SELFTEST);
        }
        byte[] data = ByteBuffer.allocate(IOMMU_TEST_HW_INFO_SIZE).order(ByteOrder.LITTLE_ENDIAN).putInt(0)
                .putInt(IOMMU_HW_INFO_SELFTEST_REGVAL).array();
        return new HwInfo(IOMMU_HW_INFO_TYPE_SELFTEST, data, d.noDirty() ? 0 : HwInfo.CAP_DIRTY_TRACKING, d.maxPasidLog2());
    }

    @Override
    public List<ReservedRegion> reservedRegions(DeviceHandle device) {
        owned(device);
        return List.of();
    }

    @Override
    public IommuDomain allocPagingDomain(DeviceHandle device, int flags, UserData data) {
        int supported = DomainAllocFlags.NEST_PARENT | DomainAllocFlags.DIRTY_TRACKING | DomainAllocFlags.PASID;
        if ((flags & ~supported) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "paging domain flags %#x has unsupported bits (mock: %#x)", flags,
                    supported);
        }
        if (data != null) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "mock paging domains take no user data (data_type %#x)", data.type());
        }
        MockDevice d = device == null ? null : owned(device);
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) != 0 && d != null && d.noDirty()) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "%s cannot do dirty tracking (MOCK_FLAGS_DEVICE_NO_DIRTY)", d);
        }
        boolean huge = d != null && (d.flags() & MOCK_FLAGS_DEVICE_HUGE_IOVA) != 0;
        int tag = allocateTag();
        try {
            return new MockDomain(this, flags, huge, tag, new MockIoPageTable(memory));
        } catch (RuntimeException e) {
            releaseTag(tag);
            throw e;
        }
    }

    @Override
    public IommuDomain allocNestedDomain(DeviceHandle device, IommuDomain parent, int flags, UserData data) {
        if ((flags & ~DomainAllocFlags.PASID) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "nested domain flags %#x: only ALLOC_PASID is supported", flags);
        }
        if (!(parent instanceof MockDomain) || parent.driver() != this) {
            throw ErrnoException.of(Errno.EINVAL, "nested parent %s is not a mock paging domain of this driver", parent);
        }
        MockDomain p = (MockDomain) parent;
        if ((p.allocFlags() & DomainAllocFlags.NEST_PARENT) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "nested parent was not allocated with NEST_PARENT");
        }
        return newNested(p, null, flags, data);
    }

    MockNestedDomain newNested(MockDomain parent, MockViommu viommu, int flags, UserData data) {
        if (data == null || data.type() != IOMMU_HWPT_DATA_SELFTEST) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "nested data_type %s is not IOMMU_HWPT_DATA_SELFTEST",
                    data == null ? "NONE" : String.format("%#x", data.type()));
        }
        ByteBuffer b = data.copyStruct(IOMMU_HWPT_DATA_SELFTEST, IOMMU_HWPT_SELFTEST_SIZE, IOMMU_HWPT_SELFTEST_SIZE);
        return new MockNestedDomain(this, parent, viommu, flags, b.getInt(0));
    }

    void freeNested(MockNestedDomain domain) {
        // nothing in hardware: the contexts it was programmed into were switched away by the core first
    }

    @Override
    public IommuDomain blockedDomain() {
        return blocked;
    }

    @Override
    public IommuDomain identityDomain() {
        return identity;
    }

    /** {@code mock_ops.user_pasid_table = true}: PASID page requests without their own domain go to the RID's nested domain. */
    @Override
    public boolean userPasidTable() {
        return true;
    }

    @Override
    public void pageResponse(DeviceHandle device, PageResponse response) {
        MockDevice d = owned(device);
        d.binding().write64(MockRegisters.PRS, MockRegisters.pageResponse(d.rid(), response.pasid(), response.pasidValid(),
                response.grpid(), response.code()));
        d.recordPageResponse(response);
    }

    @Override
    public Viommu allocViommu(DeviceHandle device, IommuDomain parent, int type, UserData data) {
        owned(device);
        if (type != IOMMU_VIOMMU_TYPE_SELFTEST) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vIOMMU type %#x is not IOMMU_VIOMMU_TYPE_SELFTEST", type);
        }
        if (!(parent instanceof MockDomain) || parent.driver() != this
                || (parent.allocFlags() & DomainAllocFlags.NEST_PARENT) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "vIOMMU parent %s is not a NEST_PARENT mock domain", parent);
        }
        MockViommu v = new MockViommu(this, (MockDomain) parent, data);
        synchronized (this) {
            viommus.add(v);
        }
        return v;
    }

    synchronized void viommuDestroyed(MockViommu v) {
        viommus.remove(v);
    }

    // ---------------------------------------------------------------- contexts

    private void checkOpen() {
        if (closed) {
            throw ErrnoException.of(Errno.ENODEV, "the mock driver was closed");
        }
    }

    private int allocateTag() {
        synchronized (this) {
            int t = tags.nextClearBit(1);
            if (t > MockContextEntry.DTAG_MAX) {
                throw ErrnoException.of(Errno.ENOSPC, "all %d mock domain tags are in use", MockContextEntry.DTAG_MAX);
            }
            tags.set(t);
            return t;
        }
    }

    private synchronized void releaseTag(int tag) {
        tags.clear(tag);
    }

    /** The context word a domain programs (without PRE). */
    private long contextWord(IommuDomain domain) {
        if (domain == blocked) {
            return MockContextEntry.contextWord(MockContextEntry.MODE_BLOCKED, 0, 0, false);
        }
        if (domain == identity) {
            return MockContextEntry.contextWord(MockContextEntry.MODE_IDENTITY, 0, 0, false);
        }
        MockDomain paging = effectivePaging(domain);
        if (paging == null) {
            throw ErrnoException.of(Errno.EINVAL, "domain %s does not belong to this mock driver", domain);
        }
        return MockContextEntry.contextWord(MockContextEntry.MODE_PAGING, paging.rootTable(), paging.domainTag(),
                paging.dirtyTrackingEnabled());
    }

    private MockDomain effectivePaging(IommuDomain domain) {
        if (domain instanceof MockDomain && domain.driver() == this) {
            return (MockDomain) domain;
        }
        if (domain instanceof MockNestedDomain && domain.driver() == this) {
            return ((MockNestedDomain) domain).parent();
        }
        return null;
    }

    private void writeDeviceContext(MockDevice d, long word) {
        if (d.function().priCapable()) {
            word |= MockContextEntry.PAGE_REQUEST_ENABLE;
        }
        memory.write64(MockContextEntry.dtePa(d.binding().deviceTable, d.rid()), word);
    }

    /** {@code attach_dev}. */
    synchronized void attach(DeviceHandle device, IommuDomain domain) {
        checkOpen();
        MockDevice d = owned(device);
        long word = contextWord(domain);
        if (domain instanceof MockDomain && (domain.allocFlags() & DomainAllocFlags.DIRTY_TRACKING) != 0 && d.noDirty()) {
            throw ErrnoException.of(Errno.EINVAL, "%s cannot attach to a dirty-tracking domain (MOCK_FLAGS_DEVICE_NO_DIRTY)", d);
        }
        MockViommu newViommu = null;
        long vdevId = 0;
        if (domain instanceof MockNestedDomain && ((MockNestedDomain) domain).viommu() != null) {
            newViommu = ((MockNestedDomain) domain).viommu();
            MockViommu.MockVDevice v = newViommu.vdeviceOf(d);
            if (v == null) {
                throw ErrnoException.of(Errno.ENOENT, "%s has no vDEVICE on the nested domain's vIOMMU", d);
            }
            vdevId = v.virtualId;
        }
        writeDeviceContext(d, word);
        d.setViommu(newViommu, vdevId);
        d.setDomain(domain);
    }

    /** {@code set_dev_pasid}: the blocked domain removes the PASID's attachment. */
    synchronized void setPasid(DeviceHandle device, int pasid, IommuDomain domain) {
        checkOpen();
        MockDevice d = owned(device);
        if (d.maxPasidLog2() == 0 || pasid < 0 || pasid >= (1 << d.maxPasidLog2())) {
            throw ErrnoException.of(Errno.EINVAL, "pasid %d is outside the %d PASID bits of %s", pasid, d.maxPasidLog2(), d);
        }
        long word = contextWord(domain);
        if (pasid == IOMMU_TEST_PASID_RESERVED) {
            // The kernel mock: the first non-blocked set arms a fake error that fails the next one (a replace) with
            // ENOMEM, to exercise the core's rollback; attaching the blocked domain disarms it.
            if (domain == blocked) {
                d.pasid1024FakeError = false;
            } else if (d.pasid1024FakeError) {
                d.pasid1024FakeError = false;
                throw ErrnoException.of(Errno.ENOMEM, "mock: fake failure replacing the domain of pasid %d", pasid);
            } else {
                d.pasid1024FakeError = true;
            }
        }
        if (domain == blocked) {
            long entry = pasidEntry(d, pasid, false);
            if (entry >= 0) {
                memory.write64(entry, 0);
            }
            d.pasidDomainsLocked().remove(pasid);
            return;
        }
        long entry = pasidEntry(d, pasid, true);
        memory.write64(entry, word);
        d.pasidDomainsLocked().put(pasid, domain);
    }

    /** The PASID table entry of {@code pasid}, allocating the directory and table when {@code create}; -1 if none. */
    private long pasidEntry(MockDevice d, int pasid, boolean create) {
        FrameAllocator frames = memory.frames();
        if (d.pasidDirectory == MockDevice.NO_PASID_DIRECTORY) {
            if (!create) {
                return -1;
            }
            d.pasidDirectory = frames.allocate(MockContextEntry.PASID_DIR_ORDER);
            memory.write64(MockContextEntry.dtePa(d.binding().deviceTable, d.rid()) + 8,
                    d.pasidDirectory | MockContextEntry.PASID_DIR_VALID);
        }
        long dirEntry = MockContextEntry.pasidDirEntryPa(d.pasidDirectory, pasid);
        long de = memory.read64(dirEntry);
        if ((de & MockContextEntry.PASID_DIR_PRESENT) == 0) {
            if (!create) {
                return -1;
            }
            long table = frames.allocateFrame();
            de = table | MockContextEntry.PASID_DIR_PRESENT;
            memory.write64(dirEntry, de);
        }
        return MockContextEntry.pasidEntryPa(de & MockContextEntry.ADDR_MASK, pasid);
    }

    private void freePasidTables(MockDevice d) {
        if (d.pasidDirectory == MockDevice.NO_PASID_DIRECTORY) {
            return;
        }
        FrameAllocator frames = memory.frames();
        for (int i = 0; i < MockContextEntry.PASID_DIR_ENTRIES; i++) {
            long de = memory.read64(d.pasidDirectory + 8L * i);
            if ((de & MockContextEntry.PASID_DIR_PRESENT) != 0) {
                frames.free(de & MockContextEntry.ADDR_MASK, 0);
            }
        }
        frames.free(d.pasidDirectory, MockContextEntry.PASID_DIR_ORDER);
        d.pasidDirectory = MockDevice.NO_PASID_DIRECTORY;
    }

    /** {@code set_dirty_tracking}: records the switch and rewrites DE in every context that uses the domain. */
    synchronized void setDirtyTracking(MockDomain domain, boolean enable) {
        domain.dirtyTrackingChanged(enable);
        for (MockUnitBinding u : units.values()) {
            for (MockDevice d : u.devices.values()) {
                if (effectivePaging(d.domainLocked()) == domain) {
                    writeDeviceContext(d, contextWord(d.domainLocked()));
                }
                for (Map.Entry<Integer, IommuDomain> e : d.pasidDomainsLocked().entrySet()) {
                    if (effectivePaging(e.getValue()) == domain) {
                        memory.write64(pasidEntry(d, e.getKey(), false), contextWord(e.getValue()));
                    }
                }
            }
        }
    }

    /**
     * TCK hook (negative self-tests): while {@code suppressed}, IOTLB syncs and flushes skip the unit's invalidation
     * commands but still free the gathered table pages, which is exactly the bug of a driver that forgets to
     * invalidate. Stale translations then stay usable by DMA. Never set outside tests.
     */
    public void setInvalidationSuppressed(boolean suppressed) {
        invalidationSuppressed = suppressed;
    }

    /**
     * Fault-injection hook for the core's {@code iommufd_fail_nth} port: the kernel mock's map_pages consults
     * {@code iommufd_should_fail()} and fails with ENOENT. When {@code shouldFail} (null: none) returns true at the
     * start of a map_pages call, the call fails with ENOENT and maps nothing.
     */
    public void setMapFailureInjector(BooleanSupplier shouldFail) {
        mapFailureInjector = shouldFail;
    }

    /** Whether the installed injector asks this map_pages call to fail. */
    boolean injectMapFailure() {
        BooleanSupplier s = mapFailureInjector;
        return s != null && s.getAsBoolean();
    }

    void invalidateRange(int tag, long first, long last) {
        if (invalidationSuppressed) {
            return;
        }
        for (int i = 0; i < unitArray.length; i++) {
            unitArray[i].invalidateRange(tag, first, last);
        }
    }

    void invalidateTag(int tag) {
        if (invalidationSuppressed) {
            return;
        }
        for (int i = 0; i < unitArray.length; i++) {
            unitArray[i].invalidateTag(tag);
        }
    }

    void freePaging(MockDomain domain) {
        invalidateTag(domain.domainTag());
        domain.destroyTables();
        releaseTag(domain.domainTag());
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (MockUnitBinding u : units.values()) {
            for (MockDevice d : u.devices.values()) {
                freePasidTables(d);
            }
            u.devices.clear();
            u.shutdown(machine);
        }
    }
}
