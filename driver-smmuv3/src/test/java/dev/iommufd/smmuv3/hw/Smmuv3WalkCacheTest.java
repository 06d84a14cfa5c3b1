package dev.iommufd.smmuv3.hw;

import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.NO_PASID;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.R;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.SID;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.VA_4K;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.W;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.va4k;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.smmuv3.layout.TranslationDescriptor;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The walk cache (IHI0070 3.17): last-level table addresses cached per 2 MiB block of input address, kept by
 * TLBI_NH_VA/S2_IPA with Leaf=1, dropped by Leaf=0 for the covered addresses and by TLBI_NH_ASID, TLBI_NH_ALL,
 * TLBI_S12_VMALL and TLBI_NSNH_ALL for their scope; CFGI commands leave it alone (IHI0070 4.3, 4.4).
 * Tables are the hand-written fixtures of {@link Smmuv3ModelTest}.
 */
class Smmuv3WalkCacheTest {
    /** L2[3] of the 4 KiB fixture: the level-2 descriptor of VA_4K's 2 MiB block. */
    static final long L2_3 = 0x7000_2018L;
    /** A second level-3 table, used to replace the fixture's (at 0x7000_3000). */
    static final long NEW_L3 = 0x7000_4000L;

    private static long pa(ModelBench b, long va) {
        return b.translate(SID, NO_PASID, va, R).physicalAddress();
    }

    private static boolean cached(ModelBench b, long va) {
        return b.unit.walkCache().holds(Smmuv3Tlb.KIND_S1, 0, 1, va);
    }

    /** Replaces VA_4K's level-3 table with {@link #NEW_L3}, whose entry 4 maps 0x4568_0000, without invalidation. */
    private static void replaceLeafTable(ModelBench b) {
        b.writeStruct(NEW_L3 + 4 * 8, 0x4568_0F47L);
        b.writeStruct(L2_3, NEW_L3 | 3);
    }

