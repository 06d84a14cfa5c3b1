package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MachineProfile;
import org.junit.jupiter.api.Test;

/**
 * The footprint requirement: mapping 64 GiB with 4 KiB pages needs 16 Mi leaf PTEs of 8 bytes, 128 MiB of leaf
 * page tables (32768 frames). Holding them must cost at most 5% more than 128 MiB of heap, because a table entry is
 * a word in a frame and never a Java object. Measured in bytes allocated by this thread, not in time.
 */
class PageTableFootprintTest {

    private static final long MiB = 1L << 20;

    @Test
    void leafTablesFor64GibOf4KibPagesCostAtMostFivePercentOver128MiB() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 256 * MiB);
        FrameAllocator fa = mem.frames();
        int tables = 32768; // 64 GiB / 4 KiB = 16 Mi PTEs; 512 PTEs per table
        long[] tablePa = new long[tables];
        long before = BuddyFrameAllocatorTest.allocatedBytes();
        for (int t = 0; t < tables; t++) {
            tablePa[t] = fa.allocateFrame();
        }
        long pte = 0x3; // present | writable, an arbitrary non-zero pattern per entry
        for (int t = 0; t < tables; t++) {
            long base = tablePa[t];
            for (int i = 0; i < 512; i++) {
                mem.write64(base + 8L * i, pte | ((long) t << 21) | ((long) i << 12));
            }
        }
        long cost = BuddyFrameAllocatorTest.allocatedBytes() - before;
        long payload = 128 * MiB;
        System.out.printf("leaf tables for 64 GiB: %d bytes allocated for %d bytes of PTEs (%.3f%% over)%n", cost, payload,
                100.0 * (cost - payload) / payload);
        assertEquals(tables, mem.framesWithStorage());
        assertTrue(cost <= payload + payload / 20, String.format("128 MiB of PTEs cost %d bytes (%.2f%% over)", cost,
                100.0 * (cost - payload) / payload));
        assertTrue(cost >= payload, "the measurement sees the storage: " + cost);
        // Spot-check contents survive.
        assertEquals(pte | (77L << 21) | (5L << 12), mem.read64(tablePa[77] + 40));
        for (long pa : tablePa) {
            fa.free(pa, 0);
        }
        assertEquals(0, mem.framesWithStorage(), "freeing the tables gives all storage back");
    }
}
