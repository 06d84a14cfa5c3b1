package dev.iommufd.vtd;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.PasidDirectoryEntry;
import dev.iommufd.vtd.layout.PasidTableEntry;
import dev.iommufd.vtd.layout.ScalableContextEntry;
import java.util.HashMap;
import java.util.Map;

/**
 * A probed device (Linux {@code struct device_domain_info}): its unit, its context entry and, in scalable mode,
 * its PASID directory and PASID tables (Linux {@code intel_pasid_alloc_table}).
 *
 * <p>Locks: {@link #domain} and {@link #pasidDomains} change only under the driver's {@code configLock}; the
 * device's monitor guards its context entry and PASID tables; the unit's monitor is taken inside it for the
 * shared context tables.
 */
final class VtdDevice implements DeviceHandle {
    final VtdDriver driver;
    final PciFunction function;
    final DmarUnit unit;
    final int rid;
    /** ATS is used: the function has ATS and the unit device-TLB support (ECAP.DT). */
    final boolean ats;
    /** PRI is used: scalable mode, ECAP.PRS, and the function has PRI. */
    final boolean pri;
    final int maxPasidLog2;

    // guarded by this
    private long pasidDir;
    private int pasidDirOrder;
    private boolean contextInstalled;
    /** Guarded by the driver's configLock. */
    VtdDomain domain;
    /** Guarded by the driver's configLock. */
    final Map<Integer, VtdDomain> pasidDomains = new HashMap<>();

    VtdDevice(VtdDriver driver, PciFunction function, DmarUnit unit) {
        this.driver = driver;
        this.function = function;
        this.unit = unit;
        this.rid = function.rid();
        this.ats = function.atsCapable() && unit.has(ExtendedCapabilityRegister.DT) && unit.queued;
        this.pri = unit.scalable && function.priCapable() && unit.has(ExtendedCapabilityRegister.PRS) && ats;
        this.maxPasidLog2 = unit.scalable && unit.has(ExtendedCapabilityRegister.PASID) && function.pasidBits() > 0
                ? Math.min(function.pasidBits(), ExtendedCapabilityRegister.pasidBits(unit.ecap)) : 0;
    }

