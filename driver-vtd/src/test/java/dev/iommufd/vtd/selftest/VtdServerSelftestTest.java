package dev.iommufd.vtd.selftest;

import dev.iommufd.core.selftest.DomainProviderSelftests;
import dev.iommufd.core.selftest.SelftestDomainProvider;

/** The core's domain-dependent selftest ports with VT-d "server" (scalable mode, first-stage paging) domains. */
class VtdServerSelftestTest extends DomainProviderSelftests {
    @Override
    protected SelftestDomainProvider provider() {
        return VtdSelftestDomainProvider.SERVER;
    }
}
