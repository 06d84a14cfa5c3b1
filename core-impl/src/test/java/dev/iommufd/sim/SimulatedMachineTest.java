package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Building a machine from a configuration; units found by hardware model id. */
class SimulatedMachineTest {

    static final long UNIT_BASE = 0xfeb0_0000L;

    static IommuUnitConfig testUnit(String name, long base, String preset) {
        return new IommuUnitConfig(name, OffsetTranslationModel.ID, base, preset, Map.of());
    }

    static SimulatedMachine machine(long ram, PciFunctionSpec... devices) {
        MachineConfig.Builder b = MachineConfig.builder(MachineProfile.Q35).ramSize(ram)
                .iommu(testUnit("t0", UNIT_BASE, "identity"));
        for (PciFunctionSpec d : devices) {
            b.device(d);
        }
        return SimulatedMachine.create(b.build());
    }

    @Test
    void unitsAreCreatedByModelIdAndMappedOnTheBus() {
        try (SimulatedMachine m = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20)
                .iommu(testUnit("t0", UNIT_BASE, "identity"))
                .iommu(new IommuUnitConfig("t1", OffsetTranslationModel.ID, UNIT_BASE + 0x1000, "offset-1m",
                        Map.of("OFFSET_REG", 0x3000L)))
                .device(PciFunctionSpec.endpoint("00:04.0", "t1"))
                .build())) {
            assertEquals(List.of("t0", "t1"), m.iommuUnits().stream().map(IommuUnitModel::name).toList());
            assertEquals(UNIT_BASE + 0x1000, m.iommuUnit("t1").mmioBase());
            // Registers are reached through the MMIO bus at the unit's base.
            assertEquals(0x3000L, m.mmio().read64(UNIT_BASE + 0x1000 + OffsetTranslationModel.OFFSET_REG));
            m.mmio().write64(UNIT_BASE + OffsetTranslationModel.OFFSET_REG, 0x5000);
            assertEquals(0x5000L, m.iommuUnit("t0").peekRegister(m.iommuUnit("t0").registers().get(0)));
            assertEquals(Errno.ENODEV, assertThrows(ErrnoException.class, () -> m.iommuUnit("dmar9")).errno());
            assertEquals(1, m.pci().functions().size());
        }
    }

    @Test
    void defaultBaseComesFromTheProfile() {
        // virt: RAM from 1 GiB, so the profile's default test-model hole at 0x0a00_0000 is free.
        try (SimulatedMachine m = SimulatedMachine.create(MachineConfig.builder(MachineProfile.VIRT).ramSize(64L << 20)
                .iommu(IommuUnitConfig.of("t0", OffsetTranslationModel.ID, "identity")).build())) {
            long expected = MachineProfile.VIRT.defaultIommuBase(OffsetTranslationModel.ID);
            assertEquals(expected, m.iommuUnit("t0").mmioBase());
            assertEquals(0L, m.mmio().read64(expected));
        }
    }

    @Test
    void unknownModelIsEnodevNamingTheKnownModels() {
        MachineConfig cfg = MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20)
                .iommu(IommuUnitConfig.of("x0", "no-such-iommu", "qemu")).build();
        ErrnoException e = assertThrows(ErrnoException.class, () -> SimulatedMachine.create(cfg));
        assertEquals(Errno.ENODEV, e.errno());
        assertTrue(e.getMessage().contains("no-such-iommu"), e.getMessage());
        assertTrue(e.getMessage().contains(OffsetTranslationModel.ID), e.getMessage());
    }

    @Test
    void badConfigurationsFail() {
        MachineConfig dupName = MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20)
                .iommu(testUnit("t0", UNIT_BASE, "identity")).iommu(testUnit("t0", UNIT_BASE + 0x1000, "identity")).build();
        assertEquals(Errno.EEXIST, assertThrows(ErrnoException.class, () -> SimulatedMachine.create(dupName)).errno());
        MachineConfig inRam = MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20)
                .iommu(testUnit("t0", 0x10_0000L, "identity")).build();
        assertEquals(Errno.EBUSY, assertThrows(ErrnoException.class, () -> SimulatedMachine.create(inRam)).errno());
        MachineConfig badPreset = MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20)
                .iommu(testUnit("t0", UNIT_BASE, "server")).build();
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> SimulatedMachine.create(badPreset)).errno());
        MachineConfig badUnit = MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20)
                .iommu(testUnit("t0", UNIT_BASE, "identity")).device(PciFunctionSpec.endpoint("00:04.0", "t7")).build();
        assertEquals(Errno.ENODEV, assertThrows(ErrnoException.class, () -> SimulatedMachine.create(badUnit)).errno());
    }

    @Test
    void processesAndUsers() {
        try (SimulatedMachine m = machine(64L << 20)) {
            UserProcess a = m.spawn("qemu", 1000);
            UserProcess b = m.spawn("qemu2", 1000);
            UserProcess c = m.spawn("other", 1001);
            assertSame(a.user(), b.user(), "one user_struct per uid");
            assertSame(m.user(1000), a.user());
            assertFalse(a.user() == c.user());
            assertTrue(a.pid() != b.pid());
            assertEquals(8L << 20, a.rlimitMemlock());
            assertEquals(3, m.processes().size());
            b.exit();
            assertFalse(b.alive());
            assertEquals(List.of(a, c), m.processes());
            m.close();
            assertTrue(m.processes().isEmpty());
            assertFalse(a.alive());
        }
    }
}
