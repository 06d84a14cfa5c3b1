package dev.iommufd.drivers;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.HardwareModelProvider;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.List;

/** The common part of the discovery-test hardware models in {@code dev.iommufd.drivers.fixture}. */
public abstract class FixtureModelBase implements HardwareModelProvider {
    private final String id;
    private final List<String> presets;

    protected FixtureModelBase(String id, List<String> presets) {
        this.id = id;
        this.presets = presets;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public List<String> presets() {
        return presets;
    }

    @Override
    public IommuUnitModel create(HardwareContext context, IommuUnitConfig config) {
        throw ErrnoException.notSupported("creating a discovery fixture unit");
    }
}
