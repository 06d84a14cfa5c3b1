package dev.iommufd.smmuv3;

import dev.iommufd.platform.PciFunction;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;

/**
 * A device behind an SMMU ({@code struct arm_smmu_master}): one StreamID (= the PCI requester ID, an identity
 * IORT mapping), its STE, its CD table once a stage-1 domain is attached, and the domain its untagged DMA uses.
 *
 * <p>Locking: attach/detach and every STE/CD write synchronise on the master (Linux's group mutex). The STE and
 * CD writers are the hitless {@link EntryWriter}; each of their syncs is CFGI_STE{sid, leaf} / CFGI_CD{sid,
 * ssid, leaf} followed by CMD_SYNC.
 */
final class SmmuMaster implements DeviceHandle {
    final SmmuInstance smmu;
    private final Smmuv3Driver driver;
    private final PciFunction function;
    final int sid;
    final long steAddress;
    final int ssidBits;
    final boolean ats;
    /**
     * {@code master->stall_enabled}: PCI functions cannot stall ("dma-can-stall" is a platform-device property),
     * so only an SMMU whose STALL_MODEL forces stalling enables it.
     */
    final boolean stallEnabled;
    /** Guarded by this. */
    private ContextDescriptorTable cdTable;
    /** Guarded by this. */
    private IommuDomain domain;
    /** PASID attachments (SSID -> stage-1 domain); guarded by this. */
    private final java.util.Map<Integer, Smmuv3PagingDomain> pasidDomains = new java.util.HashMap<>();
    /** Copy of {@link #pasidDomains} as parallel arrays, for allocation-free ATC invalidation; replaced under this. */
    private volatile int[] pasidIds = new int[0];
    private volatile Smmuv3PagingDomain[] pasidOwners = new Smmuv3PagingDomain[0];
    /** Whether the RID's ATS translations come from a given paging domain; guarded by this, read racily. */
    private volatile IommuDomain ridDomain;

    private void publishPasids() {
        int[] ids = new int[pasidDomains.size()];
        Smmuv3PagingDomain[] owners = new Smmuv3PagingDomain[ids.length];
        int i = 0;
        for (java.util.Map.Entry<Integer, Smmuv3PagingDomain> e : pasidDomains.entrySet()) {
            ids[i] = e.getKey();
            owners[i++] = e.getValue();
        }
        pasidIds = ids;
        pasidOwners = owners;
        ridDomain = domain;
    }

    /**
     * {@code arm_smmu_atc_inv_domain} for this master: one CMD_ATC_INV per use of {@code d} (its RID and each PASID
     * attached to it) covering {@code [iova, iova + size)} ({@code arm_smmu_atc_inv_to_cmd}: the smallest naturally
     * aligned span), added to the calling thread's batch of {@code q}; the caller syncs it. Allocation-free.
     */
    void addAtcInvalidations(IommuDomain d, long iova, long size, long[] cmd, CommandQueue q) {
        if (!ats) {
            return;
        }
        long addr;
        int log2Span;
        if (size == 0) {
            addr = 0;
            log2Span = dev.iommufd.smmuv3.layout.Command.ATC_INV_SIZE_ALL;
        } else {
            long pageStart = iova >>> 12;
            long pageEnd = (iova + size - 1) >>> 12;
            log2Span = 64 - Long.numberOfLeadingZeros(pageStart ^ pageEnd);
            addr = (pageStart & ~((1L << log2Span) - 1)) << 12;
        }
        IommuDomain rid = ridDomain;
        if (rid == d || rid instanceof Smmuv3NestedDomain && ((Smmuv3NestedDomain) rid).viommu.parent == d) {
            dev.iommufd.smmuv3.layout.Command.atcInv(cmd, sid, 0, false, addr, log2Span);
            q.add(cmd);
        }
        int[] ids = pasidIds;
        Smmuv3PagingDomain[] owners = pasidOwners;
        for (int i = 0; i < ids.length && i < owners.length; i++) {
            if (owners[i] == d) {
                dev.iommufd.smmuv3.layout.Command.atcInv(cmd, sid, ids[i], true, addr, log2Span);
                q.add(cmd);
            }
        }
    }
    private final long[] target = new long[8];
    private final long[] cmd = new long[2];
    private final SteWriter steWriter = new SteWriter();
    private final CdWriter cdWriter = new CdWriter();

