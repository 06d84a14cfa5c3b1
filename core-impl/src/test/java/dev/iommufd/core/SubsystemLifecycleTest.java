package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.sim.SimulatedMachine;
import java.lang.ref.WeakReference;
import org.junit.jupiter.api.Test;

/**
 * iommufd's per-machine subsystem lives as long as the machine is open (as /dev/iommu lives with the kernel) and is
 * released when the machine closes: a closed machine's subsystem must not stay reachable from the provider.
 */
class SubsystemLifecycleTest {

    private static SimulatedMachine machine() {
        return SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(16L << 20).build());
    }

    @Test
    void subsystemIsKeptWhileOpenAndDroppedOnClose() {
        SimulatedMachine m = machine();
        IommufdSubsystem s = CoreIommufdProvider.subsystem(m);
        assertSame(s, CoreIommufdProvider.subsystem(m), "one subsystem per open machine");
        assertTrue(CoreIommufdProvider.holds(m));
        m.close();
        assertFalse(CoreIommufdProvider.holds(m), "closing the machine releases its subsystem");
    }

    @Test
    void closedMachineGetsAFreshSubsystemThatIsNotKept() {
        SimulatedMachine m = machine();
        IommufdSubsystem before = CoreIommufdProvider.subsystem(m);
        m.close();
        IommufdSubsystem after = CoreIommufdProvider.subsystem(m);
        assertNotSame(before, after);
        assertFalse(CoreIommufdProvider.holds(m), "nothing is kept for a closed machine");
    }

    @Test
    void closedMachineAndItsSubsystemAreCollectable() throws InterruptedException {
        WeakReference<IommufdSubsystem> subsystem = openUseAndClose();
        for (int i = 0; i < 50 && subsystem.get() != null; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertNull(subsystem.get(), "the provider still references a closed machine's subsystem");
    }

    private static WeakReference<IommufdSubsystem> openUseAndClose() {
        SimulatedMachine m = machine();
        IommufdSubsystem s = CoreIommufdProvider.subsystem(m);
        m.close();
        return new WeakReference<>(s);
    }
}
