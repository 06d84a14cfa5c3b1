package dev.iommufd.vtd.hw;

import static dev.iommufd.vtd.layout.VtdRegisters.*;

import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.RegisterMap;
import dev.iommufd.spi.hw.Translation;
import dev.iommufd.vtd.layout.CapabilityRegister;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.FaultReason;
import dev.iommufd.vtd.layout.FaultRecord;
import dev.iommufd.vtd.layout.FirstStagePte;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.PageRequestDescriptor;
import dev.iommufd.vtd.layout.PasidDirectoryEntry;
import dev.iommufd.vtd.layout.PasidTableEntry;
import dev.iommufd.vtd.layout.RootEntry;
import dev.iommufd.vtd.layout.ScalableContextEntry;
import dev.iommufd.vtd.layout.SecondStagePte;
import java.lang.invoke.VarHandle;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.LongConsumer;

/**
 * One VT-d DMA-remapping unit: its register file (spec chapter 11), the command/status protocol, fault
 * recording, register-based and queued invalidation, the page request queue, and the translation engine
 * (root/context/PASID-table lookup and first-stage, second-stage and nested walks, spec chapters 3 and 9).
 *
 * <h2>Locking</h2>
 * Every register access, every invalidation and every walk that may fault or update memory runs under
 * {@link #lock}. Translations that hit the caches take no lock, and a legacy-mode miss after a context-cache hit
 * walks and fills without it ({@link #legacyMiss}): the caches' lookups and fills are lock-free (see {@link Iotlb}
 * and {@link InvalidationCount}), and a fill from a walk that an invalidation overlapped is dropped. A window of
 * requests ({@link #translateWindow}) uses the same paths, with its own read-only walk reads ahead of them. MSIs are signalled
 * after the lock is released ({@link #deliverInterrupts()}), because interrupt handlers run synchronously and
 * may read this unit's registers.
 *
 * <h2>What is not modelled</h2>
 * Interrupt remapping (ECAP.IR is never advertised), advanced fault logging, protected memory regions (PMEN
 * reads 0), paging-structure caches of scalable-mode and nested walks (only legacy-mode walks have PDE/PDPE
 * caches, {@link #pwc}; the spec permits caching less), ATS translation requests and translated requests (the platform's DMA path issues untranslated requests only), and device-side
 * ATCs (device-TLB invalidations are validated and completed).
 */
final class VtdUnit implements IommuUnitModel {
    private static final long WINDOW = 0x1000;
    private static final long MSI_LO = 0xfee0_0000L;
    private static final long MSI_HI = 0xfeef_ffffL;
    private static final int SIG_FAULT = 1;
    private static final int SIG_INV = 2;
    private static final int SIG_PRQ = 4;

    private final HardwareContext context;
    private final PhysicalMemory mem;
    private final String name;
    private final long base;
    private final int version;
    private final long cap;
    private final long ecap;
    private final int haw;
    private final int fro;
    private final int nfr;
    private final int iro;
    private final boolean snpAllowedLegacy;
    /** The register layout every MMIO access is decoded against (depends on CAP.FRO/NFR and ECAP.IRO). */
    private final RegisterMap registerMap;

    /**
     * Advanced by every invalidation of the context cache, the IOTLB and the paging-structure caches, and by every
     * change of {@link #fastMode}: a lock-free walk samples it first and its fills are dropped when it moved.
     */
    private final InvalidationCount cacheInvalidations = new InvalidationCount();
    /**
     * The unit's lock: the monitor of {@link #cacheInvalidations}, whose count sits on the cache line of the
     * object's header, so that an invalidation (lock, count, unlock) writes one line where it wrote two; two
     * threads that invalidate in turn pass one line between them, not two. Nothing else synchronizes on it.
     */
    private final Object lock = cacheInvalidations;

    // ---- register state, guarded by lock ----
    private int gsts;
    private long rtaddr;
    /** The root table pointer latched by the last SRTP (RTADDR value: address and TTM). */
    private long rtaActive;
    private long ccmd;
    /** FSTS bits PFO, IQE, ICE, ITE (PPF is derived from the records, FRI is {@link #fri}). */
    private int fsts;
    private int fri;
    private int nextRecord;
    private int fectl = ECTL_IM;
    private int fedata;
    private int feaddr;
    private int feuaddr;
    private long iqh;
    private long iqt;
    private long iqa;
    private int ics;
    private int iectl = ECTL_IM;
    private int iedata;
    private int ieaddr;
    private int ieuaddr;
    private long iqer;
    private long pqh;
    private long pqt;
    private long pqa;
    private int prs;
    private int pectl = ECTL_IM;
    private int pedata;
    private int peaddr;
    private int peuaddr;
    private long iva;
    private long iotlbReg;
    private final long[] frcdLo;
    private final long[] frcdHi;
    private int nextPrgIndex;
    private int pendingSignals;
    private long pageGroupResponses;
    private long lastPageGroupResponse;

    private final ContextCache contextCache = new ContextCache(256, cacheInvalidations);
    private final PasidCache pasidCache = new PasidCache(256);
    /**
     * 1024 entries (IMPLEMENTATION DEFINED: no VT-d register reports the IOTLB's size). A larger IOTLB helps two
     * devices working on 256 pages each (B13: 15.8% misses with 1024, 10.9% with 2048, replayed), but its sets leave
     * the near CPU caches: a page-selective invalidation of a full IOTLB (B7-page, target 30 ns) measured 41 ns with
     * 2048 entries in the idle full run of 2026-11-22 04:20, 21-26 ns with 1024.
     */
    private final Iotlb iotlb = new Iotlb(1024, cacheInvalidations);
    /**
     * The second-stage paging-structure caches of legacy mode (spec 6.2.4 "Paging-Structure Caches"): PDE-cache
     * entries (kept at level 2: the 2 MiB region {@code iova >>> 21}) and PDPE-cache entries (level 3: the 1 GiB
     * region), tagged by domain ID, in the same set-associative, seqlock-and-epoch structure as the IOTLB. Only
     * present non-leaf entries that passed every check of the walk are cached; an entry's value is
     * <pre>
     *   63:12 the next table's address (the page table for a PDE, the page directory for a PDPE)
     *   1     W accumulated over the entries from the root down to this one
     *   0     R accumulated likewise
     * </pre>
     * A lookup returns the deepest cached level (PDE before PDPE), and the walk resumes one level below it.
     * Dropped by global and domain-selective IOTLB invalidation and by every context-cache invalidation (O(1) by
     * epoch), by page-selective IOTLB invalidation with IH = 0 for the entries whose region overlaps the range
     * (IH = 1 keeps them, spec 6.5.1.2 / 6.5.2.3), and with the other caches on root-table pointer changes.
     * Only legacy-mode walks ({@link #legacyMiss}, {@link #legacyWalkLocked}) use it; scalable-mode and nested
     * walks start at the root, which hardware may always do.
     */
    private final Iotlb pwc = new Iotlb(1024, cacheInvalidations);

    // ---- walk scratch, guarded by lock ----
    private long walkPa;
    private int walkLevel;
    private long walkPerm;
    private boolean walkDirty;