    SmmuMaster(Smmuv3Driver driver, SmmuInstance smmu, PciFunction function) {
        this.driver = driver;
        this.smmu = smmu;
        this.function = function;
        this.sid = function.rid();
        this.steAddress = smmu.streamTable.ensureSte(sid);
        // arm_smmu_probe_device: ssid_bits = min(SMMU SSIDSIZE, the function's PASID width)
        this.ssidBits = Math.min(smmu.features.ssidBits, function.pasidBits());
        // arm_smmu_ats_supported: the SMMU and the function both implement ATS
        this.ats = smmu.features.ats && function.atsCapable();
        this.stallEnabled = smmu.features.stallForce;
    }

    @Override
    public PciFunction function() {
        return function;
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    /** Linux sets S1STALLD when the SMMU can stall but the master does not. */
    boolean stallDisable() {
        return smmu.features.stall && !stallEnabled;
    }

    /** PRI page requests reach the core (SMMU PRI queue, function with ATS and PRI); or the master stalls. */
    boolean iopfEnabled() {
        return stallEnabled || ats && smmu.features.pri && function.priCapable();
    }

    @Override
    public int maxPasidLog2() {
        return ssidBits;
    }

    synchronized IommuDomain domain() {
        return domain;
    }

    // ---- writers

    /** The STE writer ({@code arm_smmu_ste_writer}). */
    final class SteWriter extends EntryWriter {
        @Override
        void getUsed(long[] entry, long[] used) {
            ConfigurationUsedBits.steUsed(entry, used);
        }

        @Override
        void getUpdateSafe(long[] cur, long[] t, long[] safe) {
            ConfigurationUsedBits.steUpdateSafe(cur, t, safe);
        }

        @Override
        long read(int i) {
            return smmu.memory.read64(steAddress + 8L * i);
        }

        @Override
        void write(int i, long value) {
            smmu.memory.write64(steAddress + 8L * i, value);
        }

        @Override
        void sync() {
            synchronized (smmu.cmdq) {
                Command.cfgiSte(cmd, sid, true);
                smmu.cmdq.add(cmd);
                smmu.cmdq.sync();
            }
        }
    }

    /** The CD writer ({@code arm_smmu_cd_writer}) for one SSID. */
    final class CdWriter extends EntryWriter {
        int ssid;
        long cdAddress;

        @Override
        void getUsed(long[] entry, long[] used) {
            ConfigurationUsedBits.cdUsed(entry, used);
        }

        @Override
        long read(int i) {
            return smmu.memory.read64(cdAddress + 8L * i);
        }

        @Override
        void write(int i, long value) {
            smmu.memory.write64(cdAddress + 8L * i, value);
        }

        @Override
        void sync() {
            synchronized (smmu.cmdq) {
                Command.cfgiCd(cmd, sid, ssid, true);
                smmu.cmdq.add(cmd);
                smmu.cmdq.sync();
            }
        }
    }

    private void writeCd(int ssid, long[] cd) {
        cdWriter.ssid = ssid;
        cdWriter.cdAddress = cdTable.cdAddress(ssid);
        cdWriter.writeEntry(cd);
    }

    private void clearCd0() {
        if (cdTable != null) {
            java.util.Arrays.fill(target, 0);
            writeCd(0, target);
        }
    }

    // ---- attach

    synchronized void attachPaging(Smmuv3PagingDomain d) {
        IommuDomain old = domain;
        if (!d.stage2) {
            if (cdTable == null) {
                cdTable = new ContextDescriptorTable(smmu.memory, ssidBits, smmu.features.twoLevelCdtab);
            }
            d.makeCd(target, stallEnabled);
            writeCd(0, target);
            EntryTargets.cdTableSte(target, cdTable.base, cdTable.s1Fmt, cdTable.s1CdMax, ats,
                    StreamTableEntry.S1DSS_SSID0, stallDisable(), smmu.features.attrTypesOverride);
            steWriter.writeEntry(target);
        } else {
            if (!pasidDomains.isEmpty()) {
                throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EBUSY,
                        "%s has PASIDs attached: a stage-2 domain cannot serve its RID", this);
            }
            d.makeSte(target, ats, stallEnabled);
            steWriter.writeEntry(target);
            clearCd0();
        }
        domain = d;
        d.addMaster(this);
        detachedFrom(old, d);
        publishPasids();
    }

