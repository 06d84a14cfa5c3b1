package dev.iommufd.smmuv3;

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
 * The TCK's whole driver contract on the SMMUv3 reference machine with its unit switched to the "qemu" preset (QEMU's
 * smmuv3: stage 1 only, no HTTU, no substreams, no PRI). The driver declares NESTING, DIRTY_TRACKING, PASID and IOPF,
 * so every REQUIRED rule must pass here too: what this unit lacks is checked through the declared-but-not-deviceCapable
 * path (CAP-12), and CAP-11 still requires the reference machine to cover it.
 */
class Smmuv3QemuPresetContractTest extends IommuDriverContractTest {
    @Override
    protected String driverId() {
        return "smmuv3";
    }

    @Override
    protected MachineConfig machineConfig() {
        return TckTarget.withPreset(provider().referenceMachine().orElseThrow(), provider().hardwareModels(), "qemu");
    }

    /**
     * The run above is not vacuous: QEMU's smmuv3 has no stage 2, HTTU, substreams or PRI,
     * so on this machine the driver declares these capabilities but no function is deviceCapable for them, and CAP-12 exercised their EOPNOTSUPP/EINVAL paths.
     */
    @Test
    void qemuPresetLacksDeclaredCapabilities() {
        TckTarget target = new TckTarget(provider(), machineConfig(), "test");
        try (TckFixture f = new TckFixture(target, RuleCatalog.byId("CAP-12"))) {
            assertTrue(f.functions().size() >= 4, "the reference machine's functions");
            for (Capability c : new Capability[] {Capability.NESTING, Capability.DIRTY_TRACKING, Capability.PASID, Capability.IOPF}) {
                assertTrue(f.declares(c), c + " declared");
                for (PciFunction fn : f.functions()) {
                    assertFalse(f.deviceCapable(fn, c), fn.address() + " must not be deviceCapable(" + c + ") on the qemu preset");
                }
            }
        }
    }
}
