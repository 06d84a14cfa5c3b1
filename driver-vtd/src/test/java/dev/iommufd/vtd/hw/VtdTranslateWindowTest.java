package dev.iommufd.vtd.hw;

import static dev.iommufd.vtd.layout.VtdRegisters.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.InterruptController;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.PciTopology;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.FaultReason;
import dev.iommufd.vtd.layout.FaultRecord;
import dev.iommufd.vtd.layout.FirstStagePte;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.SecondStagePte;
import java.lang.management.ManagementFactory;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * {@code IommuUnitModel.translateWindow} on the VT-d model (the contract in its javadoc, TCK rule TLB-8): every
 * request of a window gets what {@code translate} gives it alone, in window order: the same address, the same fault
 * with its primary fault record (VT-d spec 7.2.1: FRCD registers filled in order, collapsing and overflow (PFO)
 * included), the same page request (7.5.1) and the same A/D updates (9.8 SSADE); a fault does not stop the window.
 * Each scenario is built twice on identical benches (frame allocation is deterministic, so every table lies at the
 * same address): one translates windows, the other the same requests one by one, and the two units' observable
 * state is compared.
 */
class VtdTranslateWindowTest {
    static final long RW = SecondStagePte.R | SecondStagePte.W;
    static final int RID = LegacyTables.RID;
    static final int DID = 7;
    static final int NP = DmaAttributes.NO_PASID;
    static final int R = Translation.ACCESS_READ;
    static final int W = Translation.ACCESS_WRITE;
    static final long SENTINEL = 0x5a5a_5a5a_5a5aL;

    /** Two benches built by the same steps: {@link #window} translates windows on {@code a}, one by one on {@code b}. */
    static final class Twins {
        final ModelBench a;
        final ModelBench b;

        Twins(String preset, Consumer<ModelBench> build) {
            a = new ModelBench(preset);
            b = new ModelBench(preset);
            build.accept(a);
            build.accept(b);
        }

        /** Translates the window on {@code a} and one by one on {@code b}; asserts the results match. */
        long[] window(int pasid, int access, long... iovas) {
            long[] phys = new long[iovas.length + 2];
            Arrays.fill(phys, SENTINEL);
            int done = a.unit.translateWindow(RID, pasid, access, iovas, 0, iovas.length, phys, new Translation());
            long[] alone = new long[iovas.length];
            int ok = 0;
            for (int i = 0; i < iovas.length; i++) {
                Translation t = b.unit.translate(RID, pasid, iovas[i], access, new Translation());
                alone[i] = t.isOk() ? t.physicalAddress() : IommuUnitModel.NOT_TRANSLATED;
                ok += t.isOk() ? 1 : 0;
            }
            assertArrayEquals(alone, Arrays.copyOf(phys, iovas.length), "each request as translate() gives it alone");
            assertEquals(SENTINEL, phys[iovas.length], "nothing written after the window");
            assertEquals(ok, done, "the count of requests that translated");
            assertSameState();
            return phys;
        }

        /** The fault recording registers, FSTS, the page request queue registers and the MSIs signalled. */
        void assertSameState() {
            int nfr = (int) ((a.r64(CAP_REG) >>> 40) & 0xff) + 1;
            for (int i = 0; i < nfr; i++) {
                assertEquals(b.frcdHi(i), a.frcdHi(i), "FRCD" + i + " high qword");
                assertEquals(b.frcdLo(i), a.frcdLo(i), "FRCD" + i + " low qword (fault info)");
            }
            assertEquals(b.r32(FSTS_REG), a.r32(FSTS_REG), "FSTS (PPF, PFO, FRI)");
            assertEquals(b.r64(PQT_REG), a.r64(PQT_REG), "page request queue tail");
            assertEquals(b.r32(PRS_REG), a.r32(PRS_REG), "PRS");
            assertEquals(b.signals.size(), a.signals.size(), "MSIs signalled");
        }
    }

