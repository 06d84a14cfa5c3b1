package dev.iommufd.smmuv3.hw;

import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.CD_4K;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.CD_4K_DW0;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.NO_PASID;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.R;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.SID;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.VA_4K;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.qemuWithS1;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.va4k;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.spi.hw.Translation;
import org.junit.jupiter.api.Test;

/**
 * The decoded configuration cache (IHI0070 3.21, 4.3): a configuration, once fetched, keeps being used without
 * re-reading the STE/CD (even when memory changes and the TLB is empty, so that walks happen) until a CFGI that
 * covers it and a CMD_SYNC; after that the STE/CD are fetched again.
 */
class Smmuv3ConfigurationCacheTest {
    /** A TLBI of everything and a CMD_SYNC: the TLB is empty, the configuration cache untouched. */
    private static void emptyTlb(ModelBench b) {
        long[] c = new long[2];
        Command.tlbiNsnhAll(c);
        b.command(c);
        sync(b);
    }

    private static void sync(ModelBench b) {
        long[] c = new long[2];
        Command.sync(c, Command.SYNC_CS_NONE, 0, 0);
        b.command(c);
    }

    /** Breaks the STE (abort) and the CD (invalid) in memory, without any CFGI. */
    private static void breakStructures(ModelBench b, long strtab) {
        b.writeStruct(b.steAddress(strtab, SID), 0x1L);
        b.writeStruct(CD_4K, 0L);
    }

    private static void restoreStructures(ModelBench b, long strtab) {
        b.writeStruct(b.steAddress(strtab, SID), CD_4K | 0xBL);
        b.writeStruct(CD_4K, CD_4K_DW0);
    }

    private static boolean translates(ModelBench b, long va) {
        return b.translate(SID, NO_PASID, va, R).isOk();
    }

    @Test
    void cachedConfigurationIsUsedForWalksUntilCfgiAll() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            assertTrue(translates(b, VA_4K));
            assertEquals(1, b.unit.decodedConfigurations());
            breakStructures(b, st[0]);
            emptyTlb(b);
            // a TLB miss walks with the cached configuration: the broken STE/CD in memory are not read
            assertTrue(translates(b, VA_4K), "cached configuration, walked again");
            assertTrue(translates(b, va4k(1, 3, 0, 0, 0x10)), "another page (1 GiB block), same configuration");
            long[] c = new long[2];
            Command.cfgiAll(c);
            b.command(c);
            sync(b);
            assertEquals(0, b.unit.decodedConfigurations());
            Translation t = b.translate(SID, NO_PASID, VA_4K, R);
            assertEquals(Translation.FAULT, t.status(), "the abort STE is fetched after CFGI_ALL");
        }
    }

    @Test
    void cfgiSteRangeDropsOnlyItsRange() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            assertTrue(translates(b, VA_4K));
            breakStructures(b, st[0]);
            emptyTlb(b);
            long[] c = new long[2];
            // Range=1: 4 StreamIDs from the aligned base; SID 0x08 lies in 0x08..0x0b, not in 0x0c..0x0f
            Command.cfgiSteRange(c, 0x0c, 1);
            b.command(c);
            sync(b);
            assertTrue(translates(b, VA_4K), "a range not covering the StreamID leaves it cached");
            Command.cfgiSteRange(c, 0x09, 1);
            b.command(c);
            sync(b);
            assertEquals(Translation.FAULT, b.translate(SID, NO_PASID, VA_4K, R).status(), "covered: fetched again");
        }
    }

    @Test
    void cfgiCdDropsTheDecodedStreamAndOtherStreamsStay() {
        long[] st = new long[1];
        try (ModelBench b = qemuWithS1(st)) {
            assertTrue(translates(b, VA_4K));
            breakStructures(b, st[0]);
            b.writeStruct(b.steAddress(st[0], SID), CD_4K | 0xBL); // STE intact, CD invalid in memory
            emptyTlb(b);
            long[] c = new long[2];
            Command.cfgiCd(c, SID + 1, 0, true); // another StreamID's CD
            b.command(c);
            sync(b);
            assertTrue(translates(b, VA_4K), "CFGI_CD of another StreamID");
            Command.cfgiCd(c, SID, 0, true);
            b.command(c);
            sync(b);
            assertEquals(EventRecord.C_BAD_CD, b.translate(SID, NO_PASID, VA_4K, R).faultReason());
            restoreStructures(b, st[0]);
            Command.cfgiCd(c, SID, 0, true);
            b.command(c);
            sync(b);
            assertTrue(translates(b, VA_4K), "fetched again after the CD was repaired and invalidated");
        }
    }
}
