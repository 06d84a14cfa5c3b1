package dev.iommufd.smmuv3.hw;

import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.ContextDescriptor;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import dev.iommufd.smmuv3.layout.TranslationDescriptor;
import dev.iommufd.smmuv3.layout.TranslationGranule;
import dev.iommufd.spi.hw.Translation;

/**
 * Decodes STEs and CDs (with the SteIllegal / CdIllegal checks of IHI0070 5.2 and 5.4) and walks VMSAv8-64
 * stage-1 and stage-2 translation tables (Arm ARM D8) for one transaction at a time. Reads only physical
 * memory. Holds the decoded configuration and the fault details of the current transaction in primitive
 * fields, so that a walk allocates nothing.
 *
 * <p>Every method returns 0 for success or an event ID ({@link EventRecord}); the fault details
 * ({@link #faultS2}, {@link #faultClass}, {@link #faultIpa}, {@link #faultFetchAddr}, {@link #faultTtRnW},
 * {@link #faultRecord}) describe the event. Not thread-safe: owned by one unit, used under its lock.
 *
 * <h2>Choices where the architecture leaves freedom</h2>
 * <ul>
 *   <li>Misaligned low bits of TTB0/TTB1/S2TTB (below the start table's size) are treated as zero.</li>
 *   <li>The contiguous hint is honoured: one TLB entry covers the whole contiguous set.</li>
 *   <li>The walk cache (IHI0070 3.17) holds last-level table addresses only (one entry per block a level-2 entry
 *       spans: 2 MiB, 32 MiB, 512 MiB for the 4K, 16K, 64K granules), for stage-1-only and stage-2-only walks;
 *       nested walks bypass it. TLBI_NH_VA/VAA/S2_IPA with Leaf=0 drop the covering entries, Leaf=1 keeps them.</li>
 *   <li>AArch32 (LPAE) tables and big-endian tables are not implemented: the presets advertise AArch64-only,
 *       little-endian tables (IDR0.TTF=2, TTENDIAN=2), so S2AA64=0, CD.AA64=0 and ENDI=1 are ILLEGAL.</li>
 * </ul>
 */
final class TranslationTableWalker {
    /** Internal status: a descriptor changed under a hardware update; walk again. */
    static final int RETRY = -1;

    /** The memory walks read; null while a thread's walker is idle or for a frozen (decoded-only) walker. */
    private PhysicalMemory memory;
    private final IdRegisters id;

    // ---- decoded STE
    int config;
    int s1Fmt;
    long s1ContextPtr;
    int s1CdMax;
    int s1Dss;
    int strw;
    int eats;
    int vmid;
    TranslationGranule s2Granule;
    int s2InputBits;
    int s2StartLevel;
    int s2StartBits;
    long s2Ttb;
    int s2OutputBits;
    boolean s2Affd;
    boolean s2Ha;
    boolean s2Hd;
    boolean s2Record;
    boolean s2Ptw;
    /** STE.S2S: stage-2 translation faults stall. */
    boolean s2Stall;

    // ---- decoded CD (TTB0 range index 0, TTB1 range index 1)
    final int[] tsz = new int[2];
    final TranslationGranule[] granule = new TranslationGranule[2];
    final boolean[] epd = new boolean[2];
    final long[] ttb = new long[2];
    final boolean[] tbi = new boolean[2];
    final boolean[] had = new boolean[2];
    int ipsBits;
    boolean affd;
    boolean wxn;
    boolean pan;
    boolean ha;
    boolean hd;
    boolean record;
    /** CD.S: stage-1 translation faults stall. */
    boolean stall;
    int asid;
    long mair;

    /** Decoding for inspection (frame visits): hardware updates (HTTU) are not performed. */
    boolean probeOnly;

    // ---- fault details
    int faultS2;
    int faultClass;
    long faultIpa;
    long faultFetchAddr;
    int faultTtRnW;
    boolean faultRecord;

    // ---- walk cache (IHI0070 3.17): set by the unit for the walk of one transaction's input address

    /**
     * Hierarchical attribute bits a walk-cache entry keeps with its table address (in the entry's permission field;
     * bit 0 is always set so that a lookup needing {@link Smmuv3Tlb#PERM_READ_PRIV} matches every entry).
     */
    static final int WALK_PRESENT = Smmuv3Tlb.PERM_READ_PRIV;
    static final int WALK_AP_TABLE_NO_EL0 = 2;
    static final int WALK_AP_TABLE_RDONLY = 4;
    static final int WALK_PXN_TABLE = 8;
    static final int WALK_UXN_TABLE = 16;

    /** The unit's walk cache, or null (a walker that never caches). */
    private Smmuv3Tlb walkCache;
    /**
     * {@link Smmuv3Tlb#KIND_S1} (a stage-1-only walk), {@link Smmuv3Tlb#KIND_S2} (a stage-2-only walk of the input
     * address) or {@link Smmuv3Tlb#KIND_EMPTY} (no walk-cache use: nested walks bypass it).
     */
    private int walkKind;
    private int walkVmid;
    private int walkAsid;
    /** The TLB's invalidation count sampled before the walk (a walk-cache fill is dropped when it moved). */
    private int walkSample;
    /** Walks that started from a walk-cache entry (this walker's own count: tests read their thread's). */
    long walkCacheHits;

