package dev.iommufd.smmuv3.hw;

import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.BDF;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.CD_4K;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.CD_4K_DW0;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.NO_PASID;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.R;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.S2_DW2;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.SID;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.VA_4K;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.W;
import static dev.iommufd.smmuv3.hw.Smmuv3ModelTest.va4k;
import static dev.iommufd.smmuv3.layout.SmmuRegisters.IDR0_STALL_MODEL_STALL_TERMINATE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * {@link Smmuv3Unit#translateWindow}: a window of outstanding requests (the IommuUnitModel.translateWindow contract,
 * TCK rule TLB-8) served with hit-under-miss and overlapped walk reads (an implementation choice) gives every
 * request what {@code translate} gives it alone, in window order: the same physical address or NOT_TRANSLATED, the same event
 * records (IHI0070 7.3) one per faulting request in window order, the same stall (3.12.2) and the same hardware
 * updates of descriptors (HTTU, 3.13). Each scenario builds two identical units from the hand-written fixtures of
 * {@link Smmuv3ModelTest}: one translates the windows with {@code translateWindow}, the other the same requests one
 * at a time with {@code translate}, and the results, event queues and descriptors are compared.
 */
class Smmuv3TranslateWindowTest {
    private static final long SENTINEL = 0x5a5a_5a5a_5a5aL;
    /** Where a window starts in its arrays (entries before and after it must stay untouched). */
    private static final int FROM = 3;

    /** L3[16..63] of the 4 KiB fixture map pages 0x4600_0000 + i * 4 KiB (nG, AF, SH=IS, AP[1], AttrIndx 1). */
    private static void addPages(ModelBench b) {
        for (int i = 16; i < 64; i++) {
            b.writeStruct(0x7000_3000L + i * 8, 0x4600_0F47L + ((long) i << 12));
        }
    }

    private static ModelBench stage1() {
        long[] st = new long[1];
        ModelBench b = Smmuv3ModelTest.qemuWithS1(st);
        addPages(b);
        return b;
    }

    private static long page(int l3, int offset) {
        return va4k(1, 2, 3, l3, offset);
    }

    /** The requests one window carries, and the access they make. */
    private record Window(int rid, int pasid, int access, long... iovas) {
    }

    /** What one unit produced for a window. */
    private record Outcome(long[] phys, int done, List<long[]> events) {
    }

    /** Every event record in the queue, oldest first (consumed). */
    private static List<long[]> drainEvents(ModelBench b) {
        List<long[]> events = new ArrayList<>();
        for (long[] e = b.nextEvent(); e != null; e = b.nextEvent()) {
            events.add(e);
        }
        return events;
    }

    private static Outcome byWindow(ModelBench b, Window w) {
        long[] iovas = new long[FROM + w.iovas.length + 2];
        long[] phys = new long[iovas.length];
        Arrays.fill(iovas, 0x7777_7000L);
        Arrays.fill(phys, SENTINEL);
        System.arraycopy(w.iovas, 0, iovas, FROM, w.iovas.length);
        int done = b.unit.translateWindow(w.rid, w.pasid, w.access, iovas, FROM, w.iovas.length, phys, new Translation());
        for (int i = 0; i < iovas.length; i++) {
            if (i < FROM || i >= FROM + w.iovas.length) {
                assertEquals(SENTINEL, phys[i], "physOut[" + i + "] is outside the window");
            }
        }
        return new Outcome(Arrays.copyOfRange(phys, FROM, FROM + w.iovas.length), done, drainEvents(b));
    }

    private static Outcome alone(ModelBench b, Window w) {
        long[] phys = new long[w.iovas.length];
        int done = 0;
        Translation t = new Translation();
        for (int i = 0; i < phys.length; i++) {
            if (b.unit.translate(w.rid, w.pasid, w.iovas[i], w.access, t).isOk()) {
                phys[i] = t.physicalAddress();
                done++;
            } else {
                phys[i] = IommuUnitModel.NOT_TRANSLATED;
            }
        }
        return new Outcome(phys, done, drainEvents(b));
    }

