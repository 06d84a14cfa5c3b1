package dev.iommufd.tck;

/** The mock driver passes the whole contract through the vendor-facing JUnit face. */
class MockDriverContractTest extends IommuDriverContractTest {
    @Override
    protected String driverId() {
        return "mock";
    }
}