    /**
     * Lets the next input-address walks use and fill {@code cache} for a translation of kind {@code kind} ({@link
     * Smmuv3Tlb#KIND_S1} or {@link Smmuv3Tlb#KIND_S2}; anything else, e.g. {@link Smmuv3Tlb#KIND_NESTED}, bypasses
     * the cache), tagged by {@code vm} and {@code as}, filling only if no invalidation ran since {@code sample}.
     */
    void useWalkCache(Smmuv3Tlb cache, int kind, int vm, int as, int sample) {
        walkCache = cache;
        walkKind = kind == Smmuv3Tlb.KIND_S1 || kind == Smmuv3Tlb.KIND_S2 ? kind : Smmuv3Tlb.KIND_EMPTY;
        walkVmid = vm;
        walkAsid = as;
        walkSample = sample;
    }

    // ---- walk results
    long s1Output;
    int s1Shift;
    int s1Perm;
    boolean s1Global;
    long s2Output;
    int s2Shift;
    int s2Perm;

    TranslationTableWalker(PhysicalMemory memory, IdRegisters id) {
        this.memory = memory;
        this.id = id;
    }

    /**
     * Binds the memory a thread's walker reads for one walk (null afterwards: an idle walker kept by a thread
     * retains no machine).
     */
    void bindMemory(PhysicalMemory m) {
        memory = m;
    }

    /** The configuration {@link #loadConfiguration} last copied, to skip copying it again. */
    private TranslationTableWalker loadedFrom;

    /**
     * Copies the decoded STE and CD of {@code from} (a frozen walker held by a {@link DecodedConfiguration}) into
     * this walker, so that it can walk for that configuration.
     */
    void loadConfiguration(TranslationTableWalker from) {
        if (loadedFrom == from) {
            return;
        }
        copyConfiguration(from);
        loadedFrom = from;
    }

    /** Copies the decoded STE and CD of {@code from} (without remembering it: a frozen copy keeps no reference). */
    void copyConfiguration(TranslationTableWalker from) {
        config = from.config;
        s1Fmt = from.s1Fmt;
        s1ContextPtr = from.s1ContextPtr;
        s1CdMax = from.s1CdMax;
        s1Dss = from.s1Dss;
        strw = from.strw;
        eats = from.eats;
        vmid = from.vmid;
        s2Granule = from.s2Granule;
        s2InputBits = from.s2InputBits;
        s2StartLevel = from.s2StartLevel;
        s2StartBits = from.s2StartBits;
        s2Ttb = from.s2Ttb;
        s2OutputBits = from.s2OutputBits;
        s2Affd = from.s2Affd;
        s2Ha = from.s2Ha;
        s2Hd = from.s2Hd;
        s2Record = from.s2Record;
        s2Ptw = from.s2Ptw;
        s2Stall = from.s2Stall;
        for (int r = 0; r < 2; r++) {
            tsz[r] = from.tsz[r];
            granule[r] = from.granule[r];
            epd[r] = from.epd[r];
            ttb[r] = from.ttb[r];
            tbi[r] = from.tbi[r];
            had[r] = from.had[r];
        }
        ipsBits = from.ipsBits;
        affd = from.affd;
        wxn = from.wxn;
        pan = from.pan;
        ha = from.ha;
        hd = from.hd;
        record = from.record;
        stall = from.stall;
        asid = from.asid;
        mair = from.mair;
        loadedFrom = null;
    }

    /** Forgets which configuration was loaded (the decode methods overwrite it). */
    private void configurationChanged() {
        loadedFrom = null;
    }

    private void resetFault() {
        faultS2 = 0;
        faultClass = EventRecord.CLASS_IN;
        faultIpa = 0;
        faultFetchAddr = 0;
        faultTtRnW = 0;
        faultRecord = true;
    }

    // =====================================================================================================
    // STE
    // =====================================================================================================

    /**
     * Decodes an STE and applies the SteIllegal checks (IHI0070 5.2, non-secure subset, in the pseudocode's
     * order). Returns 0 or {@link EventRecord#C_BAD_STE}.
     */
    int decodeSte(long[] ste) {
        configurationChanged();
        resetFault();
        if (!BitField.isSet(ste, StreamTableEntry.V)) {
            return EventRecord.C_BAD_STE;
        }
        config = (int) BitField.get(ste, StreamTableEntry.CONFIG);
        if ((config & 0b100) == 0) {
            config = StreamTableEntry.CONFIG_ABORT; // 0b0xx: abort, everything else ignored
            return 0;
        }
        if (config == StreamTableEntry.CONFIG_BYPASS) {
            return 0;
        }
        boolean s1 = StreamTableEntry.stage1Enabled(config);
        boolean s2 = StreamTableEntry.stage2Enabled(config);
        if (s1 && !id.s1p() || s2 && !id.s2p()) {
            return EventRecord.C_BAD_STE;
        }
        eats = (int) BitField.get(ste, StreamTableEntry.EATS);
        boolean s2s = BitField.isSet(ste, StreamTableEntry.S2S);
        if (id.ats()) {
            if (eats == 2 && (config != StreamTableEntry.CONFIG_NESTED || s2s || id.ns1ats())) {
                return EventRecord.C_BAD_STE;
            }
            if (eats == 1 && s2 && s2s) {
                return EventRecord.C_BAD_STE;
            }
            if (eats == 3) {
                return EventRecord.C_BAD_STE; // DPT not implemented (IDR3.DPT=0)
            }
        }
        strw = (int) BitField.get(ste, StreamTableEntry.STRW);
        if (s1) {
            if ((strw & 1) != 0 || strw == StreamTableEntry.STRW_EL2 && !id.hyp()) {
                return EventRecord.C_BAD_STE;
            }
            if (strw == StreamTableEntry.STRW_EL2) {
                return EventRecord.C_BAD_STE; // EL2 StreamWorld is not modelled (IDR0.Hyp=0 in both presets)
            }
            if (BitField.isSet(ste, StreamTableEntry.S1STALLD)
                    && id.stallModel() != SmmuRegisters.IDR0_STALL_MODEL_STALL_TERMINATE) {
                return EventRecord.C_BAD_STE;
            }
            s1CdMax = (int) BitField.get(ste, StreamTableEntry.S1CDMAX);
            if (s1CdMax > id.ssidSize()) {
                return EventRecord.C_BAD_STE;
            }
            s1Fmt = (int) BitField.get(ste, StreamTableEntry.S1FMT);
            if (s1Fmt == 3) {
                s1Fmt = StreamTableEntry.S1FMT_LINEAR;
            }
            if (s1CdMax == 0) {
                s1Fmt = StreamTableEntry.S1FMT_LINEAR;
            } else if (s1Fmt != StreamTableEntry.S1FMT_LINEAR && !id.cd2l()) {
                return EventRecord.C_BAD_STE;
            }
            s1Dss = (int) BitField.get(ste, StreamTableEntry.S1DSS);
            if (s1CdMax != 0 && s1Dss == 3) {
                return EventRecord.C_BAD_STE;
            }
            s1ContextPtr = StreamTableEntry.s1ContextPtr(ste[0]);
            int limit = s2 ? 64 - (int) BitField.get(ste, StreamTableEntry.S2T0SZ) : id.oasBits();
            if ((s1ContextPtr >>> limit) != 0) {
                return EventRecord.C_BAD_STE;
            }
        }
        vmid = 0;
        if (s1 || s2) {
            vmid = (int) BitField.get(ste, StreamTableEntry.S2VMID);
            if (!id.s2p()) {
                vmid = 0; // IgnoreSTES2VMID: stage 2 not implemented
            } else if (!id.vmid16() && (vmid >>> 8) != 0) {
                return EventRecord.C_BAD_STE;
            }
        }
        if (s2) {
            int r = decodeStage2(ste, s2s);
            if (r != 0) {
                return r;
            }
        }
        return 0;
    }

