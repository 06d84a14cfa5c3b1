package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.IommuGroup;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/** IOMMU groups as Linux's pci_device_group() forms them for multi-function devices (get_pci_function_alias_group). */
class PciTopologyTest {

    @Test
    void functionsWithAcsAreAlone() {
        try (SimulatedMachine m = SimulatedMachineTest.machine(64L << 20,
                PciFunctionSpec.endpoint("00:05.0", "t0"), PciFunctionSpec.endpoint("00:05.1", "t0"))) {
            PciFunction f0 = m.pci().function(PciAddress.parse("00:05.0"));
            PciFunction f1 = m.pci().function(PciAddress.parse("00:05.1"));
            assertNotSame(f0.group(), f1.group());
            assertEquals(List.of(f0), f0.group().members());
            assertEquals(2, m.pci().groups().size());
        }
    }

    @Test
    void functionsOfOneDeviceWithoutAcsShareAGroup() {
        try (SimulatedMachine m = SimulatedMachineTest.machine(64L << 20,
                PciFunctionSpec.endpoint("00:06.1", "t0").withoutAcs(),
                PciFunctionSpec.endpoint("00:06.0", "t0").withoutAcs(),
                PciFunctionSpec.endpoint("00:06.2", "t0"), // has ACS: alone
                PciFunctionSpec.endpoint("00:07.0", "t0").withoutAcs())) { // another device: alone
            PciFunction f0 = m.pci().function(PciAddress.parse("00:06.0"));
            PciFunction f1 = m.pci().function(PciAddress.parse("00:06.1"));
            PciFunction f2 = m.pci().function(PciAddress.parse("00:06.2"));
            PciFunction g0 = m.pci().function(PciAddress.parse("00:07.0"));
            assertSame(f0.group(), f1.group());
            assertEquals(List.of(f0, f1), f0.group().members(), "members sorted by address");
            assertNotSame(f0.group(), f2.group());
            assertNotSame(f0.group(), g0.group());
            List<IommuGroup> groups = m.pci().groups();
            assertEquals(3, groups.size());
            for (int i = 0; i < groups.size(); i++) {
                assertEquals(i, groups.get(i).id(), "group ids count from 0 in creation order");
            }
            assertEquals(List.of(f0, f1, f2, g0), m.pci().functions(), "functions sorted by address");
            assertEquals(0x31, f1.rid());
        }
    }

    @Test
    void hotAddChecksAddressAndUnit() {
        try (SimulatedMachine m = SimulatedMachineTest.machine(64L << 20, PciFunctionSpec.endpoint("00:04.0", "t0"))) {
            assertEquals(Errno.EEXIST, assertThrows(ErrnoException.class,
                    () -> m.pci().add(PciFunctionSpec.endpoint("00:04.0", "t0"))).errno());
            assertEquals(Errno.ENODEV, assertThrows(ErrnoException.class,
                    () -> m.pci().add(PciFunctionSpec.endpoint("00:08.0", "nope"))).errno());
            assertEquals(1, m.pci().functions().size(), "failed adds leave nothing");
            assertEquals(1, m.pci().groups().size());
            PciFunction added = m.pci().add(PciFunctionSpec.endpoint("01:00.0", "t0").withPasid(20).withPri());
            assertEquals(20, added.pasidBits());
            assertEquals(true, added.atsCapable());
            assertEquals(true, added.priCapable());
            assertEquals(Errno.ENODEV, assertThrows(ErrnoException.class,
                    () -> m.pci().function(PciAddress.parse("02:00.0"))).errno());
        }
    }
}
