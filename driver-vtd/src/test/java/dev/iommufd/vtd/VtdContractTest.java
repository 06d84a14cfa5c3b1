package dev.iommufd.vtd;

import dev.iommufd.tck.IommuDriverContractTest;

/** The TCK's whole driver contract on the VT-d reference machine (q35, "server" unit). */
class VtdContractTest extends IommuDriverContractTest {
    @Override
    protected String driverId() {
        return "vtd";
    }
}
