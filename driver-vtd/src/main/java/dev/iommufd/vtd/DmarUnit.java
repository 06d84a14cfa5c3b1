package dev.iommufd.vtd;

import static dev.iommufd.vtd.layout.VtdRegisters.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.MsiVector;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.vtd.layout.CapabilityRegister;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.FaultRecord;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.PageRequestDescriptor;
import dev.iommufd.vtd.layout.RootEntry;

/**
 * The driver's view of one DMA-remapping unit (Linux {@code struct intel_iommu}): what it read from CAP/ECAP,
 * the root table, the invalidation queue, the domain-ID space, the fault and page-request handlers. Everything
 * reaches the hardware through MMIO registers and memory.
 *
 * <h2>Locks</h2>
 * <ul>
 *   <li>{@code this}: the GCMD shadow, root/context/PASID tables, the domain-ID bitmap (configuration paths).
 *   <li>The invalidation queue has its own locks ({@link InvalidationQueue}: a spin lock for insertion, a doorbell
 *       for IQT writes, no lock while waiting), taken by flushes on the map/unmap hot path.
 *   <li>{@link #registerLock}: the register-based invalidation registers (units without queued invalidation).
 * </ul>
 */
final class DmarUnit {
    /** Linux QI_LENGTH: descriptors in the queue. */
    static final int QI_LENGTH = InvalidationQueue.LENGTH;
    /** Linux PRQ_ORDER: the page request queue is 2^4 pages. */
    static final int PRQ_ORDER = 4;
    /** FLPT_DEFAULT_DID: the domain ID of identity (pass-through) entries. */
    static final int FLPT_DEFAULT_DID = 1;
    /** Linux MAX_AGAW_PFN_WIDTH: the "whole address space" mask. */
    static final int MAX_AGAW_PFN_WIDTH = 52;

    final String name;
    final long base;
    final MmioBus mmio;
    final PhysicalMemory mem;
    final FrameAllocator frames;
    final long cap;
    final long ecap;
    final int version;
    /** Use scalable-mode tables (ECAP.SMTS; Linux intel_iommu=sm_on). */
    final boolean scalable;
    final boolean queued;
    /** The largest supported AGAW (Linux iommu->agaw) and the MGAW-capped width. */
    final int agaw;
    final int gaw;
    final int domainCount;
    final long rootTable;
    private final long[] contextTables = new long[512]; // [bus*2 + half]
    private final long[] didBitmap;
    private int gcmd;

    /** Serialises the register-based invalidation protocol (CCMD, IVA/IOTLB registers) when there is no queue. */
    private final Object registerLock = new Object();
    /** The invalidation queue (when ECAP.QI), created at enable. */
    private InvalidationQueue qi;

    private long prq;
    private MsiVector prqVector;
    private MsiVector faultVector;
    private final VtdDriver driver;
    long faultsCleared;

