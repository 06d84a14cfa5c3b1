package dev.iommufd.tck.broken;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DomainAllocFlags;

/** Defect: declares DIRTY_TRACKING (the mock's set) but refuses DIRTY_TRACKING domains, as hardware without it would. */
public final class FalseCapabilityProvider extends WrappingProvider {
    public static final String ID = "broken-falsecap";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "declares DIRTY_TRACKING without having it";
    }

    @Override
    protected void beforePagingAlloc(int flags) {
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) != 0) {
            throw ErrnoException.notSupported("dirty tracking (this unit has no dirty bit)");
        }
    }
}