    private int decodeStage2(long[] ste, boolean s2s) {
        if (BitField.isSet(ste, StreamTableEntry.S2FWB) && !id.fwb()) {
            return EventRecord.C_BAD_STE;
        }
        int stall = id.stallModel();
        if (s2s && stall == SmmuRegisters.IDR0_STALL_MODEL_TERMINATE
                || !s2s && stall == SmmuRegisters.IDR0_STALL_MODEL_FORCED) {
            return EventRecord.C_BAD_STE;
        }
        if (!BitField.isSet(ste, StreamTableEntry.S2AA64) || (id.ttf() & 2) == 0) {
            return EventRecord.C_BAD_STE; // VMSAv8-32 stage 2 not implemented (TTF has no AArch32)
        }
        s2Ha = BitField.isSet(ste, StreamTableEntry.S2HA);
        s2Hd = BitField.isSet(ste, StreamTableEntry.S2HD);
        if ((s2Ha || s2Hd) && id.httu() == 0 || s2Hd && id.httu() == SmmuRegisters.IDR0_HTTU_ACCESS) {
            return EventRecord.C_BAD_STE;
        }
        s2Granule = TranslationGranule.fromS2tg((int) BitField.get(ste, StreamTableEntry.S2TG));
        if (s2Granule == null || !id.granuleSupported(s2Granule.idr5Bit())) {
            return EventRecord.C_BAD_STE;
        }
        int ps = SmmuRegisters.addressSizeBits((int) BitField.get(ste, StreamTableEntry.S2PS));
        s2OutputBits = Math.min(ps, id.oasBits());
        if (s2OutputBits == 52 && s2Granule != TranslationGranule.G64K) {
            s2OutputBits = 48; // 52-bit output needs the 64 KiB granule without DS
        }
        s2Ttb = StreamTableEntry.s2Ttb(ste[3]);
        if ((s2Ttb >>> s2OutputBits) != 0) {
            return EventRecord.C_BAD_STE;
        }
        int t0sz = (int) BitField.get(ste, StreamTableEntry.S2T0SZ);
        int txszMax = id.stt() ? (s2Granule == TranslationGranule.G64K ? 47 : 48) : 39;
        int txszMin = Math.max(s2Granule == TranslationGranule.G64K && id.oasBits() == 52 ? 12 : 16, 64 - id.iasBits());
        if (t0sz < txszMin || t0sz > txszMax) {
            return EventRecord.C_BAD_STE;
        }
        s2InputBits = 64 - t0sz;
        int sl0 = (int) BitField.get(ste, StreamTableEntry.S2SL0);
        if (BitField.isSet(ste, StreamTableEntry.S2DS) || BitField.isSet(ste, StreamTableEntry.S2SL0_2)) {
            return EventRecord.C_BAD_STE; // DS (LPA2) not advertised
        }
        switch (s2Granule) {
            case G4K:
                s2StartLevel = sl0 == 3 ? (id.stt() ? 3 : -1) : 2 - sl0;
                break;
            case G16K:
                s2StartLevel = sl0 == 3 ? -1 : 3 - sl0;
                break;
            default:
                s2StartLevel = sl0 == 3 ? -1 : 3 - sl0;
                break;
        }
        if (s2StartLevel < 0) {
            return EventRecord.C_BAD_STE;
        }
        s2StartBits = s2InputBits - s2Granule.levelShift(s2StartLevel);
        // STEWalkConfigInconsistentAA64: at most 16 concatenated tables, at least one bit resolved
        if (s2StartBits < 1 || s2StartBits > s2Granule.stride() + 4) {
            return EventRecord.C_BAD_STE;
        }
        if (s2Granule == TranslationGranule.G4K && s2StartLevel == 0 && s2StartBits > s2Granule.stride()) {
            return EventRecord.C_BAD_STE; // no concatenation at level 0
        }
        s2Ttb &= -(8L << s2StartBits) & -64L; // low bits below the (concatenated) start table are treated as 0
        if (BitField.isSet(ste, StreamTableEntry.S2ENDI)) {
            return EventRecord.C_BAD_STE; // big-endian tables not implemented (TTENDIAN must not say BE-capable)
        }
        s2Stall = s2s;
        s2Affd = BitField.isSet(ste, StreamTableEntry.S2AFFD);
        s2Record = BitField.isSet(ste, StreamTableEntry.S2R);
        s2Ptw = BitField.isSet(ste, StreamTableEntry.S2PTW);
        return 0;
    }

