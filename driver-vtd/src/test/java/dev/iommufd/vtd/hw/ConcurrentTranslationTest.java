package dev.iommufd.vtd.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.spi.hw.Translation;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.SecondStagePte;
import java.lang.reflect.Field;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Translations by two devices of one domain while software remaps and invalidates (VT-d spec 6.5: once an
 * invalidation wait descriptor has completed, no translation may use an entry the preceding invalidation
 * removed). The translators take the model's lock-free hit path and lock-free walks; every result is checked
 * against the last completed invalidation: a translation that started after round {@code c} completed must
 * return round {@code c}'s or a later mapping, never an earlier one.
 */
class ConcurrentTranslationTest {
    static final long RW = SecondStagePte.R | SecondStagePte.W;
    static final int RID_A = LegacyTables.RID;
    static final int RID_B = LegacyTables.RID + 8; // 00:05.0
    static final int DID = 7;
    static final int PAGES = 64;
    static final long IOVA = 0x40_0000L;
    static final long PA = 0x1_0000_0000L;

    /** Round {@code k}'s output address of page {@code i}. */
    static long pa(int round, int i) {
        return PA + ((long) round * PAGES + i) * 4096;
    }

    @Test
    void noTranslationReturnsAMappingThatACompletedInvalidationRemoved() throws Exception {
        ModelBench b = new ModelBench("qemu");
        LegacyTables t = new LegacyTables(b);
        t.context(RID_A, ContextEntry.TT_MULTI_LEVEL, 2, DID, false);
        t.context(RID_B, ContextEntry.TT_MULTI_LEVEL, 2, DID, false);
        for (int i = 0; i < PAGES; i++) {
            t.map(IOVA + i * 4096L, pa(0, i), 1, RW);
        }
        b.enable(t.root, false);
        long q = b.enableQueue(false);
        long status = b.frame();

        AtomicLong completed = new AtomicLong();
        AtomicReference<String> failure = new AtomicReference<>();
        AtomicLong translations = new AtomicLong();
        int rounds = 400;
        Thread[] translators = new Thread[2];
        for (int k = 0; k < translators.length; k++) {
            int rid = k == 0 ? RID_A : RID_B;
            translators[k] = new Thread(() -> {
                Translation out = new Translation();
                SplittableRandom r = new SplittableRandom(rid);
                long n = 0;
                while (completed.get() < rounds && failure.get() == null) {
                    long c = completed.get();
                    int i = r.nextInt(PAGES);
                    b.unit.translate(rid, DmaAttributes.NO_PASID, IOVA + i * 4096L + 8, Translation.ACCESS_READ, out);
                    n++;
                    if (!out.isOk()) {
                        failure.compareAndSet(null, "fault " + out.faultReason() + " on page " + i);
                        break;
                    }
                    long off = out.physicalAddress() - 8 - PA;
                    long round = off / (PAGES * 4096L);
                    if (off % (PAGES * 4096L) != i * 4096L || round < c) {
                        failure.compareAndSet(null, String.format("page %d translated to %#x (round %d) after round %d completed",
                                i, out.physicalAddress(), round, c));
                    }
                }
                translations.addAndGet(n);
            });
            translators[k].start();
        }
        SplittableRandom r = new SplittableRandom(1);
        for (int round = 1; round <= rounds && failure.get() == null; round++) {
            for (int i = 0; i < PAGES; i++) {
                b.mem.write64(LegacyTables.entryAddress(b, t.pgd, 4, IOVA + i * 4096L, 1), SecondStagePte.leaf(pa(round, i), 1, RW));
            }
            switch (round % 4) {
                case 0: { // one page-selective descriptor per page
                    long[] d = new long[PAGES * 2];
                    for (int i = 0; i < PAGES; i++) {
                        d[2 * i] = InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DEVICE_OR_PAGE, DID);
                        d[2 * i + 1] = InvalidationDescriptor.addressHi(IOVA + i * 4096L, false, 0);
                    }
                    b.submit(q, false, d);
                    break;
                }
                case 1: // one page-selective descriptor covering all 64 pages (AM 6)
                    b.submit(q, false, InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DEVICE_OR_PAGE, DID),
                            InvalidationDescriptor.addressHi(IOVA, false, 6));
                    break;
                case 2:
                    b.submit(q, false, InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DOMAIN, DID), 0);
                    break;
                default:
                    b.submit(q, false, InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_GLOBAL, 0), 0);
                    break;
            }
            b.submit(q, false, InvalidationDescriptor.waitLo(false, true, false, round), status);
            assertEquals(round, b.mem.read32(status), "the wait descriptor completed");
            completed.set(round);
            if (r.nextInt(4) == 0) {
                Thread.yield();
            }
        }
        completed.set(rounds);
        for (Thread th : translators) {
            th.join(60_000);
        }
        assertNull(failure.get());
        assertTrue(translations.get() > 0);
    }

    /**
     * Two devices' IOTLB misses must not serialise on one Java monitor (a shared IOTLB is hardware, a lock around
     * every fill is not: B13): a legacy-mode miss after a context-cache hit walks the tables and fills the IOTLB
     * while another thread holds the unit's lock, and the next translation of that page is a hit.
     */
    @Test
    void aLegacyMissWalksAndFillsWithoutTheUnitLock() throws Exception {
        ModelBench b = new ModelBench("qemu");
        LegacyTables t = new LegacyTables(b);
        t.context(RID_A, ContextEntry.TT_MULTI_LEVEL, 2, DID, false);
        for (int i = 0; i < PAGES; i++) {
            t.map(IOVA + i * 4096L, pa(0, i), 1, RW);
        }
        b.enable(t.root, false);
        Translation out = new Translation();
        b.unit.translate(RID_A, DmaAttributes.NO_PASID, IOVA, Translation.ACCESS_READ, out); // fills the context cache
        assertTrue(out.isOk());
        Field f = VtdUnit.class.getDeclaredField("lock");
        f.setAccessible(true);
        Object lock = f.get(b.unit);
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch translated = new CountDownLatch(1);
        Thread holder = new Thread(() -> {
            synchronized (lock) {
                held.countDown();
                try {
                    translated.await(10, TimeUnit.SECONDS); // released at once when the miss needs no lock
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        holder.start();
        held.await();
        long[] results = new long[2];
        Thread device = new Thread(() -> {
            Translation o = new Translation();
            b.unit.translate(RID_A, DmaAttributes.NO_PASID, IOVA + 5 * 4096L + 8, Translation.ACCESS_READ, o);
            results[0] = o.isOk() ? o.physicalAddress() : -1;
            b.unit.translate(RID_A, DmaAttributes.NO_PASID, IOVA + 5 * 4096L + 16, Translation.ACCESS_READ, o);
            results[1] = o.isOk() ? o.physicalAddress() : -1;
            translated.countDown();
        });
        device.start();
        boolean done = translated.await(5, TimeUnit.SECONDS);
        holder.join();
        device.join();
        assertTrue(done, "the miss waited for the unit's lock");
        assertEquals(pa(0, 5) + 8, results[0]);
        assertEquals(pa(0, 5) + 16, results[1]);
    }
}
