package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MemoryRange;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The contract of {@link FrameAllocator} on {@link BuddyFrameAllocator}. */
class BuddyFrameAllocatorTest {

    private static final long MiB = 1L << 20;
    private static final long GiB = 1L << 30;

    @Test
    void blocksAreNaturallyAlignedInsideRamForEveryOrder() {
        // A range whose base is 4 KiB but not 1 GiB aligned: alignment must still hold in physical addresses.
        SparsePhysicalMemory mem = new SparsePhysicalMemory(List.of(new MemoryRange(0x1234_5000L, 3 * GiB)));
        FrameAllocator fa = mem.frames();
        for (int order = 0; order <= FrameAllocator.MAX_ORDER; order++) {
            long pa = fa.allocate(order);
            long size = 4096L << order;
            assertEquals(0, pa % size, "order " + order + " block at " + Long.toHexString(pa));
            assertTrue(mem.isRam(pa, size), "order " + order + " block lies in RAM");
        }
    }

    @Test
    void q35BlocksComeFromBothRangesAndNeverFromTheHole() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 3 * GiB);
        FrameAllocator fa = mem.frames();
        assertEquals(3 * GiB / 4096, fa.freeFrames());
        List<Long> gib = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            gib.add(fa.allocate(18));
        }
        assertEquals(List.of(0L, 1 * GiB, 4 * GiB), gib, "lowest address first, the 4 GiB hole skipped");
        assertEquals(Errno.ENOMEM, assertThrows(ErrnoException.class, () -> fa.allocate(0)).errno());
    }

    @Test
    void allocatedBlocksReadAsZeroEvenAfterReuse() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 16 * MiB);
        FrameAllocator fa = mem.frames();
        long pa = fa.allocate(2);
        assertEquals(0, mem.framesWithStorage(), "allocation touches no storage");
        for (long a = pa; a < pa + 4 * 4096; a += 512) {
            mem.write64(a, 0x5555);
        }
        assertEquals(4, mem.framesWithStorage());
        fa.free(pa, 2);
        assertEquals(0, mem.framesWithStorage(), "free drops the block's storage");
        long again = fa.allocate(2);
        assertEquals(pa, again, "lowest free block is reused");
        for (long a = again; a < again + 4 * 4096; a += 8) {
            assertEquals(0, mem.read64(a));
        }
        // A write to a free frame (a use-after-free) does not leak into the next owner.
        fa.free(again, 2);
        mem.write64(again + 8, 77);
        long third = fa.allocate(0);
        assertEquals(again, third);
        assertEquals(0, mem.read64(third + 8));
    }

    @Test
    void doubleFreeAndWrongOrderAreEinvalWithStateUnchanged() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 16 * MiB);
        FrameAllocator fa = mem.frames();
        long a = fa.allocate(3);
        long b = fa.allocate(0);
        mem.write64(b, 99);
        long allocated = fa.allocatedFrames();
        long free = fa.freeFrames();

        ErrnoException wrongOrder = assertThrows(ErrnoException.class, () -> fa.free(a, 2));
        assertEquals(Errno.EINVAL, wrongOrder.errno());
        assertTrue(wrongOrder.getMessage().contains(Long.toHexString(a)) || a == 0, wrongOrder.getMessage());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> fa.free(a + 4096, 0)).errno(), "inside a block");
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> fa.free(a + 4096, 3)).errno(), "misaligned");
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> fa.free(0x8000_0000L, 0)).errno(), "not RAM");
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> fa.free(b, 19)).errno(), "bad order");
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> fa.allocate(-1)).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> fa.allocate(19)).errno());
        assertEquals(allocated, fa.allocatedFrames());
        assertEquals(free, fa.freeFrames());
        assertEquals(99, mem.read64(b), "a refused free does not drop storage");

        fa.free(b, 0);
        ErrnoException dbl = assertThrows(ErrnoException.class, () -> fa.free(b, 0));
        assertEquals(Errno.EINVAL, dbl.errno());
        assertEquals(allocated - 1, fa.allocatedFrames());
        assertEquals(free + 1, fa.freeFrames());
        fa.free(a, 3);
    }

    @Test
    void exhaustionIsEnomemAndFreeingCoalescesBackToFullCapacity() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.VIRT, 8 * MiB); // 2048 frames
        FrameAllocator fa = mem.frames();
        long total = fa.freeFrames();
        assertEquals(2048, total);
        Set<Long> seen = new HashSet<>();
        List<long[]> blocks = new ArrayList<>();
        Random rnd = new Random(42);
        long used = 0;
        while (true) {
            int order = rnd.nextInt(4);
            long pa;
            try {
                pa = fa.allocate(order);
            } catch (ErrnoException e) {
                assertEquals(Errno.ENOMEM, e.errno());
                if (order == 0) {
                    break;
                }
                continue;
            }
            for (int i = 0; i < 1 << order; i++) {
                assertTrue(seen.add(pa + i * 4096L), "frame handed out twice: " + Long.toHexString(pa + i * 4096L));
            }
            blocks.add(new long[] {pa, order});
            used += 1L << order;
        }
        assertEquals(total, used, "every frame was handed out before ENOMEM at order 0");
        assertEquals(0, fa.freeFrames());
        java.util.Collections.shuffle(blocks, rnd);
        for (long[] blk : blocks) {
            fa.free(blk[0], (int) blk[1]);
        }
        assertEquals(total, fa.freeFrames());
        assertEquals(0, fa.allocatedFrames());
        // Fully coalesced: the whole 8 MiB is available as order-11 blocks (2048 frames = one order-11 block).
        long big = fa.allocate(11);
        assertEquals(0x4000_0000L, big);
        assertEquals(Errno.ENOMEM, assertThrows(ErrnoException.class, () -> fa.allocate(0)).errno());
        fa.free(big, 11);
    }

    @Test
    void bookkeepingForSixtyFourGibIsCompact() {
        // 64 GiB = 16 Mi frames; the allocator's bitmaps must stay in the low megabytes.
        long before = allocatedBytes();
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * GiB);
        long cost = allocatedBytes() - before;
        System.out.printf("64 GiB machine: %d bytes of memory directory + allocator bookkeeping%n", cost);
        assertTrue(cost < 12 * MiB, "64 GiB machine costs " + cost + " bytes of bookkeeping");
        assertEquals(64 * GiB / 4096, mem.frames().freeFrames());
        // Steady-state allocation and free allocate no Java objects.
        FrameAllocator fa = mem.frames();
        long pa0 = fa.allocate(0);
        fa.free(pa0, 0);
        long start = allocatedBytes();
        for (int i = 0; i < 10000; i++) {
            long pa = fa.allocate(i % 10);
            fa.free(pa, i % 10);
        }
        long steady = allocatedBytes() - start;
        assertTrue(steady < 16 * 1024, "allocate/free allocated " + steady + " bytes");
    }

    static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean())
                .getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    @Test
    void isThreadSafe() throws Exception {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
        FrameAllocator fa = mem.frames();
        long total = fa.freeFrames();
        Thread[] ts = new Thread[2];
        for (int t = 0; t < ts.length; t++) {
            int seed = t;
            ts[t] = new Thread(() -> {
                Random rnd = new Random(seed);
                long[] held = new long[64];
                int[] ord = new int[64];
                for (int i = 0; i < 20000; i++) {
                    int slot = rnd.nextInt(64);
                    if (held[slot] != 0) {
                        fa.free(held[slot] - 1, ord[slot]);
                        held[slot] = 0;
                    } else {
                        ord[slot] = rnd.nextInt(5);
                        held[slot] = fa.allocate(ord[slot]) + 1;
                    }
                }
                for (int s = 0; s < 64; s++) {
                    if (held[s] != 0) {
                        fa.free(held[s] - 1, ord[s]);
                    }
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) {
            t.join();
        }
        assertEquals(total, fa.freeFrames());
        assertEquals(0, fa.allocatedFrames());
        assertFalse(mem.framesWithStorage() > 0);
    }
}