    // =====================================================================================================
    // CD
    // =====================================================================================================

    /**
     * Decodes a CD with the CdIllegal checks (IHI0070 5.4, non-secure, EL1 StreamWorld). Returns 0 or
     * {@link EventRecord#C_BAD_CD}.
     *
     * @param s1Stalld the STE's S1STALLD
     */
    int decodeCd(long[] cd, boolean s1Stalld) {
        configurationChanged();
        resetFault();
        if (!BitField.isSet(cd, ContextDescriptor.V)) {
            return EventRecord.C_BAD_CD;
        }
        boolean s = BitField.isSet(cd, ContextDescriptor.S);
        int stallModel = id.stallModel();
        if (s1Stalld && s || id.termModel() && !BitField.isSet(cd, ContextDescriptor.A)
                || stallModel == SmmuRegisters.IDR0_STALL_MODEL_TERMINATE && s
                || stallModel == SmmuRegisters.IDR0_STALL_MODEL_FORCED && !s) {
            return EventRecord.C_BAD_CD;
        }
        if (!BitField.isSet(cd, ContextDescriptor.AA64) || (id.ttf() & 2) == 0) {
            return EventRecord.C_BAD_CD; // AArch32 stage 1 not implemented
        }
        ha = BitField.isSet(cd, ContextDescriptor.HA);
        hd = BitField.isSet(cd, ContextDescriptor.HD);
        if ((ha || hd) && id.httu() == 0 || hd && id.httu() == SmmuRegisters.IDR0_HTTU_ACCESS) {
            return EventRecord.C_BAD_CD;
        }
        asid = (int) BitField.get(cd, ContextDescriptor.ASID);
        if (!id.asid16() && (asid >>> 8) != 0) {
            return EventRecord.C_BAD_CD;
        }
        ipsBits = Math.min(SmmuRegisters.addressSizeBits((int) BitField.get(cd, ContextDescriptor.IPS)), id.oasBits());
        epd[0] = BitField.isSet(cd, ContextDescriptor.EPD0);
        epd[1] = BitField.isSet(cd, ContextDescriptor.EPD1);
        boolean anyEnabled = !epd[0] || !epd[1];
        if (anyEnabled && BitField.isSet(cd, ContextDescriptor.ENDI)) {
            return EventRecord.C_BAD_CD; // big-endian tables not implemented (TTENDIAN=LE)
        }
        tsz[0] = (int) BitField.get(cd, ContextDescriptor.T0SZ);
        tsz[1] = (int) BitField.get(cd, ContextDescriptor.T1SZ);
        granule[0] = TranslationGranule.fromTg0((int) BitField.get(cd, ContextDescriptor.TG0));
        int tg1 = (int) BitField.get(cd, ContextDescriptor.TG1);
        granule[1] = tg1 == ContextDescriptor.TG1_4K ? TranslationGranule.G4K
                : tg1 == ContextDescriptor.TG1_16K ? TranslationGranule.G16K
                : tg1 == ContextDescriptor.TG1_64K ? TranslationGranule.G64K : null;
        ttb[0] = ContextDescriptor.ttb0(cd[1]);
        ttb[1] = cd[2] & BitField.mask(ContextDescriptor.TTB1);
        tbi[0] = BitField.isSet(cd, ContextDescriptor.TBI0);
        tbi[1] = BitField.isSet(cd, ContextDescriptor.TBI1);
        had[0] = BitField.isSet(cd, ContextDescriptor.HAD0);
        had[1] = BitField.isSet(cd, ContextDescriptor.HAD1);
        for (int r = 0; r < 2; r++) {
            if (epd[r]) {
                continue;
            }
            TranslationGranule g = granule[r];
            if (g == null || !id.granuleSupported(g.idr5Bit())) {
                return EventRecord.C_BAD_CD;
            }
            int txszMax = id.stt() ? (g == TranslationGranule.G64K ? 47 : 48) : 39;
            int txszMin = id.vax() >= 1 && g == TranslationGranule.G64K ? 12 : 16;
            if (tsz[r] < txszMin || tsz[r] > txszMax) {
                return EventRecord.C_BAD_CD;
            }
            if ((ttb[r] >>> ipsBits) != 0) {
                return EventRecord.C_BAD_CD; // CDTTBxOutOfRange
            }
        }
        affd = BitField.isSet(cd, ContextDescriptor.AFFD);
        wxn = BitField.isSet(cd, ContextDescriptor.WXN);
        pan = BitField.isSet(cd, ContextDescriptor.PAN);
        record = BitField.isSet(cd, ContextDescriptor.R);
        stall = s;
        mair = cd[3];
        return 0;
    }

    // =====================================================================================================
    // Stage 1
    // =====================================================================================================

