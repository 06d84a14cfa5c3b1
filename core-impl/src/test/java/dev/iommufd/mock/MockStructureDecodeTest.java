package dev.iommufd.mock;

import static dev.iommufd.mock.MockSelftestUapi.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.iommufd.mock.hw.MockContextEntry;
import dev.iommufd.mock.hw.MockIommuUnit;
import dev.iommufd.mock.hw.MockRegisters;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * What the driver wrote, decoded from the hardware side: the context words against hand-computed bit vectors, and
 * the unit's own discovery of every structure frame from its registers against the frames the driver allocated.
 */
class MockStructureDecodeTest {

    @Test
    void contextEntriesAreTheDocumentedBitVectors() {
        try (MockBench bench = new MockBench()) {
            MockDevice dev = bench.device(MOCK_FLAGS_DEVICE_PASID, true);
            long dt = bench.machine.mmio().read64(MockBench.MMIO_BASE + MockRegisters.DTBR);
            long dte = dt + 16L * dev.function().rid();
            assertEquals(0x11L, bench.memory.read64(dte), "probe: V | MODE blocked | PRE (a PRI function)");
            MockDomain d = (MockDomain) bench.driver.allocPagingDomain(dev, DomainAllocFlags.DIRTY_TRACKING
                    | DomainAllocFlags.PASID, null);
            d.attachDevice(dev);
            long expected = ((long) d.domainTag() << 48) | d.rootTable() | 0x10 | 0x4 | 0x1;
            assertEquals(expected, bench.memory.read64(dte), "V | MODE paging | PRE | ROOT | DTAG");
            d.setDirtyTracking(true);
            assertEquals(expected | 0x8, bench.memory.read64(dte), "DE follows set_dirty_tracking");
            bench.driver.identity().attachDevice(dev);
            assertEquals(0x13L, bench.memory.read64(dte), "V | MODE identity | PRE");

            d.setDevicePasid(dev, 0x601, bench.driver.blocked()); // directory index 3, table index 1
            long w1 = bench.memory.read64(dte + 8);
            assertEquals(1, w1 & 0xfff, "PDV");
            long dirEntry = bench.memory.read64((w1 & MockContextEntry.ADDR_MASK) + 3 * 8);
            assertEquals(1, dirEntry & 0xfff, "P");
            long pasidEntry = bench.memory.read64((dirEntry & MockContextEntry.ADDR_MASK) + 8);
            assertEquals(((long) d.domainTag() << 48) | d.rootTable() | 0x8 | 0x4 | 0x1, pasidEntry,
                    "V | MODE paging | DE | ROOT | DTAG (no PRE in PASID entries)");
            bench.driver.blocked().setDevicePasid(dev, 0x601, d);
            assertEquals(0, bench.memory.read64((dirEntry & MockContextEntry.ADDR_MASK) + 8));
            bench.driver.blocked().attachDevice(dev);
            d.free();
        }
    }

    @Test
    void theUnitFindsExactlyTheFramesTheDriverAllocated() {
        try (MockBench bench = new MockBench()) {
            MockDevice a = bench.device(MOCK_FLAGS_DEVICE_PASID);
            MockDevice b = bench.device(0);
            long data = bench.dataFrame();
            long beforeDomains = bench.allocatedFrames();
            MockDomain d1 = (MockDomain) bench.driver.allocPagingDomain(a, DomainAllocFlags.PASID, null);
            MockDomain d2 = (MockDomain) bench.driver.allocPagingDomain(b, 0, null);
            d1.mapPages(MOCK_APERTURE_START, data, 2048, 2, IoProt.READ | IoProt.WRITE);
            d2.mapPages(MOCK_APERTURE_START + (600L << 20), data, 2048, 1, IoProt.READ);
            d1.attachDevice(a);
            d2.attachDevice(b);
            d2.setDevicePasid(a, 77, bench.driver.blocked());
            Set<Long> found = new TreeSet<>();
            ((MockIommuUnit) bench.machine.iommuUnit("mock0")).visitStructureFrames(found::add);
            // bind: device table (256 frames) + page-request queue (1); domains: 2 roots, d1 L1+L0, d2 L1+L0;
            // PASID: directory (4 frames) + one table
            long driverFrames = (bench.allocatedFrames() - beforeDomains) + 256 + 1;
            assertEquals(driverFrames, found.size());
            assertTrue(found.contains(d1.rootTable()) && found.contains(d2.rootTable()));
            assertFalse(found.contains(data), "user data is not a structure");
            bench.driver.blocked().setDevicePasid(a, 77, d2);
            bench.driver.blocked().attachDevice(a);
            bench.driver.blocked().attachDevice(b);
            IotlbGather g = new IotlbGather();
            d1.unmapPages(MOCK_APERTURE_START, 2048, 2, g);
            d1.iotlbSync(g);
            g.reset();
            d2.unmapPages(MOCK_APERTURE_START + (600L << 20), 2048, 1, g);
            d2.iotlbSync(g);
            d1.free();
            d2.free();
        }
    }

