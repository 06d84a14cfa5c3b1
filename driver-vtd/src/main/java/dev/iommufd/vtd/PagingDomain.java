package dev.iommufd.vtd;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.Aperture;
import dev.iommufd.spi.CopyOnWriteArrays;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainGeometry;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.vtd.layout.CapabilityRegister;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.PasidTableEntry;

/**
 * A paging domain (Linux {@code struct dmar_domain} with {@code intel_*_paging_domain_ops}): a second-stage
 * table (legacy mode, nest parents, dirty tracking) or a first-stage table (scalable mode with ECAP.FLTS).
 *
 * <p>Invalidation follows Linux {@code cache.c}: second-stage changes use page-selective IOTLB invalidation with
 * an address mask where CAP.PSI and MAMV allow, domain-selective otherwise; first-stage changes use PASID-based
 * IOTLB invalidation; device TLBs are invalidated for ATS users; a nest parent also invalidates the combined
 * entries of its nested children. Emptied table pages are freed only after the invalidation ({@link #iotlbSync}).
 *
 * <p>Map, unmap, iova_to_phys and the dirty harvest take no domain lock: callers may run them concurrently on
 * disjoint IOVA ranges, never on overlapping ones (the kernel's range-lock rule; {@link IoPageTable} states what
 * makes that safe). Each caller brings its own {@link IotlbGather}.
 */
final class PagingDomain extends VtdDomain {
    final DmarUnit home;
    final boolean firstStage;
    final int flags;
    final IoPageTable table;
    private final DomainGeometry geometry;
    /** The geometry's one aperture (read on every map). */
    private final Aperture aperture;
    private volatile boolean forceSnoop;
    private volatile boolean dirtyTracking;
    /** Nested domains over this nest parent; copy-on-write under the domain's monitor. */
    volatile NestedDomain[] children = new NestedDomain[0];

    PagingDomain(VtdDriver driver, DmarUnit home, int flags) {
        super(driver);
        this.home = home;
        this.flags = flags;
        boolean nestParent = (flags & DomainAllocFlags.NEST_PARENT) != 0;
        boolean dirty = (flags & DomainAllocFlags.DIRTY_TRACKING) != 0;
        this.firstStage = home.scalable && home.has(ExtendedCapabilityRegister.FLTS) && !nestParent && !dirty;
        long pgsizes = 1L << 12;
        int levels;
        long last;
        int maxLeaf = 1;
        if (firstStage) {
            pgsizes |= 1L << 21;
            maxLeaf = 2;
            if (home.hasCap(CapabilityRegister.FL1GP)) {
                pgsizes |= 1L << 30;
                maxLeaf = 3;
            }
            boolean five = home.hasCap(CapabilityRegister.FL5LP) && home.gaw >= 57;
            levels = five ? 5 : 4;
            last = (1L << ((five ? 57 : 48) - 1)) - 1; // the lower canonical half
        } else {
            int sllps = CapabilityRegister.sllps(home.cap);
            if ((sllps & CapabilityRegister.SLLPS_2M) != 0) {
                pgsizes |= 1L << 21;
                maxLeaf = 2;
                if ((sllps & CapabilityRegister.SLLPS_1G) != 0) {
                    pgsizes |= 1L << 30;
                    maxLeaf = 3;
                }
            }
            levels = CapabilityRegister.agawToLevels(home.agaw);
            last = home.gaw >= 64 ? -1L : (1L << home.gaw) - 1;
        }
        this.geometry = DomainGeometry.of(0, last, pgsizes);
        this.aperture = geometry.apertures().get(0);
        this.table = new IoPageTable(this, home.mem, firstStage, levels, maxLeaf);
    }

    @Override
    public DomainType type() {
        return DomainType.PAGING;
    }

    @Override
    public DomainGeometry geometry() {
        return geometry;
    }

    @Override
    public int allocFlags() {
        return flags;
    }

    boolean nestParent() {
        return (flags & DomainAllocFlags.NEST_PARENT) != 0;
    }

    int agaw() {
        return table.levels - 2;
    }

    // ---- map / unmap ----