    /**
     * The stage-1 walk of {@code va} (IHI0070 3.4, Arm ARM D8). With {@code nested}, every table address is an IPA
     * translated by stage 2 first (faults: S2=1, CLASS=TT). Sets {@link #s1Output}, {@link #s1Shift},
     * {@link #s1Perm}, {@link #s1Global}.
     */
    int stage1(long va, int access, boolean nested) {
        resetFault();
        faultRecord = record;
        int r = (va >>> 55 & 1) == 0 ? 0 : 1;
        // Top byte: without TBI, VA[63:56] must equal VA[55].
        long top = va >> 55; // sign-extended bits [63:55]
        if (!tbi[r] && top != 0 && top != -1) {
            return EventRecord.F_TRANSLATION;
        }
        int inputBits = 64 - tsz[r];
        long rangeBits = (va << 8) >> (8 + inputBits); // VA[55:inputBits], sign-extended from bit 55
        if (r == 0 ? rangeBits != 0 : rangeBits != -1) {
            return EventRecord.F_TRANSLATION;
        }
        if (epd[r]) {
            return EventRecord.F_TRANSLATION;
        }
        TranslationGranule g = granule[r];
        int level = g.startLevel(inputBits);
        int bits = inputBits - g.levelShift(level);
        long table = ttb[r] & -(8L << bits) & -64L;
        boolean apTableNoEl0 = false;
        boolean apTableRdonly = false;
        boolean pxnTable = false;
        boolean uxnTable = false;
        // the walk cache holds, per block of input address one level-2 entry spans, the level-3 table and the
        // hierarchical attributes gathered on the way (nested walks bypass it: their table addresses are IPAs)
        boolean cached = !nested && walkKind == Smmuv3Tlb.KIND_S1 && level < 3;
        int blockShift = g.levelShift(2);
        if (cached) {
            long d = walkCache.lookup(Smmuv3Tlb.KIND_S1, walkVmid, walkAsid, va, WALK_PRESENT);
            if (d != Smmuv3Tlb.MISS && Smmuv3Tlb.pageShift(d) == blockShift) {
                int a = Smmuv3Tlb.permissions(d);
                table = Smmuv3Tlb.output(d);
                level = 3;
                bits = g.stride();
                apTableNoEl0 = (a & WALK_AP_TABLE_NO_EL0) != 0;
                apTableRdonly = (a & WALK_AP_TABLE_RDONLY) != 0;
                pxnTable = (a & WALK_PXN_TABLE) != 0;
                uxnTable = (a & WALK_UXN_TABLE) != 0;
                cached = false;
                walkCacheHits++;
            }
        }
        for (;;) {
            int shift = g.levelShift(level);
            long index = (va >>> shift) & ((1L << bits) - 1);
            long descIpa = table + index * 8;
            long descPa = descIpa;
            if (nested) {
                int s2 = stage2(descIpa, false, false, EventRecord.CLASS_TT);
                if (s2 != 0) {
                    faultTtRnW = 1;
                    return s2;
                }
                descPa = s2Output;
                stage1FaultContext();
            }
            long desc;
            try {
                desc = memory.read64(descPa);
            } catch (BusErrorException e) {
                faultClass = EventRecord.CLASS_TT;
                faultFetchAddr = descPa;
                faultRecord = true;
                return EventRecord.F_WALK_EABT;
            }
            if (!TranslationDescriptor.isValid(desc)) {
                return EventRecord.F_TRANSLATION;
            }
            if (TranslationDescriptor.isTable(desc, level)) {
                long next = TranslationDescriptor.outputAddress(desc, g, g.shift());
                if ((next >>> ipsBits) != 0) {
                    return EventRecord.F_ADDR_SIZE;
                }
                if (!had[r]) {
                    apTableNoEl0 |= (desc & TranslationDescriptor.AP_TABLE_NO_EL0) != 0;
                    apTableRdonly |= (desc & TranslationDescriptor.AP_TABLE_RDONLY) != 0;
                    pxnTable |= (desc & TranslationDescriptor.PXN_TABLE) != 0;
                    uxnTable |= (desc & TranslationDescriptor.UXN_TABLE) != 0;
                }
                if (cached && level == 2) {
                    int a = WALK_PRESENT | (apTableNoEl0 ? WALK_AP_TABLE_NO_EL0 : 0)
                            | (apTableRdonly ? WALK_AP_TABLE_RDONLY : 0) | (pxnTable ? WALK_PXN_TABLE : 0)
                            | (uxnTable ? WALK_UXN_TABLE : 0);
                    walkCache.fillTable(Smmuv3Tlb.KIND_S1, walkVmid, walkAsid, va, next, blockShift, a, walkSample);
                }
                table = next;
                level++;
                bits = g.stride();
                continue;
            }
            if (level == 3 ? (desc & TranslationDescriptor.TYPE_MASK) != TranslationDescriptor.TYPE_PAGE
                    : !g.blockAllowed(level, ipsBits)) {
                return EventRecord.F_TRANSLATION;
            }
            long oa = TranslationDescriptor.outputAddress(desc, g, shift);
            if ((oa >>> ipsBits) != 0) {
                return EventRecord.F_ADDR_SIZE;
            }
            if ((desc & TranslationDescriptor.AF) == 0) {
                if (ha) {
                    int u = updateDescriptor(descPa, descIpa, desc, TranslationDescriptor.AF, 0, nested);
                    if (u != 0) {
                        return u;
                    }
                    desc |= TranslationDescriptor.AF;
                } else if (!affd) {
                    return EventRecord.F_ACCESS;
                }
            }
            boolean rdonly = (desc & TranslationDescriptor.AP_RDONLY) != 0 || apTableRdonly;
            boolean el0 = (desc & TranslationDescriptor.AP_UNPRIV) != 0 && !apTableNoEl0;
            boolean dirtyCapable = hd && (desc & TranslationDescriptor.DBM) != 0 && !apTableRdonly;
            boolean priv = (access & Translation.ACCESS_PRIV) != 0;
            boolean write = (access & Translation.ACCESS_WRITE) != 0;
            if (write && rdonly && dirtyCapable && (priv ? !(pan && el0) : el0)) {
                int u = updateDescriptor(descPa, descIpa, desc, 0, TranslationDescriptor.AP_RDONLY, nested);
                if (u != 0) {
                    return u;
                }
                desc &= ~TranslationDescriptor.AP_RDONLY;
                rdonly = false;
            }
            int perm = 0;
            boolean writable = !rdonly;
            perm |= pan && el0 ? 0 : Smmuv3Tlb.PERM_READ_PRIV;
            perm |= !writable || pan && el0 ? 0 : Smmuv3Tlb.PERM_WRITE_PRIV;
            perm |= el0 ? Smmuv3Tlb.PERM_READ_UNPRIV : 0;
            perm |= el0 && writable ? Smmuv3Tlb.PERM_WRITE_UNPRIV : 0;
            boolean wxnBlocks = wxn && writable;
            if ((desc & TranslationDescriptor.PXN) == 0 && !pxnTable && !wxnBlocks && !(el0 && writable)) {
                perm |= Smmuv3Tlb.PERM_EXEC_PRIV;
            }
            if (el0 && (desc & TranslationDescriptor.UXN) == 0 && !uxnTable && !wxnBlocks) {
                perm |= Smmuv3Tlb.PERM_EXEC_UNPRIV;
            }
            if ((perm & requiredPermission(access)) == 0) {
                return EventRecord.F_PERMISSION;
            }
            int span = contiguousShift(desc, g, level, shift);
            s1Output = (oa & -(1L << span)) | (va & ((1L << span) - 1));
            s1Shift = span;
            s1Perm = perm;
            s1Global = (desc & TranslationDescriptor.NG) == 0;
            return 0;
        }
    }

