package dev.iommufd.cli;

import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.RegisterInfo;
import java.util.Map;

/**
 * The machines the demo (and the snapshot examples) run on, QEMU-like:
 * <ul>
 *   <li>{@code vtd}: q35, 1 GiB RAM, VT-d unit {@code dmar0} at 0xfed90000 with the {@code qemu} preset; in
 *       {@code scalable} mode ECAP_REG additionally has SMTS and SLTS, as QEMU's {@code x-scalable-mode=on} sets
 *       them (second-stage tables only);
 *   <li>{@code smmuv3}: virt, 1 GiB RAM from 0x40000000, SMMUv3 unit {@code smmu0} at 0x09050000 with the
 *       {@code qemu} preset (2-level stream table); with a {@code linear} stream table SMMU_IDR0.ST_LEVEL is 0;
 *   <li>any other driver: its {@link IommuDriverProvider#referenceMachine()}.
 * </ul>
 * The demo device is 0000:00:04.0, a plain endpoint behind the unit.
 */
final class DemoMachine {
    static final String DEVICE = "0000:00:04.0";
    /** ECAP_REG.SMTS (bit 43) and SLTS (bit 46), VT-d spec 11.4.3. */
    static final long ECAP_SMTS_SLTS = 1L << 43 | 1L << 46;
    /** SMMU_IDR0.ST_LEVEL, bits [28:27] (SMMUv3 spec 6.3.1). */
    static final long IDR0_ST_LEVEL = 3L << 27;

    private DemoMachine() {
    }

    /**
     * The machine configuration for {@code driver} with {@code variant} ({@code legacy}/{@code scalable} for vtd,
     * {@code 2-level}/{@code linear} for smmuv3, null for the default).
     *
     * @throws UsageException for a variant the driver does not have, or a driver without a reference machine
     */
    static MachineConfig config(IommuDriverProvider driver, String variant) throws UsageException {
        switch (driver.id()) {
            case "vtd": {
                Map<String, Long> overrides = Map.of();
                if ("scalable".equals(variant)) {
                    long ecap = defaultRegister(MachineProfile.Q35, "vtd", "ECAP_REG");
                    overrides = Map.of("ECAP_REG", ecap | ECAP_SMTS_SLTS);
                } else if (variant != null && !variant.equals("legacy")) {
                    throw new UsageException("--mode " + variant + ": vtd has legacy and scalable");
                }
                return MachineConfig.builder(MachineProfile.Q35).ramSize(1L << 30)
                        .iommu(new IommuUnitConfig("dmar0", "vtd", 0, "qemu", overrides))
                        .device(PciFunctionSpec.endpoint(DEVICE, "dmar0")).build();
            }
            case "smmuv3": {
                Map<String, Long> overrides = Map.of();
                if ("linear".equals(variant)) {
                    long idr0 = defaultRegister(MachineProfile.VIRT, "smmuv3", "SMMU_IDR0");
                    overrides = Map.of("IDR0", idr0 & ~IDR0_ST_LEVEL);
                } else if (variant != null && !variant.equals("2-level")) {
                    throw new UsageException("--mode " + variant + ": smmuv3 has 2-level and linear (stream tables)");
                }
                return MachineConfig.builder(MachineProfile.VIRT).ramSize(1L << 30)
                        .iommu(new IommuUnitConfig("smmu0", "smmuv3", 0, "qemu", overrides))
                        .device(PciFunctionSpec.endpoint(DEVICE, "smmu0")).build();
            }
            default:
                if (variant != null) {
                    throw new UsageException("--mode " + variant + ": driver " + driver.id() + " has no modes");
                }
                return driver.referenceMachine().orElseThrow(() -> new UsageException("driver " + driver.id()
                        + " has no reference machine to run the demo on"));
        }
    }

    /** The value of register {@code name} right after reset of a default unit of {@code model}. */
    private static long defaultRegister(MachineProfile profile, String model, String name) {
        try (SimulatedMachine m = SimulatedMachine.create(MachineConfig.builder(profile).ramSize(1L << 24)
                .iommu(IommuUnitConfig.of("probe0", model, "qemu")).build())) {
            IommuUnitModel u = m.iommuUnits().get(0);
            for (RegisterInfo r : u.registers()) {
                if (r.name().equals(name)) {
                    return u.peekRegister(r);
                }
            }
            throw new IllegalStateException(model + " has no register " + name);
        }
    }
}
