package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.ContextDescriptor;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The hitless STE/CD update sequences, ported from Linux's KUnit suite
 * ({@code drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-test.c}): a recording writer checks at every sync that the
 * entry, on the bits its current configuration uses, equals the initial or the target entry; counts the syncs;
 * notes whether an invalid (zero dword 0) entry was ever made visible; and checks the final entry.
 *
 * <p>Fixtures as in the KUnit file: an SMMU with STALLS and ATTR_TYPES_OVR; CD table at 0xF0F0F0F0F0F0 with
 * S1Fmt=64K_L2 and S1CDMax all ones (0xFF truncated to the 5-bit field); S2 VTCR ps=1 tg=2 sh=3 orgn=1 irgn=2
 * sl=3 tsz=4, VTTBR 0xdaedbeefdeadbeef; S1 CD ttbr 0xdaedbeefdeadbeef, tcr ips=1 tg=2 sh=3 orgn=1 irgn=2 tsz=4,
 * MAIR 0x0abcdef012345678.
 */
class EntryWriterTest {
    static final long FAKE_CDTAB = 0xF0F0F0F0F0F0L;
    static final boolean ATS = true;

    /** A writer over an array, recording what the hardware could have seen at each sync. */
    static final class RecordingWriter extends EntryWriter {
        final boolean ste;
        final long[] entry;
        final long[] init;
        final long[] target;
        int syncs;
        boolean invalidWritten;
        final List<String> violations = new ArrayList<>();

        RecordingWriter(boolean ste, long[] current, long[] target) {
            this.ste = ste;
            this.entry = current.clone();
            this.init = current.clone();
            this.target = target;
        }

        @Override
        void getUsed(long[] e, long[] used) {
            if (ste) {
                ConfigurationUsedBits.steUsed(e, used);
            } else {
                ConfigurationUsedBits.cdUsed(e, used);
            }
        }

        @Override
        void getUpdateSafe(long[] cur, long[] t, long[] safe) {
            if (ste) {
                ConfigurationUsedBits.steUpdateSafe(cur, t, safe);
            }
        }

        @Override
        long read(int i) {
            return entry[i];
        }

        @Override
        void write(int i, long value) {
            entry[i] = value;
        }

        @Override
        void sync() {
            syncs++;
            if (entry[0] == 0) {
                invalidWritten = true;
                return;
            }
            long[] used = new long[8];
            getUsed(entry, used);
            if (differs(entry, used, init) && differs(entry, used, target)) {
                violations.add(String.format("sync %d: entry dword0=%#x matches neither start nor target", syncs, entry[0]));
            }
        }

        private static boolean differs(long[] e, long[] used, long[] t) {
            for (int i = 0; i < 8; i++) {
                if ((e[i] & used[i]) != t[i]) {
                    return true;
                }
            }
            return false;
        }
    }

    static void expect(boolean ste, long[] cur, long[] target, int syncs, boolean hitless) {
        RecordingWriter w = new RecordingWriter(ste, cur, target);
        w.writeEntry(target);
        assertEquals(List.of(), w.violations);
        assertEquals(!hitless, w.invalidWritten, hitless ? "expected a hitless update" : "expected a breaking update");
        assertEquals(syncs, w.syncs, "syncs");
        assertArrayEquals(target, w.entry);
    }

    static long[] bypass() {
        long[] t = new long[8];
        EntryTargets.bypassSte(t, true);
        return t;
    }

    static long[] abort() {
        long[] t = new long[8];
        EntryTargets.abortSte(t);
        return t;
    }

    static long[] cdtable(int s1dss, long dma, boolean ats, boolean stall) {
        long[] t = new long[8];
        EntryTargets.cdTableSte(t, dma, StreamTableEntry.S1FMT_64K_L2, 0x1F, ats, s1dss, !stall, true);
        return t;
    }

    static long[] s2(boolean ats, boolean stall) {
        long[] t = new long[8];
        EntryTargets.s2DomainSte(t, 0, 4, 3, 2, 1, 3, 2, 1, 0xdaedbeefdeadbeefL, ats, false, stall, true);
        return t;
    }

    static long[] s1Cd(int asid) {
        long[] t = new long[8];
        EntryTargets.s1Cd(t, asid, 4, 2, 2, 1, 3, 1, 0xdaedbeefdeadbeefL, 0x0abcdef012345678L, false, false);
        return t;
    }