    @Test
    void twoUnitsAreDrivenIndependentlyAndInvalidatedTogether() {
        SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(128L << 20)
                .iommu(new IommuUnitConfig("mock0", "mock", 0xfeb0_0000L, "default", Map.of()))
                .iommu(new IommuUnitConfig("mock1", "mock", 0xfeb1_0000L, "default", Map.of()))
                .build());
        try {
            MockBenchContext ctx = new MockBenchContext(machine);
            MockIommu driver = (MockIommu) new MockIommuProvider().bind(ctx);
            assertEquals(java.util.List.of("mock0", "mock1"), driver.units());
            PciFunction f0 = MockIommu.createDevice(machine, "mock0", 0, false);
            PciFunction f1 = MockIommu.createDevice(machine, "mock1", 0, false);
            assertEquals("mock1", f1.iommuUnit());
            MockDevice d0 = (MockDevice) driver.probeDevice(f0);
            MockDevice d1 = (MockDevice) driver.probeDevice(f1);
            MockDomain dom = (MockDomain) driver.allocPagingDomain(d0, 0, null);
            long pa = machine.memory().frames().allocateFrame();
            dom.mapPages(MOCK_APERTURE_START, pa, 2048, 1, IoProt.READ | IoProt.WRITE);
            dom.attachDevice(d0);
            dom.attachDevice(d1);
            assertEquals(DmaStatus.OK, f0.dmaRead(MOCK_APERTURE_START, new byte[4]));
            assertEquals(DmaStatus.OK, f1.dmaRead(MOCK_APERTURE_START, new byte[4]));
            IotlbGather g = new IotlbGather();
            dom.unmapPages(MOCK_APERTURE_START, 2048, 1, g);
            assertEquals(DmaStatus.OK, f1.dmaRead(MOCK_APERTURE_START, new byte[4]), "stale in mock1's IOTLB");
            dom.iotlbSync(g);
            assertEquals(DmaStatus.FAULT, f0.dmaRead(MOCK_APERTURE_START, new byte[4]));
            assertEquals(DmaStatus.FAULT, f1.dmaRead(MOCK_APERTURE_START, new byte[4]), "both units invalidated");
            driver.blocked().attachDevice(d0);
            driver.blocked().attachDevice(d1);
            dom.free();
            long before = machine.memory().frames().allocatedFrames();
            driver.close();
            assertEquals(before - 2 * 257, machine.memory().frames().allocatedFrames(), "two device tables and queues");
        } finally {
            machine.close();
        }
    }

    /** A driver context with sinks that drop everything. */
    private static final class MockBenchContext implements dev.iommufd.spi.DriverContext {
        private final SimulatedMachine machine;

        MockBenchContext(SimulatedMachine machine) {
            this.machine = machine;
        }

        @Override
        public dev.iommufd.platform.Machine machine() {
            return machine;
        }

        @Override
        public dev.iommufd.spi.FaultSink faultSink() {
            return (device, fault) -> {
            };
        }

        @Override
        public dev.iommufd.spi.ViommuEventSink viommuEventSink() {
            return (viommu, type, data) -> {
            };
        }
    }
}
