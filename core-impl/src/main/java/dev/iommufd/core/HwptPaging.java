package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.UserData;
import java.util.function.Supplier;

/**
 * A kernel-managed HWPT ({@code struct iommufd_hwpt_paging}): a paging domain added to one IOAS's io_pagetable, so
 * that every area of the IOAS is mapped in it. Holds a {@code users} reference on its IOAS.
 *
 * <p>Auto domains (created by attaching a device to an IOAS) are destroyed when their last device detaches;
 * manually allocated ones (IOMMU_HWPT_ALLOC) live until IOMMU_DESTROY and are never picked by the automatic
 * domain selection.
 *
 * <p>{@link #autoDomain} is written once before finalize; {@link #msiCookie} is guarded by the igroup lock of the
 * device that set it up.
 */
public final class HwptPaging extends HwPagetable {
    /** {@code iommufd_hwpt_paging_alloc}'s valid_flags. */
    static final int VALID_FLAGS = DomainAllocFlags.NEST_PARENT | DomainAllocFlags.DIRTY_TRACKING
            | DomainAllocFlags.FAULT_ID_VALID | DomainAllocFlags.PASID;

    final Ioas ioas;
    final boolean nestParent;
    final int allocFlags;
    boolean autoDomain;
    boolean enforceCacheCoherency;
    /** The SW_MSI window was set up for this domain ({@code msi_cookie}). */
    boolean msiCookie;
    private boolean holdsIoas;
    private boolean domainAdded;

    private HwptPaging(IommufdContext ctx, Ioas ioas, int flags) {
        super(ObjectKind.HWPT_PAGING, ctx, (flags & DomainAllocFlags.PASID) != 0);
        this.ioas = ioas;
        this.nestParent = (flags & DomainAllocFlags.NEST_PARENT) != 0;
        this.allocFlags = flags;
    }

    @Override
    HwptPaging paging() {
        return this;
    }

    /** The IOAS whose mappings the domain mirrors. */
    public Ioas ioas() {
        return ioas;
    }

    /** Whether it was created by attaching a device to an IOAS (destroyed with its last device). */
    public boolean autoDomain() {
        return autoDomain;
    }

    public boolean nestParent() {
        return nestParent;
    }

    /**
     * {@code iommufd_hwpt_paging_alloc}: a paging HWPT for {@code idev} over {@code ioas}, with its ID reserved but
     * not finalized (the caller finalizes or aborts). Caller holds {@code ioas.mutex} and a reference on the IOAS.
     *
     * <p>Order: flags (EOPNOTSUPP), DIRTY_TRACKING without the device capability (EOPNOTSUPP), FAULT_ID_VALID with
     * NEST_PARENT (EOPNOTSUPP), ID, domain allocation (driver errors), cache coherency (EINVAL), immediate attach,
     * fill with the IOAS's mappings ({@link IoPageTable#addDomain} errors), append to the IOAS's list.
     *
     * @param data the vendor data, copied from user space only when the driver is called; null for none
     */
    static HwptPaging alloc(IommufdContext ctx, Ioas ioas, IommufdDevice idev, int pasid, int flags,
            boolean immediateAttach, Supplier<UserData> data) {
        if ((flags & ~VALID_FLAGS) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "HWPT paging flags %#x has unknown bits (valid %#x)", flags, VALID_FLAGS);
        }
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) != 0
                && !idev.driver().deviceCapable(idev.handle(), Capability.DIRTY_TRACKING)) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "device %d cannot do dirty tracking", idev.id());
        }
        if ((flags & DomainAllocFlags.FAULT_ID_VALID) != 0 && (flags & DomainAllocFlags.NEST_PARENT) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "a nesting parent cannot report faults (FAULT_ID_VALID with NEST_PARENT)");
        }
        HwptPaging h = new HwptPaging(ctx, ioas, flags);
        ctx.objects().allocate(h);
        ctx.objects().addUser(ioas);
        h.holdsIoas = true;
        boolean attached = false;
        try {
            FaultInjection.check("domain_alloc_paging");
            h.domain = idev.driver().allocPagingDomain(idev.handle(), flags & ~DomainAllocFlags.FAULT_ID_VALID,
                    data == null ? null : data.get());
            if (idev.enforceCacheCoherency) {
                h.enforceCacheCoherency();
            }
            if (immediateAttach) {
                DeviceAttach.attach(h, idev, pasid);
                attached = true;
            }
            ioas.iopt().addDomain(h.domain);
            h.domainAdded = true;
            ioas.hwpts.add(h);
        } catch (RuntimeException e) {
            if (attached) {
                DeviceAttach.detach(idev, pasid);
                ctx.objects().put(h); // the attachment's reference
            }
            ctx.objects().abort(h);
            throw e;
        }
        return h;
    }

    /** {@code iommufd_hwpt_paging_enforce_cc}: EINVAL when the driver cannot make the domain coherent. */
    void enforceCacheCoherency() {
        if (enforceCacheCoherency) {
            return;
        }
        enforceCacheCoherency = domain.enforceCacheCoherency();
        if (!enforceCacheCoherency) {
            throw ErrnoException.of(Errno.EINVAL, "the domain cannot enforce cache coherency");
        }
    }

    /** Destroy and abort: leaves the IOAS (unmapping and maybe unpinning everything), frees the domain. */
    @Override
    protected void destroy() {
        putFault();
        if (domainAdded) {
            ioas.mutex.lock();
            try {
                ioas.hwpts.remove(this);
            } finally {
                ioas.mutex.unlock();
            }
            ioas.iopt().removeDomain(domain);
            domainAdded = false;
        }
        if (domain != null) {
            domain.free();
            domain = null;
        }
        if (holdsIoas) {
            holdsIoas = false;
            ctx.objects().put(ioas);
        }
    }
}
