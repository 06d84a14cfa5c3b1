package dev.iommufd.tck.broken;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.IommuDomain;

/** Defect: mapping over an existing mapping fails with EINVAL instead of EEXIST. */
public final class WrongErrnoProvider extends WrappingProvider {
    public static final String ID = "broken-errno";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "EINVAL instead of EEXIST for a map over a mapping";
    }

    @Override
    protected WrappingDomain wrapDomain(WrappingDriver driver, IommuDomain inner) {
        return new WrappingDomain(driver, inner) {
            @Override
            public long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
                try {
                    return inner.mapPages(iova, paddr, pgsize, pgcount, prot);
                } catch (ErrnoException e) {
                    if (e.errno() == Errno.EEXIST) {
                        throw ErrnoException.of(Errno.EINVAL, "iova %#x: entry in use", iova);
                    }
                    throw e;
                }
            }
        };
    }
}
