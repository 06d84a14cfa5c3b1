package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.PhysicalMemory;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** The contract of {@link PhysicalMemory} on {@link SparsePhysicalMemory}. */
class SparsePhysicalMemoryTest {

    private static final long MiB = 1L << 20;
    private static final long GiB = 1L << 30;

    @Test
    void readsOfUnwrittenFramesAreZeroAndAllocateNothing() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
        assertEquals(0L, mem.read64(0x1000));
        assertEquals(0, mem.read32(0x2004));
        assertEquals(0, mem.read16(0x3002));
        assertEquals(0, mem.read8(0x4001));
        byte[] buf = new byte[10000];
        buf[5] = 7;
        mem.readBytes(0x5003, buf, 0, buf.length);
        assertEquals(0, buf[5], "readBytes of unwritten memory fills zeros");
        assertEquals(0, mem.framesWithStorage());
        assertFalse(mem.hasStorage(0x1000));
        mem.write8(0x1003, (byte) 1);
        assertTrue(mem.hasStorage(0x1000));
        assertFalse(mem.hasStorage(0x2000));
        assertEquals(1, mem.framesWithStorage());
    }

    @Test
    void littleEndianAccessorsMatchTheByteView() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.VIRT, 16 * MiB);
        long pa = 0x4000_0000L + 0x10;
        mem.write64(pa, 0x0102_0304_0506_0708L);
        byte[] b = new byte[8];
        mem.readBytes(pa, b, 0, 8);
        assertArrayEquals(new byte[] {8, 7, 6, 5, 4, 3, 2, 1}, b, "LE: least significant byte first");
        assertEquals(0x0506_0708, mem.read32(pa));
        assertEquals(0x0102_0304, mem.read32(pa + 4));
        assertEquals((short) 0x0708, mem.read16(pa));
        assertEquals((short) 0x0304, mem.read16(pa + 4));
        assertEquals(6, mem.read8(pa + 2));
        mem.write16(pa + 2, (short) 0xaabb);
        assertEquals(0x0102_0304_aabb_0708L, mem.read64(pa));
        mem.write32(pa + 4, 0xdead_beef);
        assertEquals(0xdead_beef_aabb_0708L, mem.read64(pa));
        mem.write8(pa + 7, (byte) 0x11);
        assertEquals(0x11ad_beef_aabb_0708L, mem.read64(pa));
    }

    @Test
    void bigEndianAccessorsShowMostSignificantByteFirst() {
        // POWER TCEs are big-endian in memory (PAPR): the byte at the lowest address is the most significant.
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.PSERIES, 16 * MiB);
        mem.write64BE(0x8000, 0x0102_0304_0506_0708L);
        byte[] b = new byte[8];
        mem.readBytes(0x8000, b, 0, 8);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, b);
        assertEquals(0x0102_0304_0506_0708L, mem.read64BE(0x8000));
        assertEquals(0x0807_0605_0403_0201L, mem.read64(0x8000));
        mem.write32BE(0x9000, 0xcafe_f00d);
        mem.readBytes(0x9000, b, 0, 4);
        assertArrayEquals(new byte[] {(byte) 0xca, (byte) 0xfe, (byte) 0xf0, 0x0d}, java.util.Arrays.copyOf(b, 4));
        assertEquals(0xcafe_f00d, mem.read32BE(0x9000));
    }

    @Test
    void misalignedAccessIsEinvalNamingTheAddress() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 16 * MiB);
        ErrnoException e = assertThrows(ErrnoException.class, () -> mem.read64(0x1004));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("0x1004"), e.getMessage());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> mem.write64(0x1001, 1)).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> mem.read32(0x1002)).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> mem.write32(0x1006, 1)).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> mem.read16(0x1001)).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> mem.write16(0x1003, (short) 1)).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> mem.compareAndSet64(0x1004, 0, 1)).errno());
        assertEquals(0, mem.framesWithStorage(), "a refused write leaves no trace");
    }

    @Test
    void accessOutsideRamIsABusError() {
        // q35 with 3 GiB: [0, 2 GiB) and [4 GiB, 5 GiB); the hole below 4 GiB has no RAM.
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 3 * GiB);
        assertEquals(List.of(new MemoryRange(0, 2 * GiB), new MemoryRange(4 * GiB, GiB)), mem.ram());
        BusErrorException e = assertThrows(BusErrorException.class, () -> mem.read64(0x8000_0000L));
        assertEquals(0x8000_0000L, e.address());
        assertEquals(Errno.EIO, e.errno());
        assertThrows(BusErrorException.class, () -> mem.write64(0xfee0_0000L, 1));
        assertThrows(BusErrorException.class, () -> mem.read8(5 * GiB));
        assertThrows(BusErrorException.class, () -> mem.write8(-8, (byte) 0));
        // The last word of each range is RAM.
        mem.write64(2 * GiB - 8, 42);
        mem.write64(5 * GiB - 8, 43);
        assertEquals(42, mem.read64(2 * GiB - 8));
        assertEquals(43, mem.read64(5 * GiB - 8));
        // A bulk access that crosses out of RAM fails before transferring anything, naming the first bad byte.
        byte[] buf = new byte[16];
        java.util.Arrays.fill(buf, (byte) 9);
        BusErrorException bulk = assertThrows(BusErrorException.class, () -> mem.writeBytes(2 * GiB - 8, buf, 0, 16));
        assertEquals(2 * GiB, bulk.address());
        assertEquals(42, mem.read64(2 * GiB - 8), "nothing was written");
        assertTrue(mem.isRam(2 * GiB - 8, 8));
        assertFalse(mem.isRam(2 * GiB - 8, 9));
        assertTrue(mem.isRam(4 * GiB, GiB));
        assertFalse(mem.isRam(0, 3 * GiB));
    }

    @Test
    void bulkCopiesAtEveryAlignmentRoundTrip() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 16 * MiB);
        Random rnd = new Random(1234);
        for (int start = 0; start < 16; start++) {
            for (int len : new int[] {0, 1, 5, 8, 13, 4096, 4099, 9000}) {
                byte[] src = new byte[len + 3];
                rnd.nextBytes(src);
                long pa = 0x10_0000L + start * 0x1_0000L + 4090 + start;
                mem.writeBytes(pa, src, 3, len);
                byte[] back = new byte[len];
                mem.readBytes(pa, back, 0, len);
                assertArrayEquals(java.util.Arrays.copyOfRange(src, 3, len + 3), back, "start " + start + " len " + len);
                // Byte accessors agree with the bulk view.
                for (int i = 0; i < Math.min(len, 20); i++) {
                    assertEquals(src[3 + i], mem.read8(pa + i));
                }
                // Neighbouring bytes were not disturbed.
                assertEquals(0, mem.read8(pa - 1));
                assertEquals(0, mem.read8(pa + len));
            }
        }
    }

    @Test
    void casAndAtomicBitOperations() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 16 * MiB);
        assertFalse(mem.compareAndSet64(0x2000, 5, 6), "unwritten word is 0");
        assertEquals(0, mem.framesWithStorage(), "a failed CAS on an unwritten frame allocates nothing");
        assertTrue(mem.compareAndSet64(0x2000, 0, 6));
        assertEquals(6, mem.read64(0x2000));
        assertFalse(mem.compareAndSet64(0x2000, 0, 7));
        assertEquals(6, mem.getAndOr64(0x2000, 0x100));
        assertEquals(0x106, mem.read64(0x2000));
        assertEquals(0x106, mem.getAndClear64(0x2000, 0x2));
        assertEquals(0x104, mem.read64(0x2000));
    }

    @Test
    void concurrentOrAndSubWordWritesLoseNothing() throws Exception {
        // A walker setting accessed/dirty bits with CAS races software writing other bytes of the same word.
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 16 * MiB);
        long pa = 0x3000;
        int rounds = 20000;
        CountDownLatch start = new CountDownLatch(1);
        Thread orer = new Thread(() -> {
            await(start);
            for (int i = 0; i < rounds; i++) {
                mem.getAndOr64(pa, 1L << (i % 32));
            }
        });
        Thread byteWriter = new Thread(() -> {
            await(start);
            for (int i = 0; i < rounds; i++) {
                mem.write8(pa + 4 + (i % 4), (byte) (i | 1));
                mem.write16(pa + 6, (short) 0x7f7f);
            }
        });
        orer.start();
        byteWriter.start();
        start.countDown();
        orer.join();
        byteWriter.join();
        long v = mem.read64(pa);
        assertEquals(0xffff_ffffL, v & 0xffff_ffffL, "every OR of the low half survived the sub-word writes: " + Long.toHexString(v));
        assertEquals(0x7f7f, (v >>> 48) & 0xffff);
        assertTrue(((v >>> 32) & 0xff) != 0 && ((v >>> 40) & 0xff) != 0);
    }

    @Test
    void concurrentCompareAndSetCountsExactly() throws Exception {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 16 * MiB);
        long pa = 0x7ff8;
        int perThread = 50000;
        Runnable inc = () -> {
            for (int i = 0; i < perThread; i++) {
                long old;
                do {
                    old = mem.read64(pa);
                } while (!mem.compareAndSet64(pa, old, old + 1));
            }
        };
        Thread a = new Thread(inc);
        Thread b = new Thread(inc);
        a.start();
        b.start();
        a.join();
        b.join();
        assertEquals(2L * perThread, mem.read64(pa));
        assertEquals(1, mem.framesWithStorage(), "the frame was created exactly once");
    }

    @Test
    void zeroReleasesWholeFramesAndClearsPartialOnes() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 16 * MiB);
        for (long pa = 0x10000; pa < 0x14000; pa += 8) {
            mem.write64(pa, -1L);
        }
        assertEquals(4, mem.framesWithStorage());
        // Zero from the middle of frame 0x10000 to the middle of frame 0x13000: frames 0x11000 and 0x12000 go away.
        mem.zero(0x10ffd, 0x13003 - 0x10ffd);
        assertEquals(2, mem.framesWithStorage());
        assertFalse(mem.hasStorage(0x11000));
        assertFalse(mem.hasStorage(0x12000));
        assertEquals(0x0000_00ff_ffff_ffffL, mem.read64(0x10ff8), "bytes 0x10ff8..0x10ffc survive");
        assertEquals(0xffff_ffff_ff00_0000L, mem.read64(0x13000), "bytes from 0x13003 survive");
        assertEquals(0, mem.read64(0x11800));
        mem.zero(0x10000, 0x4000);
        assertEquals(0, mem.framesWithStorage());
        assertThrows(BusErrorException.class, () -> mem.zero(16 * MiB - 4096, 8192));
    }

    @Test
    void droppedStorageIsReusedZeroedByTheNextFrameThatNeedsStorage() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 16 * MiB);
        for (long pa = 0x10000; pa < 0x12000; pa += 8) {
            mem.write64(pa, -1L);
        }
        assertEquals(0, mem.recycledFrames());
        mem.zero(0x10000, 0x2000);
        assertEquals(2, mem.recycledFrames(), "both dropped arrays are kept");
        assertEquals(0, mem.framesWithStorage());
        assertEquals(0, mem.read64(0x10ff8), "a dropped frame reads zeros");
        mem.write8(0x20001, (byte) 5); // another frame takes a recycled array
        assertEquals(1, mem.recycledFrames());
        assertEquals(1, mem.framesWithStorage());
        long[] words = new long[512];
        mem.read64s(0x20000, words, 0, 512);
        long[] expected = new long[512];
        expected[0] = 5L << 8;
        assertArrayEquals(expected, words, "the recycled array was zero-filled: only the byte written is set");
        long frame = mem.frames().allocateFrame(); // the allocator drops (and recycles) storage too
        mem.writeRun64(frame, 512, -1L, 0);
        assertEquals(0, mem.recycledFrames(), "the allocated frame's storage is the last recycled array");
        mem.frames().free(frame, 0);
        assertEquals(0, mem.read64(frame + 4088));
        assertEquals(1, mem.recycledFrames(), "and it is kept again when the frame is freed");
        mem.writeRun64(0x30000, 2, 7, 0);
        assertEquals(0, mem.indexOfAny64(0x30000 + 16, 510, -1L) + 1, "words past the run read zero");
        // a run covering whole frames without storage fills a recycled array (not zeroed first: every word is written)
        mem.writeRun64(0x40000, 512, -1L, 0);
        mem.zero(0x40000, 4096); // its array goes back to the pool, all ones
        assertEquals(1, mem.recycledFrames());
        long before = mem.framesWithStorage();
        mem.writeRun64(0x50000, 513, 0x1003, 0x1000); // a whole frame (the recycled array), then one word
        assertEquals(0, mem.recycledFrames(), "the whole frame took the recycled array");
        assertEquals(before + 2, mem.framesWithStorage());
        for (int i = 0; i < 513; i++) {
            assertEquals(0x1003 + 0x1000L * i, mem.read64(0x50000 + 8L * i), "run word " + i);
        }
        assertEquals(0, mem.read64(0x51008), "the partly written frame after the run reads zero past it");
    }

    @Test
    void ramNearTheTopOfThe52BitSpaceWorks() {
        long base = (1L << 52) - (64L << 20);
        SparsePhysicalMemory mem = new SparsePhysicalMemory(List.of(new MemoryRange(0x4000_0000L, 16 * MiB),
                new MemoryRange(base, 64L << 20)));
        mem.write64((1L << 52) - 8, 0x77);
        assertEquals(0x77, mem.read64((1L << 52) - 8));
        assertThrows(BusErrorException.class, () -> mem.read64(1L << 52));
        long block = mem.frames().allocate(14); // 64 MiB: only the high range has one
        assertEquals(base, block);
        assertEquals(0, mem.read64((1L << 52) - 8), "allocated blocks read as zero");
        assertThrows(IllegalArgumentException.class, () -> new SparsePhysicalMemory(List.of(new MemoryRange(1L << 52, 4096))));
    }

    @Test
    void directoryGrowsToCoverTheHighestFrameWithStorageAndKeepsEveryFrame() {
        // The largest range (64 MiB at 4 GiB) takes the inline lookup; the small one below goes out of line.
        SparsePhysicalMemory mem = new SparsePhysicalMemory(List.of(new MemoryRange(0, 16 * MiB),
                new MemoryRange(4 * GiB, 64 * MiB)));
        long dense = mem.layout().denseFrames();
        int first = mem.directorySlots();
        assertEquals(Math.min(SparsePhysicalMemory.MIN_DIRECTORY, dense), first);
        long low = 0x3000;
        long high = 4 * GiB + 0x5008;
        mem.write64(low, 0x11);
        assertEquals(first, mem.directorySlots());
        long top = 4 * GiB + 64 * MiB - 8;
        assertEquals(0, mem.read64(top), "a frame above the directory reads zero");
        assertEquals(0, mem.read64(high));
        assertEquals(first, mem.directorySlots(), "a read does not grow the directory");
        mem.write64(high, 0x22); // the high range's slice of the dense index starts at 2^18 (1 GiB-aligned slices)
        assertTrue(mem.directorySlots() > first, "storage above the directory grows it");
        mem.write64(top, 0x33);
        assertTrue(mem.directorySlots() <= dense, "never beyond the dense index space");
        assertEquals(0x11, mem.read64(low), "the small range's frame survives the growth");
        assertEquals(0x22, mem.read64(high), "the large range's frame survives the growth");
        assertEquals(0x33, mem.read64(top));
        assertEquals(3, mem.framesWithStorage());
        // Bad input keeps its precise errors on both paths: alignment first, then RAM.
        ErrnoException e = assertThrows(ErrnoException.class, () -> mem.read64(high + 4));
        assertEquals(Errno.EINVAL, e.errno());
        assertThrows(ErrnoException.class, () -> mem.write64(low + 2, 1));
        assertThrows(ErrnoException.class, () -> mem.read64(32 * MiB + 1), "misaligned outside RAM is EINVAL first");
        BusErrorException b = assertThrows(BusErrorException.class, () -> mem.read64(32 * MiB));
        assertEquals(32 * MiB, b.address());
        assertThrows(BusErrorException.class, () -> mem.write64(4 * GiB + 64 * MiB, 1));
        // Dropped storage of a grown directory goes back to the pool and reads zero.
        mem.zero(top & ~4095L, 4096);
        assertEquals(0, mem.read64(top));
        assertEquals(2, mem.framesWithStorage());
        assertEquals(1, mem.recycledFrames());
    }

    @Test
    void framesCreatedWhileTheDirectoryGrowsAreNeverLost() throws Exception {
        // One thread creates frames low in RAM while the other forces the directory to grow again and again (each
        // growth copies the slots): a slot change that raced with a copy into a directory about to be replaced would
        // be lost, and its frame would read zero. Many short rounds, each on fresh memory, to meet the race often.
        for (int round = 0; round < 300; round++) {
            SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 256 * MiB);
            int lowFrames = 2048;
            CountDownLatch start = new CountDownLatch(1);
            Thread creator = new Thread(() -> {
                await(start);
                for (int i = 0; i < lowFrames; i++) {
                    mem.write64(0x100000 + 4096L * i, i + 1);
                }
            });
            Thread grower = new Thread(() -> {
                await(start);
                for (long pa = 16 * MiB; pa < 256 * MiB; pa += 4 * MiB) {
                    mem.write64(pa, -1L);
                }
            });
            creator.start();
            grower.start();
            start.countDown();
            creator.join();
            grower.join();
            for (int i = 0; i < lowFrames; i++) {
                assertEquals(i + 1, mem.read64(0x100000 + 4096L * i), "round " + round + ": frame " + i + " lost its word");
            }
            assertEquals(lowFrames + 60, mem.framesWithStorage(), "round " + round);
        }
    }

    private static void await(CountDownLatch l) {
        try {
            l.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The bulk word verbs agree with word-by-word access across frame boundaries and unwritten frames. */
    @Test
    void bulkWordAccessMatchesWordByWordAccessAcrossFrames() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
        long pa = 0x10_0000L + 4096 - 3 * 8; // 3 words in one frame, then the next frames
        long[] src = new long[1030];
        Random r = new Random(7);
        for (int i = 0; i < src.length; i++) {
            src[i] = r.nextLong();
        }
        mem.write64s(pa, src, 0, src.length);
        for (int i = 0; i < src.length; i++) {
            assertEquals(src[i], mem.read64(pa + 8L * i), "word " + i);
        }
        long[] back = new long[src.length + 2];
        mem.read64s(pa, back, 1, src.length);
        for (int i = 0; i < src.length; i++) {
            assertEquals(src[i], back[i + 1], "read64s word " + i);
        }
        long run = 0x20_0000L - 8;
        mem.writeRun64(run, 600, 0x1003L, 0x1000L);
        for (int i = 0; i < 600; i++) {
            assertEquals(0x1003L + 0x1000L * i, mem.read64(run + 8L * i), "run word " + i);
        }
        long[] zeros = new long[600];
        java.util.Arrays.fill(zeros, -1L);
        mem.read64s(0x300_0000L, zeros, 0, 600);
        assertArrayEquals(new long[600], zeros, "read64s of unwritten frames fills zeros");
        // write64s touched frames 0x100000-0x103000 (4), writeRun64 0x1ff000-0x201000 (3); read64s none
        assertEquals(7, mem.framesWithStorage(), "only the written frames got storage");
    }

    @Test
    void indexOfAny64FindsTheFirstMatchingWordOrMinusOne() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
        long table = 0x40_0000L;
        assertEquals(-1, mem.indexOfAny64(table, 1024, ~0L), "an unwritten range has no set word");
        mem.write64(table + 8L * 700, 0x40);
        mem.write64(table + 8L * 900, 0x1);
        assertEquals(700, mem.indexOfAny64(table, 1024, ~0L));
        assertEquals(900, mem.indexOfAny64(table, 1024, 0x1));
        assertEquals(-1, mem.indexOfAny64(table, 700, ~0L), "the count bounds the scan");
        assertEquals(-1, mem.indexOfAny64(table, 1024, 0x2));
    }

    @Test
    void indexOfAny64AgreesWithAWordByWordScanAtEveryBlockAndFrameEdge() {
        // The scan ORs blocks of words before looking at single ones: a hit must be reported at its own index
        // whichever block, frame or start offset it falls in, and a word without a bit of the mask never.
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
        long table = 0x80_0000L;
        int[] positions = {0, 1, 62, 63, 64, 65, 127, 128, 447, 448, 510, 511, 512, 513, 575, 576, 1023, 1100};
        long[] starts = {0, 8, 8 * 63, 8 * 64, 8 * 500};
        for (int p : positions) {
            mem.zero(table, 3 * 4096);
            mem.write64(table + 8L * p, 0x10);
            if (p > 2) {
                mem.write64(table + 8L * (p - 2), 0x2); // an earlier word whose bits miss the mask 0x10
            }
            for (long start : starts) {
                for (int count : new int[] {0, 1, 64, 513, 1101}) {
                    int expected = -1;
                    for (int i = 0; i < count; i++) {
                        if ((mem.read64(table + start + 8L * i) & 0x10) != 0) {
                            expected = i;
                            break;
                        }
                    }
                    assertEquals(expected, mem.indexOfAny64(table + start, count, 0x10),
                            "hit at word " + p + ", scan from byte " + start + " over " + count + " words");
                }
            }
        }
    }

    /** Word-by-word reference of updateMatching64s: which words match, and what each becomes. */
    private static int referenceUpdate(long[] words, long mask, long value, long anyOf, long clear, long set, int[] found) {
        int n = 0;
        for (int i = 0; i < words.length; i++) {
            long w = words[i];
            if ((w & mask) == value && (anyOf == 0 || (w & anyOf) != 0)) {
                found[n++] = i;
                words[i] = (w & ~clear) | set;
            }
        }
        return n;
    }

    /** Only the abstract accessors of {@code mem}: its bulk verbs are the interface's defaults. */
    private static PhysicalMemory defaultsOver(SparsePhysicalMemory mem) {
        return new PhysicalMemory() {
            public List<MemoryRange> ram() { return mem.ram(); }
            public boolean isRam(long pa, long length) { return mem.isRam(pa, length); }
            public long read64(long pa) { return mem.read64(pa); }
            public void write64(long pa, long value) { mem.write64(pa, value); }
            public int read32(long pa) { return mem.read32(pa); }
            public void write32(long pa, int value) { mem.write32(pa, value); }
            public short read16(long pa) { return mem.read16(pa); }
            public void write16(long pa, short value) { mem.write16(pa, value); }
            public byte read8(long pa) { return mem.read8(pa); }
            public void write8(long pa, byte value) { mem.write8(pa, value); }
            public boolean compareAndSet64(long pa, long expected, long update) { return mem.compareAndSet64(pa, expected, update); }
            public void readBytes(long pa, byte[] dst, int offset, int length) { mem.readBytes(pa, dst, offset, length); }
            public void writeBytes(long pa, byte[] src, int offset, int length) { mem.writeBytes(pa, src, offset, length); }
            public void zero(long pa, long length) { mem.zero(pa, length); }
            public boolean hasStorage(long pa) { return mem.hasStorage(pa); }
            public long framesWithStorage() { return mem.framesWithStorage(); }
            public dev.iommufd.platform.FrameAllocator frames() { return mem.frames(); }
        };
    }

    @Test
    void updateMatching64sAgreesWithAWordByWordReferenceAcrossFramesAndEmptyFrames() {
        // VT-d D harvest (mask = value = D, anyOf = R|W, clear D), Arm HTTU (DBM|AP2|valid == DBM|valid, set AP2),
        // a pure scan (nothing written), and a match on zero words (frames without storage included)
        long[][] ops = {
            {1L << 9, 1L << 9, 0x3, 1L << 9, 0},
            {(1L << 51) | (1L << 7) | 1, (1L << 51) | 1, 1, 0, 1L << 7},
            {0x10, 0x10, 0, 0, 0},
            {0x4, 0, 0, 0, 0x4},
        };
        Random r = new Random(11);
        for (boolean viaDefault : new boolean[] {false, true}) {
            for (long[] op : ops) {
                for (long start : new long[] {0, 8, 8 * 511, 8 * 300}) {
                    SparsePhysicalMemory sparse = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
                    PhysicalMemory mem = viaDefault ? defaultsOver(sparse) : sparse;
                    long table = 0x80_0000L;
                    int count = 1400; // three frames; the middle one stays without storage
                    long[] words = new long[count];
                    for (int i = 0; i < count; i++) {
                        long pa = table + start + 8L * i;
                        if (pa >= table + 4096 && pa < table + 8192) {
                            continue;
                        }
                        long bits = r.nextLong() & ((1L << 51) | (1L << 9) | (1L << 7) | 0x17);
                        words[i] = bits;
                        sparse.write64(pa, bits);
                    }
                    int[] expectedFound = new int[count];
                    int expected = referenceUpdate(words, op[0], op[1], op[2], op[3], op[4], expectedFound);
                    int[] found = new int[count];
                    int n = mem.updateMatching64s(table + start, count, op[0], op[1], op[2], op[3], op[4], found);
                    String what = (viaDefault ? "default" : "sparse") + " op " + java.util.Arrays.toString(op) + " from " + start;
                    assertEquals(expected, n, what);
                    assertArrayEquals(java.util.Arrays.copyOf(expectedFound, expected), java.util.Arrays.copyOf(found, n), what);
                    for (int i = 0; i < count; i++) {
                        assertEquals(words[i], sparse.read64(table + start + 8L * i), what + " word " + i);
                    }
                    if ((op[3] | op[4]) == 0 || op[2] != 0) {
                        assertFalse(sparse.hasStorage(table + 4096), what + ": a frame of zeros that cannot match is not created");
                    }
                }
            }
        }
    }

    @Test
    void updateMatching64sLosesNoConcurrentUpdateAndChecksItsArguments() throws Exception {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
        long table = 0x90_0000L;
        long d = 1L << 9;
        long a = 1L << 8;
        int[] found = new int[512];
        int rounds = 2000;
        // a "device" sets A on every word while the harvest clears D: every A survives, D is cleared exactly once a round
        mem.writeRun64(table, 512, 0x3 | d, 0);
        Thread device = new Thread(() -> {
            for (int k = 0; k < rounds; k++) {
                for (int i = 0; i < 512; i++) {
                    mem.getAndOr64(table + 8L * i, a);
                }
            }
        });
        device.start();
        long harvested = 0;
        for (int k = 0; k < rounds; k++) {
            harvested += mem.updateMatching64s(table, 512, d, d, 0x3, d, 0, found);
        }
        device.join();
        assertEquals(512, harvested, "each D was harvested once");
        for (int i = 0; i < 512; i++) {
            assertEquals(0x3 | a, mem.read64(table + 8L * i), "word " + i + ": D cleared, the device's A kept");
        }
        ErrnoException e = assertThrows(ErrnoException.class, () -> mem.updateMatching64s(table, 513, d, d, 0, d, 0, found));
        assertEquals(Errno.EINVAL, e.errno(), "found has no room");
        e = assertThrows(ErrnoException.class, () -> mem.updateMatching64s(table + 4, 1, d, d, 0, d, 0, found));
        assertEquals(Errno.EINVAL, e.errno(), "misaligned");
        mem.write64(64 * MiB - 8, d);
        assertThrows(BusErrorException.class, () -> mem.updateMatching64s(64 * MiB - 8, 2, d, d, 0, d, 0, found));
        assertEquals(d, mem.read64(64 * MiB - 8), "nothing written when the run leaves RAM");
    }

    @Test
    void bulkWritesCheckTheWholeRunBeforeWritingAnyWord() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
        long last = 64 * MiB - 16; // two words of RAM left below the end of low RAM
        assertThrows(BusErrorException.class, () -> mem.writeRun64(last, 3, 1, 1));
        assertThrows(BusErrorException.class, () -> mem.write64s(last, new long[] {1, 2, 3}, 0, 3));
        assertEquals(0, mem.framesWithStorage(), "nothing was written");
        ErrnoException e = assertThrows(ErrnoException.class, () -> mem.writeRun64(0x1004, 1, 1, 0));
        assertEquals(Errno.EINVAL, e.errno());
        e = assertThrows(ErrnoException.class, () -> mem.read64s(0x1004, new long[1], 0, 1));
        assertEquals(Errno.EINVAL, e.errno());
        assertThrows(IndexOutOfBoundsException.class, () -> mem.read64s(0x1000, new long[4], 2, 3));
    }

    /**
     * A word-by-word reference of {@link PhysicalMemory#clearLeading64s}: clears from {@code pa} while words have a
     * bit of {@code mask}, through {@code read64} / {@code write64} only.
     */
    private static int clearLeadingByWords(PhysicalMemory mem, long pa, int count, long mask) {
        int k = 0;
        while (k < count && (mem.read64(pa + 8L * k) & mask) != 0) {
            mem.write64(pa + 8L * k, 0);
            k++;
        }
        return k;
    }

    @Test
    void clearLeading64sClearsThePrefixAWordByWordUnmapWouldAcrossFramesAndEmptyFrames() {
        Random rnd = new Random(8);
        long base = 0x10_0000;
        for (int trial = 0; trial < 300; trial++) {
            SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
            SparsePhysicalMemory ref = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
            // three frames: the middle one sometimes without storage; present entries (bit 0 or 1) with gaps
            boolean emptyMiddle = rnd.nextInt(4) == 0;
            for (int i = 0; i < 3 * 512; i++) {
                if (emptyMiddle && i >= 512 && i < 1024) {
                    continue;
                }
                long v = rnd.nextInt(40) == 0 ? 0x100 : (rnd.nextInt(3) + 1) | ((long) i << 12);
                mem.write64(base + 8L * i, v);
                ref.write64(base + 8L * i, v);
            }
            long pa = base + 8L * rnd.nextInt(3 * 512);
            int room = (int) ((base + 3 * 4096 - pa) / 8);
            int count = rnd.nextInt(room + 1);
            long mask = rnd.nextBoolean() ? 0x3 : 0x1;
            assertEquals(clearLeadingByWords(ref, pa, count, mask), mem.clearLeading64s(pa, count, mask), "trial " + trial);
            for (int i = 0; i < 3 * 512; i++) {
                assertEquals(ref.read64(base + 8L * i), mem.read64(base + 8L * i), "trial " + trial + " word " + i);
            }
        }
    }

    @Test
    void clearLeading64sChecksItsArgumentsBeforeClearingAnything() {
        SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
        long last = 64 * MiB - 16; // two words of RAM left below the end of low RAM
        mem.write64(last, 1);
        mem.write64(last + 8, 1);
        assertThrows(BusErrorException.class, () -> mem.clearLeading64s(last, 3, 1));
        assertEquals(1, mem.read64(last), "nothing cleared when the run leaves RAM");
        assertEquals(2, mem.clearLeading64s(last, 2, 1));
        assertEquals(0, mem.read64(last + 8));
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> mem.clearLeading64s(0x1004, 1, 1)).errno());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> mem.clearLeading64s(0x1000, -1, 1)).errno());
        mem.write64(0x1000, 1);
        assertEquals(0, mem.clearLeading64s(0x1000, 0, 1));
        assertEquals(1, mem.read64(0x1000));
        assertEquals(0, mem.clearLeading64s(0x1000, 4, 2), "no word has the mask's bit: nothing cleared");
        assertEquals(1, mem.read64(0x1000));
    }

    @Test
    void theDefaultClearLeading64sIsTheWordByWordLoop() { // for PhysicalMemory implementations without a bulk path
        SparsePhysicalMemory backing = SparsePhysicalMemory.of(MachineProfile.Q35, 64 * MiB);
        // Only read64, write64 and isRam, through a proxy (no mocking framework rewrites PhysicalMemory's defaults)
        PhysicalMemory byWords = (PhysicalMemory) java.lang.reflect.Proxy.newProxyInstance(PhysicalMemory.class.getClassLoader(),
                new Class<?>[] {PhysicalMemory.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "read64" -> backing.read64((long) args[0]);
                    case "write64" -> {
                        backing.write64((long) args[0], (long) args[1]);
                        yield null;
                    }
                    case "isRam" -> backing.isRam((long) args[0], (long) args[1]);
                    default -> {
                        if (method.isDefault()) {
                            yield java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args);
                        }
                        throw new UnsupportedOperationException(method.getName());
                    }
                });
        for (int i = 0; i < 6; i++) {
            backing.write64(0x2000 + 8L * i, i == 4 ? 0x8 : 0x3);
        }
        assertEquals(4, byWords.clearLeading64s(0x2000, 6, 0x3));
        assertEquals(0, backing.read64(0x2018));
        assertEquals(0x8, backing.read64(0x2020), "the first word without the mask's bits stays");
        assertEquals(0x3, backing.read64(0x2028));
        assertThrows(BusErrorException.class, () -> byWords.clearLeading64s(64 * MiB - 8, 2, 0x3));
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> byWords.clearLeading64s(0x2000, -1, 0x3)).errno());
    }
}
