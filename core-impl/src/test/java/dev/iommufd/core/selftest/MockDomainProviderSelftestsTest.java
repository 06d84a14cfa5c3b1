package dev.iommufd.core.selftest;

/**
 * The provider-parameterised selftest ports with the kernel's own provider, the mock domain: the same values the
 * mock-only ports pin, so a drift of the base class from the kernel tests shows here first.
 */
class MockDomainProviderSelftestsTest extends DomainProviderSelftests {
    @Override
    protected SelftestDomainProvider provider() {
        return MockSelftestDomainProvider.INSTANCE;
    }
}