    DmarUnit(VtdDriver driver, String name, long base) {
        this.driver = driver;
        this.name = name;
        this.base = base;
        this.mmio = driver.machine.mmio();
        this.mem = driver.machine.memory();
        this.frames = mem.frames();
        this.version = mmio.read32(base + VER_REG);
        this.cap = mmio.read64(base + CAP_REG);
        this.ecap = mmio.read64(base + ECAP_REG);
        this.scalable = ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.SMTS)
                && ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.QI);
        this.queued = ExtendedCapabilityRegister.has(ecap, ExtendedCapabilityRegister.QI);
        int sagaw = CapabilityRegister.sagaw(cap);
        int a = -1;
        for (int k = CapabilityRegister.widthToAgaw(57); k >= 0; k--) {
            if ((sagaw & (1 << k)) != 0) {
                a = k;
                break;
            }
        }
        if (a < 1) {
            throw ErrnoException.of(Errno.ENODEV, "%s: SAGAW %#x has no 3-, 4- or 5-level support", name, sagaw);
        }
        this.agaw = a;
        this.gaw = Math.min(CapabilityRegister.agawToWidth(a), CapabilityRegister.mgaw(cap));
        this.domainCount = CapabilityRegister.domainCount(cap);
        this.didBitmap = new long[(domainCount + 63) / 64];
        didBitmap[0] |= 3; // DID 0 (invalid under caching mode) and 1 (FLPT_DEFAULT_DID) are reserved
        this.rootTable = frames.allocateFrame();
    }

    boolean has(long ecapBit) {
        return (ecap & ecapBit) != 0;
    }

    boolean hasCap(long capBit) {
        return (cap & capBit) != 0;
    }

    // =====================================================================================================
    // Bring-up and shut-down (Linux init_dmars / intel_iommu_init order)
    // =====================================================================================================

    void enable() {
        faultVector = driver.machine.interrupts().allocate(name + "-fault", this::handleFaults);
        mmio.write32(base + FEDATA_REG, faultVector.data());
        mmio.write32(base + FEADDR_REG, (int) faultVector.address());
        mmio.write32(base + FEUADDR_REG, (int) (faultVector.address() >>> 32));
        mmio.write32(base + FECTL_REG, 0);
        clearFaults();
        if (queued) {
            enableQueuedInvalidation();
        }
        if (scalable && has(ExtendedCapabilityRegister.PRS)) {
            enablePageRequests();
        }
        setRootEntry();
        gcmd |= GCMD_TE;
        mmio.write32(base + GCMD_REG, gcmd);
        waitStatus(GSTS_TES, GSTS_TES);
    }

    private void enableQueuedInvalidation() {
        qi = new InvalidationQueue(name, mmio, base, mem, scalable);
        qi.program();
        gcmd |= GCMD_QIE;
        mmio.write32(base + GCMD_REG, gcmd);
        waitStatus(GSTS_QIES, GSTS_QIES);
    }

    private void enablePageRequests() {
        prq = frames.allocate(PRQ_ORDER);
        prqVector = driver.machine.interrupts().allocate(name + "-prq", this::drainPageRequests);
        mmio.write64(base + PQH_REG, 0);
        mmio.write64(base + PQT_REG, 0);
        mmio.write64(base + PQA_REG, prq | PRQ_ORDER);
        mmio.write32(base + PEDATA_REG, prqVector.data());
        mmio.write32(base + PEADDR_REG, (int) prqVector.address());
        mmio.write32(base + PEUADDR_REG, (int) (prqVector.address() >>> 32));
        mmio.write32(base + PECTL_REG, 0);
    }

    /** Linux iommu_set_root_entry: RTADDR, SRTP, wait RTPS, then (unless ESRTPS) global cache flushes. */
    private void setRootEntry() {
        mmio.write64(base + RTADDR_REG, rootTable | (scalable ? RTADDR_SMT : 0));
        mmio.write32(base + GCMD_REG, gcmd | GCMD_SRTP);
        waitStatus(GSTS_RTPS, GSTS_RTPS);
        if (!hasCap(CapabilityRegister.ESRTPS)) {
            flushContextGlobal();
            if (scalable) {
                qiSubmitSync(InvalidationDescriptor.pasidCache(InvalidationDescriptor.PC_G_GLOBAL, 0, 0), 0);
            }
            flushIotlbGlobal();
        }
    }

    void disable() {
        synchronized (this) {
            gcmd &= ~GCMD_TE;
            mmio.write32(base + GCMD_REG, gcmd);
            waitStatus(GSTS_TES, 0);
            if (queued) {
                gcmd &= ~GCMD_QIE;
                mmio.write32(base + GCMD_REG, gcmd);
                waitStatus(GSTS_QIES, 0);
            }
        }
        if (faultVector != null) {
            driver.machine.interrupts().free(faultVector);
        }
        if (prqVector != null) {
            mmio.write64(base + PQA_REG, 0);
            driver.machine.interrupts().free(prqVector);
            frames.free(prq, PRQ_ORDER);
        }
        for (int i = 0; i < contextTables.length; i++) {
            if (contextTables[i] != 0) {
                frames.free(contextTables[i], 0);
                contextTables[i] = 0;
            }
        }
        frames.free(rootTable, 0);
        if (qi != null) {
            qi.free();
        }
    }

    private void waitStatus(int mask, int value) {
        for (int i = 0; i < 1_000_000; i++) {
            if ((mmio.read32(base + GSTS_REG) & mask) == value) {
                return;
            }
            Thread.onSpinWait();
        }
        throw ErrnoException.of(Errno.ETIMEDOUT, "%s: GSTS did not reach %#x under mask %#x", name, value, mask);
    }

    /** Linux iommu_flush_write_buffer: only when CAP.RWBF. */
    void flushWriteBuffer() {
        if (!hasCap(CapabilityRegister.RWBF)) {
            return;
        }
        synchronized (this) {
            mmio.write32(base + GCMD_REG, gcmd | GCMD_WBF);
            waitStatus(GSTS_WBFS, 0);
        }
    }

    // =====================================================================================================
    // Context tables
    // =====================================================================================================

    /**
     * The context table for {@code bus} (and, in scalable mode, the half selected by devfn bit 7), allocated and
     * installed in the root entry on first use. Caller holds {@code this}.
     */
    long contextTable(int bus, int devfn) {
        int half = scalable && devfn >= 0x80 ? 1 : 0;
        int i = bus * 2 + half;
        if (contextTables[i] == 0) {
            long t = frames.allocateFrame();
            contextTables[i] = t;
            mem.write64(RootEntry.entryAddress(rootTable, bus) + half * 8L, RootEntry.encode(t));
        }
        return contextTables[i];
    }

    /** The context table for {@code bus}/{@code devfn} if one was installed, else 0. Caller holds {@code this}. */
    long existingContextTable(int bus, int devfn) {
        return contextTables[bus * 2 + (scalable && devfn >= 0x80 ? 1 : 0)];
    }

    // =====================================================================================================
    // Domain IDs
    // =====================================================================================================

    synchronized int allocateDid() {
        for (int w = 0; w < didBitmap.length; w++) {
            long free = ~didBitmap[w];
            if (free != 0) {
                int bit = Long.numberOfTrailingZeros(free);
                int did = w * 64 + bit;
                if (did >= domainCount) {
                    break;
                }
                didBitmap[w] |= 1L << bit;
                return did;
            }
        }
        throw ErrnoException.of(Errno.ENOSPC, "%s: all %d domain IDs are in use", name, domainCount);
    }

    synchronized void freeDid(int did) {
        didBitmap[did >>> 6] &= ~(1L << (did & 63));
    }

    // =====================================================================================================
    // Invalidation: queued (qi_submit_sync) or register-based
    // =====================================================================================================

    /**
     * Linux qi_submit_sync of one descriptor: inserts it and a wait descriptor, rings IQT, waits for the wait
     * descriptor's status write. Fails with EINVAL when the hardware rejected the descriptor (IQE), ETIMEDOUT when
     * the wait never completes. See {@link InvalidationQueue}.
     */
    void qiSubmitSync(long q0, long q1) {
        qi.submitSync(q0, q1, 0, 0);
    }

    /** One 256-bit descriptor (page group response); as {@link #qiSubmitSync(long, long)}. */
    void qiSubmitSync(long q0, long q1, long q2, long q3) {
        qi.submitSync(q0, q1, q2, q3);
    }

    /** {@code count} descriptors of 4 words each (words 2-3 ignored in 128-bit slots) and one wait descriptor. */
    void qiSubmitSync(long[] descriptors, int count) {
        qi.submitSync(descriptors, count);
    }

    /** Legacy __iommu_flush_context, or a QI context-cache descriptor. */
    private void flushContext(int granularity, int did, int sid) {
        if (queued) {
            qiSubmitSync(InvalidationDescriptor.contextCache(granularity, did, sid, 0), 0);
            return;
        }
        synchronized (registerLock) {
            mmio.write64(base + CCMD_REG, ccmd(granularity, did, sid, 0));
            for (int i = 0; (mmio.read64(base + CCMD_REG) & CCMD_ICC) != 0; i++) {
                if (i > 1_000_000) {
                    throw ErrnoException.of(Errno.ETIMEDOUT, "%s: CCMD.ICC never cleared", name);
                }
            }
        }
    }

    void flushContextGlobal() {
        flushContext(CCMD_GLOBAL, 0, 0);
    }

    void flushContextDevice(int did, int sid) {
        flushContext(CCMD_DEVICE, scalable ? 0 : did, sid);
    }

    void flushIotlbGlobal() {
        flushIotlb(IOTLB_GLOBAL, 0, 0, false, 0);
    }

    void flushIotlbDomain(int did) {
        flushIotlb(IOTLB_DOMAIN, did, 0, false, 0);
    }

    /**
     * IOTLB invalidation (type 2 / IOTLB register): page-selective when CAP.PSI and {@code mask <= MAMV}, else
     * domain-selective (Linux cache.c). {@code mask < 0} means the whole domain.
     */
    void flushIotlbRange(int did, long addr, int mask, boolean ih) {
        if (mask < 0 || !hasCap(CapabilityRegister.PSI) || mask > CapabilityRegister.mamv(cap)) {
            flushIotlb(IOTLB_DOMAIN, did, 0, false, 0);
        } else {
            flushIotlb(IOTLB_PAGE, did, addr, ih, mask);
        }
    }

    private void flushIotlb(int granularity, int did, long addr, boolean ih, int mask) {
        if (queued) {
            qiSubmitSync(InvalidationDescriptor.iotlbLo(granularity, did),
                    granularity == IOTLB_PAGE ? InvalidationDescriptor.addressHi(addr, ih, mask) : 0);
            return;
        }
        synchronized (registerLock) {
            int iro = ExtendedCapabilityRegister.iotlbRegisterOffset(ecap);
            if (granularity == IOTLB_PAGE) {
                mmio.write64(base + iro + IVA_OFFSET, iva(addr, ih, mask));
            }
            mmio.write64(base + iro + IOTLB_OFFSET, iotlbCommand(granularity, did));
            for (int i = 0; (mmio.read64(base + iro + IOTLB_OFFSET) & IOTLB_IVT) != 0; i++) {
                if (i > 1_000_000) {
                    throw ErrnoException.of(Errno.ETIMEDOUT, "%s: IOTLB.IVT never cleared", name);
                }
            }
        }
    }

    /** PASID-based IOTLB invalidation (type 6); {@code mask < 0} for every address of (DID, PASID). */
    void flushPasidIotlb(int did, int pasid, long addr, int mask, boolean ih) {
        if (mask < 0 || mask > CapabilityRegister.mamv(cap)) {
            qiSubmitSync(InvalidationDescriptor.pasidIotlbLo(InvalidationDescriptor.PIOTLB_G_PASID, did, pasid), 0);
        } else {
            qiSubmitSync(InvalidationDescriptor.pasidIotlbLo(InvalidationDescriptor.PIOTLB_G_PAGE, did, pasid),
                    InvalidationDescriptor.addressHi(addr, ih, mask));
        }
    }

    /** PASID-cache invalidation, PASID-selective within {@code did} (type 7, G = 1). */
    void flushPasidCache(int did, int pasid) {
        qiSubmitSync(InvalidationDescriptor.pasidCache(InvalidationDescriptor.PC_G_PASID, did, pasid), 0);
    }

    /** Device-TLB invalidation (type 3 for PASID 0 / RID requests, type 8 for other PASIDs); mask 52 = all. */
    void flushDeviceTlb(int sid, int pasid, long addr, int mask) {
        if (!queued) {
            return; // no ATS without queued invalidation (Linux requires QI for device TLBs)
        }
        if (pasid == 0) {
            qiSubmitSync(InvalidationDescriptor.deviceTlbLo(sid, 0, 0), InvalidationDescriptor.deviceTlbHi(addr, mask));
        } else {
            qiSubmitSync(InvalidationDescriptor.pasidDeviceTlbLo(sid, pasid, 0, 0),
                    InvalidationDescriptor.pasidDeviceTlbHi(addr, mask, false));
        }
    }

    // =====================================================================================================
    // Faults and page requests
    // =====================================================================================================

    /** Linux dmar_fault: walks the records from FSTS.FRI, clears each pending one, then clears PFO (not IQE/ICE/ITE). */
    private void handleFaults() {
        clearFaults();
    }

    private final Object eventLock = new Object();

    private void clearFaults() {
        synchronized (eventLock) {
            clearFaultsLocked();
        }
    }

    private void clearFaultsLocked() {
        int fro = CapabilityRegister.faultRecordOffset(cap);
        int n = CapabilityRegister.faultRecordCount(cap);
        int fsts = mmio.read32(base + FSTS_REG);
        int idx = (fsts & FSTS_FRI_MASK) >>> FSTS_FRI_SHIFT;
        for (int i = 0; i < n; i++) {
            long hiAddr = base + fro + (long) ((idx + i) % n) * FaultRecord.SIZE + 8;
            long hi = mmio.read64(hiAddr);
            if (FaultRecord.fault(hi)) {
                faultsCleared++;
                mmio.write32(hiAddr + 4, (int) (FaultRecord.F >>> 32));
            }
        }
        // Linux dmar_fault clears PFO (and PPF/PRO) only: IQE, ICE and ITE belong to the invalidation queue's
        // submitters (qi_check_fault), which must see IQE to fix the descriptor that stopped the queue. Clearing IQE
        // here would restart the hardware at that descriptor, stop it again and raise the next fault event
        // without end.
        mmio.write32(base + FSTS_REG, FSTS_PFO);
    }

    /** Linux prq_event_thread: clears PPR, reports every request between PQH and PQT, advances PQH. */
    private void drainPageRequests() {
        synchronized (prqLock) {
            drainPageRequestsLocked();
        }
    }

    /** Serialises page-request draining: the handler may run on several DMA threads at once. */
    private final Object prqLock = new Object();

    private void drainPageRequestsLocked() {
        mmio.write32(base + PRS_REG, PRS_PPR);
        long head = mmio.read64(base + PQH_REG) & PQ_OFFSET_MASK;
        long tail = mmio.read64(base + PQT_REG) & PQ_OFFSET_MASK;
        long size = (long) PhysicalMemory.FRAME_SIZE << PRQ_ORDER;
        while (head != tail) {
            long q0 = mem.read64(prq + head);
            long q1 = mem.read64(prq + head + 8);
            driver.reportPageRequest(this, q0, q1, mem.read64(prq + head + 16), mem.read64(prq + head + 24));
            head = (head + PageRequestDescriptor.SIZE) % size;
        }
        mmio.write64(base + PQH_REG, head);
        if ((mmio.read32(base + PRS_REG) & PRS_PRO) != 0) {
            mmio.write32(base + PRS_REG, PRS_PRO);
        }
    }

    /** Page group response (QI type 9, 256-bit). */
    void pageGroupResponse(int rid, int pasid, boolean pasidPresent, int code, int prgIndex) {
        qiSubmitSync(InvalidationDescriptor.pageGroupResponseLo(rid, pasid, pasidPresent, code),
                InvalidationDescriptor.pageGroupResponseHi(prgIndex, true), 0, 0);
    }
}
