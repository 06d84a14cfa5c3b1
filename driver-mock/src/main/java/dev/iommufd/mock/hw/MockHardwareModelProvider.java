package dev.iommufd.mock.hw;

import com.google.auto.service.AutoService;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.HardwareModelProvider;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.List;

/**
 * Creates mock IOMMU units ({@link MockIommuUnit}). One preset, {@code default}; no overrides. A unit without a
 * configured base sits at the profile's MMIO hole for test models ({@link dev.iommufd.platform.MachineProfile#testModelBase()},
 * {@code 0xfeb0_0000} on q35); configure distinct bases when a machine has several mock units.
 */
@AutoService(HardwareModelProvider.class)
public final class MockHardwareModelProvider implements HardwareModelProvider {
    /** The hardware model id. */
    public static final String ID = "mock";
    /** The only preset. */
    public static final String PRESET_DEFAULT = "default";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public List<String> presets() {
        return List.of(PRESET_DEFAULT);
    }

    @Override
    public IommuUnitModel create(HardwareContext context, IommuUnitConfig config) {
        MockIommuUnit.checkPreset(config.preset());
        if (!config.overrides().isEmpty()) {
            throw ErrnoException.of(Errno.EINVAL, "mock IOMMU %s: unknown override(s) %s (the model has none)",
                    config.name(), config.overrides().keySet());
        }
        long base = config.mmioBase() != 0 ? config.mmioBase()
                : MachineProfile.byId(context.profile()).defaultIommuBase(ID);
        return new MockIommuUnit(config.name(), base, context);
    }
}