    @Override
    public long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
        if ((prot & (dev.iommufd.spi.IoProt.READ | dev.iommufd.spi.IoProt.WRITE)) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: prot %#x grants neither read nor write", prot);
        }
        if (((iova | paddr) & (pgsize - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: iova %#x / paddr %#x not aligned to %#x", iova, paddr, pgsize);
        }
        if (pgcount <= 0 || !aperture.contains(iova, pgsize * pgcount)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: iova %#x + %d pages of %#x is outside the aperture", iova, pgcount, pgsize);
        }
        return table.map(iova, paddr, pgsize, pgcount, prot);
    }

    @Override
    public void iotlbSyncMap(long iova, long size) {
        // cache_tag_flush_range_np: only caching-mode hardware caches not-present second-stage entries
        CacheTag[] t = tags;
        for (int i = 0; i < t.length; i++) {
            if (t[i].unit.hasCap(CapabilityRegister.CM) && !firstStage) {
                t[i].unit.flushIotlbRange(t[i].did, psiAddress(iova, psiMask(iova, iova + size - 1)),
                        psiMask(iova, iova + size - 1), true);
            } else {
                t[i].unit.flushWriteBuffer();
            }
        }
    }

    @Override
    public long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
        long size = pgsize * pgcount;
        if (gather.needsSyncBefore(iova, size)) {
            iotlbSync(gather);
        }
        long done = table.unmap(iova, pgsize, pgcount, gather);
        if (done != 0) {
            gather.addPage(iova, done);
        }
        return done;
    }

    @Override
    public void iotlbSync(IotlbGather gather) {
        if (!gather.isEmpty()) {
            flushRange(gather.start(), gather.end(), gather.freelistSize() == 0);
        }
        gather.drainFreelist(home.frames);
    }

    @Override
    public void flushIotlbAll() {
        flushRange(0, -1L, false);
    }

    @Override
    public long iovaToPhys(long iova) {
        return table.iovaToPhys(iova);
    }

    /** cache_tag_flush_range: {@code end = -1} with {@code start = 0} flushes everything. */
    void flushRange(long start, long end, boolean ih) {
        boolean all = start == 0 && end == -1L;
        int mask = all ? -1 : psiMask(start, end);
        long addr = all ? 0 : psiAddress(start, mask);
        if (mask >= DmarUnit.MAX_AGAW_PFN_WIDTH) {
            mask = -1;
        }
        CacheTag[] t = tags;
        for (int i = 0; i < t.length; i++) {
            CacheTag tag = t[i];
            if (!seenBefore(t, i)) {
                if (firstStage) {
                    tag.unit.flushPasidIotlb(tag.did, tag.pasid, addr, mask, ih);
                } else {
                    tag.unit.flushIotlbRange(tag.did, addr, mask, ih);
                }
            }
            if (tag.ats) {
                tag.unit.flushDeviceTlb(tag.rid, tag.pasid, addr, mask < 0 ? DmarUnit.MAX_AGAW_PFN_WIDTH : mask);
            }
        }
        NestedDomain[] c = children;
        for (int i = 0; i < c.length; i++) {
            c[i].flushForParent(addr, mask, ih);
        }
    }

    /** Whether an earlier tag already covers tag {@code i}'s IOTLB invalidation (same unit and DID, and PASID for first stage). */
    private boolean seenBefore(CacheTag[] t, int i) {
        for (int j = 0; j < i; j++) {
            if (t[j].unit == t[i].unit && t[j].did == t[i].did && (!firstStage || t[j].pasid == t[i].pasid)) {
                return true;
            }
        }
        return false;
    }

    // ---- attach ----