    /**
     * Runs {@code windows} on two units {@code setup} builds: windows on one, translate() one by one on the other;
     * asserts equal results and event records after every window, and equal words at {@code descriptors} at the
     * end. Returns the windows' outcomes (for scenario-specific checks).
     */
    private static List<Outcome> compare(Supplier<ModelBench> setup, long[] descriptors, Window... windows) {
        List<Outcome> outcomes = new ArrayList<>();
        try (ModelBench a = setup.get(); ModelBench b = setup.get()) {
            for (int n = 0; n < windows.length; n++) {
                Outcome got = byWindow(a, windows[n]);
                Outcome want = alone(b, windows[n]);
                for (int i = 0; i < want.phys.length; i++) {
                    assertEquals(want.phys[i], got.phys[i], "window " + n + ", request " + i + " (IOVA 0x"
                            + Long.toHexString(windows[n].iovas[i]) + "): translateWindow vs translate() alone");
                }
                assertEquals(want.done, got.done, "window " + n + ": the count of translated requests");
                assertEquals(want.events.size(), got.events.size(), "window " + n + ": event records");
                for (int e = 0; e < want.events.size(); e++) {
                    assertArrayEquals(want.events.get(e), got.events.get(e), "window " + n + ", event record " + e);
                }
                outcomes.add(got);
            }
            for (long pa : descriptors) {
                assertEquals(b.memory.read64(pa), a.memory.read64(pa), "descriptor at 0x" + Long.toHexString(pa));
            }
            assertEquals(b.unit.eventsRecorded(), a.unit.eventsRecorded());
            assertEquals(b.unit.eventsLost(), a.unit.eventsLost());
        }
        return outcomes;
    }

    /** The input addresses of the event records, in queue order. */
    private static List<Long> inputs(List<long[]> events) {
        List<Long> in = new ArrayList<>();
        for (long[] e : events) {
            in.add(e[2]);
        }
        return in;
    }

    private static int eventId(long[] e) {
        return (int) BitField.extract(EventRecord.ID, e[0]);
    }

    // =====================================================================================================
    // stage 1

    @Test
    void stageOneWindowsOfHitsMissesBlocksAndFaultsTranslateEachRequestAsAlone() {
        long hole = page(5, 0x10); // L3[5] invalid: F_TRANSLATION
        long readOnly = page(7, 0x30); // AP[2]=1: a write is F_PERMISSION
        long noAf = page(6, 0x20); // AF=0 without HTTU: F_ACCESS
        long eabt = va4k(1, 2, 6, 9, 0); // L2[6] -> table in non-RAM: F_WALK_EABT
        long block2m = va4k(1, 2, 5, 0, 0) + 0x12345;
        long block1g = va4k(1, 3, 0, 0, 0) + 0x1234_5678;
        Window cold = new Window(SID, NO_PASID, W, page(16, 1), page(17, 2), hole, VA_4K, page(18, 3), block2m, readOnly,
                page(19, 4), block1g, noAf, page(20, 5), page(16, 0x800), eabt, page(21, 6), 1L << 50, page(22, 7));
        // now most are in the TLB: hits between new misses (a read-only page hit by a read, then written)
        Window warm = new Window(SID, NO_PASID, W, page(16, 9), page(30, 1), block2m + 8, hole, page(31, 2), VA_4K,
                page(17, 0xff8), readOnly, page(32, 3), page(33, 4), page(18, 0), block1g, page(34, 5), noAf);
        Window reads = new Window(SID, NO_PASID, R, readOnly, page(35, 0), readOnly + 8, page(36, 0), page(30, 0));
        List<Outcome> out = compare(Smmuv3TranslateWindowTest::stage1, new long[] {0x7000_3030L, 0x7000_3038L},
                cold, warm, reads);
        // the faults are one event record each, in window order
        assertEquals(List.of(hole, readOnly, noAf, eabt, 1L << 50), inputs(out.get(0).events));
        assertEquals(List.of(EventRecord.F_TRANSLATION, EventRecord.F_PERMISSION, EventRecord.F_ACCESS,
                EventRecord.F_WALK_EABT, EventRecord.F_TRANSLATION),
                out.get(0).events.stream().map(Smmuv3TranslateWindowTest::eventId).toList());
        assertEquals(List.of(hole, readOnly, noAf), inputs(out.get(1).events));
        assertEquals(0x4561_2345L + 0x0, out.get(0).phys[5], "the 2 MiB block (hand-computed)");
        assertEquals(0x4601_0001L, out.get(0).phys[0], "L3[16] (hand-computed)");
    }

