package dev.iommufd.smmuv3;

import dev.iommufd.tck.IommuDriverContractTest;

/** The TCK's whole driver contract on the SMMUv3 reference machine (virt, "server" unit). */
class Smmuv3ContractTest extends IommuDriverContractTest {
    @Override
    protected String driverId() {
        return "smmuv3";
    }
}
