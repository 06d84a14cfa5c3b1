package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.MmioRegion;
import dev.iommufd.platform.MmioRegister;
import dev.iommufd.platform.MsiVector;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The platform verbs under every table walk, queue doorbell and interrupt allocate nothing once their storage
 * exists (the design rule "map, unmap, translate ... allocate nothing on the hot path"): word and bulk accesses to
 * physical memory on a two-range (q35) and a three-range layout, MMIO bus accesses and resolved registers, MSI
 * delivery. Counted with HotSpot's per-thread allocation counter; the bound is below one byte per cycle (one object
 * is at least 16 bytes).
 */
class PlatformHotPathAllocationTest {

    private static final int CYCLES = 20_000;
    private static final long GiB = 1L << 30;

    /** A register window that stores 64-bit words (any width at any offset). */
    private static final class Scratch implements MmioRegion {
        final long[] words = new long[16];

        @Override
        public long size() {
            return 0x80;
        }

        @Override
        public long read(long offset, int width) {
            return words[(int) (offset >>> 3)];
        }

        @Override
        public void write(long offset, int width, long value) {
            words[(int) (offset >>> 3)] = value;
        }
    }

    private static com.sun.management.ThreadMXBean threads() {
        java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(mx instanceof com.sun.management.ThreadMXBean, "needs HotSpot's allocation counter");
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) mx;
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled());
        return threads;
    }

    /** Bytes {@code cycle} allocates over {@link #CYCLES} runs, after up to two warm-up rounds. */
    private static long allocatedBy(Runnable cycle) {
        com.sun.management.ThreadMXBean threads = threads();
        long id = Thread.currentThread().getId();
        long allocated = 0;
        for (int round = 0; round < 3; round++) {
            long before = threads.getThreadAllocatedBytes(id);
            for (int i = 0; i < CYCLES; i++) {
                cycle.run();
            }
            allocated = threads.getThreadAllocatedBytes(id) - before;
            if (allocated < CYCLES) {
                break;
            }
        }
        return allocated;
    }

    @Test
    void wordAndBulkAccessesAllocateNothing() {
        SparsePhysicalMemory q35 = SparsePhysicalMemory.of(MachineProfile.Q35, 4 * GiB); // two ranges
        SparsePhysicalMemory three = new SparsePhysicalMemory(List.of(new MemoryRange(0, 1L << 21),
                new MemoryRange(GiB, 1L << 21), new MemoryRange(8 * GiB, 1L << 22)));
        for (SparsePhysicalMemory mem : List.of(q35, three)) {
            long table = mem.frames().allocate(1); // two frames: bulk runs cross a frame boundary
            long hi = mem.frames().allocate(0);
            mem.write64(table, 1);
            mem.write64(table + 4096, 1);
            mem.write64(hi, 1);
            long[] words = new long[64];
            long[] sink = new long[1];
            long bytes = allocatedBy(() -> {
                mem.write64(hi + 8, sink[0]);
                sink[0] += mem.read64(hi) + mem.read32(hi + 4) + mem.read8(hi + 3);
                mem.compareAndSet64(hi + 16, 0, 1);
                mem.compareAndSet64(hi + 16, 1, 0);
                mem.writeRun64(table + 4096 - 8 * 32, 64, 0x1003, 0x1000);
                mem.read64s(table + 4096 - 8 * 32, words, 0, 64);
                mem.write64s(table + 4096 - 8 * 16, words, 0, 32);
                sink[0] += mem.indexOfAny64(table, 1024, 1L << 62) + words[5];
            });
            assertNotEquals(0, sink[0]);
            assertEquals(0x1003 + 5 * 0x1000, words[5]);
            assertTrue(bytes < CYCLES, bytes + " bytes allocated by " + CYCLES + " access cycles on " + mem.ram());
        }
    }

    @Test
    void mmioAccessesAndResolvedRegistersAllocateNothing() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, GiB);
        SimulatedMmioBus bus = new SimulatedMmioBus(mem);
        Scratch a = new Scratch();
        bus.map(0xfed9_0000L, a);
        bus.map(0xfed8_0000L, new Scratch());
        bus.map(0xfec0_0000L, new Scratch());
        MmioRegister tail = bus.resolve(0xfed9_0008L); // word 1 of window a
        long[] sink = new long[1];
        long bytes = allocatedBy(() -> {
            tail.write64(sink[0] + 1);
            sink[0] = tail.read64() + bus.read32(0xfed8_0000L);
            bus.write64(0xfec0_0008L, sink[0]);
        });
        assertEquals(a.words[1], sink[0]);
        assertTrue(bytes < CYCLES, bytes + " bytes allocated by " + CYCLES + " MMIO cycles");
    }

    @Test
    void msiDeliveryAllocatesNothing() {
        SimulatedInterruptController irq = new SimulatedInterruptController(MachineProfile.Q35);
        int[] count = new int[1];
        MsiVector v = irq.allocate("test", () -> count[0]++);
        long bytes = allocatedBy(() -> irq.signal(v.address(), v.data()));
        assertTrue(count[0] >= CYCLES);
        assertTrue(bytes < CYCLES, bytes + " bytes allocated by " + CYCLES + " MSI deliveries");
    }
}
