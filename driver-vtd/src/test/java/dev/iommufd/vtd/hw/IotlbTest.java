package dev.iommufd.vtd.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The IOTLB model (VT-d spec 6.2.2 tagging, 6.5.2.3 IOTLB invalidation, 6.5.2.4 PASID-based IOTLB invalidation):
 * which entries each invalidation removes, checked against a reference computed here from the entries that were
 * live before (every slot compared, whatever algorithm the cache uses: set probes or a scan).
 */
class IotlbTest {
    private static final long BASE = 0x7f00_0000_0000L;

    private static String key(long[] e) {
        return e[0] + "/" + e[1] + "/" + e[2] + "/" + e[3] + "/" + Long.toHexString(e[4]);
    }

    private static Set<String> keys(List<long[]> entries) {
        Set<String> s = new HashSet<>();
        for (long[] e : entries) {
            s.add(key(e));
        }
        return s;
    }

    /** The reference rule: the entry belongs to (did, pasid, kinds) and its page overlaps [lo, hi]. */
    private static boolean removedBy(long[] e, int did, int pasid, int kinds, long lo, long hi) {
        if (e[0] != did || (pasid >= 0 && e[1] != pasid) || (kinds & (1 << e[3])) == 0) {
            return false;
        }
        int shift = 12 + 9 * ((int) e[2] - 1);
        long start = e[4] << shift;
        long end = start + (1L << shift) - 1;
        return Long.compareUnsigned(start, hi) <= 0 && Long.compareUnsigned(end, lo) >= 0;
    }

    private static void randomFills(Iotlb t, SplittableRandom r, int n) {
        for (int i = 0; i < n; i++) {
            int did = 1 + r.nextInt(3);
            int pasid = r.nextInt(3) == 0 ? 5 : 0;
            int level = 1 + (r.nextInt(8) == 0 ? 1 + r.nextInt(2) : 0);
            int kind = r.nextInt(3);
            long iova = BASE + r.nextLong(1L << 31) & ~0xfffL;
            t.fill(did, pasid, iova, level, kind, (r.nextLong(1L << 40) << 12) | Iotlb.V_READ);
        }
    }

    @Test
    void pageSelectiveInvalidationRemovesExactlyTheOverlappingEntriesOfTheTag() {
        Iotlb t = new Iotlb(1024);
        SplittableRandom r = new SplittableRandom(42);
        int probed = 0;
        int scanned = 0;
        for (int round = 0; round < 600; round++) {
            randomFills(t, r, 200);
            List<long[]> before = t.liveEntryList();
            // pick an address near a live entry so that invalidations hit something
            long[] near = before.get(r.nextInt(before.size()));
            long addr = (near[4] << (12 + 9 * ((int) near[2] - 1))) + (r.nextLong(1L << 22) & ~0xfffL);
            int am = r.nextInt(14);
            int did = r.nextInt(4) == 0 ? 1 + r.nextInt(3) : (int) near[0];
            int pasid = r.nextBoolean() ? -1 : (int) near[1];
            int kinds = 1 + r.nextInt(7);
            long lo = addr & ~((1L << (12 + am)) - 1);
            long hi = lo + (1L << (12 + am)) - 1;
            Set<String> expected = new HashSet<>();
            int removed = 0;
            for (long[] e : before) {
                if (removedBy(e, did, pasid, kinds, lo, hi)) {
                    removed++;
                } else {
                    expected.add(key(e));
                }
            }
            t.invalidate(did, pasid, kinds, addr, am);
            assertEquals(expected, keys(t.liveEntryList()),
                    () -> String.format("did %d pasid %d kinds %d addr %#x am %d", did, pasid, kinds, addr, am));
            if (removed > 0) {
                if (am < 8) {
                    probed++;
                } else {
                    scanned++;
                }
            }
        }
        assertTrue(probed > 50 && scanned > 20, "both the probe and the scan removed entries: " + probed + "/" + scanned);
    }

