package dev.iommufd.core;

import static dev.iommufd.core.selftest.Selftest.BUFFER_SIZE;
import static dev.iommufd.core.selftest.Selftest.PAGE_SIZE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.core.selftest.IommuTestCmd;
import dev.iommufd.core.selftest.Selftest;
import dev.iommufd.mock.MockDomain;
import dev.iommufd.mock.MockIommu;
import dev.iommufd.mock.MockIommuProvider;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.FaultSink;
import dev.iommufd.spi.ViommuEventSink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * io_pagetable against the real mock driver's paging domain (the kernel selftest's mock domain): every unmap must
 * start and end where a map did (the mock counts a warning otherwise, as selftest.c WARNs), translations must
 * match the user pages, and the domain's tables must be empty afterwards.
 */
class MockDomainIntegrationTest {
    private final Selftest t = new Selftest();
    private final MockIommu driver;
    private final int ioas = t.ioasAlloc();

    MockDomainIntegrationTest() {
        FaultSink faults = (device, fault) -> { };
        ViommuEventSink events = (viommu, type, data) -> { };
        driver = (MockIommu) new MockIommuProvider().bind(new DriverContext() {
            @Override
            public Machine machine() {
                return t.machine;
            }

            @Override
            public FaultSink faultSink() {
                return faults;
            }

            @Override
            public ViommuEventSink viommuEventSink() {
                return events;
            }
        });
    }

    @AfterEach
    void teardown() {
        driver.close();
        t.close();
    }

    private MockDomain domain(int deviceFlags) {
        DeviceHandle dev = driver.probeDevice(MockIommu.createDevice(t.machine, deviceFlags));
        return (MockDomain) driver.allocPagingDomain(dev, 0, null);
    }

    private void assertTranslates(MockDomain d, long iova, long va, long length) {
        for (long off = 0; off < length; off += MockSelftestUapi.MOCK_IO_PAGE_SIZE) {
            assertEquals(t.proc.translate(va + off), d.iovaToPhys(iova + off), "iova +" + Long.toHexString(off));
        }
    }

    @Test
    void mapsUnmapsAndAccessPinsPairExactly() {
        MockDomain d = domain(0);
        IoPageTable iopt = t.ctx().getIoas(ioas).iopt();
        t.ctx().objects().put(t.ctx().getIoas(ioas));
        long base = IommuTestCmd.MOCK_APERTURE_START;
        t.mapFixed(ioas, t.buffer, BUFFER_SIZE, base);
        iopt.addDomain(d);
        assertEquals(MockSelftestUapi.MOCK_IO_PAGE_SIZE, iopt.iovaAlignment());
        assertTranslates(d, base, t.buffer, BUFFER_SIZE);
        long auto = t.map(ioas, t.buffer, BUFFER_SIZE);
        assertTranslates(d, auto, t.buffer, BUFFER_SIZE);
        int access = t.createAccess(ioas, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
        assertEquals(0, t.accessPagesRc(access, base, BUFFER_SIZE, t.buffer, 0));
        // a pin-capable access makes the IOAS PAGE_SIZE aligned: a half-page map is refused while it is attached
        assertEquals(Selftest.err(dev.iommufd.api.Errno.EINVAL),
                t.mapRc(ioas, t.buffer + 2048, 3 * 2048, base + 64 * BUFFER_SIZE + 2048, Selftest.MAP_FIXED_RW));
        t.unmap(ioas, base, BUFFER_SIZE); // notifies the access, which unpins
        t.destroyAccess(access);
        assertEquals(MockSelftestUapi.MOCK_IO_PAGE_SIZE, iopt.iovaAlignment());
        t.mapFixed(ioas, t.buffer + 2048, 3 * 2048, base + 64 * BUFFER_SIZE + 2048);
        assertTranslates(d, base + 64 * BUFFER_SIZE + 2048, t.buffer + 2048, 3 * 2048);
        t.unmap(ioas, 0, -1L);
        assertEquals(0, d.warningCount(), "every unmap paired with its map");
        assertEquals(-1L, d.iovaToPhys(auto));
        iopt.removeDomain(d);
        d.free();
    }

    @Test
    void hugeIovaDeviceGetsOneMegabyteLeaves() {
        long huge = t.proc.mmap(0, 2L << 20, Prot.READ_WRITE, MapKind.HUGETLB_2M);
        MockDomain d = domain(MockSelftestUapi.MOCK_FLAGS_DEVICE_HUGE_IOVA);
        IoPageTable iopt = t.ctx().getIoas(ioas).iopt();
        t.ctx().objects().put(t.ctx().getIoas(ioas));
        iopt.addDomain(d);
        t.mapFixed(ioas, huge, 2L << 20, 1L << 30);
        assertTranslates(d, 1L << 30, huge, 2L << 20);
        t.unmap(ioas, 1L << 30, 2L << 20);
        // HUGE_PAGES off, map page by page, back on, unmap: still paired
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioas, 0));
        t.mapFixed(ioas, huge, 2L << 20, 1L << 30);
        assertEquals(0, t.optionRc(IommuOption.OPTION_HUGE_PAGES, IommuOption.OP_SET, ioas, 1));
        t.unmap(ioas, 1L << 30, 2L << 20);
        assertEquals(0, d.warningCount());
        iopt.removeDomain(d);
        d.free();
        t.proc.munmap(huge, 2L << 20);
    }
}
