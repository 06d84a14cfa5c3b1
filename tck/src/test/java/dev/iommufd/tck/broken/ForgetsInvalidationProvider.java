package dev.iommufd.tck.broken;

import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;

/** Defect: iotlb_sync frees the gathered table pages but never invalidates the IOTLB. */
public final class ForgetsInvalidationProvider extends WrappingProvider {
    public static final String ID = "broken-noinval";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "iotlb_sync forgets the IOTLB invalidation";
    }

    @Override
    protected WrappingDomain wrapDomain(WrappingDriver driver, IommuDomain inner) {
        return new WrappingDomain(driver, inner) {
            @Override
            public void iotlbSync(IotlbGather gather) {
                gather.drainFreelist(frames); // the defect: no invalidation before (or instead of) this
            }
        };
    }

    /** The machine's frame allocator, captured at bind. */
    private volatile dev.iommufd.platform.FrameAllocator frames;

    @Override
    public dev.iommufd.spi.IommuDriver bind(dev.iommufd.spi.DriverContext context) {
        frames = context.machine().memory().frames();
        return super.bind(context);
    }
}
