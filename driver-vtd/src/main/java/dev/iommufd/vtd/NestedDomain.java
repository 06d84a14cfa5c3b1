package dev.iommufd.vtd;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.UserDataArray;
import dev.iommufd.vtd.layout.CapabilityRegister;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.PasidTableEntry;
import java.nio.ByteBuffer;

/**
 * A nested domain (Linux {@code nested.c}): the user's first-stage table ({@code struct iommu_hwpt_vtd_s1}) over
 * a nest-parent second-stage {@link PagingDomain}. Attached through a PASID entry with PGTT = 3.
 *
 * <pre>
 *  struct iommu_hwpt_vtd_s1 {            (IOMMU_HWPT_DATA_VTD_S1 = 1, 24 bytes)
 *      __aligned_u64 flags;              IOMMU_VTD_S1_SRE 1 | IOMMU_VTD_S1_EAFE 2 | IOMMU_VTD_S1_WPE 4
 *      __aligned_u64 pgtbl_addr;         guest-physical first-stage root
 *      __u32 addr_width;                 48 or 57
 *      __u32 __reserved;
 *  };
 *  struct iommu_hwpt_vtd_s1_invalidate { (IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0, 24 bytes)
 *      __aligned_u64 addr;               4 KiB aligned
 *      __aligned_u64 npages;             addr 0 + npages U64_MAX: everything
 *      __u32 flags;                      IOMMU_VTD_INV_FLAGS_LEAF 1
 *      __u32 __reserved;
 *  };
 * </pre>
 */
final class NestedDomain extends VtdDomain {
    static final int IOMMU_HWPT_DATA_VTD_S1 = 1;
    static final int IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0;
    static final long IOMMU_VTD_S1_SRE = 1;
    static final long IOMMU_VTD_S1_EAFE = 2;
    static final long IOMMU_VTD_S1_WPE = 4;
    static final int IOMMU_VTD_INV_FLAGS_LEAF = 1;

    final PagingDomain parent;
    final long s1Flags;
    final long pgtblAddr;
    final int addrWidth;

    private NestedDomain(VtdDriver driver, PagingDomain parent, long s1Flags, long pgtblAddr, int addrWidth) {
        super(driver);
        this.parent = parent;
        this.s1Flags = s1Flags;
        this.pgtblAddr = pgtblAddr;
        this.addrWidth = addrWidth;
    }