    @Test
    void pasidSelectiveInvalidationRemovesEveryAddressOfThePasid() {
        Iotlb t = new Iotlb(1024);
        SplittableRandom r = new SplittableRandom(7);
        randomFills(t, r, 600);
        List<long[]> before = t.liveEntryList();
        Set<String> expected = new HashSet<>();
        for (long[] e : before) {
            if (!removedBy(e, 2, 5, 1 << Iotlb.KIND_FIRST_STAGE, 0, -1L)) {
                expected.add(key(e));
            }
        }
        assertNotEquals(before.size(), expected.size(), "the fill has entries of DID 2 PASID 5");
        t.invalidate(2, 5, 1 << Iotlb.KIND_FIRST_STAGE, 0, -1);
        assertEquals(expected, keys(t.liveEntryList()));
    }

    @Test
    void lookupReturnsTheValueWithItsLevelAndMatchesDidPasidAndLevelPage() {
        Iotlb t = new Iotlb(1024);
        long iova = BASE + (3L << 21);
        long value = 0x1234_5600_0000L | Iotlb.V_READ | Iotlb.V_WRITE;
        t.fill(9, 4, iova, 2, Iotlb.KIND_FIRST_STAGE, value);
        long hit = t.lookup(9, 4, iova + 0x1f_f123);
        assertEquals(value, hit & ~(3L << Iotlb.LEVEL_SHIFT));
        assertEquals(2, Iotlb.levelOf(hit));
        assertEquals(0, t.lookup(9, 3, iova), "other PASID");
        assertEquals(0, t.lookup(8, 4, iova), "other DID");
        assertEquals(0, t.lookup(9, 4, iova + (1L << 21)), "next 2 MiB page");
    }

    @Test
    void domainWideAndGlobalInvalidationAreCompleteAndTheDomainRefills() {
        Iotlb t = new Iotlb(1024);
        int n = 60;
        for (int i = 0; i < n; i++) {
            t.fill(1, 0, BASE + i * 4096L, 1, Iotlb.KIND_SECOND_STAGE, (0x100L + i) << 12 | Iotlb.V_READ);
            t.fill(2, 0, BASE + i * 4096L, 1, Iotlb.KIND_SECOND_STAGE, (0x200L + i) << 12 | Iotlb.V_READ);
        }
        assertEquals(2 * n, t.liveEntries(), "no eviction at this fill");
        t.invalidateDomain(1);
        assertEquals(n, t.liveEntries());
        for (int i = 0; i < n; i++) {
            assertEquals(0, t.lookup(1, 0, BASE + i * 4096L));
            assertEquals((0x200L + i) << 12 | Iotlb.V_READ, t.lookup(2, 0, BASE + i * 4096L) & ~0xf00L);
        }
        for (int i = 0; i < n; i++) {
            t.fill(1, 0, BASE + i * 4096L, 1, Iotlb.KIND_SECOND_STAGE, (0x300L + i) << 12 | Iotlb.V_READ);
        }
        assertEquals(2 * n, t.liveEntries());
        for (int i = 0; i < n; i++) {
            assertEquals((0x300L + i) << 12 | Iotlb.V_READ, t.lookup(1, 0, BASE + i * 4096L) & ~0xf00L);
        }
        t.invalidateAll();
        assertEquals(0, t.liveEntries());
        t.fill(2, 0, BASE, 1, Iotlb.KIND_SECOND_STAGE, 0x5000L | Iotlb.V_READ);
        assertEquals(0x5000L | Iotlb.V_READ, t.lookup(2, 0, BASE) & ~0xf00L);
    }

    @Test
    void nestedInvalidationRemovesOnlyTheNestedEntriesOfTheDomain() {
        Iotlb t = new Iotlb(1024);
        t.fill(3, 1, BASE, 1, Iotlb.KIND_NESTED, 0x1000L | Iotlb.V_READ);
        t.fill(3, 0, BASE + 4096, 1, Iotlb.KIND_SECOND_STAGE, 0x2000L | Iotlb.V_READ);
        t.fill(4, 1, BASE, 1, Iotlb.KIND_NESTED, 0x3000L | Iotlb.V_READ);
        t.invalidateNested(3);
        assertFalse(t.holds(3, 1, BASE, 1, Iotlb.KIND_NESTED));
        assertEquals(0, t.lookup(3, 1, BASE));
        assertTrue(t.holds(3, 0, BASE + 4096, 1, Iotlb.KIND_SECOND_STAGE));
        assertTrue(t.holds(4, 1, BASE, 1, Iotlb.KIND_NESTED));
        t.fill(3, 1, BASE, 1, Iotlb.KIND_NESTED, 0x4000L | Iotlb.V_READ);
        assertEquals(0x4000L | Iotlb.V_READ, t.lookup(3, 1, BASE) & ~0xf00L);
    }

