package dev.iommufd.vtd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.FirstStagePte;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.RootEntry;
import dev.iommufd.vtd.layout.SecondStagePte;
import dev.iommufd.vtd.layout.VtdRegisters;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Bring-down, frame visiting, ATS in legacy mode, first-stage superpages, concurrent map/unmap. */
class DriverLifecycleTest {
    static final int RW = IoProt.READ | IoProt.WRITE;

    @Test
    void providerIsUnavailableWithoutAUnit() {
        try (SimulatedMachine m = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).build())) {
            assertFalse(new VtdDriverProvider().probe(m).available());
        }
    }

    @Test
    void closeDisablesTranslationAndQueuedInvalidation() {
        DriverBench b = new DriverBench("server", PciFunctionSpec.endpoint("00:04.0", "dmar0"));
        long before = b.mem.frames().allocatedFrames();
        b.driver.close();
        assertEquals(0, b.reg32(VtdRegisters.GSTS_REG) & (VtdRegisters.GSTS_TES | VtdRegisters.GSTS_QIES));
        assertTrue(b.mem.frames().allocatedFrames() < before, "root table, queues and PRQ freed");
        b.close();
    }

    @Test
    void modelVisitsTheFramesTheDriverBuilt() {
        try (DriverBench b = new DriverBench("server", PciFunctionSpec.endpoint("00:04.0", "dmar0"))) {
            VtdDevice dev = b.probe("00:04.0");
            PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            d.mapPages(0x1000, b.frame(), 4096, 1, RW);
            Set<Long> frames = new HashSet<>();
            b.machine.iommuUnit("dmar0").visitStructureFrames(frames::add);
            assertTrue(frames.contains(b.driver.units.get(0).rootTable));
            assertTrue(frames.contains(d.table.root));
            assertTrue(frames.contains(b.reg64(VtdRegisters.IQA_REG) & VtdRegisters.IQA_ADDR_MASK));
            assertTrue(frames.contains(b.reg64(VtdRegisters.PQA_REG) & VtdRegisters.PQA_ADDR_MASK));
            long t = d.table.root;
            for (int l = 5; l > 1; l--) {
                t = FirstStagePte.address(b.mem.read64(t + SecondStagePte.index(0x1000, l) * 8L), l);
                assertTrue(frames.contains(t), "table at level " + (l - 1));
            }
        }
    }

    @Test
    void legacyAtsUsesTranslationTypeOneAndDeviceTlbInvalidation() {
        try (DriverBench b = new DriverBench("qemu", Map.of("ECAP_REG", 0xf42L | ExtendedCapabilityRegister.DT),
                PciFunctionSpec.endpoint("00:04.0", "dmar0").withAts())) {
            VtdDevice dev = b.probe("00:04.0");
            PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long ce = RootEntry.contextTablePointer(b.mem.read64(b.driver.units.get(0).rootTable)) + 0x20 * 16;
            assertEquals(ContextEntry.TT_DEV_IOTLB, ContextEntry.tt(b.mem.read64(ce)));
            d.mapPages(0x4000, b.frame(), 4096, 1, RW);
            assertEquals(DmaStatus.OK, b.fn("00:04.0").dmaRead(0x4000, new byte[1]));
            IotlbGather g = new IotlbGather();
            d.unmapPages(0x4000, 4096, 1, g);
            b.clearQueue();
            d.iotlbSync(g);
            var dt = b.queued(InvalidationDescriptor.TYPE_DEVICE_TLB);
            assertEquals(1, dt.size());
            assertEquals(0x4000L, dt.get(0)[1], "one page: S clear");
        }
    }

    @Test
    void firstStageSuperpages() {
        try (DriverBench b = new DriverBench("server", PciFunctionSpec.endpoint("00:04.0", "dmar0"))) {
            VtdDevice dev = b.probe("00:04.0");
            PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            assertTrue(d.firstStage);
            assertEquals((1L << 12) | (1L << 21) | (1L << 30), d.geometry().pgsizeBitmap());
            d.attachDevice(dev);
            long two = b.mem.frames().allocate(9);
            d.mapPages(0x60_0000, two, 1L << 21, 1, RW);
            d.mapPages(0x4000_0000L, 0x4000_0000L, 1L << 30, 1, IoProt.READ);
            PciFunction fn = b.fn("00:04.0");
            assertEquals(DmaStatus.OK, fn.dmaWrite(0x7f_fff0, new byte[] {3}));
            assertEquals(3, b.mem.read8(two + 0x1f_fff0));
            assertEquals(DmaStatus.OK, fn.dmaRead(0x4000_1000L, new byte[1]));
            assertEquals(DmaStatus.FAULT, fn.dmaWrite(0x4000_1000L, new byte[1]), "read-only 1 GiB leaf");
            long t = d.table.root;
            for (int l = 5; l > 2; l--) {
                t = FirstStagePte.address(b.mem.read64(t + SecondStagePte.index(0x60_0000, l) * 8L), l);
            }
            // 2 MiB leaf: pa | P | R/W | U/S | A | D | PS
            assertEquals(two | 0xe7, b.mem.read64(t + SecondStagePte.index(0x60_0000, 2) * 8L));
        }
    }

    @Test
    void concurrentMapAndUnmapOnDisjointRanges() throws Exception {
        try (DriverBench b = new DriverBench("qemu", PciFunctionSpec.endpoint("00:04.0", "dmar0"))) {
            VtdDevice dev = b.probe("00:04.0");
            PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = b.mem.frames().allocate(4);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread[] threads = new Thread[4];
            for (int n = 0; n < threads.length; n++) {
                long base = 0x1_0000_0000L + n * 0x20_0000L; // each thread in its own 2 MiB, sharing upper tables
                threads[n] = new Thread(() -> {
                    try {
                        IotlbGather g = new IotlbGather();
                        for (int i = 0; i < 300; i++) {
                            d.mapPages(base, pa, 4096, 16, RW);
                            if (d.iovaToPhys(base + 0x3000) != pa + 0x3000) {
                                throw new AssertionError("lost mapping at " + Long.toHexString(base));
                            }
                            d.unmapPages(base, 4096, 16, g);
                            d.iotlbSync(g);
                            g.reset();
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
                threads[n].start();
            }
            for (Thread th : threads) {
                th.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            for (int n = 0; n < threads.length; n++) {
                assertEquals(-1L, d.iovaToPhys(0x1_0000_0000L + n * 0x20_0000L));
            }
        }
    }

    @Test
    void referenceMachineOffersEveryDeclaredCapability() {
        VtdDriverProvider p = new VtdDriverProvider();
        try (SimulatedMachine m = SimulatedMachine.create(p.referenceMachine().orElseThrow())) {
            assertTrue(p.probe(m).available());
            VtdDriver d = (VtdDriver) p.bind(new dev.iommufd.spi.DriverContext() {
                @Override
                public dev.iommufd.platform.Machine machine() {
                    return m;
                }

                @Override
                public dev.iommufd.spi.FaultSink faultSink() {
                    return (device, fault) -> { };
                }

                @Override
                public dev.iommufd.spi.ViommuEventSink viommuEventSink() {
                    return (viommu, type, data) -> { };
                }
            });
            Set<dev.iommufd.spi.Capability> offered = new HashSet<>();
            for (PciFunction f : m.pci().functions()) {
                dev.iommufd.spi.DeviceHandle h = d.probeDevice(f);
                for (dev.iommufd.spi.Capability c : p.capabilities()) {
                    if (d.deviceCapable(h, c)) {
                        offered.add(c);
                    }
                }
            }
            assertEquals(p.capabilities(), offered);
            d.close();
        }
    }

    /** Caching mode (CAP.CM, QEMU's caching-mode=on): not-present to present changes are invalidated too. */
    @Test
    void cachingModeInvalidatesOnAttachAndMap() {
        long cap = 0x00d2_008c_222f_0606L | dev.iommufd.vtd.layout.CapabilityRegister.CM;
        try (DriverBench b = new DriverBench("qemu", Map.of("CAP_REG", cap), PciFunctionSpec.endpoint("00:04.0", "dmar0"))) {
            VtdDevice dev = b.probe("00:04.0");
            PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            b.clearQueue();
            d.attachDevice(dev);
            var cc = b.queued(InvalidationDescriptor.TYPE_CONTEXT_CACHE);
            assertEquals(1, cc.size());
            assertEquals(InvalidationDescriptor.contextCache(3, 0, 0x20, 0), cc.get(0)[0]);
            assertEquals(InvalidationDescriptor.iotlbLo(2, 2), b.queued(InvalidationDescriptor.TYPE_IOTLB).get(0)[0]);
            b.clearQueue();
            d.mapPages(0x8000, b.frame(), 4096, 1, RW);
            d.iotlbSyncMap(0x8000, 4096);
            var psi = b.queued(InvalidationDescriptor.TYPE_IOTLB);
            assertEquals(1, psi.size());
            assertEquals(0x8040L, psi.get(0)[1], "page-selective, AM 0, IH 1");
        }
    }
}