    /** Linux intel_iommu_domain_alloc_nested with the checks of intel_pasid_setup_nested. */
    static NestedDomain allocate(VtdDriver driver, VtdDevice dev, IommuDomain parentDomain, int flags, UserData data) {
        DmarUnit u = dev.unit;
        if (!u.scalable || !u.has(ExtendedCapabilityRegister.NEST) || (flags & ~DomainAllocFlags.PASID) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: nested domains need ECAP.NEST in scalable mode (flags %#x)", flags);
        }
        if (!(parentDomain instanceof PagingDomain) || ((PagingDomain) parentDomain).driver != driver
                || !((PagingDomain) parentDomain).nestParent()) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: parent is not a NEST_PARENT paging domain of this driver");
        }
        if (data == null || data.type() != IOMMU_HWPT_DATA_VTD_S1) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: nested data type %s is not IOMMU_HWPT_DATA_VTD_S1",
                    data == null ? "none" : data.type());
        }
        ByteBuffer b = data.copyStruct(IOMMU_HWPT_DATA_VTD_S1, 24, 24);
        long s1Flags = b.getLong(0);
        long pgtbl = b.getLong(8);
        int aw = b.getInt(16);
        if ((s1Flags & ~(IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_EAFE | IOMMU_VTD_S1_WPE)) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: unknown stage-1 flags %#x", s1Flags);
        }
        if (aw != 48 && aw != 57) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: stage-1 addr_width %d is neither 48 nor 57", aw);
        }
        if ((s1Flags & IOMMU_VTD_S1_SRE) != 0 && !u.has(ExtendedCapabilityRegister.SRS)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: IOMMU_VTD_S1_SRE needs ECAP.SRS");
        }
        if ((s1Flags & IOMMU_VTD_S1_EAFE) != 0 && !u.has(ExtendedCapabilityRegister.EAFS)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: IOMMU_VTD_S1_EAFE needs ECAP.EAFS");
        }
        if (aw == 57 && !u.hasCap(CapabilityRegister.FL5LP)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: 57-bit stage-1 needs CAP.FL5LP");
        }
        if ((pgtbl & 0xfff) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: stage-1 pgtbl_addr %#x is not 4 KiB aligned", pgtbl);
        }
        PagingDomain parent = (PagingDomain) parentDomain;
        if ((CapabilityRegister.sagaw(u.cap) & (1 << parent.agaw())) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: parent's %d levels not supported by %s", parent.table.levels, u.name);
        }
        NestedDomain n = new NestedDomain(driver, parent, s1Flags, pgtbl, aw);
        parent.addChild(n);
        return n;
    }

    @Override
    public DomainType type() {
        return DomainType.NESTED;
    }

    private long[] entry(DmarUnit u, int did) {
        long q0 = PasidTableEntry.encodeQ0(parent.table.root, parent.agaw(), PasidTableEntry.PGTT_NESTED, false, false);
        long q1 = PasidTableEntry.encodeQ1(did, u.has(ExtendedCapabilityRegister.SMPWC), false);
        long q2 = PasidTableEntry.encodeQ2(pgtblAddr, addrWidth == 57 ? 1 : 0, (s1Flags & IOMMU_VTD_S1_SRE) != 0,
                (s1Flags & IOMMU_VTD_S1_WPE) != 0, (s1Flags & IOMMU_VTD_S1_EAFE) != 0);
        return new long[] {q0, q1, q2};
    }

    @Override
    public void attachDevice(DeviceHandle handle) {
        attach(device(handle), 0);
    }

    @Override
    public void setDevicePasid(DeviceHandle handle, int pasid, IommuDomain oldDomain) {
        VtdDevice d = device(handle);
        d.checkPasid(pasid);
        attach(d, pasid);
    }

    private void attach(VtdDevice d, int pasid) {
        if (!d.unit.scalable || !d.unit.has(ExtendedCapabilityRegister.NEST)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: %s behind %s cannot use nested translation", d.function.address(), d.unit.name);
        }
        synchronized (driver.configLock) {
            VtdDomain old = pasid == 0 ? d.domain : d.pasidDomains.get(pasid);
            if (old == this) {
                return;
            }
            int did = acquireDid(d.unit);
            try {
                long[] e = entry(d.unit, did);
                d.writePasidEntry(pasid, e[0], e[1], e[2]);
            } catch (RuntimeException e) {
                releaseDid(d.unit);
                throw e;
            }
            addTag(new CacheTag(d, did, pasid));
            if (pasid == 0) {
                becomeRidDomain(d, old);
            } else {
                becomePasidDomain(d, pasid, old);
            }
        }
    }

    /** Stage-1 (guest) invalidation: PASID-based IOTLB per (DID, PASID) and the whole device TLB. */
    private void flush(long addr, int mask, boolean ih) {
        CacheTag[] t = tags;
        for (CacheTag tag : t) {
            tag.unit.flushPasidIotlb(tag.did, tag.pasid, addr, mask, ih);
            if (tag.ats) {
                tag.unit.flushDeviceTlb(tag.rid, tag.pasid, 0, DmarUnit.MAX_AGAW_PFN_WIDTH);
            }
        }
    }

    /** The parent's second stage changed: the combined entries are tagged with this domain's DIDs (type 2). */
    void flushForParent(long addr, int mask, boolean ih) {
        CacheTag[] t = tags;
        for (CacheTag tag : t) {
            tag.unit.flushIotlbRange(tag.did, addr, mask, ih);
            if (tag.ats) {
                tag.unit.flushDeviceTlb(tag.rid, tag.pasid, 0, DmarUnit.MAX_AGAW_PFN_WIDTH);
            }
        }
    }

    /** Linux intel_nested_cache_invalidate_user. */
    @Override
    public int cacheInvalidateUser(UserDataArray entries) {
        if (entries.type() != IOMMU_HWPT_INVALIDATE_DATA_VTD_S1) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: invalidation data type %d is not IOMMU_HWPT_INVALIDATE_DATA_VTD_S1",
                    entries.type());
        }
        int done = 0;
        try {
            for (int i = 0; i < entries.entryCount(); i++) {
                ByteBuffer b = entries.copyEntry(i, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, 24, 24);
                long addr = b.getLong(0);
                long npages = b.getLong(8);
                int flags = b.getInt(16);
                int reserved = b.getInt(20);
                if ((flags & ~IOMMU_VTD_INV_FLAGS_LEAF) != 0 || reserved != 0) {
                    throw ErrnoException.of(Errno.EOPNOTSUPP, "vtd: entry %d: unknown flags %#x or non-zero __reserved", i, flags);
                }
                if ((addr & 0xfff) != 0 || (npages == -1L && addr != 0)) {
                    throw ErrnoException.of(Errno.EINVAL, "vtd: entry %d: addr %#x / npages %#x invalid", i, addr, npages);
                }
                boolean ih = (flags & IOMMU_VTD_INV_FLAGS_LEAF) != 0;
                if (npages == -1L || npages == 0 && addr == 0 || npages >= (1L << 52)) {
                    flush(0, -1, ih);
                } else if (npages != 0) {
                    long end = addr + (npages << 12) - 1;
                    int mask = psiMask(addr, end);
                    flush(psiAddress(addr, mask), mask >= DmarUnit.MAX_AGAW_PFN_WIDTH ? -1 : mask, ih);
                }
                done++;
            }
        } catch (ErrnoException e) {
            throw e.withProgress(done);
        }
        return done;
    }

    @Override
    public void free() {
        if (attached()) {
            throw ErrnoException.of(Errno.EBUSY, "vtd: nested domain is still attached");
        }
        parent.removeChild(this);
    }
}