    /**
     * The contiguous hint (Arm ARM D8.6.1): a leaf with Contiguous=1 is one of an aligned set of
     * {@link TranslationGranule#contiguousEntries} identical entries, so the translation may be cached for the whole
     * set. The model honours it: the returned page (and the TLB entry) spans the set. A set programmed
     * inconsistently gives UNPREDICTABLE results, as on hardware (this model uses the entry it walked).
     */
    static int contiguousShift(long desc, TranslationGranule g, int level, int shift) {
        int n = g.contiguousEntries(level);
        if ((desc & TranslationDescriptor.CONT) == 0 || n == 0) {
            return shift;
        }
        return shift + Integer.numberOfTrailingZeros(n);
    }

    /** After a successful nested stage-2 lookup: later faults of this walk are stage-1 faults again. */
    private void stage1FaultContext() {
        faultS2 = 0;
        faultClass = EventRecord.CLASS_IN;
        faultIpa = 0;
        faultRecord = record;
    }

    /** The TLB permission bit an access needs. */
    static int requiredPermission(int access) {
        boolean priv = (access & Translation.ACCESS_PRIV) != 0;
        if ((access & Translation.ACCESS_WRITE) != 0) {
            return priv ? Smmuv3Tlb.PERM_WRITE_PRIV : Smmuv3Tlb.PERM_WRITE_UNPRIV;
        }
        if ((access & Translation.ACCESS_EXEC) != 0) {
            return priv ? Smmuv3Tlb.PERM_EXEC_PRIV : Smmuv3Tlb.PERM_EXEC_UNPRIV;
        }
        return priv ? Smmuv3Tlb.PERM_READ_PRIV : Smmuv3Tlb.PERM_READ_UNPRIV;
    }

    /**
     * A hardware update of a stage-1 descriptor (HTTU): atomically sets {@code set} and clears {@code clear} if the
     * descriptor is still {@code expected}. When nested, the write needs stage-2 write permission on the
     * descriptor's IPA (a failure is a stage-2 fault with CLASS=TT and TTRnW=0).
     */
    private int updateDescriptor(long pa, long ipa, long expected, long set, long clear, boolean nested) {
        if (nested) {
            int s2 = stage2(ipa, true, false, EventRecord.CLASS_TT);
            if (s2 != 0) {
                faultTtRnW = 0;
                return s2;
            }
            stage1FaultContext();
        }
        if (!memory.compareAndSet64(pa, expected, (expected | set) & ~clear)) {
            return RETRY;
        }
        return 0;
    }

    // =====================================================================================================
    // Read-ahead: the overlapped descriptor reads of a window's misses
    // =====================================================================================================

    /** The most requests one {@link #readAhead} takes (a unit splits a larger window into runs of this many). */
    static final int READ_AHEAD_MAX = 64;
    /**
     * Per request of the current read-ahead (indices 0 to n - 1, in window order): the physical address of the
     * descriptor its walk reads next, or -1 once it reached a leaf, an invalid descriptor or a fault.
     */
    private final long[] aheadDescriptor = new long[READ_AHEAD_MAX];
    /** The input address of each request of the current read-ahead. */
    private final long[] aheadInput = new long[READ_AHEAD_MAX];
    /** The level of the descriptor {@link #aheadDescriptor} holds. */
    private final int[] aheadLevel = new int[READ_AHEAD_MAX];
    /**
     * Every descriptor a read-ahead read, folded together: kept in a field so that the compiler cannot drop the
     * reads (their only purpose is to bring the lines in before the walks that use them).
     */
    long readAheadDigest;