    /**
     * {@code arm_smmu_attach_dev_ste}: an abort or bypass STE, or, while PASIDs use the CD table, a CD-table STE
     * whose S1DSS terminates (blocked) or bypasses (identity) the RID's traffic.
     */
    synchronized void attachStatic(Smmuv3StaticDomain d) {
        IommuDomain old = domain;
        boolean blocked = d.type() == dev.iommufd.spi.DomainType.BLOCKED;
        if (!pasidDomains.isEmpty()) {
            EntryTargets.cdTableSte(target, cdTable.base, cdTable.s1Fmt, cdTable.s1CdMax, ats,
                    blocked ? StreamTableEntry.S1DSS_TERMINATE : StreamTableEntry.S1DSS_BYPASS, stallDisable(),
                    smmu.features.attrTypesOverride);
        } else if (blocked) {
            EntryTargets.abortSte(target);
        } else {
            EntryTargets.bypassSte(target, smmu.features.attrTypesOverride);
        }
        steWriter.writeEntry(target);
        clearCd0();
        domain = d;
        detachedFrom(old, d);
        publishPasids();
    }

    private void detachedFrom(IommuDomain old, IommuDomain now) {
        if (old instanceof Smmuv3PagingDomain && old != now && !pasidDomains.containsValue(old)) {
            ((Smmuv3PagingDomain) old).removeMaster(this);
        }
        if (old instanceof Smmuv3NestedDomain && !(now instanceof Smmuv3NestedDomain)) {
            Smmuv3PagingDomain parent = ((Smmuv3NestedDomain) old).viommu.parent;
            if (parent != now && !pasidDomains.containsValue(parent)) {
                parent.removeMaster(this);
            }
        }
    }

