package dev.iommufd.smmuv3.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The TLB's invalidations against a full-scan reference (IHI0070 4.4: TLBI_NH_VA/VAA/S2_IPA remove every entry of
 * the VMID (and ASID) whose page overlaps the range; TLBI_NH_ASID/NH_ALL/NSNH_ALL by tag). Random fills of every
 * kind and of every leaf size the three granules produce (page, block, and their contiguous spans); the set of live
 * entries after an invalidation must equal the set before minus exactly what the reference predicate removes.
 */
class Smmuv3TlbTest {
    /** Leaf sizes: 4K granule 4K/64K(contig)/2M/32M(contig)/1G; 16K granule 16K/2M(contig)/32M/1G(contig)/64G; 64K granule 64K/2M(contig)/512M/16G(contig)/4T. */
    private static final int[] SHIFTS = {12, 16, 21, 25, 30, 14, 36, 29, 34, 42};
    private static final int[] KINDS = {Smmuv3Tlb.KIND_S1, Smmuv3Tlb.KIND_S1_GLOBAL, Smmuv3Tlb.KIND_S2,
        Smmuv3Tlb.KIND_NESTED};

    private record Entry(long tag, long ids) {
        int kind() {
            return (int) tag & Smmuv3Tlb.TAG_KIND_MASK;
        }

        int shift() {
            return (int) (tag >>> Smmuv3Tlb.TAG_SHIFT_SHIFT) & Smmuv3Tlb.DATA_SHIFT_MASK;
        }

        long start() {
            return tag & -(1L << shift());
        }

        int vmid() {
            return (int) (ids >>> 16);
        }

        int asid() {
            return (int) ids & 0xffff;
        }

        boolean overlaps(long start, long length) {
            long last = start + length - 1;
            long eLast = start() + (1L << shift()) - 1;
            return Long.compareUnsigned(start(), last) <= 0 && Long.compareUnsigned(start, eLast) <= 0;
        }
    }

    private static Set<Entry> live(Smmuv3Tlb tlb) {
        long[] out = new long[2 * tlb.capacity()];
        int n = tlb.liveTags(out);
        Set<Entry> s = new HashSet<>();
        for (int i = 0; i < n; i++) {
            s.add(new Entry(out[2 * i], out[2 * i + 1]));
        }
        return s;
    }

    /** Fills a small TLB with entries clustered around {@code base} so that ranges overlap several of them. */
    private static void fillRandom(Smmuv3Tlb tlb, SplittableRandom r, long base, int count) {
        for (int i = 0; i < count; i++) {
            int shift = SHIFTS[r.nextInt(SHIFTS.length)];
            long address = base + (r.nextLong(1L << 36) & -4096L) * (r.nextInt(4) == 0 ? 64 : 1);
            if (r.nextInt(8) == 0) {
                address = base + r.nextLong(64) * 4096; // many small pages side by side
            }
            int kind = KINDS[r.nextInt(KINDS.length)];
            int vmid = r.nextInt(3);
            int asid = kind == Smmuv3Tlb.KIND_S2 ? 0 : 1 + r.nextInt(3);
            int perm = 1 + r.nextInt(63);
            tlb.fill(kind, vmid, asid, address, r.nextLong(1L << 48), shift, perm, tlb.invalidationCount());
        }
    }