    @Test
    void epochCounterRestartKillsEveryEntryAndKeepsLaterFillsCorrect() {
        Iotlb t = new Iotlb(1024, Integer.MAX_VALUE - 2);
        t.fill(1, 0, BASE, 1, Iotlb.KIND_SECOND_STAGE, 0x1000L | Iotlb.V_READ);
        t.invalidateDomain(2); // epoch MAX - 1
        t.fill(1, 0, BASE + 4096, 1, Iotlb.KIND_SECOND_STAGE, 0x2000L | Iotlb.V_READ);
        assertEquals(2, t.liveEntries());
        t.invalidateDomain(1); // epoch MAX
        assertEquals(0, t.liveEntries());
        t.fill(1, 0, BASE + 8192, 1, Iotlb.KIND_SECOND_STAGE, 0x3000L | Iotlb.V_READ);
        t.fill(2, 0, BASE + 8192, 1, Iotlb.KIND_SECOND_STAGE, 0x4000L | Iotlb.V_READ);
        assertEquals(2, t.liveEntries());
        t.invalidateDomain(2); // restart: every slot killed (more than asked, which the spec allows), epoch 1
        assertEquals(0, t.liveEntries());
        t.fill(1, 0, BASE, 1, Iotlb.KIND_SECOND_STAGE, 0x5000L | Iotlb.V_READ);
        t.fill(2, 0, BASE, 1, Iotlb.KIND_SECOND_STAGE, 0x6000L | Iotlb.V_READ);
        t.fill(2, 7, BASE, 1, Iotlb.KIND_NESTED, 0x7000L | Iotlb.V_READ);
        t.invalidateDomain(2);
        t.invalidateNested(1);
        assertEquals(0x5000L | Iotlb.V_READ, t.lookup(1, 0, BASE) & ~0xf00L);
        assertEquals(0, t.lookup(2, 0, BASE));
        assertEquals(0, t.lookup(2, 7, BASE));
        assertEquals(1, t.liveEntries());
    }

