package dev.iommufd.mock;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainGeometry;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A mock paging domain (the kernel selftest's {@code struct mock_iommu_domain}): a {@link MockIoPageTable} in
 * physical memory, a domain tag the hardware IOTLB files its translations under, and the selftest's contract
 * checks.
 *
 * <p>Geometry: aperture {@code [MOCK_APERTURE_START, MOCK_APERTURE_LAST]}; page sizes MOCK_IO_PAGE_SIZE (2 KiB),
 * plus MOCK_HUGE_PAGE_SIZE (1 MiB) when the domain was allocated for a device with
 * {@link MockSelftestUapi#MOCK_FLAGS_DEVICE_HUGE_IOVA} (the v6.9-v6.17 mock's behaviour; newer kernels select the
 * huge format with {@code MOCK_IOMMUPT_HUGE} user data instead, which this driver does not take).
 *
 * <p>Contract checks, counted in {@link #warningCount()} where the kernel mock WARNs: an unmap that does not start
 * on a leaf written first by a map_pages call (START) or end on one written last (LAST) unmaps nothing and
 * returns 0 (checked for 2 KiB-only domains, as the kernel does: with huge pages the core may split differently);
 * {@link #free()} with live mappings frees everything anyway.
 *
 * <h2>Test hooks (for the core's IOMMU_TEST_CMD port and the TCK)</h2>
 * {@link #setDirty(long)}, {@link #markDirty} (IOMMU_TEST_OP_DIRTY), {@link #iovaToPhys} per
 * {@link #checkMapPageSize()} chunk (IOMMU_TEST_OP_MD_CHECK_MAP), {@link #warningCount()},
 * {@link #dirtyTrackingEnabled()}, {@link #rootTable()}, {@link #domainTag()}.
 *
 * <p>Thread-safety: map/unmap/iova_to_phys/dirty reads follow {@link MockIoPageTable}'s rules; attach and dirty
 * tracking changes take the driver's lock.
 */
public final class MockDomain implements IommuDomain {
    private final MockIommu driver;
    private final int flags;
    private final boolean huge;
    private final int tag;
    private final MockIoPageTable table;
    private final DomainGeometry geometry;
    private final AtomicLong warnings = new AtomicLong();
    private volatile boolean dirtyTracking;
    private volatile boolean freed;

    MockDomain(MockIommu driver, int flags, boolean huge, int tag, MockIoPageTable table) {
        this.driver = driver;
        this.flags = flags;
        this.huge = huge;
        this.tag = tag;
        this.table = table;
        this.geometry = DomainGeometry.of(MockSelftestUapi.MOCK_APERTURE_START, MockSelftestUapi.MOCK_APERTURE_LAST,
                pgsizeBitmap());
    }

    private long pgsizeBitmap() {
        return MockSelftestUapi.MOCK_IO_PAGE_SIZE | (huge ? MockSelftestUapi.MOCK_HUGE_PAGE_SIZE : 0);
    }

    @Override
    public DomainType type() {
        return DomainType.PAGING;
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    @Override
    public DomainGeometry geometry() {
        return geometry;
    }

    @Override
    public int allocFlags() {
        return flags;
    }

    /** Whether the domain maps 1 MiB IOPTEs too. */
    public boolean huge() {
        return huge;
    }

    private boolean validPageSize(long pgsize) {
        return pgsize == MockSelftestUapi.MOCK_IO_PAGE_SIZE || (huge && pgsize == MockSelftestUapi.MOCK_HUGE_PAGE_SIZE);
    }

    @Override
    public long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
        if (!validPageSize(pgsize)) {
            throw ErrnoException.of(Errno.EINVAL, "pgsize %#x is not in the domain's pgsize_bitmap %#x", pgsize,
                    pgsizeBitmap());
        }
        if (((iova | paddr) & (pgsize - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "iova %#x or paddr %#x is not aligned to pgsize %#x", iova, paddr, pgsize);
        }
        if (pgcount <= 0 || pgcount > (MockSelftestUapi.MOCK_APERTURE_LAST + 1) / pgsize
                || !geometry.apertures().get(0).contains(iova, pgsize * pgcount)) {
            throw ErrnoException.of(Errno.EINVAL, "iova %#x + %d pages of %#x is outside the aperture [%#x, %#x]", iova,
                    pgcount, pgsize, MockSelftestUapi.MOCK_APERTURE_START, MockSelftestUapi.MOCK_APERTURE_LAST);
        }
        if ((prot & (IoProt.READ | IoProt.WRITE)) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "prot %#x has neither READ nor WRITE", prot);
        }
        if (driver.injectMapFailure()) {
            throw ErrnoException.of(Errno.ENOENT, "injected failure (iommufd_should_fail) mapping iova %#x", iova);
        }
        try {
            table.map(iova, paddr, pgsize, pgcount, prot);
        } catch (MockIoPageTable.PartialMapException e) {
            if (e.pagesWritten > 0) {
                IotlbGather undo = new IotlbGather();
                long cleared = table.unmap(iova, pgsize, e.pagesWritten, undo);
                undo.addRange(iova, cleared * pgsize);
                iotlbSync(undo);
            }
            throw e.error;
        }
        return pgsize * pgcount;
    }

    @Override
    public long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
        if (!validPageSize(pgsize) || (iova & (pgsize - 1)) != 0 || pgcount <= 0) {
            return 0;
        }
        if (!huge && !unmapMatchesMaps(iova, pgsize, pgcount)) {
            warnings.incrementAndGet();
            driver.countWarning();
            return 0;
        }
        if (gather.needsSyncBefore(iova, pgsize)) {
            iotlbSync(gather);
            gather.reset();
        }
        long cleared = table.unmap(iova, pgsize, pgcount, gather);
        if (cleared > 0) {
            gather.addPage(iova, pgsize);
            gather.addRange(iova, cleared * pgsize);
        }
        return cleared * pgsize;
    }

    /** The kernel mock's WARN: the first leaf unmapped must be a START, the last a LAST. */
    private boolean unmapMatchesMaps(long iova, long pgsize, long pgcount) {
        long first = table.leafEntry(iova);
        if (first >= 0 && (driver.memory().read64(first & ~1L) & dev.iommufd.mock.hw.MockIoPte.START) == 0) {
            return false;
        }
        long lastIova = iova + (pgcount - 1) * pgsize;
        long last = table.leafEntry(lastIova);
        return last < 0 || (driver.memory().read64(last & ~1L) & dev.iommufd.mock.hw.MockIoPte.LAST) != 0;
    }

    @Override
    public void iotlbSync(IotlbGather gather) {
        if (!gather.isEmpty()) {
            driver.invalidateRange(tag, gather.start(), gather.end());
        }
        gather.drainFreelist(driver.memory().frames());
    }

    @Override
    public void flushIotlbAll() {
        driver.invalidateTag(tag);
    }

    @Override
    public long iovaToPhys(long iova) {
        long pa = table.iovaToPhys(iova);
        return pa < 0 ? NO_TRANSLATION : pa;
    }

    @Override
    public boolean enforceCacheCoherency() {
        return true; // the mock fabric has no no-snoop path
    }

    @Override
    public void setDirtyTracking(boolean enable) {
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) == 0) {
            throw ErrnoException.notSupported("dirty tracking on a mock domain allocated without DIRTY_TRACKING");
        }
        driver.setDirtyTracking(this, enable);
    }

    void dirtyTrackingChanged(boolean enable) {
        dirtyTracking = enable;
    }

    /**
     * {@inheritDoc}
     *
     * <p>With tracking disabled, a recorder is EINVAL (the kernel mock's rule); a null recorder just clears D bits.
     */
    @Override
    public void readAndClearDirty(long iova, long size, int flags, DirtyRecorder dirty) {
        if ((this.flags & DomainAllocFlags.DIRTY_TRACKING) == 0) {
            throw ErrnoException.notSupported("read_and_clear_dirty on a mock domain allocated without DIRTY_TRACKING");
        }
        if (!dirtyTracking && dirty != null && dirty.hasBitmap()) {
            throw ErrnoException.of(Errno.EINVAL, "dirty tracking is not enabled on the domain");
        }
        if (size <= 0) {
            return;
        }
        table.readAndClearDirty(iova, size, (flags & DIRTY_NO_CLEAR) != 0, dirty);
    }

    @Override
    public void attachDevice(DeviceHandle device) {
        driver.attach(device, this);
    }

    @Override
    public void setDevicePasid(DeviceHandle device, int pasid, IommuDomain old) {
        driver.setPasid(device, pasid, this);
    }

    @Override
    public void free() {
        if (freed) {
            throw new IllegalStateException("mock domain freed twice");
        }
        freed = true;
        driver.freePaging(this);
    }

    /** Tears down the tables after the IOTLB was flushed; counts a warning when leaves were still present. */
    void destroyTables() {
        if (table.destroy() != 0) {
            warnings.incrementAndGet();
            driver.countWarning();
        }
    }

    // ---------------------------------------------------------------- test hooks

    /** Test hook: the domain tag (DTAG) its context entries carry. */
    public int domainTag() {
        return tag;
    }

    /** Test hook: the physical address of the root (L2) table. */
    public long rootTable() {
        return table.root();
    }

    /** Test hook: whether set_dirty_tracking(true) is in effect. */
    public boolean dirtyTrackingEnabled() {
        return dirtyTracking;
    }

    /** Test hook: contract violations detected (bad unmap boundaries, free with live mappings). */
    public long warningCount() {
        return warnings.get();
    }

    /** Test hook: whether the domain still has any mapping. */
    public boolean hasMappings() {
        return table.hasMappings();
    }

    /**
     * Test hook for IOMMU_TEST_OP_MD_CHECK_MAP: the chunk size the check walks in (the smallest page size of the
     * domain: 2 KiB; the kernel uses PAGE_SIZE for huge domains), to compare {@link #iovaToPhys} with.
     */
    public long checkMapPageSize() {
        return huge ? 4096 : MockSelftestUapi.MOCK_IO_PAGE_SIZE;
    }

    /**
     * Test hook: sets D in the IOPTE containing {@code iova} (a 1 MiB IOPTE is dirtied whole).
     *
     * @return whether a leaf was present
     */
    public boolean setDirty(long iova) {
        return table.setDirty(iova);
    }

    /**
     * Test hook: IOMMU_TEST_OP_DIRTY. For every set bit {@code i} of {@code bitmap} (little-endian 64-bit words),
     * dirties the IOPTE containing {@code iova + i * pageSize}.
     *
     * @return out_nr_dirty: the number of set bits (counted whether or not a leaf was present, as the kernel does)
     * @throws ErrnoException EINVAL for a zero or misaligned page size/length/iova, a missing bitmap, or a domain
     *         whose dirty tracking is not enabled
     */
    public long markDirty(long iova, long length, long pageSize, long[] bitmap) {
        if (pageSize == 0 || length == 0 || Long.remainderUnsigned(iova, pageSize) != 0
                || Long.remainderUnsigned(length, pageSize) != 0 || bitmap == null) {
            throw ErrnoException.of(Errno.EINVAL, "dirty: bad iova %#x / length %#x / page_size %#x / bitmap", iova,
                    length, pageSize);
        }
        if (!dirtyTracking) {
            throw ErrnoException.of(Errno.EINVAL, "dirty: tracking is not enabled on the domain");
        }
        long bits = length / pageSize;
        if (bitmap.length * 64L < bits) {
            throw ErrnoException.of(Errno.EINVAL, "dirty: bitmap of %d words is shorter than %d bits", bitmap.length, bits);
        }
        long count = 0;
        for (long i = 0; i < bits; i++) {
            if ((bitmap[(int) (i >>> 6)] & (1L << (i & 63))) != 0) {
                table.setDirty(iova + i * pageSize);
                count++;
            }
        }
        return count;
    }
}