    VtdUnit(HardwareContext context, String name, long base, VtdPreset preset) {
        this.context = context;
        this.mem = context.memory();
        this.name = name;
        this.base = base;
        this.version = preset.version();
        this.cap = preset.cap();
        this.ecap = preset.ecap();
        this.haw = preset.haw();
        this.fro = CapabilityRegister.faultRecordOffset(cap);
        this.nfr = CapabilityRegister.faultRecordCount(cap);
        this.iro = ExtendedCapabilityRegister.iotlbRegisterOffset(ecap);
        this.snpAllowedLegacy = ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.SC);
        this.frcdLo = new long[nfr];
        this.frcdHi = new long[nfr];
        this.registerMap = buildRegisterMap();
    }

    /** The unit's register layout: the fixed registers, then IVA/IOTLB at ECAP.IRO and the fault records at CAP.FRO. */
    private RegisterMap buildRegisterMap() {
        RegisterMap.Builder m = RegisterMap.builder(WINDOW);
        m.register(VER_REG, "VER_REG", 32);
        m.register(CAP_REG, "CAP_REG", 64);
        m.register(ECAP_REG, "ECAP_REG", 64);
        m.register(GCMD_REG, "GCMD_REG", 32);
        m.register(GSTS_REG, "GSTS_REG", 32);
        m.register(RTADDR_REG, "RTADDR_REG", 64);
        m.register(CCMD_REG, "CCMD_REG", 64);
        m.register(FSTS_REG, "FSTS_REG", 32);
        m.register(FECTL_REG, "FECTL_REG", 32);
        m.register(FEDATA_REG, "FEDATA_REG", 32);
        m.register(FEADDR_REG, "FEADDR_REG", 32);
        m.register(FEUADDR_REG, "FEUADDR_REG", 32);
        m.register(PMEN_REG, "PMEN_REG", 32);
        m.register(IQH_REG, "IQH_REG", 64);
        m.register(IQT_REG, "IQT_REG", 64);
        m.register(IQA_REG, "IQA_REG", 64);
        m.register(ICS_REG, "ICS_REG", 32);
        m.register(IECTL_REG, "IECTL_REG", 32);
        m.register(IEDATA_REG, "IEDATA_REG", 32);
        m.register(IEADDR_REG, "IEADDR_REG", 32);
        m.register(IEUADDR_REG, "IEUADDR_REG", 32);
        m.register(IQER_REG, "IQER_REG", 64);
        m.register(PQH_REG, "PQH_REG", 64);
        m.register(PQT_REG, "PQT_REG", 64);
        m.register(PQA_REG, "PQA_REG", 64);
        m.register(PRS_REG, "PRS_REG", 32);
        m.register(PECTL_REG, "PECTL_REG", 32);
        m.register(PEDATA_REG, "PEDATA_REG", 32);
        m.register(PEADDR_REG, "PEADDR_REG", 32);
        m.register(PEUADDR_REG, "PEUADDR_REG", 32);
        m.register(iro + IVA_OFFSET, "IVA_REG", 64);
        m.register(iro + IOTLB_OFFSET, "IOTLB_REG", 64);
        for (int i = 0; i < nfr; i++) {
            m.register(fro + i * FRCD_SIZE, "FRCD_REG" + i + "_LO", 64);
            m.register(fro + i * FRCD_SIZE + 8, "FRCD_REG" + i + "_HI", 64);
        }
        return m.build();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String model() {
        return "vtd";
    }

    @Override
    public long mmioBase() {
        return base;
    }

    @Override
    public long size() {
        return WINDOW;
    }

    @Override
    public List<RegisterInfo> registers() {
        return registerMap.registers();
    }

    @Override
    public long peekRegister(RegisterInfo register) {
        synchronized (lock) {
            return register.width() == 64 ? get64((int) register.offset()) : get32((int) register.offset()) & 0xffff_ffffL;
        }
    }

    // =====================================================================================================
    // Register access
    // =====================================================================================================

    private BusErrorException busError(long offset, int width, String what) {
        return new BusErrorException(base + offset, String.format("%s: %d-byte %s at register offset %#x", name, width, what, offset));
    }

    @Override
    public long read(long offset, int width) {
        int off = (int) offset;
        synchronized (lock) {
            switch (registerMap.access(offset, width)) {
                case RegisterMap.REG64: return get64(off);
                case RegisterMap.REG32: return get32(off) & 0xffff_ffffL;
                case RegisterMap.LOW32: return get64(off) & 0xffff_ffffL;
                case RegisterMap.HIGH32: return get64(off - 4) >>> 32;
                default: break;
            }
        }
        throw busError(offset, width, "read");
    }

    @Override
    public void write(long offset, int width, long value) {
        int off = (int) offset;
        boolean signal;
        synchronized (lock) {
            switch (offset == IQT_REG && width == 8 ? RegisterMap.REG64 : registerMap.access(offset, width)) {
                case RegisterMap.REG64:
                    set64(off, value, 3);
                    break;
                case RegisterMap.REG32:
                    set32(off, (int) value);
                    break;
                case RegisterMap.LOW32:
                    set64(off, (get64(off) & 0xffff_ffff_0000_0000L) | (value & 0xffff_ffffL), 1);
                    break;
                case RegisterMap.HIGH32:
                    set64(off - 4, (get64(off - 4) & 0xffff_ffffL) | (value << 32), 2);
                    break;
                default:
                    throw busError(offset, width, "write");
            }
            signal = pendingSignals != 0;
        }
        if (signal) {
            deliverInterrupts();
        }
    }

    private int get32(int off) {
        switch (off) {
            case VER_REG:
                return version;
            case GCMD_REG:
                return 0; // write-only
            case GSTS_REG:
                return gsts;
            case FSTS_REG:
                return fsts | (ppf() ? FSTS_PPF : 0) | (fri << FSTS_FRI_SHIFT);
            case FECTL_REG:
                return fectl;
            case FEDATA_REG:
                return fedata;
            case FEADDR_REG:
                return feaddr;
            case FEUADDR_REG:
                return feuaddr;
            case PMEN_REG:
                return 0;
            case ICS_REG:
                return ics;
            case IECTL_REG:
                return iectl;
            case IEDATA_REG:
                return iedata;
            case IEADDR_REG:
                return ieaddr;
            case IEUADDR_REG:
                return ieuaddr;
            case PRS_REG:
                return prs;
            case PECTL_REG:
                return pectl;
            case PEDATA_REG:
                return pedata;
            case PEADDR_REG:
                return peaddr;
            case PEUADDR_REG:
                return peuaddr;
            default:
                throw new IllegalStateException("no 32-bit register at " + off);
        }
    }

    private long get64(int off) {
        switch (off) {
            case CAP_REG:
                return cap;
            case ECAP_REG:
                return ecap;
            case RTADDR_REG:
                return rtaddr;
            case CCMD_REG:
                return ccmd;
            case IQH_REG:
                return iqh;
            case IQT_REG:
                return iqt;
            case IQA_REG:
                return iqa;
            case IQER_REG:
                return iqer;
            case PQH_REG:
                return pqh;
            case PQT_REG:
                return pqt;
            case PQA_REG:
                return pqa;
            default:
                if (off == iro + IVA_OFFSET) {
                    return 0; // write-only
                }
                if (off == iro + IOTLB_OFFSET) {
                    return iotlbReg;
                }
                int rel = off - fro;
                int idx = rel / FRCD_SIZE;
                return (rel & 8) == 0 ? frcdLo[idx] : frcdHi[idx];
        }
    }

    private void set32(int off, int v) {
        switch (off) {
            case GCMD_REG:
                globalCommand(v);
                break;
            case FSTS_REG:
                fsts &= ~(v & (FSTS_PFO | FSTS_IQE | FSTS_ICE | FSTS_ITE));
                if ((v & FSTS_IQE) != 0) {
                    iqer = 0;
                    processQueue(); // hardware resumes fetching at IQH once IQE is cleared
                }
                break;
            case FECTL_REG:
                fectl = unmask(fectl, v, SIG_FAULT);
                break;
            case FEDATA_REG:
                fedata = v;
                break;
            case FEADDR_REG:
                feaddr = v & ~3;
                break;
            case FEUADDR_REG:
                feuaddr = v;
                break;
            case ICS_REG:
                ics &= ~(v & ICS_IWC);
                if ((ics & ICS_IWC) == 0) {
                    iectl &= ~ECTL_IP;
                }
                break;
            case IECTL_REG:
                iectl = unmask(iectl, v, SIG_INV);
                break;
            case IEDATA_REG:
                iedata = v;
                break;
            case IEADDR_REG:
                ieaddr = v & ~3;
                break;
            case IEUADDR_REG:
                ieuaddr = v;
                break;
            case PRS_REG:
                prs &= ~(v & (PRS_PPR | PRS_PRO));
                break;
            case PECTL_REG:
                pectl = unmask(pectl, v, SIG_PRQ);
                break;
            case PEDATA_REG:
                pedata = v;
                break;
            case PEADDR_REG:
                peaddr = v & ~3;
                break;
            case PEUADDR_REG:
                peuaddr = v;
                break;
            default:
                break; // VER, GSTS, PMEN: read-only here
        }
    }

    /** An *ECTL write: IM is software's; clearing IM with IP set delivers the pending interrupt. */
    private int unmask(int ectl, int v, int signal) {
        int next = (ectl & ECTL_IP) | (v & ECTL_IM);
        if ((next & ECTL_IM) == 0 && (next & ECTL_IP) != 0) {
            pendingSignals |= signal;
            next &= ~ECTL_IP;
        }
        return next;
    }

    /** @param halves 1 = low dword written, 2 = high dword, 3 = both */
    private void set64(int off, long v, int halves) {
        switch (off) {
            case RTADDR_REG:
                rtaddr = v & (RTADDR_RTA_MASK | RTADDR_TTM_MASK);
                break;
            case CCMD_REG:
                ccmd = v;
                if ((halves & 2) != 0 && (v & CCMD_ICC) != 0) {
                    registerContextInvalidation();
                }
                break;
            case IQT_REG:
                if ((halves & 1) != 0) {
                    tailWrite(v);
                }
                break;
            case IQA_REG: {
                long mask = IQA_ADDR_MASK | IQA_QS_MASK;
                if (ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.SMTS)) {
                    mask |= IQA_DW_256;
                }
                iqa = v & mask;
                break;
            }
            case PQH_REG:
                pqh = v & PQ_OFFSET_MASK;
                break;
            case PQA_REG:
                pqa = v & (PQA_ADDR_MASK | PQA_PQS_MASK);
                pqh = 0;
                pqt = 0;
                break;
            case CAP_REG: case ECAP_REG: case IQH_REG: case IQER_REG: case PQT_REG:
                break; // read-only
            default:
                if (off == iro + IVA_OFFSET) {
                    iva = v;
                } else if (off == iro + IOTLB_OFFSET) {
                    iotlbReg = v;
                    if ((halves & 2) != 0 && (v & IOTLB_IVT) != 0) {
                        registerIotlbInvalidation();
                    }
                } else {
                    int rel = off - fro;
                    int idx = rel / FRCD_SIZE;
                    if ((rel & 8) != 0 && (halves & 2) != 0 && (v & FaultRecord.F) != 0) {
                        frcdHi[idx] &= ~FaultRecord.F; // F is RW1C; the rest of the record is read-only
                    }
                }
                break;
        }
    }

    // =====================================================================================================
    // Global command
    // =====================================================================================================

    private void globalCommand(int v) {
        if ((v & GCMD_SRTP) != 0) {
            rtaActive = rtaddr;
            gsts |= GSTS_RTPS;
            if (CapabilityRegister.has(cap, CapabilityRegister.ESRTPS)) {
                invalidateAllCaches();
            }
        }
        if ((v & GCMD_TE) != 0) {
            gsts |= GSTS_TES;
        } else {
            gsts &= ~GSTS_TES;
        }
        if ((v & GCMD_QIE) != 0 && ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.QI)) {
            if ((gsts & GSTS_QIES) == 0) {
                gsts |= GSTS_QIES;
                iqh = 0;
                processQueue();
            }
        } else if ((gsts & GSTS_QIES) != 0) {
            gsts &= ~GSTS_QIES;
            iqh = 0;
        }
        // WBF completes at once (WBFS never reads as set); IRE, SIRTP, CFI, SFL, EAFL: no IR/AFL support.
        publishTranslationMode();
    }

    private void invalidateAllCaches() {
        contextCache.invalidateAll();
        pasidCache.invalidateAll();
        iotlb.invalidateAll();
        pwc.invalidateAll();
    }

    private boolean ppf() {
        for (int i = 0; i < nfr; i++) {
            if (FaultRecord.fault(frcdHi[i])) {
                return true;
            }
        }
        return false;
    }

    // =====================================================================================================
    // Register-based invalidation
    // =====================================================================================================

    private void registerContextInvalidation() {
        int caig = 0;
        if ((gsts & GSTS_QIES) == 0) {
            int cirg = ccmdCirg(ccmd);
            switch (cirg) {
                case CCMD_GLOBAL:
                    contextCache.invalidateAll();
                    caig = CCMD_GLOBAL;
                    break;
                case CCMD_DOMAIN:
                    contextCache.invalidateDomain((int) (ccmd & 0xffff));
                    caig = CCMD_DOMAIN;
                    break;
                case CCMD_DEVICE:
                    contextCache.invalidateDevice((int) ((ccmd >>> CCMD_SID_SHIFT) & 0xffff), (int) ((ccmd >>> CCMD_FM_SHIFT) & 3));
                    caig = CCMD_DEVICE;
                    break;
                default:
                    break;
            }
        }
        if (caig != 0) {
            pwc.invalidateAll(); // a context-cache invalidation drops the paging-structure caches too (any granularity)
        }
        ccmd = (ccmd & ~(CCMD_ICC | (3L << CCMD_CAIG_SHIFT))) | ((long) caig << CCMD_CAIG_SHIFT);
    }

    private void registerIotlbInvalidation() {
        int iaig = 0;
        if ((gsts & GSTS_QIES) == 0) {
            int did = iotlbDid(iotlbReg);
            switch (iotlbIirg(iotlbReg)) {
                case IOTLB_GLOBAL:
                    iotlb.invalidateAll();
                    pwc.invalidateAll();
                    iaig = IOTLB_GLOBAL;
                    break;
                case IOTLB_DOMAIN:
                    iotlb.invalidateDomain(did);
                    pwc.invalidateDomain(did);
                    iaig = IOTLB_DOMAIN;
                    break;
                case IOTLB_PAGE: {
                    int am = (int) (iva & 0x3f);
                    if (!CapabilityRegister.has(cap, CapabilityRegister.PSI) || am > CapabilityRegister.mamv(cap)) {
                        iotlb.invalidateDomain(did); // hardware may invalidate more than asked, and says so in IAIG
                        pwc.invalidateDomain(did);
                        iaig = IOTLB_DOMAIN;
                    } else {
                        pageSelectiveSecondStage(did, iva & ~0xfffL, am, (iva & IVA_IH) != 0);
                        iaig = IOTLB_PAGE;
                    }
                    break;
                }
                default:
                    break;
            }
        }
        iotlbReg = (iotlbReg & ~(IOTLB_IVT | (3L << IOTLB_IAIG_SHIFT))) | ((long) iaig << IOTLB_IAIG_SHIFT);
    }

    /**
     * Page-selective IOTLB invalidation (type 2 / IOTLB register): second-stage entries whose input address is in
     * range, and every nested (combined) entry of the domain, because the range is a second-stage (guest-physical)
     * range that hardware cannot relate to the first-stage input addresses of combined entries.
     */
    private void pageSelectiveSecondStage(int did, long addr, int am, boolean ih) {
        iotlb.invalidate(did, -1, 1 << Iotlb.KIND_SECOND_STAGE, addr, am);
        iotlb.invalidateNested(did);
        if (!ih) { // IH = 0: the paging-structure entries used to translate the range go too (spec 6.5.1.2)
            pwc.invalidate(did, -1, 1 << Iotlb.KIND_SECOND_STAGE, addr, am);
        }
    }

    // =====================================================================================================
    // Queued invalidation
    // =====================================================================================================

    private int queueShift() {
        return (iqa & IQA_DW_256) != 0 ? 5 : 4;
    }

    private void tailWrite(long v) {
        long t = v & IQ_OFFSET_MASK;
        if ((iqa & IQA_DW_256) != 0 && (t & 0x10) != 0) {
            queueError(IQEI_TAIL_MISALIGNED);
            return;
        }
        if ((t >>> queueShift()) >= iqEntries(iqa)) {
            queueError(IQEI_TAIL_INVALID);
            return;
        }
        iqt = t;
        processQueue();
    }

    private void queueError(int iqei) {
        fsts |= FSTS_IQE;
        iqer = iqei;
        raiseFaultEvent();
    }

    /**
     * Consumes the queue from IQH up to IQT, as hardware fetches and executes descriptors up to the tail it sees:
     * whichever thread writes IQT (or clears IQE, or enables the queue) runs the hardware for every descriptor
     * inserted up to that tail, its own and other submitters'. Stops at a descriptor that cannot be fetched or is
     * invalid (IQH stays at it, FSTS.IQE with IQER.IQEI). Each descriptor is read word by word into locals: no
     * scratch array shared by the threads that take turns as the consumer. Caller holds {@link #lock}.
     */
    private void processQueue() {
        if ((gsts & GSTS_QIES) == 0 || (fsts & FSTS_IQE) != 0) {
            return;
        }
        boolean wide = (iqa & IQA_DW_256) != 0;
        int shift = wide ? 5 : 4;
        long entriesMask = iqEntries(iqa) - 1;
        long qbase = iqa & IQA_ADDR_MASK;
        long head = iqh >>> shift;
        long tail = iqt >>> shift;
        while (head != tail) {
            long a = qbase + (head << shift);
            long q0;
            long q1;
            long q2 = 0;
            long q3 = 0;
            try {
                q0 = mem.read64(a);
                q1 = mem.read64(a + 8);
                if (wide) {
                    q2 = mem.read64(a + 16);
                    q3 = mem.read64(a + 24);
                }
            } catch (BusErrorException e) {
                queueError(IQEI_FETCH_ERROR);
                return; // IQH stays at the descriptor that could not be fetched
            }
            int err = execute(q0, q1, q2, q3, wide);
            if (err != 0) {
                queueError(err);
                return; // IQH stays at the offending descriptor
            }
            head = (head + 1) & entriesMask;
            iqh = head << shift;
        }
    }

    /** Executes one descriptor; returns 0 or the IQER.IQEI code of the error. */
    private int execute(long q0, long q1, long q2, long q3, boolean wide) {
        int type = InvalidationDescriptor.type(q0);
        boolean sm = ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.SMTS);
        if (type != InvalidationDescriptor.TYPE_PAGE_GROUP_RESPONSE && (q2 | q3) != 0) {
            return IQEI_RESERVED;
        }
        int g = InvalidationDescriptor.granularity(q0);
        int did = InvalidationDescriptor.did(q0);
        if (sm && type >= InvalidationDescriptor.TYPE_PASID_IOTLB && type <= InvalidationDescriptor.TYPE_PAGE_GROUP_RESPONSE
                && !scalableMode()) {
            return IQEI_INVALID_TTM;
        }
        switch (type) {
            case InvalidationDescriptor.TYPE_CONTEXT_CACHE: {
                if ((q0 & InvalidationDescriptor.RSVD_CC_LO) != 0 || q1 != 0) {
                    return IQEI_RESERVED;
                }
                if (g == InvalidationDescriptor.G_GLOBAL) {
                    contextCache.invalidateAll();
                } else if (g == InvalidationDescriptor.G_DOMAIN) {
                    if (scalableMode()) {
                        contextCache.invalidateAll(); // scalable-mode context entries carry no DID
                    } else {
                        contextCache.invalidateDomain(did);
                    }
                } else if (g == InvalidationDescriptor.G_DEVICE_OR_PAGE) {
                    contextCache.invalidateDevice((int) ((q0 >>> InvalidationDescriptor.SID_SHIFT) & 0xffff),
                            (int) ((q0 >>> InvalidationDescriptor.FM_SHIFT) & 3));
                } else {
                    return IQEI_TYPE_INVALID;
                }
                pwc.invalidateAll(); // a context-cache invalidation drops the paging-structure caches too
                return 0;
            }
            case InvalidationDescriptor.TYPE_IOTLB: {
                if ((q0 & InvalidationDescriptor.RSVD_IOTLB_LO) != 0 || (q1 & InvalidationDescriptor.RSVD_IOTLB_HI) != 0) {
                    return IQEI_RESERVED;
                }
                if (g == InvalidationDescriptor.G_GLOBAL) {
                    iotlb.invalidateAll();
                    pwc.invalidateAll();
                } else if (g == InvalidationDescriptor.G_DOMAIN) {
                    iotlb.invalidateDomain(did);
                    pwc.invalidateDomain(did);
                } else if (g == InvalidationDescriptor.G_DEVICE_OR_PAGE) {
                    int am = InvalidationDescriptor.am(q1);
                    if (am > CapabilityRegister.mamv(cap)) {
                        return IQEI_RESERVED;
                    }
                    if (!CapabilityRegister.has(cap, CapabilityRegister.PSI)) {
                        iotlb.invalidateDomain(did);
                        pwc.invalidateDomain(did);
                    } else {
                        pageSelectiveSecondStage(did, InvalidationDescriptor.address(q1), am,
                                (q1 & InvalidationDescriptor.IH) != 0);
                    }
                } else {
                    return IQEI_TYPE_INVALID;
                }
                return 0;
            }
            case InvalidationDescriptor.TYPE_DEVICE_TLB: {
                long rsvd = ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.DIT)
                        ? InvalidationDescriptor.RSVD_DEVTLB_LO_DIT : InvalidationDescriptor.RSVD_DEVTLB_LO;
                if (!ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.DT)) {
                    return IQEI_TYPE_INVALID;
                }
                if ((q0 & rsvd) != 0 || (q1 & InvalidationDescriptor.RSVD_DEVTLB_HI) != 0) {
                    return IQEI_RESERVED;
                }
                deviceTlbInvalidations++;
                return 0; // no device ATC is modelled: the invalidation completes at once
            }
            case InvalidationDescriptor.TYPE_WAIT: {
                long rsvd = ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.PDS)
                        ? InvalidationDescriptor.RSVD_WAIT_LO_PDS : InvalidationDescriptor.RSVD_WAIT_LO;
                if ((q0 & rsvd) != 0 || (q1 & InvalidationDescriptor.RSVD_WAIT_HI) != 0) {
                    return IQEI_RESERVED;
                }
                if ((q0 & InvalidationDescriptor.WAIT_SW) != 0) {
                    mem.write32(q1 & ~3L, (int) (q0 >>> InvalidationDescriptor.WAIT_STATUS_SHIFT));
                }
                if ((q0 & InvalidationDescriptor.WAIT_IF) != 0) {
                    ics |= ICS_IWC;
                    if ((iectl & ECTL_IM) != 0) {
                        iectl |= ECTL_IP;
                    } else {
                        pendingSignals |= SIG_INV;
                    }
                }
                return 0;
            }
            case InvalidationDescriptor.TYPE_PASID_IOTLB: {
                if (!sm) {
                    return IQEI_TYPE_INVALID;
                }
                if ((q0 & InvalidationDescriptor.RSVD_PIOTLB_LO) != 0 || (q1 & InvalidationDescriptor.RSVD_PIOTLB_HI) != 0) {
                    return IQEI_RESERVED;
                }
                int pasid = InvalidationDescriptor.pasid(q0);
                int kinds = (1 << Iotlb.KIND_FIRST_STAGE) | (1 << Iotlb.KIND_NESTED);
                if (g == InvalidationDescriptor.PIOTLB_G_PASID) {
                    iotlb.invalidate(did, pasid, kinds, 0, -1);
                } else if (g == InvalidationDescriptor.PIOTLB_G_PAGE) {
                    int am = InvalidationDescriptor.am(q1);
                    if (am > CapabilityRegister.mamv(cap)) {
                        return IQEI_RESERVED;
                    }
                    iotlb.invalidate(did, pasid, kinds, InvalidationDescriptor.address(q1), am);
                } else {
                    return IQEI_TYPE_INVALID;
                }
                return 0;
            }
            case InvalidationDescriptor.TYPE_PASID_CACHE: {
                if (!sm) {
                    return IQEI_TYPE_INVALID;
                }
                if ((q0 & InvalidationDescriptor.RSVD_PC_LO) != 0 || q1 != 0) {
                    return IQEI_RESERVED;
                }
                if (g != InvalidationDescriptor.PC_G_DOMAIN && g != InvalidationDescriptor.PC_G_PASID
                        && g != InvalidationDescriptor.PC_G_GLOBAL) {
                    return IQEI_TYPE_INVALID;
                }
                // counted like every other cache invalidation: a translateWindow batch that looked a PASID entry up
                // before it retranslates its requests one by one (noInvalidationSince)
                cacheInvalidations.advance();
                if (g == InvalidationDescriptor.PC_G_DOMAIN) {
                    pasidCache.invalidate(did, -1);
                } else if (g == InvalidationDescriptor.PC_G_PASID) {
                    pasidCache.invalidate(did, InvalidationDescriptor.pasid(q0));
                } else {
                    pasidCache.invalidateAll();
                }
                return 0;
            }
            case InvalidationDescriptor.TYPE_PASID_DEVICE_TLB: {
                if (!sm || !ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.DT)) {
                    return IQEI_TYPE_INVALID;
                }
                long rsvd = ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.DIT)
                        ? InvalidationDescriptor.RSVD_PDEVTLB_LO_DIT : InvalidationDescriptor.RSVD_PDEVTLB_LO;
                if ((q0 & rsvd) != 0 || (q1 & InvalidationDescriptor.RSVD_PDEVTLB_HI) != 0) {
                    return IQEI_RESERVED;
                }
                deviceTlbInvalidations++;
                return 0;
            }
            case InvalidationDescriptor.TYPE_PAGE_GROUP_RESPONSE: {
                if (!sm || !ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.PRS)) {
                    return IQEI_TYPE_INVALID;
                }
                if (!wide) {
                    return IQEI_WIDTH;
                }
                if ((q0 & InvalidationDescriptor.RSVD_PGRP_LO) != 0 || (q1 & InvalidationDescriptor.RSVD_PGRP_HI) != 0) {
                    return IQEI_RESERVED;
                }
                pageGroupResponses++;
                lastPageGroupResponse = q0;
                return 0;
            }
            default:
                return IQEI_TYPE_INVALID;
        }
    }

    private long deviceTlbInvalidations;

    /** Device-TLB invalidation requests forwarded to devices (for tests). */
    long deviceTlbInvalidations() {
        synchronized (lock) {
            return deviceTlbInvalidations;
        }
    }

    /** Page group responses forwarded to devices, and qword 0 of the last one (for tests). */
    long pageGroupResponses() {
        synchronized (lock) {
            return pageGroupResponses;
        }
    }

    long lastPageGroupResponse() {
        synchronized (lock) {
            return lastPageGroupResponse;
        }
    }

    Iotlb iotlbForTest() {
        return iotlb;
    }

    // =====================================================================================================
    // Interrupts
    // =====================================================================================================

    private void raiseFaultEvent() {
        if ((fectl & ECTL_IM) != 0) {
            fectl |= ECTL_IP;
        } else {
            pendingSignals |= SIG_FAULT;
        }
    }

    private void deliverInterrupts() {
        int sig;
        long fa;
        int fd;
        long ia;
        int id;
        long pa;
        int pd;
        synchronized (lock) {
            sig = pendingSignals;
            pendingSignals = 0;
            fa = ((long) feuaddr << 32) | (feaddr & 0xffff_ffffL);
            fd = fedata;
            ia = ((long) ieuaddr << 32) | (ieaddr & 0xffff_ffffL);
            id = iedata;
            pa = ((long) peuaddr << 32) | (peaddr & 0xffff_ffffL);
            pd = pedata;
        }
        if ((sig & SIG_FAULT) != 0) {
            context.interrupts().signal(fa, fd);
        }
        if ((sig & SIG_INV) != 0) {
            context.interrupts().signal(ia, id);
        }
        if ((sig & SIG_PRQ) != 0) {
            context.interrupts().signal(pa, pd);
        }
    }

    // =====================================================================================================
    // Fault recording
    // =====================================================================================================

    private void recordFault(int rid, int pasid, long addr, int access, int reason) {
        if ((fsts & FSTS_PFO) != 0) {
            return;
        }
        boolean read = (access & Translation.ACCESS_WRITE) == 0;
        long page = addr & FaultRecord.FI_MASK;
        for (int i = 0; i < nfr; i++) {
            long hi = frcdHi[i];
            if (FaultRecord.fault(hi) && FaultRecord.sid(hi) == rid && FaultRecord.reason(hi) == reason
                    && FaultRecord.read(hi) == read && frcdLo[i] == page) {
                return; // the same fault is already pending: collapsed
            }
        }
        int idx = nextRecord;
        if (FaultRecord.fault(frcdHi[idx])) {
            fsts |= FSTS_PFO;
            raiseFaultEvent();
            return;
        }
        boolean hadPending = ppf();
        frcdLo[idx] = page;
        frcdHi[idx] = FaultRecord.encodeHi(rid, reason, read, pasid,
                pasid >= 0 && (access & Translation.ACCESS_PRIV) != 0, pasid >= 0 && (access & Translation.ACCESS_EXEC) != 0);
        nextRecord = (idx + 1) % nfr;
        if (!hadPending) {
            fri = idx;
            raiseFaultEvent();
        }
    }

    // =====================================================================================================
    // Translation
    // =====================================================================================================

    private boolean scalableMode() {
        return ((rtaActive & RTADDR_TTM_MASK) >>> RTADDR_TTM_SHIFT) == TTM_SCALABLE;
    }

    /**
     * What {@link #translate} may do without the lock, from GSTS.TES and the latched TTM: pass addresses through
     * (translation disabled), or look up the legacy / scalable-mode caches. Written under {@link #lock} after every
     * global command ({@link #publishTranslationMode}); read without it.
     */
    private volatile int fastMode = FAST_TE_OFF;
    private static final int FAST_NONE = 0;
    private static final int FAST_TE_OFF = 1;
    private static final int FAST_LEGACY = 2;
    private static final int FAST_SCALABLE = 3;

    private void publishTranslationMode() {
        int ttm = (int) ((rtaActive & RTADDR_TTM_MASK) >>> RTADDR_TTM_SHIFT);
        int mode;
        if ((gsts & GSTS_TES) == 0) {
            mode = FAST_TE_OFF;
        } else if (ttm == TTM_LEGACY) {
            mode = FAST_LEGACY;
        } else if (ttm == TTM_SCALABLE && ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.SMTS)) {
            mode = FAST_SCALABLE;
        } else {
            mode = FAST_NONE;
        }
        if (mode != fastMode) {
            cacheInvalidations.advance(); // a lock-free walk that began in the old mode drops its fills
        }
        fastMode = mode;
    }

    /**
     * Translates one request. A request that hits the context cache, the PASID cache (scalable mode) and the IOTLB
     * with sufficient permissions completes without the unit's lock (the caches' lookups are lock-free, see
     * {@link Iotlb}); every other request (a miss, a permission or range problem that may fault) is translated
     * again from the start under the lock, exactly as the architecture describes.
     */
    @Override
    public Translation translate(int rid, int pasid, long iova, int access, Translation out) {
        int mode = fastMode;
        if (mode == FAST_TE_OFF) {
            out.ok(iova, PhysicalMemory.FRAME_SIZE);
            return out;
        }
        if (mode == FAST_LEGACY ? pasid == DmaAttributes.NO_PASID && legacyHit(rid & 0xffff, iova, access, out)
                : mode == FAST_SCALABLE && scalableHit(rid & 0xffff, pasid, iova, access, out)) {
            return out;
        }
        return translateWithLock(rid & 0xffff, pasid, iova, access, out);
    }

    /** {@link #translate} from the start under the lock, then the MSIs it made pending (after the lock). */
    private Translation translateWithLock(int rid, int pasid, long iova, int access, Translation out) {
        boolean signal;
        synchronized (lock) {
            translateLocked(rid, pasid, iova, access, out);
            signal = pendingSignals != 0;
        }
        if (signal) {
            deliverInterrupts();
        }
        return out;
    }

    // =====================================================================================================
    // A window of outstanding requests (hit-under-miss, overlapped walks)
    // =====================================================================================================

    /**
     * How many requests of a window the unit looks up before it walks: a window is translated in batches of this
     * many, each batch a bit mask of its requests still to translate.
     */
    private static final int WINDOW_BATCH = 64;

    /**
     * Translates a window as hardware with hit-under-miss and several page walkers does, in three passes per batch
     * of up to {@value #WINDOW_BATCH} requests (the contract: each request's result, fault record and page request
     * are exactly those of {@link #translate} alone, in window order; only the time differs):
     * <ol>
     *   <li>the lock-free hit path of every request ({@link #legacyHit} / {@link #scalableHit}), with the context
     *       entry (and PASID entry) looked up once for the batch: a hit writes its address and is done. A legacy
     *       IOTLB miss also looks up where its walk will start ({@link #legacyWalkStart}: the paging-structure
     *       caches). Nothing here changes state but replacement hints. If any invalidation (or mode change) began
     *       meanwhile ({@link #cacheInvalidations} moved), these lookups are not trusted and every request of the
     *       batch is translated one by one instead, so that a hit is what {@code translate} would give when the
     *       pass ended;
     *   <li>the table reads of the IOTLB misses' walks, one level at a time across all of them
     *       ({@link #readAheadWalks}): read-only (no fill, no A/D update, no check, no fault), so that the reads of
     *       different misses are independent loads that the memory system serves together;
     *   <li>every request that did not hit, in window order, through the path {@code translate} takes for it after
     *       its hit path failed: the lock-free legacy walk ({@link #legacyWalk}, from the start pass 1 found, with
     *       the invalidation count sampled before the batch read the context entry, so that its fills are dropped
     *       if any invalidation ran since), whose reads now hit the CPU caches, or the locked path. Fills, A/D
     *       updates, faults, fault records and page requests happen here, one request at a time, in window order.
     * </ol>
     * Allocates nothing: a batch's state is two bit masks, and a walk's start is kept in {@code physOut} at its
     * request's index until pass 3 writes the result there.
     */
    @Override
    public int translateWindow(int rid, int pasid, int access, long[] iovas, int from, int count, long[] physOut,
            Translation scratch) {
        Objects.checkFromIndexSize(from, count, iovas.length);
        Objects.checkFromIndexSize(from, count, physOut.length);
        if (iovas == physOut) { // translated in place: the passes below keep walk starts where the addresses are
            return oneByOne(rid & 0xffff, pasid, access, iovas, from, count, physOut, scratch);
        }
        int done = 0;
        int end = from + count;
        for (int at = from; at < end; ) {
            int n = Math.min(WINDOW_BATCH, end - at);
            done += translateBatch(rid & 0xffff, pasid, access, iovas, at, n, physOut, scratch);
            at += n;
        }
        return done;
    }

    /** One batch of {@link #translateWindow}: requests {@code from} to {@code from + n - 1}, n at most 64. */
    private int translateBatch(int rid, int pasid, int access, long[] iovas, int from, int n, long[] physOut,
            Translation out) {
        int mode = fastMode;
        if (mode == FAST_TE_OFF) {
            System.arraycopy(iovas, from, physOut, from, n); // what translate() gives each: the address itself
            return n;
        }
        if (mode == FAST_LEGACY && pasid == DmaAttributes.NO_PASID) {
            return legacyBatch(rid, access, iovas, from, n, physOut, out);
        }
        if (mode == FAST_SCALABLE) {
            return scalableBatch(rid, pasid, access, iovas, from, n, physOut, out);
        }
        return oneByOne(rid, pasid, access, iovas, from, n, physOut, out);
    }

    /** Every request of a batch through {@link #translate}, in order. */
    private int oneByOne(int rid, int pasid, int access, long[] iovas, int from, int n, long[] physOut, Translation out) {
        int done = 0;
        for (int i = from; i < from + n; i++) {
            done += IommuUnitModel.windowResult(translate(rid, pasid, iovas[i], access, out), physOut, i);
        }
        return done;
    }

    /**
     * Whether no invalidation (or mode change) began since {@code sample}, read after the lookups of pass 1 (the
     * fence keeps their reads before this one): then the context, PASID and IOTLB entries pass 1 used were all live
     * together when this read ran, and each hit is what {@link #translate} would give at that moment.
     */
    private boolean noInvalidationSince(long sample) {
        Runnable hook = afterWindowLookups;
        if (hook != null) {
            hook.run();
        }
        VarHandle.loadLoadFence();
        return cacheInvalidations.sample() == sample;
    }

    /**
     * For tests only: run by a window's batch after its lookups (pass 1), just before {@link #noInvalidationSince}
     * reads the count, so that a test can complete an invalidation at exactly that point. Null in use.
     */
    Runnable afterWindowLookups;

    /** A legacy-mode batch (no PASID): {@link #translateWindow}'s three passes with {@link #legacyHit}'s checks. */
    private int legacyBatch(int rid, int access, long[] iovas, int from, int n, long[] physOut, Translation out) {
        long sample = cacheInvalidations.sample(); // before the context entry: see legacyMiss
        long st = contextCache.lookup(rid);
        if (st < 0) {
            return oneByOne(rid, DmaAttributes.NO_PASID, access, iovas, from, n, physOut, out);
        }
        long lo = contextCache.lo(st);
        long hi = contextCache.hi(st);
        if (!contextCache.validate(st)) {
            return oneByOne(rid, DmaAttributes.NO_PASID, access, iovas, from, n, physOut, out);
        }
        boolean write = (access & Translation.ACCESS_WRITE) != 0;
        long pending = 0; // bit k: request from + k did not hit
        long walks = 0; // bit k: and its IOTLB lookup missed: physOut[from + k] holds its walk's start
        if (ContextEntry.tt(lo) == ContextEntry.TT_PASS_THROUGH) {
            System.arraycopy(iovas, from, physOut, from, n);
        } else {
            int width = Math.min(CapabilityRegister.agawToWidth(ContextEntry.aw(hi)), CapabilityRegister.mgaw(cap));
            int did = ContextEntry.did(hi);
            // what every lookup of the batch would read first, read once (after sample: see noInvalidationSince)
            long want = Iotlb.wantTag(did, 0);
            int levels = iotlb.levelsHint(did);
            int now = iotlb.epochNow();
            for (int k = 0; k < n; k++) {
                long iova = iovas[from + k];
                long v = width < 64 && (iova >>> width) != 0 ? IOTLB_DENIED
                        : legacyPermitted(iotlb.lookup(did, want, iova, levels, now), write);
                if (v > 0) {
                    physOut[from + k] = outputAddress(v, iova);
                } else {
                    pending |= 1L << k;
                    if (v == 0) {
                        walks |= 1L << k;
                        physOut[from + k] = legacyWalkStart(lo, hi, iova);
                    }
                }
            }
        }
        if (!noInvalidationSince(sample)) {
            return oneByOne(rid, DmaAttributes.NO_PASID, access, iovas, from, n, physOut, out);
        }
        if (walks != 0) {
            out.ok(readAheadWalks(iovas, from, walks, physOut), 0); // scratch (overwritten below): keeps the reads
        }
        int done = n - Long.bitCount(pending);
        for (long p = pending; p != 0; p &= p - 1) {
            int k = Long.numberOfTrailingZeros(p);
            long iova = iovas[from + k];
            // what translate() does after legacyHit's lookup: a miss walks without the lock (from the position
            // taken after sample, as legacyHit takes it), anything else or a walk that needs it takes the lock
            if ((walks & (1L << k)) == 0 || !legacyWalk(hi, physOut[from + k], iova, write, sample, out)) {
                translateWithLock(rid, DmaAttributes.NO_PASID, iova, access, out);
            }
            done += IommuUnitModel.windowResult(out, physOut, from + k);
        }
        return done;
    }

    /**
     * A scalable-mode batch: {@link #translateWindow}'s three passes with {@link #scalableHit}'s checks. Scalable
     * mode has no lock-free walk: pass 3 takes the locked path for every request that did not hit, as
     * {@link #translate} does; pass 2 reads ahead the walks of a second-stage (PGTT 010b) PASID entry.
     */
    private int scalableBatch(int rid, int pasid, int access, long[] iovas, int from, int n, long[] physOut,
            Translation out) {
        long sample = cacheInvalidations.sample();
        long st = contextCache.lookup(rid);
        if (st < 0) {
            return oneByOne(rid, pasid, access, iovas, from, n, physOut, out);
        }
        long c0 = contextCache.lo(st);
        long c1 = contextCache.hi(st);
        if (!contextCache.validate(st) || pasid != DmaAttributes.NO_PASID && (c0 & ScalableContextEntry.PASIDE) == 0) {
            return oneByOne(rid, pasid, access, iovas, from, n, physOut, out);
        }
        int p = pasid == DmaAttributes.NO_PASID ? ScalableContextEntry.ridPasid(c1) : pasid;
        long ps = p < ScalableContextEntry.pasidLimit(c0) ? pasidCache.lookup(rid, p) : -1;
        if (ps < 0) {
            return oneByOne(rid, pasid, access, iovas, from, n, physOut, out);
        }
        long e0 = pasidCache.q0(ps);
        long e1 = pasidCache.q1(ps);
        long e2 = pasidCache.q2(ps);
        boolean priv = pasid != DmaAttributes.NO_PASID && (access & Translation.ACCESS_PRIV) != 0;
        boolean exec = pasid != DmaAttributes.NO_PASID && (access & Translation.ACCESS_EXEC) != 0;
        if (!pasidCache.validate(ps) || (exec && !PasidTableEntry.ere(e2)) || (priv && !PasidTableEntry.sre(e2))) {
            return oneByOne(rid, pasid, access, iovas, from, n, physOut, out);
        }
        int pgtt = PasidTableEntry.pgtt(e0);
        boolean write = (access & Translation.ACCESS_WRITE) != 0;
        int did = PasidTableEntry.did(e1);
        long pending = 0;
        if (pgtt == PasidTableEntry.PGTT_PASS_THROUGH) {
            System.arraycopy(iovas, from, physOut, from, n);
        } else {
            long want = Iotlb.wantTag(did, p); // read once for the batch, as legacyBatch does
            int levels = iotlb.levelsHint(did);
            int now = iotlb.epochNow();
            for (int k = 0; k < n; k++) {
                long iova = iovas[from + k];
                long v = scalablePermitted(iotlb.lookup(did, want, iova, levels, now), write, priv, exec, e2, pgtt);
                if (v != 0) {
                    physOut[from + k] = outputAddress(v, iova);
                } else {
                    pending |= 1L << k;
                }
            }
        }
        if (!noInvalidationSince(sample)) {
            return oneByOne(rid, pasid, access, iovas, from, n, physOut, out);
        }
        if (pending != 0 && pgtt == PasidTableEntry.PGTT_SECOND_STAGE) {
            int aw = PasidTableEntry.aw(e0);
            int width = Math.min(CapabilityRegister.agawToWidth(aw), CapabilityRegister.mgaw(cap));
            long start = PasidTableEntry.ssptptr(e0) | CapabilityRegister.agawToLevels(aw); // no walk caches
            long walks = 0;
            for (long q = pending; q != 0; q &= q - 1) {
                int k = Long.numberOfTrailingZeros(q);
                if ((iovas[from + k] >>> width) == 0) {
                    walks |= 1L << k;
                    physOut[from + k] = start;
                }
            }
            if (walks != 0) {
                out.ok(readAheadWalks(iovas, from, walks, physOut), 0); // scratch (overwritten below): keeps the reads
            }
        }
        int done = n - Long.bitCount(pending);
        for (long q = pending; q != 0; q &= q - 1) {
            int k = Long.numberOfTrailingZeros(q);
            done += IommuUnitModel.windowResult(translateWithLock(rid, pasid, iovas[from + k], access, out), physOut,
                    from + k);
        }
        return done;
    }

    /**
     * Per thread: the walk positions {@link #readAheadWalks} advances (one per request of a batch), so that the walk
     * starts stay in {@code physOut} for pass 3. Scratch only: a batch fills the slots it uses before it reads them.
     */
    private static final ThreadLocal<long[]> READ_AHEAD_POSITIONS = ThreadLocal.withInitial(() -> new long[WINDOW_BATCH]);

    /**
     * Pass 2 of {@link #translateWindow}: reads ahead the entries the walks from the positions in {@code physOut}
     * (at the indexes of the bits of {@code walks}) will read, one level at a time across all walks: the entry of
     * every walk at the highest level any walk starts at, then one level lower for every walk, and so on down to
     * the leaves. Each walk's position advances as its entry is read (in a per-thread scratch array: the starts in
     * {@code physOut} are what pass 3 walks from), so a round costs one memory read per walk: the reads of one round
     * are independent, and few instructions apart, so that the reorder buffer holds all of them and their cache
     * misses overlap, as the reads of several hardware walkers do. Returns the sum of the entries read (for the
     * caller to keep).
     */
    private long readAheadWalks(long[] iovas, int from, long walks, long[] physOut) {
        long[] at = READ_AHEAD_POSITIONS.get();
        int top = 1;
        for (long q = walks; q != 0; q &= q - 1) {
            int k = Long.numberOfTrailingZeros(q);
            long start = physOut[from + k];
            at[k] = start;
            top = Math.max(top, (int) (start & POS_LEVEL_MASK));
        }
        long seen = 0;
        for (int level = top; level >= 1; level--) {
            for (long q = walks; q != 0; q &= q - 1) {
                int k = Long.numberOfTrailingZeros(q);
                long position = at[k];
                if ((position & POS_LEVEL_MASK) == level) { // else it starts lower, or its read-ahead ended
                    long e = readAhead(position, iovas[from + k], level);
                    seen += e;
                    at[k] = level > 1 && SecondStagePte.present(e) && (e & SecondStagePte.PS) == 0
                            ? SecondStagePte.address(e) | (level - 1) : 0;
                }
            }
        }
        return seen;
    }

    /**
     * Reads ahead the second-stage entry a walk at {@code position} (the walk position layout is next to
     * {@link #POS_LEVEL_MASK}; R/W is not used here) reads for {@code iova} at {@code level}: memory only, no check,
     * fill, A/D update or fault. Returns the entry, or 0 when the address is not RAM (the walk reports it).
     */
    private long readAhead(long position, long iova, int level) {
        try {
            return mem.read64((position & ~0xfffL) + SecondStagePte.index(iova, level) * 8L);
        } catch (BusErrorException x) {
            return 0;
        }
    }

    // per-translation state (guarded by lock)
    private boolean tFpd;
    private long tCtx0;
    private long tCtx1;

    private void translateLocked(int rid, int pasid, long iova, int access, Translation out) {
        if ((gsts & GSTS_TES) == 0) {
            out.ok(iova, PhysicalMemory.FRAME_SIZE);
            return;
        }
        tFpd = false;
        int reason;
        int ttm = (int) ((rtaActive & RTADDR_TTM_MASK) >>> RTADDR_TTM_SHIFT);
        if (ttm == TTM_LEGACY) {
            reason = pasid != DmaAttributes.NO_PASID ? FaultReason.SM_LEGACY_PASID : translateLegacy(rid, iova, access, out);
        } else if (ttm == TTM_SCALABLE && ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.SMTS)) {
            reason = translateScalable(rid, pasid, iova, access, out);
        } else {
            reason = FaultReason.SM_RTADDR_INVALID;
        }
        if (reason == 0) {
            return;
        }
        if (reason < 0) { // a page request was queued
            out.pageRequest(-reason);
            return;
        }
        out.fault(reason);
        if (!(tFpd && FaultReason.qualified(reason))) {
            recordFault(rid, pasid, iova, access, reason);
        }
    }

    /**
     * The lock-free legacy hit path: a context-cache hit and an IOTLB hit that permits the access. False (out
     * untouched) whenever anything else would happen, so that the locked path decides.
     */
    private boolean legacyHit(int rid, long iova, int access, Translation out) {
        long sample = cacheInvalidations.sample(); // before the context entry: see legacyMiss
        long st = contextCache.lookup(rid);
        if (st < 0) {
            return false;
        }
        long lo = contextCache.lo(st);
        long hi = contextCache.hi(st);
        if (!contextCache.validate(st)) {
            return false;
        }
        if (ContextEntry.tt(lo) == ContextEntry.TT_PASS_THROUGH) {
            out.ok(iova, PhysicalMemory.FRAME_SIZE);
            return true;
        }
        int width = Math.min(CapabilityRegister.agawToWidth(ContextEntry.aw(hi)), CapabilityRegister.mgaw(cap));
        if (width < 64 && (iova >>> width) != 0) {
            return false;
        }
        boolean write = (access & Translation.ACCESS_WRITE) != 0;
        long v = legacyIotlbHit(ContextEntry.did(hi), iova, write);
        if (v > 0) {
            long size = SecondStagePte.levelSize(Iotlb.levelOf(v));
            out.ok(outputAddress(v, iova), size);
            return true;
        }
        return v == 0 && legacyMiss(lo, hi, iova, write, sample, out);
    }

    /** {@link #legacyIotlbHit}'s answer when the IOTLB holds an entry for the address that does not permit the access. */
    private static final long IOTLB_DENIED = -1;

    /**
     * The IOTLB part of the legacy hit path: the {@link Iotlb#lookup} result (positive: the level at
     * {@link Iotlb#LEVEL_SHIFT}) when an entry of domain {@code did} maps {@code iova} and permits the access, 0 when
     * no entry maps it (a walk decides), {@link #IOTLB_DENIED} when one maps it without the permission (the locked
     * path decides). Takes no lock, changes nothing but the entry's replacement hint.
     */
    private long legacyIotlbHit(int did, long iova, boolean write) {
        return legacyPermitted(iotlb.lookup(did, 0, iova), write);
    }

    /** {@link #legacyIotlbHit}'s answer for the {@link Iotlb#lookup} result {@code v}. */
    private static long legacyPermitted(long v, boolean write) {
        return v == 0 || (v & (write ? Iotlb.V_WRITE : Iotlb.V_READ)) != 0 ? v : IOTLB_DENIED;
    }

    /** The output address of {@code iova} through the IOTLB entry {@code v} (a {@link Iotlb#lookup} result). */
    private static long outputAddress(long v, long iova) {
        return (v & ~0xfffL) | (iova & (SecondStagePte.levelSize(Iotlb.levelOf(v)) - 1));
    }

    /**
     * A legacy IOTLB miss after a context-cache hit: the walk reads only memory, and the fills are lock-free
     * ({@link Iotlb#fill(int, int, long, int, int, long, long)}), so it runs without the unit's lock. The fills are
     * dropped, and the request retried from the start under the lock, if any cache was invalidated (or the
     * translation mode changed) since {@code sample} was taken, before the context entry was read. A 4 KiB leaf is
     * read with its IOTLB set already taken ({@link #legacyLeaf}).
     */
    private boolean legacyMiss(long lo, long hi, long iova, boolean write, long sample, Translation out) {
        return legacyWalk(hi, legacyWalkStart(lo, hi, iova), iova, write, sample, out);
    }

    /**
     * Where a legacy walk starts, as a walk position: one level below the deepest {@link #pwc} entry for
     * {@code iova} (spec 6.2.4), else the top table of the context entry with R and W.
     */
    private long legacyWalkStart(long lo, long hi, long iova) {
        long cached = pwc.lookup(ContextEntry.did(hi), 0, iova);
        if (cached != 0) { // resume below the deepest cached PDE/PDPE
            return (cached & ~0xfffL) | ((cached & (SecondStagePte.R | SecondStagePte.W)) << POS_PERM_SHIFT)
                    | (Iotlb.levelOf(cached) - 1);
        }
        return ContextEntry.slptptr(lo) | ((SecondStagePte.R | SecondStagePte.W) << POS_PERM_SHIFT)
                | CapabilityRegister.agawToLevels(ContextEntry.aw(hi));
    }

    /*
     * A walk position (a model-internal word, not an architectural format: where a walk resumes, kept by
     * translateWindow between its passes):
     *
     *   63                                12 11        5 4   3 2     0
     *  +------------------------------------+-----------+-----+-------+
     *  |  address of the table to read next |     0     | R/W | level |
     *  +------------------------------------+-----------+-----+-------+
     *
     * R/W: the R (bit 3) and W (bit 4) accumulated over the entries above the table; level: the table's level
     * (1 = page table, up to 5).
     */
    /** A walk position's level field. */
    private static final long POS_LEVEL_MASK = 7;
    /** Where a walk position keeps the accumulated R/W bits (SecondStagePte.R / W shifted). */
    private static final int POS_PERM_SHIFT = 3;

    /**
     * {@link #legacyMiss} from the walk position {@code start} ({@link #legacyWalkStart}, taken after
     * {@code sample}): reads the tables, fills the caches unless an invalidation ran since {@code sample}; false
     * (nothing filled but what a completed walk may cache) when the locked path must decide.
     */
    private boolean legacyWalk(long hi, long start, long iova, boolean write, long sample, Translation out) {
        int did = ContextEntry.did(hi);
        int levels = CapabilityRegister.agawToLevels(ContextEntry.aw(hi));
        long table = start & ~0xfffL;
        int level = (int) (start & POS_LEVEL_MASK);
        long perm = (start >>> POS_PERM_SHIFT) & (SecondStagePte.R | SecondStagePte.W);
        long pdpe = 0;
        long pde = 0;
        long leaf;
        while (true) {
            if (level == 1) {
                return legacyLeaf(did, table, levels, perm, iova, write, sample, pdpe, pde, out);
            }
            leaf = secondStageFrom(table, levels, level, perm, iova, write, false, false, snpAllowedLegacy, true);
            if (leaf < 0 || (leaf & WALK_TABLE) == 0) {
                break;
            }
            int at = Iotlb.levelOf(leaf); // a present non-leaf PDPE (3) or PDE (2) that passed every check
            if (at == 3) {
                pdpe = leaf & ~WALK_TABLE;
            } else {
                pde = leaf & ~WALK_TABLE;
            }
            table = leaf & ~0xfffL;
            perm = leaf & (SecondStagePte.R | SecondStagePte.W);
            level = at - 1;
        }
        if (leaf < 0) {
            return false; // a fault: the locked path records it
        }
        // a 2 MiB or 1 GiB leaf (read before its level was known)
        long size = SecondStagePte.levelSize(Iotlb.levelOf(leaf));
        long pa = (leaf & ~0xfffL) | (iova & (size - 1));
        if (pa >= MSI_LO && pa <= MSI_HI) {
            return false;
        }
        if (!iotlb.fill(did, 0, iova, Iotlb.levelOf(leaf), Iotlb.KIND_SECOND_STAGE,
                (leaf & ~0xfffL) | (leaf & (Iotlb.V_READ | Iotlb.V_WRITE | Iotlb.V_SNP)) | Iotlb.V_DIRTY, sample)) {
            return false; // an invalidation ran during the walk: translate again under the lock
        }
        fillWalkCache(did, iova, pdpe, pde, sample);
        out.ok(pa, size);
        return true;
    }

    /**
     * The end of {@link #legacyMiss} at a level-1 table: caches the PDPE/PDE read above, takes the IOTLB set of the
     * 4 KiB entry ({@link Iotlb#reserve}), and only then reads the PTE, so that the locked instructions of the fills
     * come before the read that misses the caches, and the little left after it (checks, two stores, a release)
     * lets the next requests run while it is outstanding.
     */
    private boolean legacyLeaf(int did, long table, int levels, long perm, long iova, boolean write, long sample,
            long pdpe, long pde, Translation out) {
        fillWalkCache(did, iova, pdpe, pde, sample);
        int held = iotlb.reserve(did, 0, iova, 1, Iotlb.KIND_SECOND_STAGE, sample);
        if (held < 0) {
            return false; // an invalidation ran during the walk: translate again under the lock
        }
        long leaf = secondStageFrom(table, levels, 1, perm, iova, write, false, false, snpAllowedLegacy, false);
        long pa = (leaf & ~0xfffL) | (iova & 0xfff);
        if (leaf < 0 || pa >= MSI_LO && pa <= MSI_HI) {
            iotlb.abandon(held);
            return false; // a fault (or the interrupt range): the locked path decides
        }
        iotlb.commit(held, did, 0, 1, Iotlb.KIND_SECOND_STAGE,
                (leaf & ~0xfffL) | (leaf & (Iotlb.V_READ | Iotlb.V_WRITE | Iotlb.V_SNP)) | Iotlb.V_DIRTY);
        out.ok(pa, PhysicalMemory.FRAME_SIZE);
        return true;
    }

    /** Caches the PDPE and PDE (0: none) a lock-free legacy walk read, unless an invalidation ran since {@code sample}. */
    private void fillWalkCache(int did, long iova, long pdpe, long pde, long sample) {
        if (pdpe != 0) {
            pwc.fill(did, 0, iova, 3, Iotlb.KIND_SECOND_STAGE, pdpe & ~(0x3L << Iotlb.LEVEL_SHIFT), sample);
        }
        if (pde != 0) {
            pwc.fill(did, 0, iova, 2, Iotlb.KIND_SECOND_STAGE, pde & ~(0x3L << Iotlb.LEVEL_SHIFT), sample);
        }
    }

    /**
     * The lock-free scalable-mode hit path: context-cache, PASID-cache and IOTLB hits (or a pass-through PASID
     * entry) with no check failing. False (out untouched) otherwise.
     */
    private boolean scalableHit(int rid, int pasid, long iova, int access, Translation out) {
        long st = contextCache.lookup(rid);
        if (st < 0) {
            return false;
        }
        long c0 = contextCache.lo(st);
        long c1 = contextCache.hi(st);
        if (!contextCache.validate(st)) {
            return false;
        }
        if (pasid != DmaAttributes.NO_PASID && (c0 & ScalableContextEntry.PASIDE) == 0) {
            return false;
        }
        int p = pasid == DmaAttributes.NO_PASID ? ScalableContextEntry.ridPasid(c1) : pasid;
        if (p >= ScalableContextEntry.pasidLimit(c0)) {
            return false;
        }
        long ps = pasidCache.lookup(rid, p);
        if (ps < 0) {
            return false;
        }
        long e0 = pasidCache.q0(ps);
        long e1 = pasidCache.q1(ps);
        long e2 = pasidCache.q2(ps);
        if (!pasidCache.validate(ps)) {
            return false;
        }
        boolean priv = pasid != DmaAttributes.NO_PASID && (access & Translation.ACCESS_PRIV) != 0;
        boolean exec = pasid != DmaAttributes.NO_PASID && (access & Translation.ACCESS_EXEC) != 0;
        if ((exec && !PasidTableEntry.ere(e2)) || (priv && !PasidTableEntry.sre(e2))) {
            return false;
        }
        int pgtt = PasidTableEntry.pgtt(e0);
        if (pgtt == PasidTableEntry.PGTT_PASS_THROUGH) {
            out.ok(iova, PhysicalMemory.FRAME_SIZE);
            return true;
        }
        long v = scalableIotlbHit(PasidTableEntry.did(e1), p, iova, (access & Translation.ACCESS_WRITE) != 0, priv, exec,
                e2, pgtt);
        if (v == 0) {
            return false;
        }
        out.ok(outputAddress(v, iova), SecondStagePte.levelSize(Iotlb.levelOf(v)));
        return true;
    }

    /**
     * The IOTLB part of the scalable-mode hit path: the {@link Iotlb#lookup} result when an entry of (did, PASID
     * {@code p}) maps {@code iova}, permits the access and needs no A/D update; else 0 (the locked path decides).
     */
    private long scalableIotlbHit(int did, int p, long iova, boolean write, boolean priv, boolean exec, long e2, int pgtt) {
        return scalablePermitted(iotlb.lookup(did, p, iova), write, priv, exec, e2, pgtt);
    }

    /** {@link #scalableIotlbHit}'s answer for the {@link Iotlb#lookup} result {@code v}. */
    private static long scalablePermitted(long v, boolean write, boolean priv, boolean exec, long e2, int pgtt) {
        return v == 0 || !permitted(v, write, priv, exec, e2, pgtt) || (write && (v & Iotlb.V_DIRTY) == 0) ? 0 : v;
    }

    /** Legacy-mode translation (spec 3.4.2/3.4.3); returns 0 on success (out filled) or a fault reason. */
    private int translateLegacy(int rid, long iova, int access, Translation out) {
        long slot = contextCache.lookup(rid);
        long lo;
        long hi;
        if (slot >= 0) {
            lo = contextCache.lo(slot);
            hi = contextCache.hi(slot);
        } else {
            long rta = rtaActive & RTADDR_RTA_MASK;
            long rootLo;
            long rootHi;
            try {
                long ra = RootEntry.entryAddress(rta, rid >>> 8);
                rootLo = mem.read64(ra);
                rootHi = mem.read64(ra + 8);
            } catch (BusErrorException e) {
                return FaultReason.ROOT_TABLE_INVALID;
            }
            if (!RootEntry.present(rootLo)) {
                return FaultReason.ROOT_NOT_PRESENT;
            }
            if ((rootLo & RootEntry.reservedLo(haw)) != 0 || rootHi != 0) {
                return FaultReason.ROOT_RESERVED;
            }
            try {
                long ca = ContextEntry.entryAddress(RootEntry.contextTablePointer(rootLo), rid & 0xff);
                lo = mem.read64(ca);
                hi = mem.read64(ca + 8);
            } catch (BusErrorException e) {
                return FaultReason.CONTEXT_TABLE_INVALID;
            }
            if (!ContextEntry.present(lo)) {
                return FaultReason.CONTEXT_NOT_PRESENT;
            }
            if ((lo & ContextEntry.reservedLo(haw)) != 0 || (hi & ContextEntry.RESERVED_HI) != 0) {
                return FaultReason.CONTEXT_RESERVED;
            }
            tFpd = ContextEntry.fpd(lo);
            int tt = ContextEntry.tt(lo);
            int aw = ContextEntry.aw(hi);
            if (tt == 3 || (tt == ContextEntry.TT_DEV_IOTLB && !ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.DT))
                    || (tt == ContextEntry.TT_PASS_THROUGH && !ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.PT))
                    || (CapabilityRegister.sagaw(cap) & (1 << aw)) == 0) {
                return FaultReason.CONTEXT_INVALID;
            }
            contextCache.fill(rid, lo, hi);
        }
        tFpd = ContextEntry.fpd(lo);
        if (ContextEntry.tt(lo) == ContextEntry.TT_PASS_THROUGH) {
            out.ok(iova, PhysicalMemory.FRAME_SIZE);
            return 0;
        }
        int did = ContextEntry.did(hi);
        int aw = ContextEntry.aw(hi);
        int width = Math.min(CapabilityRegister.agawToWidth(aw), CapabilityRegister.mgaw(cap));
        if (width < 64 && (iova >>> width) != 0) {
            return FaultReason.ADDRESS_BEYOND_MGAW;
        }
        boolean write = (access & Translation.ACCESS_WRITE) != 0;
        long v = iotlb.lookup(did, 0, iova);
        if (v != 0 && (v & (write ? Iotlb.V_WRITE : Iotlb.V_READ)) != 0) {
            long size = SecondStagePte.levelSize(Iotlb.levelOf(v));
            out.ok((v & ~0xfffL) | (iova & (size - 1)), size);
            return 0;
        }
        int r = legacyWalkLocked(did, ContextEntry.slptptr(lo), CapabilityRegister.agawToLevels(aw), iova, write);
        if (r != 0) {
            return r;
        }
        if (walkPa >= MSI_LO && walkPa <= MSI_HI) {
            return FaultReason.INTERRUPT_ADDRESS;
        }
        long size = SecondStagePte.levelSize(walkLevel);
        iotlb.fill(did, 0, iova, walkLevel, Iotlb.KIND_SECOND_STAGE, (walkPa & ~(size - 1)) | walkPerm | Iotlb.V_DIRTY);
        out.ok(walkPa, size);
        return 0;
    }

    /**
     * The legacy second-stage walk under the lock: like {@link #legacyMiss}, it starts below the deepest
     * {@link #pwc} entry for {@code iova} and caches the PDPE and PDE it reads (no invalidation can run meanwhile).
     * Sets the walk fields as {@link #secondStageWalk} does; returns 0 or the fault reason.
     */
    private int legacyWalkLocked(int did, long table, int levels, long iova, boolean write) {
        int level = levels;
        long perm = SecondStagePte.R | SecondStagePte.W;
        long cached = pwc.lookup(did, 0, iova);
        if (cached != 0) {
            table = cached & ~0xfffL;
            perm = cached & (SecondStagePte.R | SecondStagePte.W);
            level = Iotlb.levelOf(cached) - 1;
        }
        long leaf;
        while (true) {
            leaf = secondStageFrom(table, levels, level, perm, iova, write, false, false, snpAllowedLegacy, true);
            if (leaf < 0 || (leaf & WALK_TABLE) == 0) {
                break;
            }
            int at = Iotlb.levelOf(leaf);
            pwc.fill(did, 0, iova, at, Iotlb.KIND_SECOND_STAGE, leaf & ~(WALK_TABLE | (0x3L << Iotlb.LEVEL_SHIFT)));
            table = leaf & ~0xfffL;
            perm = leaf & (SecondStagePte.R | SecondStagePte.W);
            level = at - 1;
        }
        if (leaf < 0) {
            return (int) -leaf;
        }
        int l = Iotlb.levelOf(leaf);
        walkPa = (leaf & ~0xfffL) | (iova & (SecondStagePte.levelSize(l) - 1));
        walkLevel = l;
        walkPerm = leaf & (Iotlb.V_READ | Iotlb.V_WRITE | Iotlb.V_SNP);
        walkDirty = (leaf & Iotlb.V_DIRTY) != 0;
        return 0;
    }

    /**
     * Second-stage walk (spec 3.7, 9.8) of {@code addr} from {@code table} with {@code levels} levels, under the
     * lock. On success sets {@link #walkPa}, {@link #walkLevel}, {@link #walkPerm} (Iotlb V_* bits) and
     * {@link #walkDirty}; returns 0 or the fault reason.
     */
    private int secondStageWalk(long table, int levels, long addr, boolean write, boolean ssade, boolean sm, boolean snpAllowed) {
        long r = secondStageLeaf(table, levels, addr, write, ssade, sm, snpAllowed);
        if (r < 0) {
            return (int) -r;
        }
        int level = Iotlb.levelOf(r);
        walkPa = (r & ~0xfffL) | (addr & (SecondStagePte.levelSize(level) - 1));
        walkLevel = level;
        walkPerm = r & (Iotlb.V_READ | Iotlb.V_WRITE | Iotlb.V_SNP);
        walkDirty = (r & Iotlb.V_DIRTY) != 0;
        return 0;
    }

    /**
     * The second-stage walk itself: reads only memory (and, with {@code ssade}, sets A/D atomically), touches no
     * field, so it may run without the lock when {@code ssade} is false.
     *
     * @return the leaf: output page address | Iotlb V_READ/V_WRITE/V_SNP/V_DIRTY | level at
     *     {@link Iotlb#LEVEL_SHIFT}; or minus the fault reason
     */
    private long secondStageLeaf(long table, int levels, long addr, boolean write, boolean ssade, boolean sm, boolean snpAllowed) {
        return secondStageFrom(table, levels, levels, SecondStagePte.R | SecondStagePte.W, addr, write, ssade, sm, snpAllowed,
                false);
    }

    /**
     * Marks a {@link #secondStageFrom} result that is a present non-leaf PDPE or PDE (bit 10: clear in every leaf
     * result): next table's address | this bit | level of the entry at {@link Iotlb#LEVEL_SHIFT} | accumulated R/W.
     */
    private static final long WALK_TABLE = 1L << 10;

    /**
     * The walk from the level-{@code level} table {@code table} with the permissions {@code perm} accumulated above
     * it ({@code levels} is the table's full depth, for the fault reasons). With {@code stopAtCacheable}, returns
     * ({@link #WALK_TABLE}) after the first present non-leaf entry of level 3 or 2 that passes every check, so
     * the caller can cache it in {@link #pwc} and resume.
     */
    private long secondStageFrom(long table, int levels, int start, long perm, long addr, boolean write, boolean ssade,
            boolean sm, boolean snpAllowed, boolean stopAtCacheable) {
        int sllps = CapabilityRegister.sllps(cap);
        for (int level = start; level >= 1; level--) {
            long ea = table + (long) SecondStagePte.index(addr, level) * 8;
            long e;
            try {
                e = mem.read64(ea);
            } catch (BusErrorException ex) {
                if (level == levels) {
                    return -(long) (sm ? FaultReason.SM_SS_ROOT_INVALID : FaultReason.CONTEXT_INVALID);
                }
                return -(long) (sm ? FaultReason.SM_SS_ACCESS : FaultReason.PAGING_ENTRY_INVALID);
            }
            if (!SecondStagePte.present(e)) {
                return -(long) (sm ? FaultReason.SM_SS_NOT_PRESENT : (write ? FaultReason.WRITE_DENIED : FaultReason.READ_DENIED));
            }
            perm &= e;
            if (write && (perm & SecondStagePte.W) == 0) {
                return -(long) (sm ? FaultReason.SM_WRITE_DENIED : FaultReason.WRITE_DENIED);
            }
            if (!write && (perm & SecondStagePte.R) == 0) {
                return -(long) (sm ? FaultReason.SM_READ_DENIED : FaultReason.READ_DENIED);
            }
            boolean ps = level > 1 && (e & SecondStagePte.PS) != 0;
            boolean large = ps && (level == 2 || level == 3);
            if (large && (sllps & (1 << (level - 2))) == 0) {
                return -(long) (sm ? FaultReason.SM_SS_RESERVED : FaultReason.PAGING_RESERVED); // PS without SLLPS support
            }
            if ((e & SecondStagePte.reserved(level, large, haw, snpAllowed)) != 0) {
                return -(long) (sm ? FaultReason.SM_SS_RESERVED : FaultReason.PAGING_RESERVED);
            }
            if (ssade && (e & SecondStagePte.A) == 0) {
                mem.getAndOr64(ea, SecondStagePte.A);
            }
            if (level == 1 || large) {
                long size = SecondStagePte.levelSize(level);
                boolean dirty = true;
                if (ssade) {
                    dirty = (e & SecondStagePte.D) != 0;
                    if (write && !dirty) {
                        mem.getAndOr64(ea, SecondStagePte.D);
                        dirty = true;
                    }
                }
                long leaf = (SecondStagePte.address(e) & ~(size - 1)) | ((long) level << Iotlb.LEVEL_SHIFT);
                leaf |= (perm & SecondStagePte.R) != 0 ? Iotlb.V_READ : 0;
                leaf |= (perm & SecondStagePte.W) != 0 ? Iotlb.V_WRITE : 0;
                leaf |= (e & SecondStagePte.SNP) != 0 ? Iotlb.V_SNP : 0;
                leaf |= dirty ? Iotlb.V_DIRTY : 0;
                return leaf;
            }
            table = SecondStagePte.address(e);
            if (stopAtCacheable && level <= 3) {
                return table | WALK_TABLE | ((long) level << Iotlb.LEVEL_SHIFT) | (perm & (SecondStagePte.R | SecondStagePte.W));
            }
        }
        throw new IllegalStateException("unreachable");
    }

    /** Scalable-mode translation (spec 3.4.3, 9.4-9.6); 0, a fault reason, or minus a reason when a page request was queued. */
    private int translateScalable(int rid, int pasid, long iova, int access, Translation out) {
        long slot = contextCache.lookup(rid);
        long c0;
        long c1;
        if (slot >= 0) {
            c0 = contextCache.lo(slot);
            c1 = contextCache.hi(slot);
        } else {
            long rta = rtaActive & RTADDR_RTA_MASK;
            long half;
            try {
                long ra = RootEntry.entryAddress(rta, rid >>> 8) + ((rid & 0x80) != 0 ? 8 : 0);
                half = mem.read64(ra);
            } catch (BusErrorException e) {
                return FaultReason.SM_ROOT_ACCESS;
            }
            if (!RootEntry.present(half)) {
                return FaultReason.SM_ROOT_NOT_PRESENT;
            }
            if ((half & RootEntry.reservedLo(haw)) != 0) {
                return FaultReason.SM_ROOT_RESERVED;
            }
            long c2;
            long c3;
            try {
                long ca = ScalableContextEntry.entryAddress(RootEntry.contextTablePointer(half), rid & 0xff);
                c0 = mem.read64(ca);
                c1 = mem.read64(ca + 8);
                c2 = mem.read64(ca + 16);
                c3 = mem.read64(ca + 24);
            } catch (BusErrorException e) {
                return FaultReason.SM_CONTEXT_ACCESS;
            }
            if (!ScalableContextEntry.present(c0)) {
                return FaultReason.SM_CONTEXT_NOT_PRESENT;
            }
            if ((c0 & ScalableContextEntry.reservedQ0(haw)) != 0 || (c1 & ScalableContextEntry.RESERVED_Q1) != 0 || (c2 | c3) != 0) {
                return FaultReason.SM_CONTEXT_RESERVED;
            }
            tFpd = (c0 & ScalableContextEntry.FPD) != 0;
            if (((c0 & ScalableContextEntry.DTE) != 0 && !ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.DT))
                    || ((c0 & ScalableContextEntry.PRE) != 0 && !ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.PRS))
                    || (ScalableContextEntry.ridPasid(c1) != 0 && !ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.RPS))) {
                return FaultReason.SM_CONTEXT_INVALID;
            }
            contextCache.fill(rid, c0, c1);
        }
        tFpd = (c0 & ScalableContextEntry.FPD) != 0;
        tCtx0 = c0;
        tCtx1 = c1;
        if (pasid != DmaAttributes.NO_PASID && (c0 & ScalableContextEntry.PASIDE) == 0) {
            return FaultReason.SM_PASIDE_CLEAR;
        }
        int p = pasid == DmaAttributes.NO_PASID ? ScalableContextEntry.ridPasid(c1) : pasid;
        if (p >= ScalableContextEntry.pasidLimit(c0)) {
            return FaultReason.SM_PASID_RANGE;
        }
        long ps = pasidCache.lookup(rid, p);
        long e0;
        long e1;
        long e2;
        boolean pdeFpd;
        if (ps >= 0) {
            e0 = pasidCache.q0(ps);
            e1 = pasidCache.q1(ps);
            e2 = pasidCache.q2(ps);
            pdeFpd = pasidCache.pdeFpd(ps);
        } else {
            long pde;
            try {
                pde = mem.read64(PasidDirectoryEntry.entryAddress(ScalableContextEntry.pasidDirPointer(c0), p));
            } catch (BusErrorException e) {
                return FaultReason.SM_PDE_ACCESS;
            }
            pdeFpd = PasidDirectoryEntry.fpd(pde);
            tFpd |= pdeFpd;
            if (!PasidDirectoryEntry.present(pde)) {
                return FaultReason.SM_PDE_NOT_PRESENT;
            }
            if ((pde & PasidDirectoryEntry.reserved(haw)) != 0) {
                return FaultReason.SM_PDE_RESERVED;
            }
            try {
                long pa = PasidTableEntry.entryAddress(PasidDirectoryEntry.tablePointer(pde), p);
                e0 = mem.read64(pa);
                e1 = mem.read64(pa + 8);
                e2 = mem.read64(pa + 16);
            } catch (BusErrorException e) {
                return FaultReason.SM_PE_ACCESS;
            }
            tFpd |= PasidTableEntry.fpd(e0);
            if (!PasidTableEntry.present(e0)) {
                return FaultReason.SM_PE_NOT_PRESENT;
            }
            if ((e0 & PasidTableEntry.reservedQ0(haw)) != 0 || (e1 & PasidTableEntry.RESERVED_Q1) != 0
                    || (e2 & PasidTableEntry.reservedQ2(haw)) != 0) {
                return FaultReason.SM_PE_RESERVED;
            }
            if (!pasidEntryValid(e0, e2)) {
                return FaultReason.SM_PE_INVALID;
            }
            pasidCache.fill(rid, p, e0, e1, e2, pdeFpd);
        }
        tFpd |= pdeFpd | PasidTableEntry.fpd(e0);
        boolean priv = pasid != DmaAttributes.NO_PASID && (access & Translation.ACCESS_PRIV) != 0;
        boolean exec = pasid != DmaAttributes.NO_PASID && (access & Translation.ACCESS_EXEC) != 0;
        if (exec && !PasidTableEntry.ere(e2)) {
            return FaultReason.SM_ERE_CLEAR;
        }
        if (priv && !PasidTableEntry.sre(e2)) {
            return FaultReason.SM_SRE_CLEAR;
        }
        int pgtt = PasidTableEntry.pgtt(e0);
        if (pgtt == PasidTableEntry.PGTT_PASS_THROUGH) {
            out.ok(iova, PhysicalMemory.FRAME_SIZE);
            return 0;
        }
        int did = PasidTableEntry.did(e1);
        boolean write = (access & Translation.ACCESS_WRITE) != 0;
        long v = iotlb.lookup(did, p, iova);
        if (v != 0 && permitted(v, write, priv, exec, e2, pgtt) && (!write || (v & Iotlb.V_DIRTY) != 0)) {
            long size = SecondStagePte.levelSize(Iotlb.levelOf(v));
            out.ok((v & ~0xfffL) | (iova & (size - 1)), size);
            return 0;
        }
        int r;
        int kind;
        if (pgtt == PasidTableEntry.PGTT_SECOND_STAGE) {
            int aw = PasidTableEntry.aw(e0);
            int width = Math.min(CapabilityRegister.agawToWidth(aw), CapabilityRegister.mgaw(cap));
            if ((iova >>> width) != 0) {
                return FaultReason.SM_BEYOND_SS_AGAW;
            }
            r = secondStageWalk(PasidTableEntry.ssptptr(e0), CapabilityRegister.agawToLevels(aw), iova, write,
                    PasidTableEntry.ssade(e0), true, true);
            kind = Iotlb.KIND_SECOND_STAGE;
        } else {
            r = firstStageWalk(e0, e2, iova, write, priv, exec, pgtt == PasidTableEntry.PGTT_NESTED);
            kind = pgtt == PasidTableEntry.PGTT_NESTED ? Iotlb.KIND_NESTED : Iotlb.KIND_FIRST_STAGE;
        }
        if (r != 0) {
            if (pageRequestEligible(r) && (c0 & ScalableContextEntry.PRE) != 0 && priCapable(rid)
                    && queuePageRequest(rid, pasid, iova, access)) {
                return -r;
            }
            return r;
        }
        if (walkPa >= MSI_LO && walkPa <= MSI_HI) {
            return FaultReason.SM_INTERRUPT_ADDRESS;
        }
        long size = SecondStagePte.levelSize(walkLevel);
        iotlb.fill(did, p, iova, walkLevel, kind, (walkPa & ~(size - 1)) | walkPerm | (walkDirty ? Iotlb.V_DIRTY : 0));
        out.ok(walkPa, size);
        return 0;
    }

    /** Whether cached permission bits allow the access (first stage: R/W, U/S, XD with WPE/NXE; second stage: R/W). */
    private static boolean permitted(long v, boolean write, boolean priv, boolean exec, long e2, int pgtt) {
        if (pgtt == PasidTableEntry.PGTT_SECOND_STAGE) {
            return (v & (write ? Iotlb.V_WRITE : Iotlb.V_READ)) != 0;
        }
        if (!priv && (v & V_USER) == 0) {
            return false;
        }
        if (write && (v & Iotlb.V_WRITE) == 0 && (!priv || PasidTableEntry.wpe(e2))) {
            return false;
        }
        if (write && pgtt == PasidTableEntry.PGTT_NESTED && (v & V_SS_WRITE) == 0) {
            return false;
        }
        return !(exec && (v & V_XD) != 0);
    }

    /** First-stage cached bits: the walk's U/S, XD, and (nested) second-stage write permission. */
    private static final long V_USER = 32;
    private static final long V_XD = 64;
    private static final long V_SS_WRITE = 128;

    private boolean pasidEntryValid(long e0, long e2) {
        int pgtt = PasidTableEntry.pgtt(e0);
        int aw = PasidTableEntry.aw(e0);
        boolean awOk = (CapabilityRegister.sagaw(cap) & (1 << aw)) != 0;
        int fspm = PasidTableEntry.fspm(e2);
        boolean fspmOk = fspm == 0 || (fspm == 1 && CapabilityRegister.has(cap, CapabilityRegister.FL5LP));
        boolean ssadeOk = !PasidTableEntry.ssade(e0) || ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.SLADS);
        switch (pgtt) {
            case PasidTableEntry.PGTT_FIRST_STAGE:
                return ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.FLTS) && fspmOk;
            case PasidTableEntry.PGTT_SECOND_STAGE:
                return ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.SLTS) && awOk && ssadeOk;
            case PasidTableEntry.PGTT_NESTED:
                return ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.NEST)
                        && ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.FLTS)
                        && ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.SLTS) && awOk && fspmOk && ssadeOk;
            case PasidTableEntry.PGTT_PASS_THROUGH:
                return ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.PT);
            default:
                return false;
        }
    }

    /**
     * First-stage walk (spec 3.6, 9.7) in the x86-64 format; with {@code nested}, every table address and the
     * final output are guest-physical and translated through the second stage of the same PASID entry (3.8).
     * Sets A on every entry used and D on the leaf for writes, atomically.
     */
    private int firstStageWalk(long e0, long e2, long addr, boolean write, boolean priv, boolean exec, boolean nested) {
        int levels = PasidTableEntry.fspm(e2) == PasidTableEntry.FSPM_5_LEVEL ? 5 : 4;
        int width = levels == 5 ? 57 : 48;
        if (((addr << (64 - width)) >> (64 - width)) != addr) {
            return FaultReason.SM_NON_CANONICAL;
        }
        boolean nxe = PasidTableEntry.nxe(e2);
        boolean writable = true;
        boolean user = true;
        boolean xd = false;
        long table = PasidTableEntry.fsptptr(e2);
        int ssLevels = CapabilityRegister.agawToLevels(PasidTableEntry.aw(e0));
        int ssWidth = Math.min(CapabilityRegister.agawToWidth(PasidTableEntry.aw(e0)), CapabilityRegister.mgaw(cap));
        boolean ssade = PasidTableEntry.ssade(e0);
        for (int level = levels; level >= 1; level--) {
            long tablePa = table;
            if (nested) {
                if ((table >>> ssWidth) != 0) {
                    return FaultReason.SM_NESTED_FS_TABLE_BEYOND_SS;
                }
                int r = secondStageWalk(PasidTableEntry.ssptptr(e0), ssLevels, table, false, ssade, true, true);
                if (r != 0) {
                    return r;
                }
                tablePa = walkPa;
            }
            long ea = tablePa + (long) SecondStagePte.index(addr, level) * 8;
            long e;
            try {
                e = mem.read64(ea);
            } catch (BusErrorException ex) {
                return level == levels && !nested ? FaultReason.SM_FS_ROOT_ACCESS : FaultReason.SM_FS_ACCESS;
            }
            if (!FirstStagePte.present(e)) {
                return FaultReason.SM_FS_NOT_PRESENT;
            }
            boolean ps = (e & FirstStagePte.PS) != 0;
            boolean large = ps && (level == 2 || level == 3);
            if (large && level == 3 && !CapabilityRegister.has(cap, CapabilityRegister.FL1GP)) {
                return FaultReason.SM_FS_RESERVED;
            }
            if ((e & FirstStagePte.reserved(level, large, haw, nxe)) != 0) {
                return FaultReason.SM_FS_RESERVED;
            }
            writable &= (e & FirstStagePte.RW) != 0;
            user &= (e & FirstStagePte.US) != 0;
            xd |= nxe && (e & FirstStagePte.XD) != 0;
            boolean leaf = level == 1 || large;
            if (leaf) {
                if (!priv && !user) {
                    return FaultReason.SM_USER_TO_SUPERVISOR;
                }
                if (write && !writable && (!priv || PasidTableEntry.wpe(e2))) {
                    return FaultReason.SM_WRITE_DENIED;
                }
                if (exec && xd) {
                    return FaultReason.SM_EXECUTE_DISABLED;
                }
            }
            long ad = FirstStagePte.A | (leaf && write ? FirstStagePte.D : 0);
            if ((e & ad) != ad) {
                e = mem.getAndOr64(ea, ad) | ad; // the entry was just read from RAM: the update cannot fail
            }
            if (leaf) {
                long size = SecondStagePte.levelSize(level);
                long out = FirstStagePte.address(e, level) | (addr & (size - 1));
                boolean dirty = (e & FirstStagePte.D) != 0;
                long perm = Iotlb.V_READ | (writable ? Iotlb.V_WRITE : 0) | (user ? V_USER : 0) | (xd ? V_XD : 0);
                int outLevel = level;
                if (nested) {
                    if ((out >>> ssWidth) != 0) {
                        return FaultReason.SM_BEYOND_SS_AGAW;
                    }
                    int r = secondStageWalk(PasidTableEntry.ssptptr(e0), ssLevels, out, write, ssade, true, true);
                    if (r != 0) {
                        return r;
                    }
                    perm |= (walkPerm & Iotlb.V_WRITE) != 0 ? V_SS_WRITE : 0;
                    perm |= walkPerm & Iotlb.V_SNP;
                    dirty &= walkDirty;
                    outLevel = Math.min(level, walkLevel);
                    out = walkPa;
                }
                walkPa = out;
                walkLevel = outLevel;
                walkPerm = perm;
                walkDirty = dirty;
                return 0;
            }
            table = FirstStagePte.address(e, level);
        }
        throw new IllegalStateException("unreachable");
    }

    private static boolean pageRequestEligible(int reason) {
        switch (reason) {
            case FaultReason.SM_FS_NOT_PRESENT:
            case FaultReason.SM_SS_NOT_PRESENT:
            case FaultReason.SM_WRITE_DENIED:
            case FaultReason.SM_READ_DENIED:
            case FaultReason.SM_USER_TO_SUPERVISOR:
            case FaultReason.SM_EXECUTE_DISABLED:
                return true;
            default:
                return false;
        }
    }

    private boolean priCapable(int rid) {
        for (PciFunction f : context.pci().functions()) {
            if (f.rid() == rid && f.iommuUnit().equals(name)) {
                return f.priCapable();
            }
        }
        return false;
    }

    /** Writes a page request descriptor at PQT (spec 7.5.1); false when the queue is not set up or full (PRO). */
    private boolean queuePageRequest(int rid, int pasid, long addr, int access) {
        if (pqa == 0 || !ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.PRS)) {
            return false;
        }
        long size = pqBytes(pqa);
        long next = (pqt + PageRequestDescriptor.SIZE) % size;
        if (next == pqh) {
            prs |= PRS_PRO;
            return false;
        }
        long a = (pqa & PQA_ADDR_MASK) + pqt;
        boolean write = (access & Translation.ACCESS_WRITE) != 0;
        int prg = nextPrgIndex;
        nextPrgIndex = (nextPrgIndex + 1) & 0x1ff;
        try {
            mem.write64(a, PageRequestDescriptor.encodeQ0(rid, pasid, (access & Translation.ACCESS_EXEC) != 0,
                    pasid >= 0 && (access & Translation.ACCESS_PRIV) != 0));
            mem.write64(a + 8, PageRequestDescriptor.encodeQ1(addr, !write, write, true, prg));
            mem.write64(a + 16, 0);
            mem.write64(a + 24, 0);
        } catch (BusErrorException e) {
            return false;
        }
        pqt = next;
        if ((prs & PRS_PPR) == 0) {
            prs |= PRS_PPR;
            if ((pectl & ECTL_IM) != 0) {
                pectl |= ECTL_IP;
            } else {
                pendingSignals |= SIG_PRQ;
            }
        }
        return true;
    }

    // =====================================================================================================
    // Structure frames
    // =====================================================================================================

    @Override
    public void visitStructureFrames(LongConsumer frame) {
        Set<Long> seen = new HashSet<>();
        LongConsumer once = pa -> {
            if (seen.add(pa & ~0xfffL)) {
                frame.accept(pa & ~0xfffL);
            }
        };
        synchronized (lock) {
            if ((gsts & GSTS_QIES) != 0 || iqa != 0) {
                long qbytes = 4096L << (iqa & IQA_QS_MASK);
                for (long o = 0; o < qbytes; o += 4096) {
                    once.accept((iqa & IQA_ADDR_MASK) + o);
                }
            }
            if (pqa != 0) {
                for (long o = 0; o < pqBytes(pqa); o += 4096) {
                    once.accept((pqa & PQA_ADDR_MASK) + o);
                }
            }
            if ((gsts & GSTS_RTPS) == 0) {
                return;
            }
            long rta = rtaActive & RTADDR_RTA_MASK;
            boolean sm = scalableMode();
            once.accept(rta);
            for (int bus = 0; bus < 256; bus++) {
                long ra = RootEntry.entryAddress(rta, bus);
                if (!mem.isRam(ra, 16)) {
                    return;
                }
                for (int half = 0; half < (sm ? 2 : 1); half++) {
                    long re = mem.read64(ra + half * 8);
                    if (!RootEntry.present(re) || !mem.isRam(RootEntry.contextTablePointer(re), 4096)) {
                        continue;
                    }
                    long ctp = RootEntry.contextTablePointer(re);
                    once.accept(ctp);
                    if (!sm) {
                        for (int devfn = 0; devfn < 256; devfn++) {
                            long lo = mem.read64(ContextEntry.entryAddress(ctp, devfn));
                            long hi = mem.read64(ContextEntry.entryAddress(ctp, devfn) + 8);
                            if (ContextEntry.present(lo) && ContextEntry.tt(lo) != ContextEntry.TT_PASS_THROUGH) {
                                visitSecondStage(ContextEntry.slptptr(lo), CapabilityRegister.agawToLevels(ContextEntry.aw(hi)), once);
                            }
                        }
                    } else {
                        for (int i = 0; i < 128; i++) {
                            long c0 = mem.read64(ctp + (long) i * ScalableContextEntry.SIZE);
                            if (ScalableContextEntry.present(c0)) {
                                visitPasidDirectory(c0, once);
                            }
                        }
                    }
                }
            }
        }
    }

    private void visitPasidDirectory(long c0, LongConsumer once) {
        long dir = ScalableContextEntry.pasidDirPointer(c0);
        int dirEntries = ScalableContextEntry.pasidLimit(c0) >>> PasidDirectoryEntry.PASID_PDE_SHIFT;
        for (long o = 0; o < (long) dirEntries * 8; o += 4096) {
            if (!mem.isRam(dir + o, 4096)) {
                return;
            }
            once.accept(dir + o);
        }
        for (int i = 0; i < dirEntries; i++) {
            long pde = mem.read64(dir + i * 8L);
            if (!PasidDirectoryEntry.present(pde) || !mem.isRam(PasidDirectoryEntry.tablePointer(pde), 4096)) {
                continue;
            }
            long pt = PasidDirectoryEntry.tablePointer(pde);
            once.accept(pt);
            for (int j = 0; j < PasidTableEntry.PASIDS_PER_TABLE; j++) {
                long e0 = mem.read64(pt + j * 64L);
                long e2 = mem.read64(pt + j * 64L + 16);
                if (!PasidTableEntry.present(e0)) {
                    continue;
                }
                int pgtt = PasidTableEntry.pgtt(e0);
                if (pgtt == PasidTableEntry.PGTT_SECOND_STAGE || pgtt == PasidTableEntry.PGTT_NESTED) {
                    visitSecondStage(PasidTableEntry.ssptptr(e0), CapabilityRegister.agawToLevels(PasidTableEntry.aw(e0)), once);
                }
                if (pgtt == PasidTableEntry.PGTT_FIRST_STAGE) {
                    visitFirstStage(PasidTableEntry.fsptptr(e2), PasidTableEntry.fspm(e2) == 1 ? 5 : 4, once);
                }
                // nested first-stage tables are guest-physical: they are the guest's memory, reached through the
                // second stage, and already part of the second stage's mapped frames
            }
        }
    }

    private void visitSecondStage(long table, int level, LongConsumer once) {
        if (!mem.isRam(table, 4096)) {
            return;
        }
        once.accept(table);
        if (level == 1) {
            return;
        }
        for (int i = 0; i < 512; i++) {
            long e = mem.read64(table + i * 8L);
            if (SecondStagePte.present(e) && (e & SecondStagePte.PS) == 0) {
                visitSecondStage(SecondStagePte.address(e), level - 1, once);
            }
        }
    }

    private void visitFirstStage(long table, int level, LongConsumer once) {
        if (!mem.isRam(table, 4096)) {
            return;
        }
        once.accept(table);
        if (level == 1) {
            return;
        }
        for (int i = 0; i < 512; i++) {
            long e = mem.read64(table + i * 8L);
            if (FirstStagePte.present(e) && (e & FirstStagePte.PS) == 0) {
                visitFirstStage(FirstStagePte.address(e, level), level - 1, once);
            }
        }
    }
}