    /** Legacy mode, DID 7, 4-level tables; RW 4 KiB pages at 0x1000-0x10000, an R-only page, an R-only 2 MiB page. */
    static void legacyDomain(ModelBench b) {
        LegacyTables t = new LegacyTables(b);
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, DID, false);
        for (int i = 1; i <= 16; i++) {
            t.map(i * 0x1000L, 0x100_0000L + i * 0x3000L, 1, RW);
        }
        t.map(0x2_0000, 0x200_0000, 1, SecondStagePte.R);
        t.map(0x40_0000, 0x80_0000, 2, SecondStagePte.R);
        t.map(0x4000_0000L, 0x4000_0000L, 3, RW);
        b.enable(t.root, false);
        // some hits: these pages are in the IOTLB before any window
        b.read(RID, 0x1000);
        b.read(RID, 0x3000);
        b.read(RID, 0x2_0000); // R-only: a write to it is an IOTLB hit without permission
    }

    @Test
    void legacyWindowOfHitsMissesAndFaultsGivesEachRequestItsOwnResultAndRecordsInOrder() {
        Twins w = new Twins("server", VtdTranslateWindowTest::legacyDomain);
        // hits, misses, a 2 MiB and a 1 GiB leaf, not present, beyond MGAW (width 48), write to R-only (IOTLB hit
        // without W; a miss on the 2 MiB page), the same fault twice (collapsed into one record, spec 7.2.1)
        long[] phys = w.window(NP, W, 0x1008, 0x2010, 0x3018, 0x9_0000, 0x4020, 0x2_0030, 0x40_1238,
                0x4567_8000L, 1L << 50, 0x5040, 0x9_0008, 0x6050);
        assertEquals(IommuUnitModel.NOT_TRANSLATED, phys[3], "not present");
        assertEquals(0x100_0000L + 0x3000 + 8, phys[0]);
        assertEquals(0x4567_8000L, phys[7], "1 GiB leaf");
        assertEquals(FaultReason.WRITE_DENIED, FaultRecord.reason(w.a.frcdHi(0)), "the first fault is recorded first");
        // reads: the R-only pages translate now, from the IOTLB or by a walk
        w.window(NP, R, 0x2_0000, 0x40_0008, 0x7000, 0x1000, 0xa_0000);
    }

    @Test
    void moreFaultsThanRecordsOverflowAtTheSameRequest() {
        Twins w = new Twins("server", VtdTranslateWindowTest::legacyDomain);
        long[] iovas = new long[12];
        for (int i = 0; i < iovas.length; i++) {
            iovas[i] = 0x100_0000L + i * 0x1000L; // not mapped: 12 distinct faults, 8 records (server preset)
        }
        w.window(NP, R, iovas);
        assertEquals(FSTS_PFO, w.a.r32(FSTS_REG) & FSTS_PFO, "primary fault overflow");
    }

    @Test
    void windowsLongerThanABatchAndInTheMiddleOfTheArrays() {
        Twins w = new Twins("server", VtdTranslateWindowTest::legacyDomain);
        SplittableRandom r = new SplittableRandom(3);
        long[] iovas = new long[300];
        for (int i = 0; i < iovas.length; i++) {
            iovas[i] = r.nextInt(10) == 0 ? 0x30_0000L + r.nextInt(16) * 0x1000L : (1 + r.nextInt(16)) * 0x1000L + r.nextInt(4096);
        }
        w.window(NP, R, iovas);
        long[] phys = new long[400];
        Arrays.fill(phys, SENTINEL);
        int done = w.a.unit.translateWindow(RID, NP, R, iovas, 100, 150, phys, new Translation());
        int ok = 0;
        for (int i = 0; i < phys.length; i++) {
            if (i < 100 || i >= 250) {
                assertEquals(SENTINEL, phys[i], "outside the window: untouched");
                continue;
            }
            Translation t = w.b.read(RID, iovas[i]);
            assertEquals(t.isOk() ? t.physicalAddress() : IommuUnitModel.NOT_TRANSLATED, phys[i]);
            ok += t.isOk() ? 1 : 0;
        }
        assertEquals(ok, done);
        w.assertSameState();
    }

    @Test
    void aWindowTranslatedInPlace() {
        Twins w = new Twins("server", VtdTranslateWindowTest::legacyDomain);
        long[] iovas = {0x1008, 0x9_0000, 0x4010, 0x2_0000, 0x5018};
        long[] inPlace = iovas.clone();
        long[] phys = w.window(NP, W, iovas);
        assertEquals(3, w.a.unit.translateWindow(RID, NP, W, inPlace, 0, inPlace.length, inPlace, new Translation()));
        assertArrayEquals(Arrays.copyOf(phys, iovas.length), inPlace, "physOut may be iovas itself");
    }

    @Test
    void passThroughContextAndTranslationDisabled() {
        Twins off = new Twins("server", b -> new LegacyTables(b));
        long[] phys = off.window(NP, W, 0x1234, 0xdead_b000L, -4096L);
        assertEquals(-4096L, phys[2], "translation disabled (GSTS.TES 0): the address itself");
        Twins pt = new Twins("server", b -> {
            LegacyTables t = new LegacyTables(b);
            t.context(RID, ContextEntry.TT_PASS_THROUGH, 2, 1, false);
            b.enable(t.root, false);
        });
        pt.window(NP, W, 0x1234, 0xdead_b000L, 0x7000);
        pt.window(NP, W, 0x1234, 0xdead_b000L, 0x7000);
    }

    @Test
    void requestsWithPasidInLegacyModeFaultEachAsAlone() {
        Twins w = new Twins("server", VtdTranslateWindowTest::legacyDomain);
        w.window(5, R, 0x1000, 0x2000, 0x9_0000); // SM_LEGACY_PASID, collapsed per page as translate() does
    }

    @Test
    void emptyWindowTranslatesNothing() {
        Twins w = new Twins("server", VtdTranslateWindowTest::legacyDomain);
        long[] iovas = {0x9_0000};
        long[] phys = {SENTINEL};
        assertEquals(0, w.a.unit.translateWindow(RID, NP, R, iovas, 1, 0, phys, new Translation()));
        assertEquals(0, w.a.unit.translateWindow(RID, NP, R, iovas, 0, 0, phys, new Translation()));
        assertEquals(SENTINEL, phys[0]);
        w.assertSameState();
    }

    @Test
    void aWindowOutsideTheArraysThrowsBeforeTranslatingAnything() {
        Twins w = new Twins("server", VtdTranslateWindowTest::legacyDomain);
        long[] iovas = {0x9_0000, 0xa_0000, 0xb_0000}; // every one would fault and be recorded
        long[] phys = new long[3];
        long[] shortPhys = new long[2];
        Arrays.fill(phys, SENTINEL);
        Arrays.fill(shortPhys, SENTINEL);
        Translation t = new Translation();
        assertThrows(IndexOutOfBoundsException.class, () -> w.a.unit.translateWindow(RID, NP, R, iovas, -1, 2, phys, t));
        assertThrows(IndexOutOfBoundsException.class, () -> w.a.unit.translateWindow(RID, NP, R, iovas, 0, -1, phys, t));
        assertThrows(IndexOutOfBoundsException.class, () -> w.a.unit.translateWindow(RID, NP, R, iovas, 2, 2, phys, t));
        assertThrows(IndexOutOfBoundsException.class, () -> w.a.unit.translateWindow(RID, NP, R, iovas, 0, 3, shortPhys, t));
        assertThrows(IndexOutOfBoundsException.class,
                () -> w.a.unit.translateWindow(RID, NP, R, iovas, Integer.MAX_VALUE, 2, phys, t));
        assertArrayEquals(new long[] {SENTINEL, SENTINEL, SENTINEL}, phys);
        assertArrayEquals(new long[] {SENTINEL, SENTINEL}, shortPhys);
        w.assertSameState(); // no fault record: nothing was translated
        assertEquals(0, w.a.r32(FSTS_REG) & FSTS_PPF);
    }

    // ---------------- scalable mode ----------------

    /** Scalable mode: RID_PASID 0 second stage (SSADE), PASID 7 first stage, PRE with a PRI function and a PRQ. */
    static void scalableDomain(ModelBench b) {
        ScalableTables t = new ScalableTables(b);
        b.addPriFunction(RID);
        t.context(2, true, true);
        for (int i = 1; i <= 8; i++) {
            LegacyTables.map(b, t.ssRoot, 4, i * 0x1000L, 0x300_0000L + i * 0x2000L, 1, i == 8 ? SecondStagePte.R : RW);
            ScalableTables.mapFs(b, t.fsRoot, i * 0x1000L,
                    (0x500_0000L + i * 0x2000L) | FirstStagePte.P | FirstStagePte.RW | FirstStagePte.US);
        }
        t.secondStage(0, true);
        t.firstStage(7, 0);
        b.w64(PQA_REG, b.frame());
        b.w32(PECTL_REG, 0);
        b.enable(t.root, true);
        b.read(RID, 0x2000);
        b.access(RID, 7, 0x3000, R);
    }

    @Test
    void scalableSecondStageWindowSetsTheSameAccessedAndDirtyBits() {
        Twins w = new Twins("server", VtdTranslateWindowTest::scalableDomain);
        w.window(NP, R, 0x1008, 0x2008, 0x4008, 0x8008, 0x9_0000, 0x5008);
        w.window(NP, W, 0x1010, 0x2010, 0x6010, 0x8010, 0x9_0000, 0x7010);
        assertSameMemory(w, 0, 1L << 28); // every A/D bit the walks set
    }

    @Test
    void scalableFirstStageWindowQueuesThePageRequestsInOrder() {
        Twins w = new Twins("server", VtdTranslateWindowTest::scalableDomain);
        // PASID 7: hits, misses, and not-present pages that become page requests (PRE, PRI function)
        w.window(7, W, 0x1000, 0x3000, 0x40_0000, 0x2000, 0x41_0000, 0x4000, 0x40_0000, 0x42_0000);
        w.window(7, R | Translation.ACCESS_EXEC, 0x1000, 0x2000); // ERE clear: faults, one record
        assertSameMemory(w, 0, 1L << 28); // the page request descriptors
    }

    /** The words of {@code [from, to)} that either bench wrote (A/D bits, page request descriptors) are equal. */
    static void assertSameMemory(Twins w, long from, long to) {
        for (long pa = from; pa < to; pa += 4096) {
            if (!w.a.mem.hasStorage(pa) && !w.b.mem.hasStorage(pa)) {
                continue;
            }
            for (long o = 0; o < 4096; o += 8) {
                long x = w.b.mem.read64(pa + o);
                long y = w.a.mem.read64(pa + o);
                if (x != y) {
                    assertEquals(x, y, String.format("memory at %#x", pa + o));
                }
            }
        }
    }

    // ---------------- concurrency ----------------

    /**
     * Windows by one device while software remaps 64 pages and invalidates them page-selectively (VT-d spec 6.5.2.3;
     * after the wait descriptor completes, no translation may use a removed entry, 6.5.2.9 draining): every request
     * of a window that started after round {@code c} completed translates to round {@code c}'s mapping or a later one.
     */
    @Test
    void noWindowStartedAfterAnInvalidationCompletedUsesTheRemovedEntries() throws Exception {
        ModelBench b = new ModelBench("qemu");
        LegacyTables t = new LegacyTables(b);
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, DID, false);
        int pages = ConcurrentTranslationTest.PAGES;
        for (int i = 0; i < pages; i++) {
            t.map(ConcurrentTranslationTest.IOVA + i * 4096L, ConcurrentTranslationTest.pa(0, i), 1, RW);
        }
        b.enable(t.root, false);
        long q = b.enableQueue(false);
        long status = b.frame();
        AtomicLong completed = new AtomicLong();
        AtomicReference<String> failure = new AtomicReference<>();
        AtomicLong windows = new AtomicLong();
        int rounds = 300;
        Thread device = new Thread(() -> {
            SplittableRandom r = new SplittableRandom(11);
            long[] iovas = new long[32];
            int[] page = new int[32];
            long[] phys = new long[32];
            Translation out = new Translation();
            while (completed.get() < rounds && failure.get() == null) {
                long c = completed.get();
                for (int k = 0; k < iovas.length; k++) {
                    page[k] = r.nextInt(pages);
                    iovas[k] = ConcurrentTranslationTest.IOVA + page[k] * 4096L + 8;
                }
                int done = b.unit.translateWindow(RID, NP, R, iovas, 0, iovas.length, phys, out);
                windows.incrementAndGet();
                if (done != iovas.length) {
                    failure.compareAndSet(null, (iovas.length - done) + " faults in a window");
                }
                for (int k = 0; k < iovas.length; k++) {
                    long off = phys[k] - 8 - ConcurrentTranslationTest.PA;
                    long round = off / (pages * 4096L);
                    if (off % (pages * 4096L) != page[k] * 4096L || round < c) {
                        failure.compareAndSet(null, String.format("page %d translated to %#x (round %d) after round %d completed",
                                page[k], phys[k], round, c));
                    }
                }
            }
        });
        device.start();
        for (int round = 1; round <= rounds && failure.get() == null; round++) {
            long[] d = new long[pages * 2];
            for (int i = 0; i < pages; i++) {
                long iova = ConcurrentTranslationTest.IOVA + i * 4096L;
                b.mem.write64(LegacyTables.entryAddress(b, t.pgd, 4, iova, 1), SecondStagePte.leaf(ConcurrentTranslationTest.pa(round, i), 1, RW));
                d[2 * i] = InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DEVICE_OR_PAGE, DID);
                d[2 * i + 1] = InvalidationDescriptor.addressHi(iova, round % 2 == 0, 0);
            }
            b.submit(q, false, d);
            b.submit(q, false, InvalidationDescriptor.waitLo(false, true, false, round), status);
            assertEquals(round, b.mem.read32(status), "the wait descriptor completed");
            completed.set(round);
        }
        completed.set(rounds);
        device.join(60_000);
        assertNull(failure.get());
        assertTrue(windows.get() > 0);
    }

    /**
     * The walks of a window's misses run after its IOTLB lookups, without the unit's lock, with the invalidation
     * count sampled before the window read the context entry: an invalidation that completes in between (here:
     * software points the context entry at new tables, same DID, and invalidates the context cache and the IOTLB,
     * from inside a memory read of the window's read-ahead) makes those walks drop their fills and translate again
     * under the lock. Without that check the walk from the old context entry would cache the old mapping under the
     * domain's DID after the invalidation completed.
     */
    @Test
    void aWindowWhoseWalksAnInvalidationOverlappedCachesNothingStale() {
        ModelBench b = new ModelBench("server");
        LegacyTables t = new LegacyTables(b);
        long oldPa = 0x700_0000L;
        long newPa = 0x780_0000L;
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, DID, false);
        t.map(0x1000, 0x600_0000L, 1, RW);
        t.map(0x5000, oldPa, 1, RW);
        long newRoot = b.frame();
        LegacyTables.map(b, newRoot, 4, 0x1000, 0x600_0000L, 1, RW);
        LegacyTables.map(b, newRoot, 4, 0x5000, newPa, 1, RW);
        long hookAt = LegacyTables.entryAddress(b, t.pgd, 4, 0x1000, 1); // the first leaf the read-ahead reads
        long contextEntry = ContextEntry.entryAddress(t.context, RID);
        VtdUnit[] unit = new VtdUnit[1];
        boolean[] armed = new boolean[1];
        boolean[] fired = new boolean[1];
        unit[0] = hookedUnit(b, pa -> {
            if (pa == hookAt && armed[0] && !fired[0]) {
                fired[0] = true;
                b.mem.write64(contextEntry, ContextEntry.encodeLo(newRoot, ContextEntry.TT_MULTI_LEVEL, false));
                unit[0].write(CCMD_REG, 8, ccmd(CCMD_GLOBAL, 0, 0, 0));
                unit[0].write(iro(unit[0]) + IOTLB_OFFSET, 8, iotlbCommand(IOTLB_GLOBAL, 0));
            }
        });
        VtdUnit u = unit[0];
        u.write(RTADDR_REG, 8, t.root);
        u.write(GCMD_REG, 4, GCMD_SRTP);
        u.write(GCMD_REG, 4, GCMD_TE);
        Translation out = new Translation();
        assertTrue(u.translate(RID, NP, 0x1000, R, out).isOk()); // the context cache holds the entry; no IOTLB entry
        u.write(iro(u) + IOTLB_OFFSET, 8, iotlbCommand(IOTLB_GLOBAL, 0));
        long[] phys = new long[2];
        armed[0] = true;
        assertEquals(2, u.translateWindow(RID, NP, R, new long[] {0x1008, 0x5008}, 0, 2, phys, out));
        assertTrue(fired[0], "the invalidation ran inside the window");
        assertEquals(newPa + 8, phys[1], "translated after the invalidation completed: the new tables");
        assertEquals(newPa + 8, u.translate(RID, NP, 0x5008, R, out).physicalAddress(), "no stale IOTLB entry");
    }

    /**
     * Pass 1 of a window decides its IOTLB hits with the epoch, tag and level hint read once per batch; what makes
     * that safe is the invalidation count read after the lookups. Here an invalidation completes right after pass 1
     * (software points the leaf at a new page and invalidates the IOTLB globally, VT-d spec 6.5.2.3; after it
     * completes no translation may use the removed entry, 6.5.2.9): the batch must translate again, and the request
     * that hit the old entry gets the new page. Without the check it returns the old page after the invalidation
     * completed. Legacy and scalable mode batches share the check (and this hook).
     */
    @Test
    void aWindowWhoseHitsAnInvalidationFollowedTranslatesAgain() {
        ModelBench b = new ModelBench("qemu");
        LegacyTables t = new LegacyTables(b);
        long oldPa = 0x700_0000L;
        long newPa = 0x780_0000L;
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, DID, false);
        t.map(0x1000, 0x600_0000L, 1, RW);
        t.map(0x5000, oldPa, 1, RW);
        b.enable(t.root, false);
        VtdUnit u = b.unit;
        Translation out = new Translation();
        assertEquals(oldPa + 8, u.translate(RID, NP, 0x5008, R, out).physicalAddress()); // IOTLB filled
        assertEquals(0x600_0008L, u.translate(RID, NP, 0x1008, R, out).physicalAddress());
        long leaf = LegacyTables.entryAddress(b, t.pgd, 4, 0x5000, 1);
        int[] fired = new int[1];
        u.afterWindowLookups = () -> {
            if (fired[0]++ == 0) {
                b.mem.write64(leaf, SecondStagePte.leaf(newPa, 1, RW));
                u.write(iro(u) + IOTLB_OFFSET, 8, iotlbCommand(IOTLB_GLOBAL, 0));
            }
        };
        long[] phys = new long[2];
        try {
            assertEquals(2, u.translateWindow(RID, NP, R, new long[] {0x1008, 0x5008}, 0, 2, phys, out));
        } finally {
            u.afterWindowLookups = null;
        }
        assertTrue(fired[0] >= 1, "the invalidation ran after the window's lookups");
        assertEquals(0x600_0008L, phys[0]);
        assertEquals(newPa + 8, phys[1], "the old entry's hit was dropped: the invalidation completed inside the window");
        assertEquals(newPa + 8, u.translate(RID, NP, 0x5008, R, out).physicalAddress(), "no stale IOTLB entry");
    }

    /** The IOTLB register's offset (ECAP.IRO). */
    static int iro(VtdUnit u) {
        return (int) ((u.read(ECAP_REG, 8) >>> 8) & 0x3ff) * 16;
    }

    /** A unit on {@code b}'s memory whose reads of 64-bit words call {@code onRead} first. */
    static VtdUnit hookedUnit(ModelBench b, java.util.function.LongConsumer onRead) {
        PhysicalMemory real = b.mem;
        PhysicalMemory hooked = (PhysicalMemory) Proxy.newProxyInstance(PhysicalMemory.class.getClassLoader(),
                new Class<?>[] {PhysicalMemory.class}, (proxy, m, args) -> {
                    if (m.getName().equals("read64") && args.length == 1) {
                        onRead.accept((Long) args[0]);
                    }
                    try {
                        return m.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        HardwareContext ctx = new HardwareContext() {
            @Override
            public PhysicalMemory memory() {
                return hooked;
            }

            @Override
            public InterruptController interrupts() {
                return b.interrupts();
            }

            @Override
            public PciTopology pci() {
                return b.pci();
            }

            @Override
            public String profile() {
                return "q35";
            }
        };
        return (VtdUnit) new VtdHardwareModelProvider().create(ctx, new IommuUnitConfig("dmar1", "vtd", 0, "server", Map.of()));
    }

    // ---------------- allocation ----------------

    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
                .getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    /** Windows of hits and misses (walks, fills, evictions) allocate nothing in steady state (as HotPathAllocationTest). */
    @Test
    void windowsOfHitsAndMissesAllocateNothing() {
        Assumptions.assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
        ModelBench b = new ModelBench("qemu");
        LegacyTables t = new LegacyTables(b);
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, DID, false);
        int pages = 8192; // 8x the IOTLB: most misses evict
        for (int i = 0; i < pages; i++) {
            t.map(0x1000_0000L + i * 4096L, 0x1000_0000L + i * 4096L, 1, RW);
        }
        b.enable(t.root, false);
        long[] iovas = new long[1 << 16];
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < iovas.length; i++) {
            iovas[i] = 0x1000_0000L + (r.nextInt(4) == 0 ? r.nextInt(pages) : r.nextInt(64)) * 4096L + 16;
        }
        long[] phys = new long[iovas.length];
        Translation out = new Translation();
        long sum = 0;
        for (int warm = 0; warm < 20; warm++) {
            for (int at = 0; at < iovas.length; at += 32) {
                sum += b.unit.translateWindow(RID, NP, R, iovas, at, 32, phys, out);
            }
        }
        long b0 = allocated();
        long probe = allocated() - b0;
        long before = allocated();
        for (int at = 0; at < iovas.length; at += 32) {
            sum += b.unit.translateWindow(RID, NP, R, iovas, at, 32, phys, out);
        }
        long bytes = allocated() - before - probe;
        assertEquals(20L * iovas.length + iovas.length, sum, "every request translated");
        assertEquals(iovas[777], phys[777], "identity mapping");
        // one allocation per window would be at least 2048 * 16 bytes
        assertTrue(bytes < 1024, "bytes allocated by 2048 windows of 32: " + bytes);
    }
}
