package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * Heap cost of small {@link IoPages} objects (B11 "bytes per area"): a one-page {@code struct iopt_pages} stores one
 * PFN and one coverage counter, so its per-page storage is sized to the page count, not to a full
 * {@value IoPages#CHUNK_PAGES}-page chunk (a full chunk is {@code CHUNK_PAGES * 12} bytes plus headers). Counted with the
 * JVM's per-thread allocation counter (not timed). The frames are faulted in and pinned once beforehand by a large
 * object, so the measured pins only raise pin counts and the bytes counted are those of the pages objects.
 */
class IoPagesFootprintTest {
    private static final int AREAS = 1000;

    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    @Test
    void onePagePinnedPagesCostFarLessThanAChunk() {
        assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
        try (SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20).build())) {
            UserProcess proc = machine.spawn("p", 0);
            long buf = proc.mmap(0, AREAS * IoPages.PAGE_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            IoPages all = IoPages.ofUser(proc, buf, AREAS * IoPages.PAGE_SIZE, true);
            all.addDomainSpan(0, AREAS - 1);
            IoPages[] small = new IoPages[AREAS];
            long before = allocatedBytes();
            for (int i = 0; i < AREAS; i++) {
                small[i] = IoPages.ofUser(proc, buf + i * IoPages.PAGE_SIZE, IoPages.PAGE_SIZE, true);
                small[i].addDomainSpan(0, 0);
            }
            long perArea = (allocatedBytes() - before) / AREAS;
            for (int i = 0; i < AREAS; i++) {
                assertTrue(small[i].isPinned(0));
                assertEquals(all.physicalAddress(i), small[i].physicalAddress(0), "page " + i);
                small[i].removeDomainSpan(0, 0);
                assertEquals(0, small[i].npinned());
            }
            all.removeDomainSpan(0, AREAS - 1);
            assertEquals(0, all.npinned());
            // A full chunk alone is 512 * 8 + 512 * 4 bytes; the exact-size storage is two one-element arrays.
            assertTrue(perArea < 512, "bytes allocated per pinned one-page pages object: " + perArea);
        }
    }

    @Test
    void lastChunkIsExactSizeAndPinsEveryPageOfALargeObject() {
        long ram = IoPages.CHUNK_PAGES * IoPages.PAGE_SIZE + (64L << 20); // a full chunk of pages and then some
        try (SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(ram).build())) {
            UserProcess proc = machine.spawn("p", 0);
            int n = IoPages.CHUNK_PAGES + 3;
            proc.setRlimitMemlock(n * IoPages.PAGE_SIZE); // the pins are charged to locked_vm
            long buf = proc.mmap(0, n * IoPages.PAGE_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
            IoPages pages = IoPages.ofUser(proc, buf, n * IoPages.PAGE_SIZE, true);
            assertEquals(IoPages.CHUNK_PAGES, pages.chunkLength(0));
            assertEquals(3, pages.chunkLength(1));
            pages.addDomainSpan(0, n - 1);
            assertEquals(n, pages.npinned());
            for (int i = 0; i < n; i++) {
                assertTrue(pages.physicalAddress(i) >= 0, "page " + i);
            }
            pages.removeDomainSpan(n - 2, n - 1);
            assertEquals(n - 2, pages.npinned());
            pages.removeDomainSpan(0, n - 3);
            assertEquals(0, pages.npinned());
        }
    }
}