    /**
     * The walks of several outstanding requests, as an SMMU with several page-table walkers performs them
     * concurrently (IHI0070 leaves the order and concurrency of outstanding transactions' walks to the
     * implementation; e.g. Arm's MMU-600/MMU-700 serve TLB hits in their TBUs while the TCU walks several misses),
     * read ahead: for the requests of {@code inputs[from + k]} for every bit {@code k} of {@code pending} (input
     * addresses of the configuration this walker holds), first the walk-cache sets of all of them
     * ({@link Smmuv3Tlb#touch}), then the descriptors their walks will read, level by level across the requests,
     * starting below what the walk cache holds. The reads of one step are independent of each other, so their
     * memory latencies overlap; the walks that follow (each request's own translation, in window order) then find
     * the lines in the CPU caches.
     *
     * <p>Reads only: no descriptor is updated (no HTTU), no cache is filled and no fault is reported; a request
     * whose walk would fault, or whose translation a hardware update or a concurrent change would decide, just
     * stops being read ahead. So a read-ahead changes nothing that {@code translate} could observe, and the walks
     * after it give exactly the results and events they give alone. Stage-1-only ({@code stage1}) and stage-2-only
     * configurations; a nested configuration is not read ahead (its caller does not call this).
     *
     * @param pending bit {@code k} set: {@code inputs[from + k]} is read ahead ({@code k < 64})
     * @param stage1 whether the configuration translates at stage 1 only (else stage 2 only)
     */
    void readAhead(long[] inputs, int from, long pending, boolean stage1) {
        long digest = 0;
        if (walkKind == Smmuv3Tlb.KIND_S1 || walkKind == Smmuv3Tlb.KIND_S2) {
            // the walk-cache sets first, all of them: their reads overlap (the lookups below then find them near)
            for (long m = pending; m != 0; m &= m - 1) {
                digest += walkCache.touch(walkVmid, inputs[from + Long.numberOfTrailingZeros(m)]);
            }
        }
        int n = 0;
        for (long m = pending; m != 0; m &= m - 1) {
            long input = inputs[from + Long.numberOfTrailingZeros(m)];
            long descriptor = stage1 ? firstStage1Descriptor(input, n) : firstStage2Descriptor(input, n);
            if (descriptor >= 0) {
                aheadDescriptor[n] = descriptor;
                aheadInput[n] = input;
                n++;
            }
        }
        for (boolean more = n > 0; more;) {
            more = false;
            for (int j = 0; j < n; j++) {
                long pa = aheadDescriptor[j];
                if (pa < 0) {
                    continue;
                }
                long desc;
                try {
                    desc = memory.read64(pa);
                } catch (BusErrorException e) {
                    aheadDescriptor[j] = -1; // the walk reports it (F_WALK_EABT)
                    continue;
                }
                digest += desc;
                int level = aheadLevel[j];
                long input = aheadInput[j];
                TranslationGranule g = stage1 ? granule[(int) (input >>> 55) & 1] : s2Granule;
                int outputBits = stage1 ? ipsBits : s2OutputBits;
                long next;
                if (level < 3 && TranslationDescriptor.isValid(desc) && TranslationDescriptor.isTable(desc, level)
                        && ((next = TranslationDescriptor.outputAddress(desc, g, g.shift())) >>> outputBits) == 0) {
                    aheadDescriptor[j] = next + ((input >>> g.levelShift(level + 1)) & ((1L << g.stride()) - 1)) * 8;
                    aheadLevel[j] = level + 1;
                    more = true;
                } else {
                    aheadDescriptor[j] = -1; // a leaf (or a walk that faults): read
                }
            }
        }
        readAheadDigest += digest;
    }

    /**
     * The physical address of the first descriptor the stage-1 walk of {@code va} reads (below the walk cache's
     * entry when it has one; {@link #aheadLevel}[{@code slot}] receives its level), or -1 when the walk faults
     * before reading a descriptor. The checks are {@link #stage1}'s.
     */
    private long firstStage1Descriptor(long va, int slot) {
        int r = (va >>> 55 & 1) == 0 ? 0 : 1;
        long top = va >> 55;
        if (!tbi[r] && top != 0 && top != -1) {
            return -1;
        }
        int inputBits = 64 - tsz[r];
        long rangeBits = (va << 8) >> (8 + inputBits);
        if ((r == 0 ? rangeBits != 0 : rangeBits != -1) || epd[r]) {
            return -1;
        }
        TranslationGranule g = granule[r];
        int level = g.startLevel(inputBits);
        int bits = inputBits - g.levelShift(level);
        long table = ttb[r] & -(8L << bits) & -64L;
        if (walkKind == Smmuv3Tlb.KIND_S1 && level < 3) {
            long d = walkCache.lookup(Smmuv3Tlb.KIND_S1, walkVmid, walkAsid, va, WALK_PRESENT);
            if (d != Smmuv3Tlb.MISS && Smmuv3Tlb.pageShift(d) == g.levelShift(2)) {
                table = Smmuv3Tlb.output(d);
                level = 3;
                bits = g.stride();
            }
        }
        aheadLevel[slot] = level;
        return table + ((va >>> g.levelShift(level)) & ((1L << bits) - 1)) * 8;
    }

    /** {@link #firstStage1Descriptor} for the stage-2 walk of {@code ipa} (an input address: CLASS=IN). */
    private long firstStage2Descriptor(long ipa, int slot) {
        if ((ipa >>> s2InputBits) != 0) {
            return -1;
        }
        TranslationGranule g = s2Granule;
        int level = s2StartLevel;
        int bits = s2StartBits;
        long table = s2Ttb;
        if (walkKind == Smmuv3Tlb.KIND_S2 && level < 3) {
            long d = walkCache.lookup(Smmuv3Tlb.KIND_S2, walkVmid, 0, ipa, WALK_PRESENT);
            if (d != Smmuv3Tlb.MISS && Smmuv3Tlb.pageShift(d) == g.levelShift(2)) {
                table = Smmuv3Tlb.output(d);
                level = 3;
                bits = g.stride();
            }
        }
        aheadLevel[slot] = level;
        return table + ((ipa >>> g.levelShift(level)) & ((1L << bits) - 1)) * 8;
    }

