package dev.iommufd.mock;

import static org.junit.jupiter.api.Assertions.*;

import dev.iommufd.mock.hw.MockIoPte;
import dev.iommufd.mock.hw.MockIotlb;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.sim.SparsePhysicalMemory;
import org.junit.jupiter.api.Test;

/** The mock unit's IOTLB on its own: tags, ranges, blocks, eviction, and the walk/invalidation race guard. */
class MockIotlbTest {
    private final SparsePhysicalMemory memory = SparsePhysicalMemory.of(MachineProfile.Q35, 16L << 20);
    private final MockIotlb tlb = new MockIotlb(memory, 2, 2); // 4 sets x 2 ways

    private static final long LEAF = 0x0030_0000L | MockIoPte.PRESENT | MockIoPte.READ | MockIoPte.WRITE | MockIoPte.LEAF;

    @Test
    void aWalkThatStartedBeforeAnInvalidationIsNotCached() {
        long generation = tlb.generation();
        tlb.invalidateRange(1, 0x1000_0000L, 0x1000_07ffL); // software invalidates while the walk is in flight
        tlb.insert(1, 0x1000_0000L, LEAF, 0x8000, generation);
        assertEquals(0, tlb.lookup(1, 0x1000_0000L, false), "the racing walk's stale result was dropped");
        tlb.insert(1, 0x1000_0000L, LEAF, 0x8000, tlb.generation());
        assertEquals(LEAF, tlb.lookup(1, 0x1000_0000L, false));
    }

    @Test
    void entriesAreKeyedByTagAndPage() {
        tlb.insert(1, 0x1000_0000L, LEAF, 0x8000, tlb.generation());
        assertEquals(0, tlb.lookup(2, 0x1000_0000L, false), "another tag");
        assertEquals(0, tlb.lookup(1, 0x1000_0800L, false), "the next 2 KiB page");
        assertEquals(LEAF, tlb.lookup(1, 0x1000_07ffL, false), "same page");
        tlb.invalidateTag(2);
        assertEquals(LEAF, tlb.lookup(1, 0x1000_0000L, false));
        tlb.invalidateRange(1, 0x1000_0800L, 0x1000_0fffL);
        assertEquals(LEAF, tlb.lookup(1, 0x1000_0000L, false), "range after the page");
        tlb.invalidateTag(1);
        assertEquals(0, tlb.lookup(1, 0x1000_0000L, false));
        assertEquals(0, tlb.validEntries());
    }

    @Test
    void aBlockIsInvalidatedByAnyRangeTouchingIt() {
        long block = LEAF | MockIotlb.CACHED_BLOCK;
        tlb.insert(3, 0x0123_4000L, block, 0x8000, tlb.generation());
        tlb.invalidateRange(3, 0x012f_f800L, 0x0130_0000L); // the block's last 2 KiB and beyond
        assertEquals(0, tlb.lookup(3, 0x0123_4000L, false));
    }

    @Test
    void hitsSetTheDirtyBitOfWritableLeavesOnly() {
        memory.write64(0x8000, LEAF);
        tlb.insert(1, 0x1000_0000L, LEAF, 0x8000, tlb.generation());
        assertEquals(LEAF | MockIoPte.DIRTY, tlb.lookup(1, 0x1000_0000L, true));
        assertEquals(LEAF | MockIoPte.DIRTY, memory.read64(0x8000));
        long readOnly = LEAF & ~MockIoPte.WRITE;
        memory.write64(0x8008, readOnly);
        tlb.insert(1, 0x2000_0000L, readOnly, 0x8008, tlb.generation());
        assertEquals(readOnly, tlb.lookup(1, 0x2000_0000L, true));
        assertEquals(readOnly, memory.read64(0x8008));
    }

    @Test
    void aFullSetEvictsRoundRobin() {
        for (long page = 0; page < 64; page++) {
            tlb.insert(1, page << 11, LEAF, 0x8000, tlb.generation());
        }
        assertEquals(8, tlb.validEntries(), "capacity: 4 sets x 2 ways");
        assertEquals(LEAF, tlb.lookup(1, 63L << 11, false), "the newest entry is present");
        assertEquals(1, tlb.hits());
        assertEquals(0, tlb.misses());
    }
}
