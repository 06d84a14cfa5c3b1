package dev.iommufd.vtd;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.tck.IommuDriverContractTest;
import dev.iommufd.tck.TckTarget;
import dev.iommufd.tck.fixture.TckFixture;
import dev.iommufd.tck.rules.RuleCatalog;
import org.junit.jupiter.api.Test;

/**
 * The TCK's whole driver contract on the VT-d reference machine with its unit switched to the "qemu" preset (QEMU's
 * intel-iommu: no ECAP.NEST, SLADS or SC). The driver declares those capabilities, so every REQUIRED rule must pass
 * here too: the capabilities this unit lacks are checked through their declared-but-not-deviceCapable path (CAP-12),
 * and CAP-11 still requires the reference machine to cover them.
 */
class VtdQemuPresetContractTest extends IommuDriverContractTest {
    @Override
    protected String driverId() {
        return "vtd";
    }

    @Override
    protected MachineConfig machineConfig() {
        return TckTarget.withPreset(provider().referenceMachine().orElseThrow(), provider().hardwareModels(), "qemu");
    }

    /**
     * The run above is not vacuous: QEMU's intel-iommu has no ECAP.NEST, SLADS or SC,
     * so on this machine the driver declares these capabilities but no function is deviceCapable for them, and CAP-12 exercised their EOPNOTSUPP/EINVAL paths.
     */
    @Test
    void qemuPresetLacksDeclaredCapabilities() {
        TckTarget target = new TckTarget(provider(), machineConfig(), "test");
        try (TckFixture f = new TckFixture(target, RuleCatalog.byId("CAP-12"))) {
            assertTrue(f.functions().size() >= 4, "the reference machine's functions");
            for (Capability c : new Capability[] {Capability.NESTING, Capability.DIRTY_TRACKING, Capability.ENFORCE_CACHE_COHERENCY}) {
                assertTrue(f.declares(c), c + " declared");
                for (PciFunction fn : f.functions()) {
                    assertFalse(f.deviceCapable(fn, c), fn.address() + " must not be deviceCapable(" + c + ") on the qemu preset");
                }
            }
        }
    }
}