    private void checkCompatible(VtdDevice d) {
        DmarUnit u = d.unit;
        if (firstStage && !(u.scalable && u.has(ExtendedCapabilityRegister.FLTS))) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: first-stage domain cannot attach to %s behind %s", d.function.address(), u.name);
        }
        if (!firstStage && (CapabilityRegister.sagaw(u.cap) & (1 << agaw())) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: %d-level domain not supported by %s (SAGAW %#x)", table.levels, u.name,
                    CapabilityRegister.sagaw(u.cap));
        }
        if (forceSnoop && !u.has(ExtendedCapabilityRegister.SC)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: snoop-enforcing domain cannot attach behind %s without ECAP.SC", u.name);
        }
        if (dirtyTracking && !u.has(ExtendedCapabilityRegister.SLADS)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: dirty-tracking domain cannot attach behind %s without ECAP.SLADS", u.name);
        }
    }

    /** The PASID entry qwords 0..2 for this domain on {@code did}. */
    private long q0() {
        if (firstStage) {
            return PasidTableEntry.encodeQ0(0, home.agaw, PasidTableEntry.PGTT_FIRST_STAGE, false, false);
        }
        return PasidTableEntry.encodeQ0(table.root, agaw(), PasidTableEntry.PGTT_SECOND_STAGE, dirtyTracking, false);
    }

    private long q1(DmarUnit u, int did) {
        return PasidTableEntry.encodeQ1(did, u.has(ExtendedCapabilityRegister.SMPWC), forceSnoop);
    }

    private long q2() {
        return firstStage ? PasidTableEntry.encodeQ2(table.root, table.levels == 5 ? 1 : 0, false, false, false) : 0;
    }

    @Override
    public void attachDevice(DeviceHandle handle) {
        VtdDevice d = device(handle);
        checkCompatible(d);
        synchronized (driver.configLock) {
            VtdDomain old = d.domain;
            if (old == this) {
                return;
            }
            int did = acquireDid(d.unit);
            try {
                if (d.unit.scalable) {
                    d.writePasidEntry(0, q0(), q1(d.unit, did), q2());
                } else {
                    d.clearLegacyContext(); // Linux blocks translation before re-programming a legacy context entry
                    d.writeLegacyContext(table.root, d.ats ? ContextEntry.TT_DEV_IOTLB : ContextEntry.TT_MULTI_LEVEL, agaw(), did);
                }
            } catch (RuntimeException e) {
                releaseDid(d.unit);
                throw e;
            }
            addTag(new CacheTag(d, did, 0));
            becomeRidDomain(d, old);
        }
    }

    @Override
    public void setDevicePasid(DeviceHandle handle, int pasid, IommuDomain oldDomain) {
        VtdDevice d = device(handle);
        if (!d.unit.scalable) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: PASID attach needs scalable mode on %s", d.unit.name);
        }
        d.checkPasid(pasid);
        checkCompatible(d);
        synchronized (driver.configLock) {
            VtdDomain old = d.pasidDomains.get(pasid);
            if (old == this) {
                return;
            }
            int did = acquireDid(d.unit);
            try {
                d.writePasidEntry(pasid, q0(), q1(d.unit, did), q2());
            } catch (RuntimeException e) {
                releaseDid(d.unit);
                throw e;
            }
            addTag(new CacheTag(d, did, pasid));
            becomePasidDomain(d, pasid, old);
        }
    }

    @Override
    public boolean enforceCacheCoherency() {
        if (!home.has(ExtendedCapabilityRegister.SC) || attached()) {
            return false;
        }
        forceSnoop = true;
        table.setForceSnoop(!firstStage);
        return true;
    }

    // ---- dirty tracking ----

    @Override
    public void setDirtyTracking(boolean enable) {
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) == 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: domain was not allocated with DIRTY_TRACKING");
        }
        synchronized (driver.configLock) {
            if (dirtyTracking == enable) {
                return;
            }
            dirtyTracking = enable;
            CacheTag[] t = tags;
            for (CacheTag tag : t) {
                tag.device.setPasidSsade(tag.pasid, enable);
            }
        }
    }

    @Override
    public void readAndClearDirty(long iova, long size, int flags, DirtyRecorder dirty) {
        if ((this.flags & DomainAllocFlags.DIRTY_TRACKING) == 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: domain was not allocated with DIRTY_TRACKING");
        }
        // Linux: EINVAL when tracking is off and a bitmap is given; iommufd clears with a NULL bitmap before enabling
        if (!dirtyTracking && dirty.hasBitmap()) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: dirty tracking is not enabled on this domain");
        }
        if (size == 0) {
            return;
        }
        table.readAndClearDirty(iova, iova + size - 1, (flags & IommuDomain.DIRTY_NO_CLEAR) != 0, dirty);
    }

    // ---- nesting ----

    synchronized void addChild(NestedDomain child) {
        children = CopyOnWriteArrays.appended(children, child);
    }

    synchronized void removeChild(NestedDomain child) {
        children = CopyOnWriteArrays.removed(children, child);
    }

    @Override
    public void free() {
        if (attached()) {
            throw ErrnoException.of(Errno.EBUSY, "vtd: domain is still attached");
        }
        if (children.length != 0) {
            throw ErrnoException.of(Errno.EBUSY, "vtd: nest parent still has nested domains");
        }
        table.free();
    }
}
