package dev.iommufd.tck.broken;

import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;

/**
 * Defect in optional behaviour only: an unmap that runs into a hole reports the whole size asked (as Intel's
 * driver does), which breaks only the OPTIONAL rule MAP-13.
 */
public final class OptionalOnlyProvider extends WrappingProvider {
    public static final String ID = "broken-optional";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "unmap over a hole returns the size asked";
    }

    @Override
    protected WrappingDomain wrapDomain(WrappingDriver driver, IommuDomain inner) {
        return new WrappingDomain(driver, inner) {
            @Override
            public long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
                long done = inner.unmapPages(iova, pgsize, pgcount, gather);
                return done == 0 ? 0 : pgsize * pgcount;
            }
        };
    }
}
