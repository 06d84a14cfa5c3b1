package dev.iommufd.smmuv3.hw;

import com.google.auto.service.AutoService;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.HardwareModelProvider;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.List;

/**
 * The Arm SMMUv3 hardware model (IHI0070). Presets: {@code qemu} (default) and {@code server}; see
 * {@link IdRegisters}. Overrides by register name: {@code IDR0}..{@code IDR5}, {@code IIDR}, {@code AIDR}.
 * Default MMIO base on {@code virt}: {@code 0x0905_0000}.
 */
@AutoService(HardwareModelProvider.class)
public final class Smmuv3HardwareModelProvider implements HardwareModelProvider {
    public static final String ID = "smmuv3";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public List<String> presets() {
        return IdRegisters.PRESETS;
    }

    @Override
    public IommuUnitModel create(HardwareContext context, IommuUnitConfig config) {
        IdRegisters id = IdRegisters.preset(config.preset(), config.overrides());
        long base = config.mmioBase() != 0 ? config.mmioBase()
                : MachineProfile.byId(context.profile()).defaultIommuBase(ID);
        return new Smmuv3Unit(context, config.name(), base, id);
    }
}