    @Test
    void anEntryHitBetweenFillsSurvivesAStreamOfOneTimeMisses() {
        Iotlb t = new Iotlb(1024);
        long hot = BASE + 0x55_5000L;
        t.fill(1, 0, hot, 1, Iotlb.KIND_SECOND_STAGE, 0x9000L | Iotlb.V_READ);
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 20_000; i++) {
            assertNotEquals(0, t.lookup(1, 0, hot), "evicted after " + i + " fills");
            t.fill(1, 0, BASE + (r.nextLong(1L << 30) & ~0xfffL), 1, Iotlb.KIND_SECOND_STAGE, Iotlb.V_READ);
        }
        // without hits it is replaced like any other entry
        for (int i = 0; i < 20_000 && t.holds(1, 0, hot, 1, Iotlb.KIND_SECOND_STAGE); i++) {
            t.fill(1, 0, BASE + (r.nextLong(1L << 30) & ~0xfffL), 1, Iotlb.KIND_SECOND_STAGE, Iotlb.V_READ);
        }
        assertFalse(t.holds(1, 0, hot, 1, Iotlb.KIND_SECOND_STAGE));
    }

    /**
     * The rule a lock-free walk relies on (spec 6.5: no translation read before an invalidation may be cached
     * after it): a fill whose sample predates any invalidation of the cache, of any granularity, is dropped; a
     * fill sampled after it is kept.
     */
    @Test
    void aFillSampledBeforeAnyInvalidationIsDropped() {
        long iova = BASE + 0x1234_5000L;
        long val = 0x8000L | Iotlb.V_READ;
        for (int c = 0; c < 6; c++) {
            Iotlb t = new Iotlb(1024);
            t.fill(9, 0, BASE, 1, Iotlb.KIND_NESTED, Iotlb.V_READ); // the domain has nested entries
            long sample = t.sample();
            switch (c) {
                case 0: t.invalidate(9, -1, 1 << Iotlb.KIND_SECOND_STAGE, iova, 0); break; // the page itself
                case 1: t.invalidate(9, -1, 1 << Iotlb.KIND_SECOND_STAGE, BASE + (1L << 32), 0); break; // another page
                case 2: t.invalidate(3, -1, 1 << Iotlb.KIND_SECOND_STAGE, iova, 0); break; // another domain, no entries
                case 3: t.invalidateDomain(9); break;
                case 4: t.invalidateAll(); break;
                default: t.invalidateNested(9); break;
            }
            assertFalse(t.fill(9, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, val, sample), "case " + c);
            assertFalse(t.holds(9, 0, iova, 1, Iotlb.KIND_SECOND_STAGE), "case " + c);
            assertEquals(0, t.lookup(9, 0, iova), "case " + c);
            assertTrue(t.fill(9, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, val, t.sample()), "case " + c);
            assertEquals(val, t.lookup(9, 0, iova) & ~0xf00L, "case " + c);
        }
    }

    /** Caches built on one {@link InvalidationCount} drop each other's stale fills (the unit's context cache, IOTLB, PWC). */
    @Test
    void anInvalidationOfACacheSharingTheCountDropsTheFill() {
        InvalidationCount count = new InvalidationCount();
        Iotlb iotlb = new Iotlb(1024, count);
        Iotlb pwc = new Iotlb(1024, count);
        ContextCache cc = new ContextCache(256, count);
        long sample = iotlb.sample();
        pwc.invalidateAll();
        assertFalse(iotlb.fill(1, 0, BASE, 1, Iotlb.KIND_SECOND_STAGE, Iotlb.V_READ, sample));
        sample = iotlb.sample();
        cc.invalidateDevice(0x28, 0);
        assertFalse(iotlb.fill(1, 0, BASE, 1, Iotlb.KIND_SECOND_STAGE, Iotlb.V_READ, sample));
        assertFalse(pwc.fill(1, 0, BASE, 2, Iotlb.KIND_SECOND_STAGE, Iotlb.V_READ, sample));
        assertEquals(0, iotlb.liveEntries() + pwc.liveEntries());
    }

    /**
     * Lock-free fills racing invalidations: fill threads cache page translations whose value carries the
     * generation they read after sampling the count; the invalidating thread bumps the generation, then invalidates
     * (page-selective over every page with one descriptor or one per page, or domain-selective). After each invalidation returned, no lookup may return
     * an older generation: such an entry was read before the invalidation and cached after it.
     */
    @Test
    void noFillReadBeforeAnInvalidationSurvivesIt() throws Exception {
        Iotlb t = new Iotlb(64);
        int pages = 32;
        AtomicLong generation = new AtomicLong(1);
        AtomicReference<String> failure = new AtomicReference<>();
        AtomicLong stop = new AtomicLong();
        Thread[] fillers = startFillers(t, pages, generation, stop, 0, true);
        try {
            for (int round = 0; round < 20_000 && failure.get() == null; round++) {
                long g = generation.incrementAndGet();
                if (round % 3 == 0) {
                    t.invalidate(5, -1, 1 << Iotlb.KIND_SECOND_STAGE, BASE, 5); // all 32 pages
                } else if (round % 3 == 1) {
                    for (int i = 0; i < pages; i++) { // one page at a time (AM 0)
                        t.invalidate(5, -1, 1 << Iotlb.KIND_SECOND_STAGE, BASE + (long) i * 4096, 0);
                    }
                } else {
                    t.invalidateDomain(5);
                }
                for (int i = 0; i < pages; i++) {
                    long v = t.lookup(5, 0, BASE + (long) i * 4096);
                    if (v != 0 && (v >>> 12) < g) {
                        failure.compareAndSet(null, "page " + i + " has generation " + (v >>> 12) + " after the invalidation of "
                                + "generation " + g + " (round " + round + ")");
                    }
                }
            }
        } finally {
            stopFillers(stop, fillers);
        }
        assertNull(failure.get());
    }

    /**
     * The occupancy summary (a bit per set that may hold a live entry, which invalidations read to skip empty sets
     * and clear when they empty a set) under lock-free fills: the invalidating thread removes the two halves of
     * the pages in turn (page-selective, AM 3, or one page at a time), while fill threads keep caching pages of
     * both halves in the same sets. An invalidation of one half that clears the bit of a set a fill of the other
     * half took meanwhile (a current entry, read after that invalidation began) would hide that entry from the
     * next invalidation of its half: after each invalidation returned, no page of its half may hold a generation
     * older than the one it invalidated.
     */
    @Test
    void theOccupancySummaryNeverHidesAnEntryFromALaterInvalidation() throws Exception {
        Iotlb t = new Iotlb(64); // 16 sets: the 16 pages share sets
        int pages = 16;
        AtomicLong generation = new AtomicLong(1);
        AtomicReference<String> failure = new AtomicReference<>();
        AtomicLong stop = new AtomicLong();
        Thread[] fillers = startFillers(t, pages, generation, stop, 100, false);
        try {
            for (int round = 0; round < 50_000 && failure.get() == null; round++) {
                long g = generation.incrementAndGet();
                int half = round & 1;
                long lo = BASE + (long) half * 8 * 4096;
                if ((round & 2) == 0) {
                    t.invalidate(5, -1, 1 << Iotlb.KIND_SECOND_STAGE, lo, 3); // the 8 pages of the half
                } else {
                    for (int i = 0; i < 8; i++) {
                        t.invalidate(5, -1, 1 << Iotlb.KIND_SECOND_STAGE, lo + (long) i * 4096, 0);
                    }
                }
                for (int i = 0; i < 8; i++) {
                    long v = t.lookup(5, 0, lo + (long) i * 4096);
                    if (v != 0 && (v >>> 12) < g) {
                        failure.compareAndSet(null, "page " + (half * 8 + i) + " has generation " + (v >>> 12)
                                + " after the invalidation of generation " + g + " (round " + round + ")");
                    }
                }
            }
        } finally {
            stopFillers(stop, fillers);
        }
        assertNull(failure.get());
    }

    /**
     * The race the occupancy summary's clear must survive, played step by step: an invalidation read a set's
     * version, found no live way and is about to clear the set's bit, when a fill of another page (current: it
     * compares the count after the invalidation advanced it) takes the set, reads the bit still set (so does not
     * set it), and writes its entry after the clear. The clear must notice the fill (the set's version moved) and
     * keep the bit, or the next invalidation of that page skips the set and the entry survives it.
     */
    @Test
    void aClearOfTheOccupancyBitRacingAFillOfTheSetKeepsTheBit() {
        Iotlb t = new Iotlb(1024);
        long a = BASE;
        int b = t.setOf(7, a);
        long other = a + 4096;
        while (t.setOf(7, other) != b) {
            other += 4096; // another page of the same set
        }
        t.fill(7, 0, a, 1, Iotlb.KIND_SECOND_STAGE, 0x1000L | Iotlb.V_READ);
        assertTrue(t.occupiedForTest(b));
        long v = t.versionOf(b); // the invalidation of page a reads the version ...
        long handle = t.holdSetForFill(7, other); // ... a fill of the other page takes the set, sees the bit set ...
        t.clearOccupied(b, v); // ... the invalidation found no live way (page a killed) and clears the bit ...
        t.finishHeldFill(handle, 7, other, 0x2000L | Iotlb.V_READ); // ... and the fill writes its entry
        assertEquals(0x2000L, t.lookup(7, 0, other) & ~0xfffL);
        assertTrue(t.occupiedForTest(b), "the set holds a live entry but its occupancy bit is clear");
        t.invalidate(7, -1, 1 << Iotlb.KIND_SECOND_STAGE, other, 0);
        assertEquals(0, t.lookup(7, 0, other), "the entry survived its page-selective invalidation");
        t.fill(7, 0, other, 1, Iotlb.KIND_SECOND_STAGE, 0x3000L | Iotlb.V_READ);
        t.invalidate(7, -1, 1 << Iotlb.KIND_SECOND_STAGE, other & ~0xffffL, 4);
        assertEquals(0, t.lookup(7, 0, other), "the entry survived a 16-page invalidation");
        assertFalse(t.occupiedForTest(b), "an emptied set keeps its occupancy bit");
    }

    /**
     * An invalidation that finds a fill holding the set waits for it and then removes its entry: the fill compared
     * the count before the invalidation advanced it, so its entry is stale once the invalidation returns.
     */
    @Test
    void anInvalidationWaitsForAFillHoldingTheSetAndRemovesItsEntry() throws Exception {
        for (int kind = 0; kind < 2; kind++) {
            Iotlb t = new Iotlb(1024);
            long iova = BASE + 0x77_7000L;
            long handle = t.holdSetForFill(4, iova);
            java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
            int k = kind;
            Thread inv = new Thread(() -> {
                if (k == 0) {
                    t.invalidate(4, -1, 1 << Iotlb.KIND_SECOND_STAGE, iova, 0);
                } else {
                    t.invalidate(4, -1, 1 << Iotlb.KIND_SECOND_STAGE, iova & ~0xffffL, 4);
                }
                done.countDown();
            });
            inv.start();
            boolean early = done.await(200, java.util.concurrent.TimeUnit.MILLISECONDS);
            t.finishHeldFill(handle, 4, iova, 0x5000L | Iotlb.V_READ);
            inv.join(10_000);
            assertFalse(early, "the invalidation returned while a fill held the set");
            assertEquals(0, t.lookup(4, 0, iova), "the held fill's entry survived the invalidation");
        }
    }

    /**
     * A fill taken before the walk's last read ({@link Iotlb#reserve}, then the leaf read, then
     * {@link Iotlb#commit}): an invalidation that runs between the two must remove the entry. Page-selective
     * invalidations (one page, AM 4) wait for the held set and then find the entry; domain-selective and global
     * ones, O(1) by epochs, return at once and kill it by the epoch the reservation recorded before its count
     * comparison (an entry stamped at commit time would survive them).
     */
    @Test
    void anInvalidationBetweenAReservationAndItsCommitRemovesTheEntry() throws Exception {
        for (int kind = 0; kind < 4; kind++) {
            Iotlb t = new Iotlb(1024);
            long iova = BASE + 0x55_5000L;
            int held = t.reserve(4, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, t.sample());
            assertTrue(held >= 0, "no invalidation ran since the sample");
            java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
            int k = kind;
            Thread inv = new Thread(() -> {
                switch (k) {
                    case 0: t.invalidate(4, -1, 1 << Iotlb.KIND_SECOND_STAGE, iova, 0); break;
                    case 1: t.invalidate(4, -1, 1 << Iotlb.KIND_SECOND_STAGE, iova & ~0xffffL, 4); break;
                    case 2: t.invalidateDomain(4); break;
                    default: t.invalidateAll(); break;
                }
                done.countDown();
            });
            inv.start();
            boolean early = done.await(kind < 2 ? 200 : 10_000, java.util.concurrent.TimeUnit.MILLISECONDS);
            // the walk's leaf read happens here, after the count comparison: it may see the new or the old PTE
            t.commit(held, 4, 0, 1, Iotlb.KIND_SECOND_STAGE, 0x6000L | Iotlb.V_READ);
            inv.join(10_000);
            if (kind < 2) {
                assertFalse(early, "case " + kind + ": the page-selective invalidation returned while the set was held");
            }
            assertEquals(0, t.lookup(4, 0, iova), "case " + kind + ": the entry survived the invalidation");
            assertTrue(t.fill(4, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, 0x7000L | Iotlb.V_READ, t.sample()),
                    "case " + kind + ": the set was released");
            assertEquals(0x7000L | Iotlb.V_READ, t.lookup(4, 0, iova) & ~0x300L, "case " + kind);
        }
    }

    /**
     * A reservation whose walk faults is abandoned: the set is free again (a fill and an invalidation of it
     * complete), no entry appears, and the way it had chosen lost its old entry (a cache may drop an entry).
     */
    @Test
    void anAbandonedReservationReleasesTheSetWithoutAnEntry() {
        Iotlb t = new Iotlb(1024);
        long iova = BASE + 0x12_3000L;
        t.fill(3, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, 0x8000L | Iotlb.V_READ);
        assertNotEquals(0, t.lookup(3, 0, iova));
        int held = t.reserve(3, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, t.sample());
        assertTrue(held >= 0);
        assertEquals(0, t.lookup(3, 0, iova), "a held set misses");
        t.abandon(held);
        assertEquals(0, t.lookup(3, 0, iova), "the replaced way stays empty");
        assertEquals(0, t.liveEntries());
        t.invalidate(3, -1, 1 << Iotlb.KIND_SECOND_STAGE, iova, 0); // returns: the set is not held
        assertTrue(t.fill(3, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, 0x9000L | Iotlb.V_READ, t.sample()));
        assertEquals(0x9000L | Iotlb.V_READ, t.lookup(3, 0, iova) & ~0x300L);
    }

    /** A reservation made after an invalidation moved the count past the sample is refused, holding nothing. */
    @Test
    void aReservationAfterAnInvalidationIsRefused() {
        Iotlb t = new Iotlb(1024);
        long iova = BASE + 0x40_0000L;
        long sample = t.sample();
        t.invalidate(2, -1, 1 << Iotlb.KIND_SECOND_STAGE, BASE, 30);
        assertEquals(-1, t.reserve(2, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, sample));
        assertTrue(t.fill(2, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, 0xa000L | Iotlb.V_READ, t.sample()), "the set is free");
    }

    /**
     * A lookup skips the floors for an entry filled at the current epoch or later (no epoch-based invalidation
     * since): an entry filled before a domain-selective, global or nested invalidation must still be dead, though
     * the domain's level hint is set again by a later fill, and entries filled after it live.
     */
    @Test
    void entriesFilledBeforeAnEpochInvalidationAreDeadAndLaterOnesLive() {
        Iotlb t = new Iotlb(1024);
        long a = BASE + 0x1000;
        long b = BASE + 0x2000;
        long c = BASE + 0x3000;
        t.fill(5, 0, a, 1, Iotlb.KIND_SECOND_STAGE, 0xa000L | Iotlb.V_READ);
        t.fill(6, 0, a, 1, Iotlb.KIND_SECOND_STAGE, 0xa000L | Iotlb.V_READ);
        t.invalidateDomain(5);
        t.fill(5, 0, b, 1, Iotlb.KIND_SECOND_STAGE, 0xb000L | Iotlb.V_READ); // the level hint is set again
        assertEquals(0, t.lookup(5, 0, a), "filled before the domain-selective invalidation");
        assertNotEquals(0, t.lookup(5, 0, b), "filled after it");
        assertNotEquals(0, t.lookup(6, 0, a), "another domain, filled before: its floor did not move");
        t.invalidateAll();
        t.fill(5, 0, c, 1, Iotlb.KIND_SECOND_STAGE, 0xc000L | Iotlb.V_READ);
        assertEquals(0, t.lookup(5, 0, b), "filled before the global invalidation");
        assertEquals(0, t.lookup(6, 0, a), "filled before the global invalidation");
        assertNotEquals(0, t.lookup(5, 0, c));
        t.fill(7, 3, a, 1, Iotlb.KIND_NESTED, 0xd000L | Iotlb.V_READ);
        t.fill(7, 3, b, 1, Iotlb.KIND_FIRST_STAGE, 0xe000L | Iotlb.V_READ);
        t.invalidateNested(7);
        t.fill(7, 3, c, 1, Iotlb.KIND_NESTED, 0xf000L | Iotlb.V_READ);
        assertEquals(0, t.lookup(7, 3, a), "a nested entry filled before the nested invalidation");
        assertNotEquals(0, t.lookup(7, 3, b), "a first-stage entry of the domain is not nested");
        assertNotEquals(0, t.lookup(7, 3, c), "a nested entry filled after it");
    }

    /**
     * Two threads that keep filling second-stage entries of domain 5 for random pages among the first {@code pages}
     * from BASE, each with the generation current at its sample (the "walk": what it reads is current as of the
     * sample), until {@code stop} is set. {@code slowWalks}: one fill in 8 yields between the sample and the fill (an
     * invalidation may run meanwhile), and each fill is followed by a lookup (reference bits set while other fills
     * clear them).
     */
    private static Thread[] startFillers(Iotlb t, int pages, AtomicLong generation, AtomicLong stop, int firstSeed,
            boolean slowWalks) {
        Thread[] fillers = new Thread[2];
        for (int k = 0; k < fillers.length; k++) {
            int seed = firstSeed + k;
            fillers[k] = new Thread(() -> {
                SplittableRandom r = new SplittableRandom(seed);
                while (stop.get() == 0) {
                    long sample = t.sample();
                    long g = generation.get();
                    if (slowWalks && r.nextInt(8) == 0) {
                        Thread.yield();
                    }
                    long iova = BASE + (long) r.nextInt(pages) * 4096;
                    t.fill(5, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, (g << 12) | Iotlb.V_READ, sample);
                    if (slowWalks) {
                        t.lookup(5, 0, iova);
                    }
                }
            });
            fillers[k].start();
        }
        return fillers;
    }

    private static void stopFillers(AtomicLong stop, Thread[] fillers) throws InterruptedException {
        stop.set(1);
        for (Thread th : fillers) {
            th.join(60_000);
        }
    }

    /**
     * The run form of the lookup (translateWindow's pass 1, tag, level hint and epoch read once) answers as the
     * one-off lookup does in the cases its inline path hands on: a second way with the same page (another PASID:
     * PASIDs share a set), an entry older than a domain-selective invalidation, a 2 MiB entry, and a miss.
     */
    @Test
    void theRunLookupAnswersAsTheLookupDoes() {
        Iotlb t = new Iotlb(64);
        long iova = BASE + 0x5000;
        long fresh = (0x1234L << 12) | Iotlb.V_READ;
        long other = (0x4321L << 12) | Iotlb.V_READ | Iotlb.V_WRITE;
        t.fill(3, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, other); // PASID 0: way 0 of the set
        t.fill(3, 7, iova, 1, Iotlb.KIND_FIRST_STAGE, fresh); // PASID 7, same page: way 1
        t.fill(4, 0, BASE + (3L << 21), 2, Iotlb.KIND_SECOND_STAGE, (0x200L << 12) | Iotlb.V_READ);
        t.fill(5, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, fresh);
        t.invalidateDomain(5);
        t.fill(6, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, fresh);
        t.invalidateDomain(1); // the epoch moves on: DID 6's entry is now older than the epoch, and still live

        long[][] asks = {{3, 7, iova}, {3, 0, iova}, {4, 0, BASE + (3L << 21) + 0x1234}, {5, 0, iova}, {6, 0, iova},
            {3, 9, iova}, {3, 0, iova + 0x1000}};
        long[] expected = {fresh | 1L << Iotlb.LEVEL_SHIFT, other | 1L << Iotlb.LEVEL_SHIFT,
            (0x200L << 12) | Iotlb.V_READ | 2L << Iotlb.LEVEL_SHIFT, 0, fresh | 1L << Iotlb.LEVEL_SHIFT, 0, 0};
        for (int i = 0; i < asks.length; i++) {
            int did = (int) asks[i][0];
            int pasid = (int) asks[i][1];
            long run = t.lookup(did, Iotlb.wantTag(did, pasid), asks[i][2], t.levelsHint(did), t.epochNow());
            assertEquals(expected[i], run, "run lookup " + i);
            assertEquals(expected[i], t.lookup(did, pasid, asks[i][2]), "lookup " + i);
        }
    }
}
