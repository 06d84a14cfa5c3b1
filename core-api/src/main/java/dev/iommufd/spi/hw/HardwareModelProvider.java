package dev.iommufd.spi.hw;

import dev.iommufd.platform.IommuUnitConfig;
import java.util.List;

/**
 * Creates IOMMU units of one hardware model. Registered with {@code @AutoService(HardwareModelProvider.class)}.
 */
public interface HardwareModelProvider {

    /** The model id ({@code vtd}, {@code smmuv3}, ...), matching {@link IommuUnitConfig#model()}. */
    String id();

    /** Named parameter presets; the first is the default. E.g. {@code qemu} (QEMU's defaults), {@code server}. */
    List<String> presets();

    /**
     * Creates a unit. The machine maps the returned unit's register window at the configured base.
     *
     * @throws dev.iommufd.api.ErrnoException EINVAL for an unknown preset or override name, naming it
     */
    IommuUnitModel create(HardwareContext context, IommuUnitConfig config);
}
