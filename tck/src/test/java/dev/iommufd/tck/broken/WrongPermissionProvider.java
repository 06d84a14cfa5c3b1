package dev.iommufd.tck.broken;

import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;

/** Defect: every readable mapping is made writable too (a prot-to-PTE translation that sets W for READ). */
public final class WrongPermissionProvider extends WrappingProvider {
    public static final String ID = "broken-perm";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "maps IOMMU_READ as read/write";
    }

    @Override
    protected WrappingDomain wrapDomain(WrappingDriver driver, IommuDomain inner) {
        return new WrappingDomain(driver, inner) {
            @Override
            public long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
                int p = (prot & IoProt.READ) != 0 ? prot | IoProt.WRITE : prot;
                return inner.mapPages(iova, paddr, pgsize, pgcount, p);
            }
        };
    }
}
