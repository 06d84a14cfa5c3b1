package dev.iommufd.mock;

import static dev.iommufd.mock.MockSelftestUapi.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.PageResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A mock device as the driver sees it (the kernel selftest's {@code struct mock_dev}): its PCI function, the mock
 * device flags the board wired for it (read through DEVSEL/DEVCAP at probe), the four mock device-cache values,
 * and what it is attached to.
 *
 * <h2>Test hooks</h2>
 * {@link #cache(int)} (IOMMU_TEST_OP_DEV_CHECK_CACHE), {@link #triggerIopf} (IOMMU_TEST_OP_TRIGGER_IOPF),
 * {@link #triggerVevent()} (IOMMU_TEST_OP_TRIGGER_VEVENT), {@link #pageResponseCount()},
 * {@link #lastPageResponse()}, {@link #domain()}, {@link #pasidDomain(int)}, {@link #flags()}.
 *
 * <p>Attachment state is guarded by the driver's lock; the cache values are atomic.
 */
public final class MockDevice implements DeviceHandle {
    private final MockIommu driver;
    private final MockUnitBinding unit;
    private final PciFunction function;
    private final int flags;
    private final AtomicIntegerArray cache = new AtomicIntegerArray(MOCK_DEV_CACHE_NUM);
    private final AtomicInteger pageResponses = new AtomicInteger();
    private volatile PageResponse lastPageResponse;

    // guarded by the driver's lock
    private IommuDomain domain;
    private final Map<Integer, IommuDomain> pasidDomains = new HashMap<>();
    /** The PASID directory's physical address, or {@link #NO_PASID_DIRECTORY} (0 is a valid address). */
    long pasidDirectory = NO_PASID_DIRECTORY;
    static final long NO_PASID_DIRECTORY = -1;
    boolean pasid1024FakeError;
    private volatile MockViommu viommu;
    private volatile long vdevId;

    MockDevice(MockIommu driver, MockUnitBinding unit, PciFunction function, int flags) {
        this.driver = driver;
        this.unit = unit;
        this.function = function;
        this.flags = flags;
        for (int i = 0; i < MOCK_DEV_CACHE_NUM; i++) {
            cache.set(i, IOMMU_TEST_DEV_CACHE_DEFAULT);
        }
    }

    @Override
    public PciFunction function() {
        return function;
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    @Override
    public int maxPasidLog2() {
        return Math.min(function.pasidBits(), MOCK_PASID_WIDTH);
    }

    MockUnitBinding binding() {
        return unit;
    }

    int rid() {
        return function.rid();
    }

    /** The MOCK_FLAGS_DEVICE_* flags of the device. */
    public int flags() {
        return flags;
    }

    boolean noDirty() {
        return (flags & MOCK_FLAGS_DEVICE_NO_DIRTY) != 0;
    }

    /** The domain the device's untagged DMA uses (the blocked domain after probe). */
    public IommuDomain domain() {
        synchronized (driver) {
            return domain;
        }
    }

    void setDomain(IommuDomain d) {
        domain = d;
    }

    IommuDomain domainLocked() {
        return domain;
    }

    Map<Integer, IommuDomain> pasidDomainsLocked() {
        return pasidDomains;
    }

    /** The domain attached to {@code pasid}, or null. */
    public IommuDomain pasidDomain(int pasid) {
        synchronized (driver) {
            return pasidDomains.get(pasid);
        }
    }

    void setViommu(MockViommu v, long virtId) {
        viommu = v;
        vdevId = virtId;
    }

    /** Test hook: the vIOMMU of the nested domain the device is attached to, or null. */
    public MockViommu viommu() {
        return viommu;
    }

    /**
     * Test hook: IOMMU_TEST_OP_DEV_CHECK_CACHE reads {@code cache[id]}.
     *
     * @throws ErrnoException EINVAL for an id above MOCK_DEV_CACHE_ID_MAX
     */
    public int cache(int id) {
        if (id < 0 || id > MOCK_DEV_CACHE_ID_MAX) {
            throw ErrnoException.of(Errno.EINVAL, "cache id %d is outside [0, %d]", id, MOCK_DEV_CACHE_ID_MAX);
        }
        return cache.get(id);
    }

    void invalidateCache(int id) {
        cache.set(id, 0);
    }

    /**
     * Test hook: IOMMU_TEST_OP_TRIGGER_IOPF. Reports one page request {LAST_PAGE (+PASID_VALID when {@code pasid}
     * is not IOMMU_NO_PASID 0), addr, pasid, grpid, perm} to the core's fault sink, as
     * {@code iommu_report_device_fault} does.
     */
    public void triggerIopf(int pasid, int grpid, int perm, long addr) {
        int f = IoPageFault.FLAG_LAST_PAGE | (pasid != 0 ? IoPageFault.FLAG_PASID_VALID : 0);
        driver.faultSink().reportPageFault(this, new IoPageFault(f, pasid, grpid, perm, addr, 0, 0));
    }

    /**
     * Test hook: IOMMU_TEST_OP_TRIGGER_VEVENT. Reports an IOMMU_VEVENTQ_TYPE_SELFTEST event carrying
     * {@code struct iommu_viommu_event_selftest {u32 virt_id}} to the vIOMMU of the nested domain the device is
     * attached to.
     *
     * @throws ErrnoException ENOENT when the device is not attached through a vIOMMU with a vDEVICE
     */
    public void triggerVevent() {
        MockViommu v = viommu;
        if (v == null) {
            throw ErrnoException.of(Errno.ENOENT, "device %s is not attached to a vIOMMU-based nested domain",
                    function.address());
        }
        byte[] data = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) vdevId).array();
        driver.viommuEventSink().reportEvent(v, IOMMU_VEVENTQ_TYPE_SELFTEST, data);
    }

    void recordPageResponse(PageResponse response) {
        lastPageResponse = response;
        pageResponses.incrementAndGet();
    }

    /** Test hook: page responses the driver received for this device. */
    public int pageResponseCount() {
        return pageResponses.get();
    }

    /** Test hook: the last page response, or null. */
    public PageResponse lastPageResponse() {
        return lastPageResponse;
    }

    @Override
    public String toString() {
        return "mock device " + function.address() + " flags " + flags;
    }
}
