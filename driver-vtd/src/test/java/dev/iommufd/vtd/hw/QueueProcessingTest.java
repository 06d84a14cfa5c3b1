package dev.iommufd.vtd.hw;

import static dev.iommufd.vtd.layout.VtdRegisters.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.SecondStagePte;
import org.junit.jupiter.api.Test;

/**
 * Queued invalidation (VT-d spec 6.5.2): the hardware fetches and executes every descriptor from IQH up to IQT,
 * wrapping at the end of the queue, in order; an error stops IQH at the offending descriptor with the ones before
 * it executed and the ones after it not.
 */
class QueueProcessingTest {
    static final long RW = SecondStagePte.R | SecondStagePte.W;
    static final int RID = LegacyTables.RID;

    final ModelBench b = new ModelBench("qemu");
    final LegacyTables t = new LegacyTables(b);

    private static long waitWithStatus(int value) {
        return InvalidationDescriptor.waitLo(false, true, false, value);
    }

    @Test
    void descriptorsAcrossTheEndOfTheQueueAllExecuteInOrder() {
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, 7, false);
        b.enable(t.root, false);
        long q = b.enableQueue(false);
        long status = b.frame();
        // 250 waits without status write, in submissions of 10: IQH follows IQT to entry 250 of 256
        for (int k = 0; k < 25; k++) {
            long[] d = new long[20];
            for (int i = 0; i < 10; i++) {
                d[2 * i] = InvalidationDescriptor.waitLo(false, false, false, 0);
            }
            b.submit(q, false, d);
        }
        assertEquals(250L * 16, b.r64(IQH_REG));
        t.map(0x1000, 0x2000, 1, RW);
        assertEquals(0x2000L, b.read(RID, 0x1000).physicalAddress());
        b.mem.write64(LegacyTables.entryAddress(b, t.pgd, 4, 0x1000, 1), SecondStagePte.leaf(0x9000, 1, RW));
        // entries 250..255 and 0..3: five status writes, the invalidation at entry 255, then four status writes
        long[] d = new long[20];
        for (int i = 0; i < 10; i++) {
            if (i == 5) {
                d[2 * i] = InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DEVICE_OR_PAGE, 7);
                d[2 * i + 1] = InvalidationDescriptor.addressHi(0x1000, false, 0);
            } else {
                d[2 * i] = waitWithStatus(100 + i);
                d[2 * i + 1] = status + 4L * i;
            }
        }
        b.submit(q, false, d);
        assertEquals(4L * 16, b.r64(IQH_REG));
        assertEquals(4L * 16, b.r64(IQT_REG));
        for (int i = 0; i < 10; i++) {
            if (i != 5) {
                assertEquals(100 + i, b.mem.read32(status + 4L * i), "status of descriptor " + i);
            }
        }
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress(), "the invalidation before the wrap took effect");
    }

    @Test
    void aLongBatchExecutesWholeAndAnErrorInItStopsAtTheBadDescriptor() {
        long q = b.enableQueue(false);
        long status = b.frame();
        long[] d = new long[2 * 40];
        for (int i = 0; i < 40; i++) {
            d[2 * i] = waitWithStatus(1000 + i);
            d[2 * i + 1] = status + 4L * i;
        }
        b.submit(q, false, d);
        for (int i = 0; i < 40; i++) {
            assertEquals(1000 + i, b.mem.read32(status + 4L * i));
        }
        assertEquals(40L * 16, b.r64(IQH_REG));

        long status2 = b.frame();
        for (int i = 0; i < 40; i++) {
            d[2 * i] = waitWithStatus(2000 + i);
            d[2 * i + 1] = status2 + 4L * i;
        }
        d[2 * 23] = InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_GLOBAL, 0) | (1L << 40); // reserved bit
        d[2 * 23 + 1] = 0;
        b.submit(q, false, d);
        assertEquals(FSTS_IQE, b.r32(FSTS_REG) & FSTS_IQE);
        assertEquals(IQEI_RESERVED, b.r64(IQER_REG) & IQER_IQEI_MASK);
        assertEquals((40L + 23) * 16, b.r64(IQH_REG));
        for (int i = 0; i < 40; i++) {
            assertEquals(i < 23 ? 2000 + i : 0, b.mem.read32(status2 + 4L * i), "status of descriptor " + i);
        }
        // software replaces the bad descriptor and clears IQE: the rest executes
        b.mem.write64(q + (40L + 23) * 16, waitWithStatus(2023));
        b.mem.write64(q + (40L + 23) * 16 + 8, status2 + 4L * 23);
        b.w32(FSTS_REG, FSTS_IQE);
        for (int i = 0; i < 40; i++) {
            assertEquals(2000 + i, b.mem.read32(status2 + 4L * i), "status of descriptor " + i);
        }
        assertEquals(80L * 16, b.r64(IQH_REG));
    }

    /**
     * A descriptor the hardware cannot fetch (its slot is not RAM) stops the queue there with a fetch error (IQEI):
     * the descriptors before it execute (slots 252 to 255, at the end of the last RAM page) and IQH stays at it.
     */
    @Test
    void aDescriptorThatCannotBeFetchedStopsTheQueueAfterTheOnesBeforeIt() {
        long ramEnd = 256L << 20;
        long q = ramEnd - 4096; // a two-page queue (512 slots) whose second page is not RAM
        long status = b.frame();
        b.w64(IQT_REG, 0);
        b.w64(IQA_REG, q | 1);
        b.w32(GCMD_REG, GCMD_QIE);
        for (int i = 0; i < 256; i++) {
            b.mem.write64(q + i * 16L, waitWithStatus(3000 + i));
            b.mem.write64(q + i * 16L + 8, status + 4L * (i % 1024));
        }
        b.w64(IQT_REG, 4 * 16);
        assertEquals(4L * 16, b.r64(IQH_REG));
        b.w64(IQT_REG, 258 * 16);
        assertEquals(FSTS_IQE, b.r32(FSTS_REG) & FSTS_IQE);
        assertEquals(IQEI_FETCH_ERROR, b.r64(IQER_REG) & IQER_IQEI_MASK);
        assertEquals(256L * 16, b.r64(IQH_REG), "IQH stays at the slot that could not be fetched");
        for (int i = 0; i < 256; i++) {
            assertEquals(3000 + i, b.mem.read32(status + 4L * i), "status of descriptor " + i);
        }
    }
}
