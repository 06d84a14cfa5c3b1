package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The IOVA allocator and area lookups allocate nothing (counted with the JVM's per-thread allocation counter, not
 * timed): a table with 1000 areas and 100 reserved ranges, 10 000 allocations and lookups per round. The best of
 * a few rounds is taken so that one-off JIT activity does not count, and what reading the counter allocates is
 * measured and allowed.
 */
class HotPathAllocationTest {

    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    @Test
    void iovaAllocationAndLookupsAllocateNothing() {
        assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
        try (SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20).build())) {
            UserProcess proc = machine.spawn("p", 0);
            IoPageTable iopt = new IoPageTable(machine.memory());
            for (int i = 0; i < 100; i++) {
                iopt.reserve("r", (1L << 32) + i * (1L << 24), (1L << 32) + i * (1L << 24) + 0xfff);
            }
            for (int i = 0; i < 1000; i++) {
                IoPages pages = IoPages.ofUser(proc, 0x7000_0000_0000L, 0x3000, true);
                iopt.mapPages(List.of(new IoPageTable.PagesSlice(pages, 0, 0x3000)), 0x3000, 0, 3, true);
            }
            assertEquals(1000, iopt.areaCount());
            long sink = 0;
            long bestAlloc = Long.MAX_VALUE;
            long bestLookup = Long.MAX_VALUE;
            long overhead = Long.MAX_VALUE; // what reading the counter itself allocates
            iopt.lock.lock();
            try {
                for (int round = 0; round < 4; round++) {
                    long before = allocatedBytes();
                    for (int i = 0; i < 10_000; i++) {
                        sink += iopt.allocIova(0x7000_0000_0000L + (i & 0xff) * 0x1000L, 0x2000 + (i & 7) * 0x1000L);
                    }
                    bestAlloc = Math.min(bestAlloc, allocatedBytes() - before);
                    before = allocatedBytes();
                    for (int i = 0; i < 10_000; i++) {
                        sink += iopt.areasIntersecting(i * 0x10_0000L, i * 0x10_0000L + 0xfff);
                    }
                    bestLookup = Math.min(bestLookup, allocatedBytes() - before);
                    before = allocatedBytes();
                    overhead = Math.min(overhead, allocatedBytes() - before);
                }
            } finally {
                iopt.lock.unlock();
            }
            assertEquals(overhead, bestAlloc, "bytes allocated by 10 000 IOVA allocations");
            assertEquals(overhead, bestLookup, "bytes allocated by 10 000 area lookups");
            assertTrue(sink != 0);
            iopt.unmapAll();
        }
    }

    /**
     * IOAS_MAP of one user page at an allocated IOVA and its IOAS_UNMAP ({@code iopt_map_user_pages} +
     * {@code iopt_unmap_iova}) allocate nothing once warm: the area lives in the table's arrays and its one-page
     * pages in the area's slot (B12). With a table of 1000 one-page areas, so the arrays need not grow.
     */
    @Test
    void onePageMapAndUnmapAllocateNothing() {
        assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
        try (SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20).build())) {
            UserProcess proc = machine.spawn("p", 0);
            long va = proc.mmap(0, 0x1000, dev.iommufd.platform.Prot.READ_WRITE, dev.iommufd.platform.MapKind.ANONYMOUS);
            IoPageTable iopt = new IoPageTable(machine.memory());
            for (int i = 0; i < 1000; i++) {
                iopt.mapUserPages(proc, va, 0x1000, 0, 3, true, false, true);
            }
            long sink = 0;
            long best = Long.MAX_VALUE;
            long overhead = Long.MAX_VALUE;
            for (int round = 0; round < 4; round++) {
                long before = allocatedBytes();
                for (int i = 0; i < 10_000; i++) {
                    long iova = iopt.mapUserPages(proc, va + (i & 0xff), 0x100, 0, 3, true, false, true);
                    sink += iopt.unmapIova(iova, 0x100);
                }
                best = Math.min(best, allocatedBytes() - before);
                before = allocatedBytes();
                overhead = Math.min(overhead, allocatedBytes() - before);
            }
            assertEquals(overhead, best, "bytes allocated by 10 000 one-page IOAS_MAP + IOAS_UNMAP");
            assertEquals(4 * 10_000L * 0x100, sink);
            assertEquals(1000, iopt.areaCount());
            iopt.unmapAll();
        }
    }

    /**
     * IOAS_MAP of 16 user pages at an allocated IOVA into a table with a domain (pin 16 pages, charge, domain fill) and
     * its IOAS_UNMAP (domain unmap, one IOTLB sync, unpin, uncharge) allocate nothing once warm: the pages live in the
     * area's slot and a PFN block of the area table, reused map after map (B8's core half). The domain here counts
     * pages and allocates nothing itself.
     */
    @Test
    void sixteenPageMapAndUnmapWithADomainAllocateNothing() {
        assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
        try (SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20).build())) {
            UserProcess proc = machine.spawn("p", 0);
            long va = proc.mmap(0, 16 * 0x1000, dev.iommufd.platform.Prot.READ_WRITE, dev.iommufd.platform.MapKind.ANONYMOUS);
            IoPageTable iopt = new IoPageTable(machine.memory());
            CountingDomain domain = new CountingDomain();
            iopt.addDomain(domain);
            long sink = 0;
            long best = Long.MAX_VALUE;
            long overhead = Long.MAX_VALUE;
            for (int round = 0; round < 4; round++) {
                long before = allocatedBytes();
                for (int i = 0; i < 10_000; i++) {
                    long iova = iopt.mapUserPages(proc, va, 16 * 0x1000, 0, 3, true, false, true);
                    sink += iopt.unmapIova(iova, 16 * 0x1000);
                }
                best = Math.min(best, allocatedBytes() - before);
                before = allocatedBytes();
                overhead = Math.min(overhead, allocatedBytes() - before);
            }
            assertEquals(overhead, best, "bytes allocated by 10 000 16-page IOAS_MAP + IOAS_UNMAP with a domain");
            assertEquals(4 * 10_000L * 16 * 0x1000, sink);
            assertEquals(0, domain.mapped, "every page mapped was unmapped");
            assertEquals(4 * 10_000L, domain.syncs, "one IOTLB sync per unmap");
            assertEquals(0, machine.pinnedFrames());
            iopt.removeDomain(domain);
        }
    }

    /** A paging domain that only counts (4 KiB pages): allocates nothing. */
    private static final class CountingDomain implements dev.iommufd.spi.IommuDomain {
        long mapped;
        long syncs;

        @Override
        public dev.iommufd.spi.DomainType type() {
            return dev.iommufd.spi.DomainType.PAGING;
        }

        @Override
        public dev.iommufd.spi.IommuDriver driver() {
            return null;
        }

        @Override
        public dev.iommufd.spi.DomainGeometry geometry() {
            return GEOMETRY;
        }

        @Override
        public long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
            mapped += pgcount;
            return pgsize * pgcount;
        }

        @Override
        public long unmapPages(long iova, long pgsize, long pgcount, dev.iommufd.spi.IotlbGather gather) {
            mapped -= pgcount;
            gather.addRange(iova, pgsize * pgcount);
            return pgsize * pgcount;
        }

        @Override
        public void iotlbSync(dev.iommufd.spi.IotlbGather gather) {
            syncs++;
        }

        @Override
        public long iovaToPhys(long iova) {
            return NO_TRANSLATION;
        }

        @Override
        public void attachDevice(dev.iommufd.spi.DeviceHandle device) {
            throw dev.iommufd.api.ErrnoException.notSupported("attach to a counting domain");
        }

        @Override
        public void free() {
        }

        private static final dev.iommufd.spi.DomainGeometry GEOMETRY = dev.iommufd.spi.DomainGeometry.of(0, -1L, 0x1000);
    }
}