    @Test
    void aMissStartsFromTheCachedTableAndLeafOneKeepsItLeafZeroDropsIt() {
        long[] st = new long[1];
        try (ModelBench b = Smmuv3ModelTest.qemuWithS1(st)) {
            long h = b.unit.walkCacheHits();
            assertEquals(0x4567_8ABCL, pa(b, VA_4K));
            assertEquals(h, b.unit.walkCacheHits(), "the first walk reads every level");
            assertTrue(cached(b, VA_4K));
            b.writeStruct(0x7000_3028L, 0x4567_CF47L); // L3[5]
            assertEquals(0x4567_C123L, pa(b, va4k(1, 2, 3, 5, 0x123)));
            assertEquals(h + 1, b.unit.walkCacheHits(), "a TLB miss in the same 2 MiB block uses the walk cache");

            replaceLeafTable(b);
            long[] c = new long[2];
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, VA_4K & ~0xfffL, true, 0, 0, 0, 0);
            b.command(c);
            assertEquals(0x4567_8ABCL, pa(b, VA_4K), "Leaf=1: the walk cache still points at the old table");
            assertEquals(h + 2, b.unit.walkCacheHits());
            assertTrue(cached(b, VA_4K));

            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, VA_4K & ~0xfffL, false, 0, 0, 0, 0);
            b.command(c);
            assertFalse(cached(b, VA_4K));
            assertEquals(0x4568_0ABCL, pa(b, VA_4K), "Leaf=0: the walk reads the new table");
            assertEquals(h + 2, b.unit.walkCacheHits(), "that walk started at level 0");
            assertTrue(cached(b, VA_4K), "and cached the new table");
        }
    }

    @Test
    void rangeInvalidationWithLeafZeroDropsEveryCoveredBlock() {
        long[] st = new long[1];
        try (ModelBench b = Smmuv3ModelTest.qemuWithS1(st)) {
            pa(b, VA_4K);
            long[] c = new long[2];
            // TG=4K, SCALE=9, NUM=0: 512 pages = the 2 MiB block from its start, Leaf=1 then Leaf=0
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, va4k(1, 2, 3, 0, 0), true, 1, 3, 9, 0);
            b.command(c);
            assertTrue(cached(b, VA_4K));
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, va4k(1, 2, 2, 511, 0), false, 0, 0, 0, 0);
            b.command(c);
            assertTrue(cached(b, VA_4K), "one page of the block before: not covered");
            // TG=4K, SCALE=0, NUM=1: two pages (as Linux sends a one-page Leaf=0 range)
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, va4k(1, 2, 2, 511, 0), false, 1, 0, 0, 1);
            b.command(c);
            assertFalse(cached(b, VA_4K), "two pages from the block before reach into it");
        }
    }

    @Test
    void asidVmidAndGlobalInvalidationsDropEverythingInScopeAndCfgiNothing() {
        long[] st = new long[1];
        try (ModelBench b = Smmuv3ModelTest.qemuWithS1(st)) {
            long[] c = new long[2];
            pa(b, VA_4K);
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 2, VA_4K & ~0xfffL, false, 0, 0, 0, 0); // other ASID
            b.command(c);
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, va4k(1, 2, 4, 4, 0), false, 0, 0, 0, 0); // other block
            b.command(c);
            Command.tlbiNhAsid(c, 0, 2);
            b.command(c);
            Command.cfgiAll(c);
            b.command(c);
            Command.cfgiCdAll(c, SID);
            b.command(c);
            assertTrue(cached(b, VA_4K), "nothing in scope was invalidated");

            Command.tlbiNhAsid(c, 0, 1);
            b.command(c);
            assertFalse(cached(b, VA_4K), "TLBI_NH_ASID");
            pa(b, VA_4K);
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VAA, 0, 0, VA_4K & ~0xfffL, false, 0, 0, 0, 0);
            b.command(c);
            assertFalse(cached(b, VA_4K), "TLBI_NH_VAA (any ASID)");
            pa(b, VA_4K);
            Command.tlbiNhAll(c, 0);
            b.command(c);
            assertFalse(cached(b, VA_4K), "TLBI_NH_ALL");
            pa(b, VA_4K);
            Command.tlbiNsnhAll(c);
            b.command(c);
            assertFalse(cached(b, VA_4K), "TLBI_NSNH_ALL");

            // and what the ASID invalidation dropped is not used: the replaced table is walked
            pa(b, VA_4K);
            replaceLeafTable(b);
            Command.tlbiNhAsid(c, 0, 1);
            b.command(c);
            assertEquals(0x4568_0ABCL, pa(b, VA_4K));
        }
    }

    @Test
    void hierarchicalAttributesOfTheUpperLevelsApplyOnAHit() {
        long[] st = new long[1];
        try (ModelBench b = Smmuv3ModelTest.qemuWithS1(st)) {
            b.writeStruct(0x7000_1010L, 0x7000_2003L | TranslationDescriptor.AP_TABLE_RDONLY); // L1[2]: APTable[1]
            b.writeStruct(0x7000_3028L, 0x4567_CF47L); // L3[5]: writable by its own AP
            assertEquals(0x4567_8ABCL, pa(b, VA_4K));
            long h = b.unit.walkCacheHits();
            assertEquals(EventRecord.F_PERMISSION, b.translate(SID, NO_PASID, va4k(1, 2, 3, 5, 0), W).faultReason());
            // the lock-free walk faults and the locked path walks again to report it: both start from the entry
            assertEquals(h + 2, b.unit.walkCacheHits(), "the walks started from the cached table");
        }
    }

    @Test
    void stageTwoWalkEntriesFollowTheIpaInvalidations() {
        try (ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(Smmuv3ModelTest.BDF))) {
            long st = b.linearStreamTable(8);
            Smmuv3ModelTest.buildS2Tables(b);
            b.writeStruct(b.steAddress(st, SID), 0xDL, 0, Smmuv3ModelTest.S2_DW2, 0x7300_0000L);
            long ipa = 0x0000_0080_8060_4123L; // L2[3] at 0x7301_0018 -> L3 at 0x7302_0000
            Smmuv3Tlb wc = b.unit.walkCache();
            assertEquals(0x4580_0123L, pa(b, ipa));
            assertTrue(wc.holds(Smmuv3Tlb.KIND_S2, 3, 0, ipa));
            long h = b.unit.walkCacheHits();
            assertEquals(0x4580_1123L, pa(b, ipa + 0x1000)); // L3[5]
            assertEquals(h + 1, b.unit.walkCacheHits());

            long[] c = new long[2];
            Command.tlbiAddress(c, Command.OP_TLBI_S2_IPA, 3, 0, ipa & ~0xfffL, true, 0, 0, 0, 0);
            b.command(c);
            Command.tlbiAddress(c, Command.OP_TLBI_S2_IPA, 4, 0, ipa & ~0xfffL, false, 0, 0, 0, 0); // other VMID
            b.command(c);
            Command.tlbiNhAsid(c, 3, 0); // stage-2 entries have no ASID
            b.command(c);
            Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 3, 0, ipa & ~0xfffL, false, 0, 0, 0, 0); // stage 1 only
            b.command(c);
            assertTrue(wc.holds(Smmuv3Tlb.KIND_S2, 3, 0, ipa));
            Command.tlbiAddress(c, Command.OP_TLBI_S2_IPA, 3, 0, ipa & ~0xfffL, false, 0, 0, 0, 0);
            b.command(c);
            assertFalse(wc.holds(Smmuv3Tlb.KIND_S2, 3, 0, ipa), "TLBI_S2_IPA, Leaf=0");
            pa(b, ipa);
            assertTrue(wc.holds(Smmuv3Tlb.KIND_S2, 3, 0, ipa));
            Command.tlbiS12Vmall(c, 3);
            b.command(c);
            assertFalse(wc.holds(Smmuv3Tlb.KIND_S2, 3, 0, ipa), "TLBI_S12_VMALL");
        }
    }

    @Test
    void aWalkCacheFillIsDroppedWhenAnInvalidationRanSinceTheWalkBegan() {
        Smmuv3Tlb tlb = new Smmuv3Tlb(64);
        Smmuv3Tlb wc = new Smmuv3Tlb(64, tlb);
        long va = 0x4000_0000L;
        int sample = wc.invalidationCount();
        tlb.invalidateAsid(7); // any invalidation, even of another ASID, counts
        assertFalse(wc.fillTable(Smmuv3Tlb.KIND_S1, 0, 1, va, 0x7000_3000L, 21, 1, sample));
        assertFalse(wc.holds(Smmuv3Tlb.KIND_S1, 0, 1, va));
        assertTrue(wc.fillTable(Smmuv3Tlb.KIND_S1, 0, 1, va, 0x7000_3000L, 21, 1, wc.invalidationCount()));
        long d = wc.lookup(Smmuv3Tlb.KIND_S1, 0, 1, va + 0x1f_f000L, 1);
        assertEquals(0x7000_3000L, Smmuv3Tlb.output(d), "the table address is kept whole, not aligned to the block");
        assertEquals(21, Smmuv3Tlb.pageShift(d));
        tlb.invalidateAsid(1); // the TLB's epochs are the walk cache's
        assertFalse(wc.holds(Smmuv3Tlb.KIND_S1, 0, 1, va));
    }
}
