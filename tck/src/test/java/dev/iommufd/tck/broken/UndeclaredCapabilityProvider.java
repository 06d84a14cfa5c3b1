package dev.iommufd.tck.broken;

import dev.iommufd.spi.Capability;
import java.util.EnumSet;
import java.util.Set;

/** Defect: does not declare NESTING (nor VIOMMU) but still hands out NEST_PARENT domains. */
public final class UndeclaredCapabilityProvider extends WrappingProvider {
    public static final String ID = "broken-undeclared";

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "NESTING works but is not declared";
    }

    @Override
    public Set<Capability> capabilities() {
        EnumSet<Capability> c = EnumSet.copyOf(mock.capabilities());
        c.remove(Capability.NESTING);
        c.remove(Capability.VIOMMU);
        return java.util.Collections.unmodifiableSet(c);
    }
}
