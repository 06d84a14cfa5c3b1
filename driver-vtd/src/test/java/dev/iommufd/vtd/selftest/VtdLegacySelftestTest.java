package dev.iommufd.vtd.selftest;

import dev.iommufd.core.selftest.DomainProviderSelftests;
import dev.iommufd.core.selftest.SelftestDomainProvider;

/** The core's domain-dependent selftest ports with VT-d "qemu" (legacy mode, second-stage paging) domains. */
class VtdLegacySelftestTest extends DomainProviderSelftests {
    @Override
    protected SelftestDomainProvider provider() {
        return VtdSelftestDomainProvider.LEGACY;
    }
}
