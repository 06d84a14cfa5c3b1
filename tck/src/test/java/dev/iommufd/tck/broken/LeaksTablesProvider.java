package dev.iommufd.tck.broken;

import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;

/** Defect: every map allocates a table page that nothing ever frees. */
public final class LeaksTablesProvider extends WrappingProvider {
    public static final String ID = "broken-leak";

    private volatile FrameAllocator frames;

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "leaks a table page per map";
    }

    @Override
    public IommuDriver bind(DriverContext context) {
        frames = context.machine().memory().frames();
        return super.bind(context);
    }

    @Override
    protected WrappingDomain wrapDomain(WrappingDriver driver, IommuDomain inner) {
        return new WrappingDomain(driver, inner) {
            @Override
            public long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
                long mapped = inner.mapPages(iova, paddr, pgsize, pgcount, prot);
                frames.allocateFrame();
                return mapped;
            }
        };
    }
}