    @Test
    void addressInvalidationsRemoveExactlyWhatAFullScanRemoves() {
        SplittableRandom r = new SplittableRandom(42);
        for (int round = 0; round < 400; round++) {
            Smmuv3Tlb tlb = new Smmuv3Tlb(r.nextBoolean() ? 64 : 4096);
            long base = r.nextBoolean() ? 1L << 40 : 0xffff_0000_0000_0000L + (1L << 40); // TTB0 or TTB1 halves
            fillRandom(tlb, r, base, 20 + r.nextInt(200));
            Set<Entry> before = live(tlb);
            int op = r.nextInt(3);
            int vmid = r.nextInt(3);
            int asid = 1 + r.nextInt(3);
            long start;
            if (!before.isEmpty() && r.nextInt(3) != 0) {
                Entry e = before.stream().skip(r.nextInt(before.size())).findFirst().get();
                start = e.start() + (r.nextLong(1L << e.shift()) & -4096L); // inside a live entry
                vmid = e.vmid();
                asid = e.asid() == 0 ? asid : e.asid();
            } else {
                start = base + (r.nextLong(1L << 36) & -4096L);
            }
            long length = switch (r.nextInt(4)) {
                case 0 -> 4096;
                case 1 -> (1 + r.nextInt(32)) * 4096L;
                case 2 -> 1L << (21 + r.nextInt(10));
                default -> 1L << (32 + r.nextInt(10)); // far beyond the probe limit: full scan
            };
            boolean anyAsid = op == 1;
            if (op == 2) {
                tlb.invalidateIpa(vmid, start, length);
            } else {
                tlb.invalidateVa(vmid, asid, anyAsid, start, length);
            }
            Set<Entry> expected = new HashSet<>();
            for (Entry e : before) {
                boolean removed;
                if (op == 2) {
                    removed = e.kind() == Smmuv3Tlb.KIND_S2 && e.vmid() == vmid && e.overlaps(start, length);
                } else {
                    removed = e.kind() != Smmuv3Tlb.KIND_S2 && e.vmid() == vmid
                            && (anyAsid || e.kind() == Smmuv3Tlb.KIND_S1_GLOBAL || e.asid() == asid)
                            && e.overlaps(start, length);
                }
                if (!removed) {
                    expected.add(e);
                }
            }
            assertEquals(expected, live(tlb), "round " + round + " op " + op + " at " + Long.toHexString(start)
                    + "+" + Long.toHexString(length));
        }
    }

    @Test
    void tagInvalidationsRemoveExactlyTheirTags() {
        SplittableRandom r = new SplittableRandom(7);
        for (int round = 0; round < 200; round++) {
            Smmuv3Tlb tlb = new Smmuv3Tlb(4096);
            fillRandom(tlb, r, 1L << 40, 300);
            Set<Entry> before = live(tlb);
            int op = r.nextInt(3);
            int id = r.nextInt(4);
            switch (op) {
                case 0 -> tlb.invalidateAsid(id);
                case 1 -> tlb.invalidateVmid(id);
                default -> tlb.invalidateAll();
            }
            Set<Entry> expected = new HashSet<>();
            for (Entry e : before) {
                // TLBI_NH_ASID drops the ASID's entries of every VMID, global ones included (over-invalidation the
                // architecture permits); stage-2-only entries have no ASID
                boolean removed = op == 2 || op == 1 && e.vmid() == id
                        || op == 0 && e.kind() != Smmuv3Tlb.KIND_S2 && e.asid() == id;
                if (!removed) {
                    expected.add(e);
                }
            }
            Set<Entry> after = live(tlb);
            assertEquals(expected, after, "round " + round + " op " + op + " id " + id);
            // what was removed is gone from lookups too, and what remains still hits
            for (Entry e : before) {
                boolean hit = tlb.lookup(e.kind() == Smmuv3Tlb.KIND_S1_GLOBAL ? Smmuv3Tlb.KIND_S1 : e.kind(), e.vmid(),
                        e.kind() == Smmuv3Tlb.KIND_S1_GLOBAL ? 99 : e.asid(), e.start(), 0x3f) != Smmuv3Tlb.MISS;
                if (expected.contains(e)) {
                    assertTrue(hit, "surviving entry must still hit: " + e);
                }
            }
        }
    }

