package dev.iommufd.smmuv3.selftest;

import dev.iommufd.core.selftest.DomainProviderSelftests;
import dev.iommufd.core.selftest.SelftestDomainProvider;

/** The core's domain-dependent selftest ports with SMMUv3 "server" stage-1 domains on virt. */
class Smmuv3ServerSelftestTest extends DomainProviderSelftests {
    @Override
    protected SelftestDomainProvider provider() {
        return Smmuv3SelftestDomainProvider.SERVER;
    }
}