    /** More requests than one read-ahead run takes (64): the window goes on in runs, in order. */
    @Test
    void aWindowLongerThanOneRunKeepsWindowOrder() {
        long[] iovas = new long[150];
        for (int i = 0; i < iovas.length; i++) {
            int l3 = 16 + (i * 7) % 48;
            iovas[i] = i % 13 == 5 ? page(5, i) : i % 17 == 3 ? page(7, 8 * i) : page(l3, 8 * i);
        }
        List<Outcome> out = compare(Smmuv3TranslateWindowTest::stage1, new long[0],
                new Window(SID, NO_PASID, W, Arrays.copyOf(iovas, 14)), // fewer than 16 faults per window (queue)
                new Window(SID, NO_PASID, R, iovas));
        assertEquals(12, out.get(1).events.size(), "one F_TRANSLATION per request of L3[5]");
        List<Long> want = new ArrayList<>();
        for (long v : iovas) {
            if ((v >>> 12 & 511) == 5) {
                want.add(v);
            }
        }
        assertEquals(want, inputs(out.get(1).events));
    }

    /** CR0.SMMUEN=0 (GBPA), STE bypass and STE abort: the windows take translate() for every request. */
    @Test
    void disabledBypassAndAbortStreams() {
        Supplier<ModelBench> setup = () -> {
            ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF));
            return b;
        };
        Window w = new Window(SID, NO_PASID, R, 0x4000_1234L, 0x5000_0000L, 1L << 50, 0x4000_1234L);
        List<Outcome> off = compare(setup, new long[0], w);
        assertEquals(0x4000_1234L, off.get(0).phys[0], "SMMUEN=0, GBPA.ABORT=0: bypass");
        assertEquals(IommuUnitModel.NOT_TRANSLATED, off.get(0).phys[2], "beyond the OAS: terminated");
        Supplier<ModelBench> steBypassAndAbort = () -> {
            ModelBench b = new ModelBench("qemu", Map.of(), ModelBench.device(BDF));
            long st = b.linearStreamTable(8);
            b.writeStruct(b.steAddress(st, SID), 0x9L); // V, Config=bypass
            b.writeStruct(b.steAddress(st, SID + 1), 0x1L); // V, Config=abort
            return b;
        };
        List<Outcome> ste = compare(steBypassAndAbort, new long[0], w, new Window(SID + 1, NO_PASID, W, 0x1000, 0x2000),
                new Window(SID + 2, NO_PASID, R, 0x1000, 0x2000)); // SID + 2: STE V=0, C_BAD_STE per request
        assertEquals(0x5000_0000L, ste.get(0).phys[1]);
        assertEquals(0, ste.get(1).done);
        assertTrue(ste.get(1).events.isEmpty(), "Config=abort terminates without an event");
        assertEquals(List.of(EventRecord.C_BAD_STE, EventRecord.C_BAD_STE),
                ste.get(2).events.stream().map(Smmuv3TranslateWindowTest::eventId).toList());
    }

    // =====================================================================================================
    // stage 2, nesting, substreams, stalls

    /** Config=S2 with S2HA/S2HD: the AF and dirty updates happen once, as alone (IHI0070 3.13). */
    @Test
    void stageTwoOnlyWindowsWithHardwareUpdates() {
        Supplier<ModelBench> setup = () -> {
            ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF));
            long st = b.linearStreamTable(8);
            Smmuv3ModelTest.buildS2Tables(b);
            b.writeStruct(0x7302_0030L, 0x0008_0000_4580_237FL); // L3[6]: DBM, S2AP=RO, AF=0
            b.writeStruct(0x7302_0038L, 0x0040_0000_4580_37FFL); // L3[7]: XN
            for (int i = 8; i < 40; i++) {
                b.writeStruct(0x7302_0000L + i * 8, 0x4590_07FFL + ((long) i << 12)); // RW, AF
            }
            b.writeStruct(b.steAddress(st, SID), 0xDL, 0, S2_DW2 | 1L << 56 | 1L << 55, 0x7300_0000L); // S2HA|S2HD
            return b;
        };
        long base = 0x0000_0080_8060_0000L; // L1 514, L2 3: L3[i] at base + i * 4 KiB
        Window writes = new Window(SID, NO_PASID, W, base + 0x4123, base + 0x5000, base + 0x6008, base + 0x9000,
                base + 0xA000, 1L << 40, base + 0x7000, 0x1234_5678L, base + 0xB000, 1L << 50, base + 0xC000);
        Window again = new Window(SID, NO_PASID, W, base + 0x9010, base + 0x6010, base + 0x5000, base + 0xD000,
                base + 0xE000, 0x2345_6789L);
        List<Outcome> out = compare(setup, new long[] {0x7302_0028L, 0x7302_0030L, 0x7302_0038L}, writes, again);
        assertEquals(0x4580_0123L, out.get(0).phys[0], "L3[4] (hand-computed)");
        assertEquals(0x4000_0000L + 0x1234_5678L, out.get(0).phys[7], "the 1 GiB block L1[0]");
        assertEquals(List.of(EventRecord.F_PERMISSION, EventRecord.F_TRANSLATION, EventRecord.F_ADDR_SIZE),
                out.get(0).events.stream().map(Smmuv3TranslateWindowTest::eventId).toList());
    }

    @Test
    void nestedWindows() {
        Supplier<ModelBench> setup = () -> {
            ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF));
            long st = b.linearStreamTable(8);
            Smmuv3ModelTest.buildS2Tables(b);
            b.writeStruct(0x7500_0008L, 0x3500_1003L);
            b.writeStruct(0x7500_1010L, 0x3500_2003L);
            b.writeStruct(0x7500_2018L, 0x3500_3003L);
            for (int i = 4; i < 20; i++) {
                b.writeStruct(0x7500_3000L + i * 8, 0x0567_8F47L + ((long) (i - 4) << 12));
            }
            b.writeStruct(0x7500_1018L, 0x8000_0003L); // L1[3] -> IPA not mapped by stage 2
            b.writeStruct(0x7510_0000L, CD_4K_DW0, 0x3500_0000L, 0, 0x0000_0000_f404_ff44L);
            b.writeStruct(b.steAddress(st, SID), 0x3510_0000L | 0xFL, 0, S2_DW2, 0x7300_0000L);
            return b;
        };
        List<Outcome> out = compare(setup, new long[0],
                new Window(SID, NO_PASID, R, VA_4K, page(5, 0), page(25, 0), va4k(1, 3, 0, 0, 0), page(6, 0x10), VA_4K + 8),
                new Window(SID, NO_PASID, R, page(7, 0), VA_4K, page(8, 0), page(9, 0)));
        assertEquals(0x4567_8ABCL, out.get(0).phys[0]);
        assertEquals(List.of(page(25, 0), va4k(1, 3, 0, 0, 0)), inputs(out.get(0).events));
        assertEquals(0, BitField.extract(EventRecord.S2, out.get(0).events.get(0)[1]), "a stage-1 fault");
        assertEquals(1, BitField.extract(EventRecord.S2, out.get(0).events.get(1)[1]), "the stage-2 fault of a table IPA");
    }

    /** SubstreamIDs (IHI0070 3.9): a window's PASID selects the CD; a bad one faults every request. */
    @Test
    void substreamWindows() {
        Supplier<ModelBench> setup = () -> {
            ModelBench b = new ModelBench("server", Map.of(), ModelBench.device(BDF));
            long st = b.linearStreamTable(8);
            Smmuv3ModelTest.build4kTables(b);
            addPages(b);
            long cdTable = 0x7010_1000L; // 4 CDs, linear; CD 1 valid
            b.writeStruct(cdTable + 64, CD_4K_DW0, 0x7000_0000L, 0, 0x0000_0000_f404_ff44L);
            b.writeStruct(b.steAddress(st, SID), cdTable | 0xBL | 2L << 59, 0); // S1CDMax=2, S1DSS=terminate
            return b;
        };
        List<Outcome> out = compare(setup, new long[0],
                new Window(SID, 1, R, VA_4K, page(16, 0), page(5, 0), page(17, 0), page(18, 0)),
                new Window(SID, 1, R, page(16, 8), page(19, 0), VA_4K, page(20, 0)),
                new Window(SID, 4, R, VA_4K, page(16, 0)), // SSID >= 2^S1CDMax: C_BAD_SUBSTREAMID each
                new Window(SID, NO_PASID, R, VA_4K, page(16, 0)), // S1DSS=terminate: F_STREAM_DISABLED each
                new Window(SID, 2, R, VA_4K)); // CD 2 invalid: C_BAD_CD
        assertEquals(0x4567_8ABCL, out.get(0).phys[0]);
        assertEquals(List.of(EventRecord.C_BAD_SUBSTREAMID, EventRecord.C_BAD_SUBSTREAMID),
                out.get(2).events.stream().map(Smmuv3TranslateWindowTest::eventId).toList());
        assertEquals(List.of(EventRecord.F_STREAM_DISABLED, EventRecord.F_STREAM_DISABLED),
                out.get(3).events.stream().map(Smmuv3TranslateWindowTest::eventId).toList());
    }

    /** CD.S=1 with STALL_MAX=1 (IHI0070 3.12.2): the window's first fault stalls, the next terminates. */
    @Test
    void stallingWindows() {
        long idr0 = Smmuv3ModelTest.serverIdr0WithStallModel(IDR0_STALL_MODEL_STALL_TERMINATE);
        Supplier<ModelBench> setup = () -> {
            ModelBench b = new ModelBench("server", Map.of("IDR0", idr0, "IDR5", 0x1_0075L), ModelBench.device(BDF));
            long st = b.linearStreamTable(8);
            Smmuv3ModelTest.build4kTables(b);
            addPages(b);
            b.writeStruct(CD_4K, CD_4K_DW0 | 1L << 44, 0x7000_0000L, 0, 0x0000_0000_f404_ff44L); // CD.S=1
            b.writeStruct(b.steAddress(st, SID), CD_4K | 0xBL);
            return b;
        };
        List<Outcome> out = compare(setup, new long[0],
                new Window(SID, NO_PASID, W, page(16, 0), page(5, 0x40), page(17, 0), page(5, 0x80), page(18, 0)));
        assertEquals(List.of(1L, 0L), out.get(0).events.stream().map(e -> BitField.extract(EventRecord.STALL, e[1])).toList(),
                "Stall=1, then STALL_MAX reached: terminated");
    }

    // =====================================================================================================
    // the window's bounds

    @Test
    void anEmptyWindowTranslatesNothing() {
        try (ModelBench b = stage1()) {
            long[] iovas = {page(5, 0), VA_4K};
            long[] phys = {SENTINEL, SENTINEL};
            assertEquals(0, b.unit.translateWindow(SID, NO_PASID, R, iovas, 0, 0, phys, new Translation()));
            assertEquals(0, b.unit.translateWindow(SID, NO_PASID, R, iovas, 2, 0, phys, new Translation()));
            assertEquals(0, b.unit.translateWindow(SID, NO_PASID, R, new long[0], 0, 0, new long[0], new Translation()));
            assertArrayEquals(new long[] {SENTINEL, SENTINEL}, phys);
            assertNull(b.nextEvent());
            assertEquals(0, b.unit.tlbLiveEntries());
        }
    }

    @Test
    void aWindowOutsideItsArraysTranslatesNothing() {
        try (ModelBench b = stage1()) {
            long[] iovas = {VA_4K, page(5, 0), page(16, 0), page(17, 0)};
            Translation t = new Translation();
            int[][] bad = {{-1, 2}, {0, -1}, {3, 2}, {0, 5}, {Integer.MAX_VALUE, 2}};
            for (int[] fc : bad) {
                long[] phys = new long[4];
                Arrays.fill(phys, SENTINEL);
                assertThrows(IndexOutOfBoundsException.class,
                        () -> b.unit.translateWindow(SID, NO_PASID, R, iovas, fc[0], fc[1], phys, t));
                assertArrayEquals(new long[] {SENTINEL, SENTINEL, SENTINEL, SENTINEL}, phys);
            }
            long[] shortOut = {SENTINEL, SENTINEL};
            assertThrows(IndexOutOfBoundsException.class,
                    () -> b.unit.translateWindow(SID, NO_PASID, R, iovas, 0, 4, shortOut, t), "physOut too short");
            assertArrayEquals(new long[] {SENTINEL, SENTINEL}, shortOut);
            assertNull(b.nextEvent(), "no request translated: no event (page(5) would fault)");
            assertEquals(0, b.unit.eventsRecorded());
            assertEquals(0, b.unit.tlbLiveEntries(), "no request translated: nothing filled");
            assertEquals(0, b.unit.decodedConfigurations(), "no configuration fetched");
        }
    }

    // =====================================================================================================
    // invalidation and allocation

    /**
     * A TLBI_NH_VA + CMD_SYNC (IHI0070 4.4.2, 4.7.3) completed before a window begins is seen by every request of
     * it: an invalidating thread remaps one page (a new output page every round, so a stale one is recognised) while
     * two threads translate windows that hold the page among hits and misses (three threads on the test machine's
     * two CPUs: a window is preempted at any point, also between a walk's read and its fill). A window that began
     * after round g's CMD_SYNC completed must give round g's page or a later one. (Without the TLB's fill check of
     * the invalidation count, Smmuv3Tlb.fill, a walk that read round g - 1's descriptor fills it after round g's
     * TLBI, and a later window hits it.)
     */
    @Test
    void noStaleTranslationAfterTheSyncCompleted() throws Exception {
        try (ModelBench b = stage1()) {
            long hot = page(40, 0x18);
            long leaf = 0x7000_3000L + 40 * 8;
            long outBase = 0x1_0000_0000L; // round g maps hot to outBase + g * 4 KiB (never RAM: only translated)
            b.writeStruct(leaf, outBase | 0xF47L);
            int rounds = 200_000;
            AtomicInteger completed = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong windows = new AtomicLong();
            Thread[] translators = new Thread[2];
            for (int ti = 0; ti < translators.length; ti++) {
                int me = ti;
                translators[ti] = new Thread(() -> {
                    long[] iovas = new long[16];
                    long[] phys = new long[16];
                    Translation t = new Translation();
                    try {
                        for (long n = 0; !stop.get(); n++) {
                            int g = completed.get();
                            for (int i = 0; i < iovas.length; i++) {
                                // the hot page twice, hits (L3[16..23]) and misses (L3[24..63] cycling through the sets)
                                iovas[i] = i == 3 || i == 11 ? hot + i
                                        : i < 8 ? page(16 + i, i) : page(24 + (int) ((n * 8 + i + me * 20) % 40), i);
                            }
                            assertEquals(16, b.unit.translateWindow(SID, NO_PASID, R, iovas, 0, 16, phys, t));
                            for (int i : new int[] {3, 11}) {
                                long round = (phys[i] - outBase) >>> 12;
                                assertTrue(round >= g, "round " + round + "'s page after round " + g
                                        + "'s CMD_SYNC completed (a stale TLB entry)");
                            }
                            windows.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                        stop.set(true);
                    }
                });
                translators[ti].start();
            }
            try {
                long[] c = new long[2];
                for (int g = 1; g <= rounds && !stop.get(); g++) {
                    b.writeStruct(leaf, outBase + ((long) g << 12) | 0xF47L);
                    Command.tlbiAddress(c, Command.OP_TLBI_NH_VA, 0, 1, hot & ~0xfffL, true, 0, 0, 0, 0);
                    b.command(c);
                    b.command(Command.OP_CMD_SYNC, 0);
                    completed.set(g);
                }
            } finally {
                stop.set(true);
                for (Thread t : translators) {
                    t.join();
                }
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            assertTrue(windows.get() > 100, "windows translated while invalidating: " + windows.get());
        }
    }

    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /** A window of hits and misses allocates nothing (as translate() does not), in runs and with read-ahead. */
    @Test
    void windowsAllocateNothing() {
        try (ModelBench b = stage1()) {
            long[] iovas = new long[100];
            long[] phys = new long[100];
            Translation t = new Translation();
            long sink = 0;
            for (int round = 0; round < 3; round++) {
                int iterations = round == 2 ? 10_000 : 2000;
                long before = allocatedBytes();
                for (int n = 0; n < iterations; n++) {
                    for (int i = 0; i < iovas.length; i++) {
                        iovas[i] = page(16 + (n * 5 + i * 3) % 48, i);
                    }
                    if (n % 8 == 0) {
                        b.command(Command.OP_TLBI_NH_ALL, 0); // the next window misses
                    }
                    sink += b.unit.translateWindow(SID, NO_PASID, R, iovas, 0, iovas.length, phys, t);
                }
                long used = allocatedBytes() - before;
                if (round == 2) {
                    assertTrue(used < 4096, used + " bytes allocated by 10,000 windows of 100 requests");
                }
            }
            assertEquals((2000 + 2000 + 10_000) * 100L, sink);
        }
    }
}
