package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.PhysicalMemory;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The dense frame index of {@link RamLayout} for layouts of one, two, three and more RAM ranges with holes between
 * them (and two ranges that touch): every RAM frame gets a distinct dense index that keeps its alignment up to
 * {@code 2^MAX_ORDER} frames and maps back to it; every address outside RAM has none. Expected answers come from a
 * linear scan of the range list written here, not from the lookup under test (whose fast path tries the two
 * largest ranges first and binary-searches the rest).
 */
class RamLayoutTest {

    private static final long K4 = PhysicalMemory.FRAME_SIZE;
    private static final long MiB = 1L << 20;
    private static final long GiB = 1L << 30;

    /** Layouts (sorted ranges); sizes vary so that the largest range is first, last or in the middle. */
    private static final List<List<MemoryRange>> LAYOUTS = List.of(
            List.of(new MemoryRange(0x1000, 3 * MiB)),
            List.of(new MemoryRange(0, 2 * MiB), new MemoryRange(4 * GiB, 5 * MiB)),
            List.of(new MemoryRange(0x1234_5000L, 5 * MiB), new MemoryRange(4 * GiB + 0x3000, 2 * MiB)),
            List.of(new MemoryRange(0x10_0000L, MiB), new MemoryRange(GiB + 0x5000, 3 * MiB),
                    new MemoryRange(9 * GiB, 2 * MiB)),
            List.of(new MemoryRange(0, MiB), new MemoryRange(MiB, 2 * MiB), new MemoryRange(8 * MiB, 64 * K4)),
            List.of(new MemoryRange(0x4000, 16 * K4), new MemoryRange(GiB, 2 * MiB), new MemoryRange(3 * GiB, MiB),
                    new MemoryRange(3 * GiB + 2 * MiB, 4 * MiB), new MemoryRange(1L << 40, 32 * K4)));

    /** The range holding {@code pa}, by a linear scan: the test's own oracle. */
    private static MemoryRange rangeOf(List<MemoryRange> ram, long pa) {
        for (MemoryRange r : ram) {
            if (pa >= r.base() && pa <= r.last()) {
                return r;
            }
        }
        return null;
    }

    @Test
    void everyRamFrameHasADistinctAlignedDenseIndexThatMapsBack() {
        for (List<MemoryRange> ram : LAYOUTS) {
            RamLayout layout = new RamLayout(ram);
            Set<Long> seen = new HashSet<>();
            long frames = 0;
            for (MemoryRange r : ram) {
                for (long pa = r.base(); pa <= r.last(); pa += K4) {
                    long dense = layout.denseFrame(pa);
                    assertTrue(dense >= 0 && dense < layout.denseFrames(), ram + ": " + Long.toHexString(pa) + " -> " + dense);
                    assertTrue(seen.add(dense), ram + ": dense index " + dense + " given twice");
                    long pfn = pa >>> PhysicalMemory.FRAME_SHIFT;
                    long alignMask = (1L << FrameAllocator.MAX_ORDER) - 1;
                    assertEquals(pfn & alignMask, dense & alignMask, "alignment kept up to the largest buddy block");
                    assertEquals(pa, layout.physicalAddress(dense));
                    assertEquals(dense, layout.denseFrame(pa + K4 - 1), "the last byte of the frame");
                    frames++;
                }
            }
            assertEquals(frames, layout.ramFrames());
        }
    }

    @Test
    void addressesOutsideRamHaveNoDenseIndex() {
        for (List<MemoryRange> ram : LAYOUTS) {
            RamLayout layout = new RamLayout(ram);
            List<Long> probes = new ArrayList<>(List.of(-1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 52, (1L << 52) - 1));
            for (MemoryRange r : ram) {
                probes.addAll(List.of(r.base() - 1, r.base() - K4, r.last() + 1, r.last() + K4, r.base() + GiB,
                        r.base() ^ (1L << 45)));
            }
            for (long pa : probes) {
                boolean ram0 = rangeOf(ram, pa) != null;
                long dense = layout.denseFrame(pa);
                assertEquals(ram0, dense >= 0, ram + ": " + Long.toHexString(pa) + " -> " + dense);
                if (ram0) {
                    assertEquals(pa & -K4, layout.physicalAddress(dense), "an adjacent range's frame");
                }
            }
        }
    }

    @Test
    void firstNonRamAgreesWithTheRangeList() {
        for (List<MemoryRange> ram : LAYOUTS) {
            RamLayout layout = new RamLayout(ram);
            for (MemoryRange r : ram) {
                long[] starts = {r.base(), r.base() + 8, r.last() - 7, r.base() - 8};
                long[] lengths = {0, 8, K4, r.size(), r.size() + 8, 4 * MiB};
                for (long start : starts) {
                    for (long length : lengths) {
                        long expected = -1;
                        for (long pa = start; pa < start + length; pa += 8) { // 8-byte granular suffices here
                            if (rangeOf(ram, pa) == null) {
                                expected = pa;
                                break;
                            }
                        }
                        assertEquals(expected, layout.firstNonRam(start, length),
                                ram + ": [" + Long.toHexString(start) + ", +" + Long.toHexString(length) + ")");
                    }
                }
            }
        }
    }

    @Test
    void memoryOnEveryLayoutStoresEachFrameApartAndFaultsInTheHoles() {
        for (List<MemoryRange> ram : LAYOUTS) {
            SparsePhysicalMemory mem = new SparsePhysicalMemory(ram);
            for (MemoryRange r : ram) {
                for (long pa = r.base(); pa <= r.last(); pa += K4) {
                    mem.write64(pa + 8, pa ^ 0x5a5a);
                }
            }
            for (MemoryRange r : ram) {
                for (long pa = r.base(); pa <= r.last(); pa += K4) {
                    assertEquals(pa ^ 0x5a5a, mem.read64(pa + 8), ram + ": frame " + Long.toHexString(pa));
                    assertEquals(0L, mem.read64(pa));
                }
                for (long hole : new long[] {r.base() - 8, r.last() + 1}) {
                    if (hole >= 0 && rangeOf(ram, hole) == null) {
                        assertThrows(BusErrorException.class, () -> mem.read64(hole), Long.toHexString(hole));
                        assertThrows(BusErrorException.class, () -> mem.write64(hole, 1), Long.toHexString(hole));
                        long run = hole < r.base() ? hole : r.last() - 7; // a bulk run that ends or starts in the hole
                        assertThrows(BusErrorException.class, () -> mem.writeRun64(run, 2, 1, 1));
                    }
                }
            }
            assertEquals(layout(ram), mem.framesWithStorage());
        }
    }

    @Test
    void bulkRunsCrossTouchingRangesFrameByFrame() {
        // Ranges [0, 1 MiB) and [1 MiB, 3 MiB) touch: their dense slices do not (each is padded to 1 GiB).
        SparsePhysicalMemory mem = new SparsePhysicalMemory(LAYOUTS.get(4));
        long pa = MiB - 3 * 8;
        mem.writeRun64(pa, 6, 100, 1);
        long[] back = new long[6];
        mem.read64s(pa, back, 0, 6);
        for (int i = 0; i < 6; i++) {
            assertEquals(100 + i, back[i]);
            assertEquals(100 + i, mem.read64(pa + 8L * i));
        }
        assertEquals(5, mem.indexOfAny64(pa - 8, 7, 0x8), "104 (0b1101000) is the first word with bit 3: index 5 of the run");
    }

    private static long layout(List<MemoryRange> ram) {
        long frames = 0;
        for (MemoryRange r : ram) {
            frames += r.size() / K4;
        }
        return frames;
    }
}
