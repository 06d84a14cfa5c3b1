package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.UserData;
import java.util.function.Supplier;

/**
 * A user-managed HWPT ({@code struct iommufd_hwpt_nested}): a NESTED domain built by the driver from vendor data
 * over a nest-parent {@link HwptPaging}, on which it holds a {@code users} reference (so the parent cannot be
 * destroyed first), or through a vIOMMU (then on the vIOMMU instead). Immutable.
 */
public final class HwptNested extends HwPagetable {
    /** {@code iommufd_hwpt_nested_alloc}'s accepted flags. */
    static final int VALID_FLAGS = DomainAllocFlags.FAULT_ID_VALID | DomainAllocFlags.PASID;

    final HwptPaging parent;
    private boolean holdsParent;
    /** The vIOMMU it was allocated through (holding a {@code users} reference on it), or null (core3). */
    IommufdViommu viommu;

    private HwptNested(IommufdContext ctx, HwptPaging parent, int flags) {
        super(ObjectKind.HWPT_NESTED, ctx, (flags & DomainAllocFlags.PASID) != 0);
        this.parent = parent;
    }

    @Override
    HwptPaging paging() {
        return parent;
    }

    public HwptPaging parent() {
        return parent;
    }

    /**
     * {@code iommufd_hwpt_nested_alloc}: ID reserved, not finalized. Order: flags / empty data / driver without
     * nesting (EOPNOTSUPP); parent an auto domain, not NEST_PARENT, or of another driver (EINVAL); ID; the driver's
     * {@code domain_alloc_nested} (which copies and validates the data).
     */
    static HwptNested alloc(IommufdContext ctx, HwptPaging parent, IommufdDevice idev, int flags, int dataLen,
            Supplier<UserData> data) {
        if ((flags & ~VALID_FLAGS) != 0 || dataLen == 0 || !idev.driver().capabilities().contains(Capability.NESTING)) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "nested HWPT: flags %#x (valid %#x), data_len %d, driver %s nesting",
                    flags, VALID_FLAGS, dataLen, idev.driver().provider().id());
        }
        if (parent.autoDomain || !parent.nestParent || parent.domain.driver() != idev.handle().driver()) {
            throw ErrnoException.of(Errno.EINVAL, "HWPT %d is not a NEST_PARENT HWPT of device %d's driver", parent.id(), idev.id());
        }
        HwptNested h = new HwptNested(ctx, parent, flags);
        ctx.objects().allocate(h);
        ctx.objects().addUser(parent);
        h.holdsParent = true;
        try {
            IommuDomain d = idev.driver().allocNestedDomain(idev.handle(), parent.domain,
                    flags & ~DomainAllocFlags.FAULT_ID_VALID, data.get());
            if (d.type() != DomainType.NESTED) {
                d.free();
                throw ErrnoException.of(Errno.EINVAL, "driver returned a %s domain for a nested allocation", d.type());
            }
            h.domain = d;
        } catch (RuntimeException e) {
            ctx.objects().abort(h);
            throw e;
        }
        return h;
    }

    /**
     * {@code iommufd_viommu_alloc_hwpt_nested} (IOMMU_HWPT_ALLOC with pt_id = a vIOMMU): flags other than
     * FAULT_ID_VALID and ALLOC_PASID (EOPNOTSUPP), the ID, a {@code users} reference on the vIOMMU, the vIOMMU's
     * {@code alloc_domain_nested} (driver errors). The parent is the vIOMMU's nest-parent HWPT. ID reserved, not
     * finalized (core3).
     */
    static HwptNested allocOnViommu(IommufdContext ctx, IommufdViommu viommu, IommufdDevice idev, int flags,
            Supplier<UserData> data) {
        if ((flags & ~VALID_FLAGS) != 0) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "vIOMMU nested HWPT flags %#x (valid %#x)", flags, VALID_FLAGS);
        }
        HwptNested h = new HwptNested(ctx, viommu.parent, flags);
        ctx.objects().allocate(h);
        ctx.objects().addUser(viommu);
        h.viommu = viommu;
        try {
            FaultInjection.check("alloc_domain_nested");
            IommuDomain d = viommu.driverViommu.allocNestedDomain(idev.handle(), flags & ~DomainAllocFlags.FAULT_ID_VALID,
                    data.get());
            if (d.type() != DomainType.NESTED) {
                d.free();
                throw ErrnoException.of(Errno.EINVAL, "driver returned a %s domain for a nested allocation", d.type());
            }
            h.domain = d;
        } catch (RuntimeException e) {
            ctx.objects().abort(h);
            throw e;
        }
        return h;
    }

    @Override
    protected void destroy() {
        putFault();
        if (viommu != null) {
            ctx.objects().put(viommu);
            viommu = null;
        }
        if (domain != null) {
            domain.free();
            domain = null;
        }
        if (holdsParent) {
            holdsParent = false;
            ctx.objects().put(parent);
        }
    }
}