    /** arm_smmu_make_sva_cd for a 48-bit VA, 4 KiB page, IPS 48 bits; with {@code mm == false}, the released CD. */
    static long[] svaCd(int asid, boolean mm) {
        long[] t = new long[8];
        t[0] = BitField.place(ContextDescriptor.V, 1) | BitField.place(ContextDescriptor.AA64, 1)
                | BitField.place(ContextDescriptor.TBI0, 1) | BitField.place(ContextDescriptor.IPS, 5)
                | BitField.place(ContextDescriptor.EPD1, 1) | BitField.place(ContextDescriptor.R, 1)
                | BitField.place(ContextDescriptor.A, 1) | BitField.place(ContextDescriptor.ASID, asid);
        if (mm) {
            t[0] |= BitField.place(ContextDescriptor.T0SZ, 16) | BitField.place(ContextDescriptor.IR0, 1)
                    | BitField.place(ContextDescriptor.OR0, 1) | BitField.place(ContextDescriptor.SH0, 3);
            t[1] = 0xdaedbeefdeadbeefL & ConfigurationUsedBits.TTB0_MASK;
        } else {
            t[0] |= BitField.place(ContextDescriptor.EPD0, 1);
        }
        t[3] = 0x0abcdef012345678L;
        return t;
    }

    @Test
    void bypassToAbort() {
        expect(true, bypass(), abort(), 2, true);
    }

    @Test
    void abortToBypass() {
        expect(true, abort(), bypass(), 2, true);
    }

    @Test
    void cdtableToAbortAndBack() {
        expect(true, cdtable(StreamTableEntry.S1DSS_SSID0, FAKE_CDTAB, ATS, false), abort(), 2, true);
        expect(true, abort(), cdtable(StreamTableEntry.S1DSS_SSID0, FAKE_CDTAB, ATS, false), 2, true);
    }

    @Test
    void cdtableToBypassAndBack() {
        expect(true, cdtable(StreamTableEntry.S1DSS_SSID0, FAKE_CDTAB, ATS, false), bypass(), 3, true);
        expect(true, bypass(), cdtable(StreamTableEntry.S1DSS_SSID0, FAKE_CDTAB, ATS, false), 3, true);
    }

    @Test
    void cdtableS1dssChangeIsOneWrite() {
        long[] ssid0 = cdtable(StreamTableEntry.S1DSS_SSID0, FAKE_CDTAB, ATS, false);
        long[] byp = cdtable(StreamTableEntry.S1DSS_BYPASS, FAKE_CDTAB, ATS, false);
        expect(true, ssid0, byp, 1, true);
        expect(true, byp, ssid0, 1, true);
    }

    @Test
    void s1dssBypassToSteBypassAndBack() {
        long[] byp = cdtable(StreamTableEntry.S1DSS_BYPASS, FAKE_CDTAB, ATS, false);
        expect(true, byp, bypass(), 2, true);
        expect(true, bypass(), byp, 2, true);
    }

    @Test
    void s2ToAbortAndBypassAndBack() {
        expect(true, s2(ATS, false), abort(), 2, true);
        expect(true, abort(), s2(ATS, false), 2, true);
        expect(true, s2(ATS, false), bypass(), 2, true);
        expect(true, bypass(), s2(ATS, false), 2, true);
    }

    @Test
    void s1ToS2AndBack() {
        long[] s1 = cdtable(StreamTableEntry.S1DSS_SSID0, FAKE_CDTAB, ATS, false);
        expect(true, s1, s2(ATS, false), 3, true);
        expect(true, s2(ATS, false), s1, 3, true);
    }

    @Test
    void s1ToS2AndBackWithStall() {
        long[] s1 = cdtable(StreamTableEntry.S1DSS_SSID0, FAKE_CDTAB, false, true);
        expect(true, s1, s2(false, true), 3, true);
        expect(true, s2(false, true), s1, 3, true);
    }

    @Test
    void changingCdPointerAndS1dssTogetherIsNotHitless() {
        expect(true, cdtable(StreamTableEntry.S1DSS_SSID0, FAKE_CDTAB, ATS, false),
                cdtable(StreamTableEntry.S1DSS_BYPASS, 0x4B4B4b4B4BL, ATS, false), 3, false);
    }

    @Test
    void cdClearIsNotHitless() {
        expect(false, new long[8], s1Cd(1997), 2, false);
        expect(false, s1Cd(1997), new long[8], 2, false);
    }

    @Test
    void cdAsidChangeIsOneWrite() {
        expect(false, s1Cd(778), s1Cd(1997), 1, true);
        expect(false, s1Cd(1997), s1Cd(778), 1, true);
    }

    @Test
    void svaCdClearAndRelease() {
        expect(false, new long[8], svaCd(1997, true), 2, false);
        expect(false, svaCd(1997, true), new long[8], 2, false);
        expect(false, svaCd(1997, true), svaCd(1997, false), 2, true);
        expect(false, svaCd(1997, false), svaCd(1997, true), 2, true);
    }

    @Test
    void unusedBitsInTheTargetAreRejected() {
        long[] bad = abort();
        bad[3] = 1; // an abort STE does not use dword 3
        RecordingWriter w = new RecordingWriter(true, bypass(), bad);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> w.writeEntry(bad));
        assertFalse(w.invalidWritten);
    }
}