    @Test
    void lookupReturnsOutputPermissionsAndPageSize() {
        Smmuv3Tlb tlb = new Smmuv3Tlb(64);
        tlb.fill(Smmuv3Tlb.KIND_S1, 0, 5, 0x1234_5678L, 0x8_7654_3210L, 21, Smmuv3Tlb.PERM_READ_PRIV, tlb.invalidationCount());
        long d = tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, 0x1234_5678L, Smmuv3Tlb.PERM_READ_PRIV);
        assertEquals(0x8_7640_0000L, Smmuv3Tlb.output(d));
        assertEquals(21, Smmuv3Tlb.pageShift(d));
        assertEquals(Smmuv3Tlb.PERM_READ_PRIV, Smmuv3Tlb.permissions(d));
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, 0x1234_5678L, Smmuv3Tlb.PERM_WRITE_PRIV),
                "without the needed permission the entry is not used");
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 6, 0x1234_5678L, Smmuv3Tlb.PERM_READ_PRIV),
                "other ASID");
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_NESTED, 0, 5, 0x1234_5678L, Smmuv3Tlb.PERM_READ_PRIV),
                "other kind");
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, 0x1240_0000L, Smmuv3Tlb.PERM_READ_PRIV),
                "next block");
    }

    @Test
    void aFillSampledBeforeAnInvalidationIsDropped() {
        Smmuv3Tlb tlb = new Smmuv3Tlb(64);
        int sample = tlb.invalidationCount();
        tlb.invalidateVa(0, 9, false, 0x7000_0000L, 4096); // an unrelated TLBI while a walk is in flight
        assertTrue(!tlb.fill(Smmuv3Tlb.KIND_S1, 0, 5, 0x1000L, 0x2000L, 12, Smmuv3Tlb.PERM_READ_PRIV, sample));
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, 0x1000L, Smmuv3Tlb.PERM_READ_PRIV));
        sample = tlb.invalidationCount();
        tlb.invalidateAsid(9);
        assertTrue(!tlb.fill(Smmuv3Tlb.KIND_S1, 0, 5, 0x1000L, 0x2000L, 12, Smmuv3Tlb.PERM_READ_PRIV, sample));
        assertTrue(tlb.fill(Smmuv3Tlb.KIND_S1, 0, 5, 0x1000L, 0x2000L, 12, Smmuv3Tlb.PERM_READ_PRIV,
                tlb.invalidationCount()));
        assertEquals(0x2000L, Smmuv3Tlb.output(tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, 0x1000L, Smmuv3Tlb.PERM_READ_PRIV)));
    }

    /**
     * IHI0070 4.4.1.1: with a level hint (TG, TTL) only entries from the hinted level are required to go; the unit
     * passes the largest entry that level makes ({@code maxShift}) and the TLB removes exactly the overlapping entries
     * of the VMID (and ASID) of at most that size, whether it probes sets or scans.
     */
    @Test
    void aLevelHintRemovesExactlyTheEntriesUpToItsSize() {
        SplittableRandom r = new SplittableRandom(99);
        int[] hints = {12, 16, 21, 25, 30, 34, Smmuv3Tlb.ANY_SIZE};
        for (int round = 0; round < 400; round++) {
            Smmuv3Tlb tlb = new Smmuv3Tlb(r.nextBoolean() ? 64 : 4096);
            long base = 1L << 40;
            fillRandom(tlb, r, base, 20 + r.nextInt(200));
            Set<Entry> before = live(tlb);
            boolean ipa = r.nextInt(3) == 0;
            int vmid = r.nextInt(3);
            int asid = 1 + r.nextInt(3);
            long start = base + (r.nextLong(64) * 4096);
            if (!before.isEmpty() && r.nextBoolean()) {
                Entry e = before.stream().skip(r.nextInt(before.size())).findFirst().get();
                start = e.start() + (r.nextLong(1L << e.shift()) & -4096L);
                vmid = e.vmid();
                asid = e.asid() == 0 ? asid : e.asid();
            }
            long length = r.nextBoolean() ? 4096 : (1 + r.nextInt(128)) * 4096L; // probes and scans
            int maxShift = hints[r.nextInt(hints.length)];
            if (ipa) {
                tlb.invalidateIpa(vmid, start, length, maxShift);
            } else {
                tlb.invalidateVa(vmid, asid, false, start, length, maxShift);
            }
            Set<Entry> expected = new HashSet<>();
            for (Entry e : before) {
                boolean removed = e.shift() <= maxShift && e.vmid() == vmid && e.overlaps(start, length)
                        && (ipa ? e.kind() == Smmuv3Tlb.KIND_S2
                                : e.kind() != Smmuv3Tlb.KIND_S2 && (e.kind() == Smmuv3Tlb.KIND_S1_GLOBAL || e.asid() == asid));
                if (!removed) {
                    expected.add(e);
                }
            }
            assertEquals(expected, live(tlb), "round " + round + " hint " + maxShift + " at " + Long.toHexString(start)
                    + "+" + Long.toHexString(length));
        }
    }

    /**
     * The lock-free address invalidation (see the class comment of Smmuv3Tlb): a fill that took the set and checked
     * the invalidation count before the TLBI, but writes its entry after the TLBI began, must not survive it; the
     * invalidation sees the set held (odd version) and waits for it. Without that wait the TLBI would scan the set
     * before the entry is written and return, leaving a stale translation behind.
     */
    @Test
    void anAddressInvalidationWaitsForAFillThatHoldsTheSet() throws Exception {
        Smmuv3Tlb tlb = new Smmuv3Tlb(64);
        long va = 0x1234_5000L;
        tlb.fill(Smmuv3Tlb.KIND_S1, 0, 5, 0x7777_0000L, 0x1000L, 12, Smmuv3Tlb.PERM_READ_PRIV); // 4 KiB present
        int b = tlb.blockOf(0, va, 12);
        int sample = tlb.invalidationCount();
        tlb.lockSet(b); // a fill takes the set, marks it occupied ...
        tlb.markOccupied(b);
        assertEquals(sample, tlb.invalidationCount()); // ... and passes its count check: no TLBI yet
        Thread tlbi = new Thread(() -> tlb.invalidateVa(0, 5, false, va, 4096));
        tlbi.start();
        while (tlb.invalidationCount() == sample) {
            Thread.onSpinWait(); // the TLBI has counted itself and looks at the set
        }
        tlbi.join(100); // time for a TLBI that did not wait to finish its scan
        tlb.writeLocked(b, Smmuv3Tlb.KIND_S1, 0, 5, va, 0x9000L, 12, Smmuv3Tlb.PERM_READ_PRIV); // the walk's result
        tlb.unlockSet(b);
        tlbi.join();
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, va, Smmuv3Tlb.PERM_READ_PRIV),
                "an entry filled from a walk that overlapped the TLBI survived it");
        assertEquals(0x1000L, Smmuv3Tlb.output(tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, 0x7777_0000L, Smmuv3Tlb.PERM_READ_PRIV)));
    }

    /**
     * The occupancy summary (see "Occupancy" in Smmuv3Tlb) under the race its clear must survive, played step by step:
     * an invalidation read the set's version and found no live way (here: the entry was killed by a TLBI_NH_ASID
     * epoch); before it clears the set's bit, a fill takes the set, reads the bit still set (so it writes no bit) and
     * writes its entry. The clear must notice the fill (the version moved) and leave the bit set, or a later TLBI of
     * that page would skip the set and the entry would survive it.
     */
    @Test
    void clearingTheOccupancyBitKeepsItWhenAFillTookTheSetMeanwhile() {
        Smmuv3Tlb tlb = new Smmuv3Tlb(64);
        long va = 0x4321_0000L;
        int b = tlb.blockOf(0, va, 12);
        assertTrue(tlb.fill(Smmuv3Tlb.KIND_S1, 0, 5, va, 0x1000L, 12, Smmuv3Tlb.PERM_READ_PRIV, tlb.invalidationCount()));
        tlb.invalidateAsid(5); // the entry is dead; the set stays marked
        assertTrue(tlb.occupiedForTest(b));
        long v = tlb.lockSet(b); // the invalidation's read of the (even) version, and its finding: no live way
        tlb.unlockSet(b);
        v += 2;
        long w = tlb.lockSet(b); // a fill takes the set,
        assertEquals(v, w);
        tlb.markOccupied(b); // finds the bit set,
        tlb.writeLocked(b, Smmuv3Tlb.KIND_S1, 0, 5, va, 0x9000L, 12, Smmuv3Tlb.PERM_READ_PRIV); // writes its entry
        tlb.unlockSet(b);
        tlb.clearOccupied(b, v); // the invalidation clears the bit
        assertTrue(tlb.occupiedForTest(b), "the clear dropped the bit of a set a fill wrote meanwhile");
        assertEquals(0x9000L, Smmuv3Tlb.output(tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, va, Smmuv3Tlb.PERM_READ_PRIV)));
        tlb.invalidateVa(0, 5, false, va, 4096);
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, va, Smmuv3Tlb.PERM_READ_PRIV),
                "the entry survived a TLBI of its page");
        assertTrue(tlb.occupiedForTest(b), "the TLBI that emptied the set keeps its bit");
        tlb.invalidateVa(0, 5, false, va, 4096);
        assertFalse(tlb.occupiedForTest(b), "the next TLBI found the set empty and cleared its bit");
    }

    /**
     * Range invalidations look only at the sets the occupancy summary marks: every 4 KiB page of a 16-page group goes
     * to its own set of one group (so the 16 entries of an aligned run never evict each other), each is removed by a
     * 16-page TLBI of the run, and a TLBI of a neighbouring run removes none of them.
     */
    @Test
    void theSixteenPagesOfAnAlignedRunGoToTheSetsOfOneGroup() {
        Smmuv3Tlb tlb = new Smmuv3Tlb(4096);
        long run = 0x7_1234_0000L; // 64 KiB aligned
        java.util.Set<Integer> blocks = new java.util.HashSet<>();
        for (int i = 0; i < 16; i++) {
            long va = run + i * 4096L;
            blocks.add(tlb.blockOf(0, va, 12));
            tlb.fill(Smmuv3Tlb.KIND_S1, 0, 5, va, 0x10_0000L + i * 4096L, 12, Smmuv3Tlb.PERM_READ_PRIV);
        }
        assertEquals(16, blocks.size(), "16 distinct sets");
        int low = blocks.stream().mapToInt(Integer::intValue).min().getAsInt();
        assertEquals(0, low / Smmuv3Tlb.STRIDE % 16, "a group starts at a multiple of 16 sets");
        assertEquals(15 * Smmuv3Tlb.STRIDE, blocks.stream().mapToInt(Integer::intValue).max().getAsInt() - low);
        tlb.invalidateVa(0, 5, false, run + 65536, 65536, 16); // the next run: nothing of ours
        tlb.invalidateVa(0, 5, false, run - 65536, 65536, 16); // the previous one
        for (int i = 0; i < 16; i++) {
            assertTrue(tlb.holds(Smmuv3Tlb.KIND_S1, 0, 5, run + i * 4096L), "page " + i + " kept");
        }
        tlb.invalidateVa(0, 5, false, run + 4096, 14 * 4096L, 16); // pages 1..14
        assertTrue(tlb.holds(Smmuv3Tlb.KIND_S1, 0, 5, run));
        assertTrue(tlb.holds(Smmuv3Tlb.KIND_S1, 0, 5, run + 15 * 4096L));
        for (int i = 1; i < 15; i++) {
            assertFalse(tlb.holds(Smmuv3Tlb.KIND_S1, 0, 5, run + i * 4096L), "page " + i + " removed");
            assertTrue(tlb.occupiedForTest(tlb.blockOf(0, run + i * 4096L, 12)), "page " + i + "'s set still marked");
        }
        tlb.invalidateVa(0, 5, false, run, 16 * 4096L, 16); // pages 0 and 15 removed; 1..14 found empty
        for (int i = 0; i < 16; i++) {
            assertFalse(tlb.holds(Smmuv3Tlb.KIND_S1, 0, 5, run + i * 4096L), "page " + i + " removed");
            assertEquals(i == 0 || i == 15, tlb.occupiedForTest(tlb.blockOf(0, run + i * 4096L, 12)), "page " + i);
        }
        assertEquals(0, tlb.liveEntries());
    }

    /**
     * Replacement by second chance: an entry hit between fills of its full set survives any number of one-time
     * fills of that set (round robin would evict it every fourth fill), and an entry never hit goes first.
     */
    @Test
    void aFullSetsFillKeepsAnEntryHitSinceTheHandPassed() {
        Smmuv3Tlb tlb = new Smmuv3Tlb(4096);
        // pages of one set: the first page's set, and others found by probing
        SplittableRandom r = new SplittableRandom(11);
        long first = 0x40_0000_0000L + r.nextLong(1L << 24) * 4096;
        int set = tlb.blockOf(0, first, 12);
        long[] same = new long[24];
        same[0] = first;
        for (int n = 1; n < same.length;) {
            long va = 0x40_0000_0000L + r.nextLong(1L << 24) * 4096;
            if (tlb.blockOf(0, va, 12) == set) {
                same[n++] = va;
            }
        }
        for (int i = 0; i < 4; i++) {
            tlb.fill(Smmuv3Tlb.KIND_S1, 0, 5, same[i], 0x10_0000L + i * 4096L, 12, Smmuv3Tlb.PERM_READ_PRIV);
        }
        long hot = same[0]; // the way the hand points at first
        for (int i = 4; i < same.length; i++) {
            assertTrue(tlb.lookup(Smmuv3Tlb.KIND_S1, 0, 5, hot, Smmuv3Tlb.PERM_READ_PRIV) != Smmuv3Tlb.MISS,
                    "the hot entry after " + (i - 4) + " one-time fills");
            tlb.fill(Smmuv3Tlb.KIND_S1, 0, 5, same[i], 0x20_0000L + i * 4096L, 12, Smmuv3Tlb.PERM_READ_PRIV);
            assertTrue(tlb.holds(Smmuv3Tlb.KIND_S1, 0, 5, same[i]), "the new entry");
            assertFalse(tlb.holds(Smmuv3Tlb.KIND_S1, 0, 5, same[i - 3]), "the oldest entry never hit went first");
        }
        assertTrue(tlb.holds(Smmuv3Tlb.KIND_S1, 0, 5, hot));
    }

    /**
     * With only 4 KiB entries the lookup decides the common hit inline and hands every other case to the general
     * lookup; each case answers as the tagging rules say (IHI0070 3.17): the ASID's entry in the second way of a set
     * whose first way has the same address for another ASID, a global entry for any ASID, an entry filled before an
     * unrelated ASID invalidation (older than the epoch, still live), one killed by its ASID's invalidation, and one
     * without the permission.
     */
    @Test
    void fourKibLookupsAnswerEveryTaggingCase() {
        Smmuv3Tlb tlb = new Smmuv3Tlb(64);
        int r = Smmuv3Tlb.PERM_READ_PRIV;
        long a = 0x4000_1000L;
        tlb.fill(Smmuv3Tlb.KIND_S1, 1, 2, a, 0x2_0000L, 12, r); // way 0 of the set
        tlb.fill(Smmuv3Tlb.KIND_S1, 1, 3, a, 0x3_0000L, 12, r); // the same address and VMID, another ASID: way 1
        tlb.fill(Smmuv3Tlb.KIND_S1_GLOBAL, 1, 0, a + 0x1000, 0x4_0000L, 12, r);
        tlb.fill(Smmuv3Tlb.KIND_S1, 1, 4, a + 0x2000, 0x5_0000L, 12, r);
        tlb.fill(Smmuv3Tlb.KIND_S1, 1, 6, a + 0x3000, 0x6_0000L, 12, r);
        tlb.invalidateAsid(5); // the epoch moves on: ASID 4's entry is older, and live
        tlb.invalidateAsid(6);

        assertEquals(0x2_0000L, Smmuv3Tlb.output(tlb.lookup(Smmuv3Tlb.KIND_S1, 1, 2, a + 8, r)));
        assertEquals(0x3_0000L, Smmuv3Tlb.output(tlb.lookup(Smmuv3Tlb.KIND_S1, 1, 3, a + 8, r)));
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 1, 7, a + 8, r), "another ASID");
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 2, 2, a + 8, r), "another VMID");
        assertEquals(0x4_0000L, Smmuv3Tlb.output(tlb.lookup(Smmuv3Tlb.KIND_S1, 1, 9, a + 0x1008, r)), "global");
        assertEquals(0x5_0000L, Smmuv3Tlb.output(tlb.lookup(Smmuv3Tlb.KIND_S1, 1, 4, a + 0x2008, r)), "older, live");
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 1, 6, a + 0x3008, r), "killed by TLBI_NH_ASID");
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_S1, 1, 2, a + 8, Smmuv3Tlb.PERM_WRITE_PRIV),
                "without the permission");
        assertEquals(Smmuv3Tlb.MISS, tlb.lookup(Smmuv3Tlb.KIND_NESTED, 1, 2, a + 8, r), "another kind");
    }
}