    @Override
    public PciFunction function() {
        return function;
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    @Override
    public int maxPasidLog2() {
        return maxPasidLog2;
    }

    private PhysicalMemory mem() {
        return unit.mem;
    }

    // =====================================================================================================
    // Legacy context entries (Linux domain_context_mapping_one / domain_context_clear_one)
    // =====================================================================================================

    private long legacyEntry() {
        synchronized (unit) {
            return ContextEntry.entryAddress(unit.contextTable(rid >>> 8, rid & 0xff), rid & 0xff);
        }
    }

    /** Writes a present legacy context entry (hi first, then lo with P) and does the not-present-to-present flushes. */
    synchronized void writeLegacyContext(long slptptr, int tt, int aw, int did) {
        long ea = legacyEntry();
        mem().write64(ea + 8, ContextEntry.encodeHi(aw, did));
        mem().write64(ea, ContextEntry.encodeLo(slptptr, tt, false));
        if (unit.hasCap(dev.iommufd.vtd.layout.CapabilityRegister.CM)) {
            unit.flushContextDevice(0, rid);
            unit.flushIotlbDomain(did);
        } else {
            unit.flushWriteBuffer();
        }
    }

    /** Clears the legacy context entry and flushes the context cache, the old domain's IOTLB and the device TLB. */
    synchronized void clearLegacyContext() {
        long ctp;
        synchronized (unit) {
            ctp = unit.existingContextTable(rid >>> 8, rid & 0xff);
        }
        if (ctp == 0) {
            return;
        }
        long ea = ContextEntry.entryAddress(ctp, rid & 0xff);
        long lo = mem().read64(ea);
        if (!ContextEntry.present(lo)) {
            return;
        }
        int did = ContextEntry.did(mem().read64(ea + 8));
        mem().write64(ea, 0);
        mem().write64(ea + 8, 0);
        unit.flushContextDevice(did, rid);
        unit.flushIotlbDomain(did);
        if (ats) {
            unit.flushDeviceTlb(rid, 0, 0, DmarUnit.MAX_AGAW_PFN_WIDTH);
        }
    }

    // =====================================================================================================
    // Scalable-mode context entry and PASID tables
    // =====================================================================================================

    /** Linux context_entry_set_pasid_table: installs the context entry that points at the PASID directory. */
    synchronized void ensureScalableContext() {
        if (contextInstalled) {
            return;
        }
        int maxPasid = maxPasidLog2 == 0 ? 0 : 1 << maxPasidLog2;
        long size = (long) maxPasid >>> (PasidDirectoryEntry.PASID_PDE_SHIFT - 3);
        int order = size <= PhysicalMemory.FRAME_SIZE ? 0 : 64 - Long.numberOfLeadingZeros((size - 1) >>> 12);
        pasidDir = unit.frames.allocate(order);
        pasidDirOrder = order;
        int pasidLimit = 1 << (order + 12 + 3);
        long ea;
        synchronized (unit) {
            ea = ScalableContextEntry.entryAddress(unit.contextTable(rid >>> 8, rid & 0xff), rid & 0xff);
        }
        mem().write64(ea + 8, ScalableContextEntry.encodeQ1(0));
        mem().write64(ea + 16, 0);
        mem().write64(ea + 24, 0);
        mem().write64(ea, ScalableContextEntry.encodeQ0(pasidDir, ScalableContextEntry.pdtsFor(pasidLimit), ats,
                maxPasidLog2 > 0, pri, false));
        if (unit.hasCap(dev.iommufd.vtd.layout.CapabilityRegister.CM)) {
            unit.flushContextDevice(0, rid);
        } else {
            unit.flushWriteBuffer();
        }
        contextInstalled = true;
    }

    /** The PASID table entry for {@code pasid}, allocating its PASID table (cmpxchg into the directory). */
    private long pasidEntry(int pasid) {
        long pdeAddr = PasidDirectoryEntry.entryAddress(pasidDir, pasid);
        long pde = mem().read64(pdeAddr);
        if (!PasidDirectoryEntry.present(pde)) {
            long t = unit.frames.allocateFrame();
            long ne = PasidDirectoryEntry.encode(t, false);
            if (mem().compareAndSet64(pdeAddr, pde, ne)) {
                pde = ne;
            } else {
                unit.frames.free(t, 0);
                pde = mem().read64(pdeAddr);
            }
        }
        return PasidTableEntry.entryAddress(PasidDirectoryEntry.tablePointer(pde), pasid);
    }

    /**
     * Writes a PASID table entry whole (qwords 1..7 first, qword 0 with P last) and flushes as Linux does: for a
     * replaced present entry, PASID-cache (old DID), IOTLB of the old translation type, device TLB; for a new
     * entry, only a write-buffer flush (or, under caching mode, PASID-cache and PASID-based IOTLB).
     */
    synchronized void writePasidEntry(int pasid, long q0, long q1, long q2) {
        ensureScalableContext();
        long ea = pasidEntry(pasid);
        long old0 = mem().read64(ea);
        long old1 = mem().read64(ea + 8);
        mem().write64(ea + 8, q1);
        mem().write64(ea + 16, q2);
        for (int i = 3; i < 8; i++) {
            mem().write64(ea + i * 8L, 0);
        }
        mem().write64(ea, q0);
        if (PasidTableEntry.present(old0)) {
            flushPasidEntry(pasid, old0, old1);
        } else if (unit.hasCap(dev.iommufd.vtd.layout.CapabilityRegister.CM)) {
            unit.flushPasidCache(PasidTableEntry.did(q1), pasid);
            unit.flushPasidIotlb(PasidTableEntry.did(q1), pasid, 0, -1, false);
        } else {
            unit.flushWriteBuffer();
        }
    }

    private void flushPasidEntry(int pasid, long old0, long old1) {
        int did = PasidTableEntry.did(old1);
        int pgtt = PasidTableEntry.pgtt(old0);
        unit.flushPasidCache(did, pasid);
        if (pgtt == PasidTableEntry.PGTT_SECOND_STAGE || pgtt == PasidTableEntry.PGTT_NESTED) {
            unit.flushIotlbDomain(did);
        } else {
            unit.flushPasidIotlb(did, pasid, 0, -1, false);
        }
        if (ats) {
            unit.flushDeviceTlb(rid, pasid, 0, DmarUnit.MAX_AGAW_PFN_WIDTH);
        }
    }

    /** Linux intel_pasid_tear_down_entry: clear P (keeping the DID), flush, then zero the entry. */
    synchronized void clearPasidEntry(int pasid) {
        if (!contextInstalled) {
            return;
        }
        long ea = pasidEntry(pasid);
        long old0 = mem().read64(ea);
        if (!PasidTableEntry.present(old0)) {
            return;
        }
        long old1 = mem().read64(ea + 8);
        mem().write64(ea, old0 & ~PasidTableEntry.P);
        flushPasidEntry(pasid, old0, old1);
        for (int i = 0; i < 8; i++) {
            mem().write64(ea + i * 8L, 0);
        }
    }

    /** Changes SSADE of a present second-stage PASID entry and flushes (Linux intel_pasid_setup_dirty_tracking). */
    synchronized void setPasidSsade(int pasid, boolean on) {
        long ea = pasidEntry(pasid);
        long q0 = mem().read64(ea);
        if (!PasidTableEntry.present(q0)) {
            return;
        }
        long n = on ? q0 | PasidTableEntry.SSADE : q0 & ~PasidTableEntry.SSADE;
        if (n == q0) {
            return;
        }
        mem().write64(ea, n);
        flushPasidEntry(pasid, q0, mem().read64(ea + 8));
    }

    /** Releases the context entry and PASID tables (release_device). */
    synchronized void release() {
        if (unit.scalable) {
            if (!contextInstalled) {
                return;
            }
            long ea;
            synchronized (unit) {
                ea = ScalableContextEntry.entryAddress(unit.contextTable(rid >>> 8, rid & 0xff), rid & 0xff);
            }
            mem().write64(ea, 0);
            unit.flushContextDevice(0, rid);
            unit.qiSubmitSync(dev.iommufd.vtd.layout.InvalidationDescriptor.pasidCache(
                    dev.iommufd.vtd.layout.InvalidationDescriptor.PC_G_GLOBAL, 0, 0), 0);
            int dirEntries = (1 << (pasidDirOrder + 12)) / 8;
            for (int i = 0; i < dirEntries; i++) {
                long pde = mem().read64(pasidDir + i * 8L);
                if (PasidDirectoryEntry.present(pde)) {
                    unit.frames.free(PasidDirectoryEntry.tablePointer(pde), 0);
                }
            }
            unit.frames.free(pasidDir, pasidDirOrder);
            contextInstalled = false;
        } else {
            clearLegacyContext();
        }
    }

    void checkPasid(int pasid) {
        if (pasid <= 0 || maxPasidLog2 == 0 || pasid >= (1 << maxPasidLog2)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: PASID %d is not usable on %s (max PASID bits %d)", pasid,
                    function.address(), maxPasidLog2);
        }
    }
}
