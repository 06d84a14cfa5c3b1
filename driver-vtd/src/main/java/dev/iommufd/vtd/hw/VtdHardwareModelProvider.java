package dev.iommufd.vtd.hw;

import com.google.auto.service.AutoService;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.HardwareModelProvider;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.List;

/** The Intel VT-d hardware model ({@code vtd}): DMA-remapping units with presets {@code qemu} and {@code server}. */
@AutoService(HardwareModelProvider.class)
public final class VtdHardwareModelProvider implements HardwareModelProvider {

    @Override
    public String id() {
        return "vtd";
    }

    @Override
    public List<String> presets() {
        return VtdPreset.NAMES;
    }

    @Override
    public IommuUnitModel create(HardwareContext context, IommuUnitConfig config) {
        VtdPreset preset = VtdPreset.resolve(config.preset(), config.overrides());
        long base = config.mmioBase() != 0 ? config.mmioBase() : MachineProfile.byId(context.profile()).defaultIommuBase("vtd");
        return new VtdUnit(context, config.name(), base, preset);
    }
}