    // =====================================================================================================
    // Stage 2
    // =====================================================================================================

    /**
     * The stage-2 walk of {@code ipa}. Faults are S2=1 with {@code clazz} (CD, TT or IN) and the IPA recorded.
     * Sets {@link #s2Output}, {@link #s2Shift}, {@link #s2Perm}.
     */
    int stage2(long ipa, boolean write, boolean exec, int clazz) {
        faultS2 = 1;
        faultClass = clazz;
        faultIpa = ipa;
        faultRecord = s2Record;
        if ((ipa >>> s2InputBits) != 0) {
            return EventRecord.F_TRANSLATION;
        }
        TranslationGranule g = s2Granule;
        int level = s2StartLevel;
        int bits = s2StartBits;
        long table = s2Ttb;
        boolean cached = walkKind == Smmuv3Tlb.KIND_S2 && clazz == EventRecord.CLASS_IN && !probeOnly && level < 3;
        int blockShift = g.levelShift(2);
        if (cached) {
            long d = walkCache.lookup(Smmuv3Tlb.KIND_S2, walkVmid, 0, ipa, WALK_PRESENT);
            if (d != Smmuv3Tlb.MISS && Smmuv3Tlb.pageShift(d) == blockShift) {
                table = Smmuv3Tlb.output(d);
                level = 3;
                bits = g.stride();
                cached = false;
                walkCacheHits++;
            }
        }
        for (;;) {
            int shift = g.levelShift(level);
            long index = (ipa >>> shift) & ((1L << bits) - 1);
            long descPa = table + index * 8;
            long desc;
            try {
                desc = memory.read64(descPa);
            } catch (BusErrorException e) {
                faultFetchAddr = descPa;
                faultRecord = true;
                return EventRecord.F_WALK_EABT;
            }
            if (!TranslationDescriptor.isValid(desc)) {
                return EventRecord.F_TRANSLATION;
            }
            if (TranslationDescriptor.isTable(desc, level)) {
                long next = TranslationDescriptor.outputAddress(desc, g, g.shift());
                if ((next >>> s2OutputBits) != 0) {
                    return EventRecord.F_ADDR_SIZE;
                }
                if (cached && level == 2) {
                    walkCache.fillTable(Smmuv3Tlb.KIND_S2, walkVmid, 0, ipa, next, blockShift, WALK_PRESENT, walkSample);
                }
                table = next;
                level++;
                bits = g.stride();
                continue;
            }
            if (level == 3 ? (desc & TranslationDescriptor.TYPE_MASK) != TranslationDescriptor.TYPE_PAGE
                    : !g.blockAllowed(level, s2OutputBits)) {
                return EventRecord.F_TRANSLATION;
            }
            long oa = TranslationDescriptor.outputAddress(desc, g, shift);
            if ((oa >>> s2OutputBits) != 0) {
                return EventRecord.F_ADDR_SIZE;
            }
            if ((desc & TranslationDescriptor.AF) == 0) {
                if (s2Ha && probeOnly) {
                    desc |= TranslationDescriptor.AF;
                } else if (s2Ha) {
                    if (!memory.compareAndSet64(descPa, desc, desc | TranslationDescriptor.AF)) {
                        return RETRY;
                    }
                    desc |= TranslationDescriptor.AF;
                } else if (!s2Affd) {
                    return EventRecord.F_ACCESS;
                }
            }
            if (write && (desc & TranslationDescriptor.S2AP_WRITE) == 0 && s2Hd
                    && (desc & TranslationDescriptor.DBM) != 0) {
                if (!memory.compareAndSet64(descPa, desc, desc | TranslationDescriptor.S2AP_WRITE)) {
                    return RETRY;
                }
                desc |= TranslationDescriptor.S2AP_WRITE;
            }
            int perm = 0;
            if ((desc & TranslationDescriptor.S2AP_READ) != 0) {
                perm |= Smmuv3Tlb.PERM_READ_PRIV | Smmuv3Tlb.PERM_READ_UNPRIV;
            }
            if ((desc & TranslationDescriptor.S2AP_WRITE) != 0) {
                perm |= Smmuv3Tlb.PERM_WRITE_PRIV | Smmuv3Tlb.PERM_WRITE_UNPRIV;
            }
            if ((desc & TranslationDescriptor.S2_XN) == 0) {
                perm |= Smmuv3Tlb.PERM_EXEC_PRIV | Smmuv3Tlb.PERM_EXEC_UNPRIV;
            }
            boolean allowed = write ? (desc & TranslationDescriptor.S2AP_WRITE) != 0
                    : exec ? (desc & TranslationDescriptor.S2_XN) == 0 && (desc & TranslationDescriptor.S2AP_READ) != 0
                    : (desc & TranslationDescriptor.S2AP_READ) != 0;
            if (!allowed) {
                return EventRecord.F_PERMISSION;
            }
            if (s2Ptw && clazz == EventRecord.CLASS_TT
                    && (desc & TranslationDescriptor.S2_MEMATTR_MASK) >>> TranslationDescriptor.S2_MEMATTR_SHIFT < 4) {
                return EventRecord.F_PERMISSION; // S2PTW: stage-1 walk hit stage-2 Device memory
            }
            int span = contiguousShift(desc, g, level, shift);
            s2Output = (oa & -(1L << span)) | (ipa & ((1L << span) - 1));
            s2Shift = span;
            s2Perm = perm;
            faultS2 = 0;
            return 0;
        }
    }
}