    /**
     * {@code arm_smmu_set_pasid}: PASID {@code pasid} uses the stage-1 domain {@code d}. The RID must be on a
     * stage-1, identity or blocked domain (the CD table must be, or may become, the STE's); the CD is written
     * hitlessly, then the STE becomes a CD-table STE if it was not one.
     */
    synchronized void setPasid(Smmuv3PagingDomain d, int pasid) {
        if (d.stage2 || d.smmu != smmu) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EINVAL,
                    "only stage-1 domains of SMMU %s can serve PASIDs of %s", smmu.name, this);
        }
        if (pasid <= 0 || (pasid >>> ssidBits) != 0) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EINVAL,
                    "PASID %d is outside 1..2^%d-1 for %s", pasid, ssidBits, this);
        }
        boolean ridOnCdTable = domain instanceof Smmuv3PagingDomain && !((Smmuv3PagingDomain) domain).stage2;
        boolean ridStatic = domain == null || domain instanceof Smmuv3StaticDomain;
        if (!ridOnCdTable && !ridStatic) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EINVAL,
                    "%s: the RID's domain does not use the CD table; PASIDs cannot be attached", this);
        }
        if (cdTable == null) {
            cdTable = new ContextDescriptorTable(smmu.memory, ssidBits, smmu.features.twoLevelCdtab);
        }
        d.makeCd(target, stallEnabled);
        writeCd(pasid, target);
        Smmuv3PagingDomain previous = pasidDomains.put(pasid, d);
        publishPasids();
        d.addMaster(this);
        if (previous != null && previous != d && !pasidDomains.containsValue(previous) && previous != domain) {
            previous.removeMaster(this);
        }
        if (!ridOnCdTable) {
            boolean blocked = domain == null || domain.type() == dev.iommufd.spi.DomainType.BLOCKED;
            EntryTargets.cdTableSte(target, cdTable.base, cdTable.s1Fmt, cdTable.s1CdMax, ats,
                    blocked ? StreamTableEntry.S1DSS_TERMINATE : StreamTableEntry.S1DSS_BYPASS, stallDisable(),
                    smmu.features.attrTypesOverride);
            steWriter.writeEntry(target);
        }
    }

    /**
     * {@code arm_smmu_blocking_set_dev_pasid}: clears the PASID's CD; when the last PASID goes and the RID is on
     * an identity or blocked domain, the STE is downgraded again.
     */
    synchronized void removePasid(int pasid) {
        Smmuv3PagingDomain d = pasidDomains.remove(pasid);
        if (d == null) {
            return;
        }
        publishPasids();
        java.util.Arrays.fill(target, 0);
        writeCd(pasid, target);
        if (!pasidDomains.containsValue(d) && d != domain) {
            d.removeMaster(this);
        }
        if (pasidDomains.isEmpty() && domain instanceof Smmuv3StaticDomain) {
            attachStatic((Smmuv3StaticDomain) domain);
        }
    }

    /** {@code release_device}: the STE goes back to abort and the CD table is freed. */
    synchronized void release() {
        for (Integer pasid : new java.util.ArrayList<>(pasidDomains.keySet())) {
            removePasid(pasid);
        }
        EntryTargets.abortSte(target);
        steWriter.writeEntry(target);
        detachedFrom(domain, null);
        domain = null;
        publishPasids();
        if (cdTable != null) {
            clearCd0();
            cdTable.free();
            cdTable = null;
        }
    }

    /** The vDEVICE of this master, if any; guarded by this. */
    private Smmuv3Viommu.VDev vdevice;

    synchronized void setVdevice(Smmuv3Viommu.VDev v) {
        vdevice = v;
    }

    /**
     * {@code arm_smmu_attach_dev_nested}: EBUSY while PASIDs use the CD table; installs the nested STE and makes
     * the nest parent invalidate this master's ATC.
     */
    synchronized void attachNested(Smmuv3NestedDomain d) {
        if (!pasidDomains.isEmpty()) {
            throw dev.iommufd.api.ErrnoException.of(dev.iommufd.api.Errno.EBUSY,
                    "%s has PASIDs attached: a nested domain cannot take its RID", this);
        }
        IommuDomain old = domain;
        d.makeSte(target, ats, stallEnabled);
        steWriter.writeEntry(target);
        clearCd0();
        domain = d;
        d.viommu.parent.addMaster(this);
        if (old instanceof Smmuv3NestedDomain && ((Smmuv3NestedDomain) old).viommu.parent != d.viommu.parent) {
            ((Smmuv3NestedDomain) old).viommu.parent.removeMaster(this);
        }
        detachedFrom(old, d);
        publishPasids();
    }

    /**
     * {@code arm_smmu_handle_evt} for a master attached to a nested domain with a vDEVICE: the event goes to the
     * vIOMMU's vEVENTQ with the virtual StreamID.
     */
    void reportToViommu(long[] evt) {
        Smmuv3Viommu.VDev v;
        IommuDomain d;
        synchronized (this) {
            v = vdevice;
            d = domain;
        }
        if (v != null && d instanceof Smmuv3NestedDomain && ((Smmuv3NestedDomain) d).viommu == vdeviceViommu(v)) {
            vdeviceViommu(v).reportEvent(v.vsid, evt);
        }
    }

    private static Smmuv3Viommu vdeviceViommu(Smmuv3Viommu.VDev v) {
        return v.owner();
    }

    /** For tests: the STE writer (to pin its sequences). */
    EntryWriter steWriter() {
        return steWriter;
    }

    @Override
    public String toString() {
        return "smmuv3 master " + function.address() + " sid " + Integer.toHexString(sid) + " on " + smmu.name;
    }
}
