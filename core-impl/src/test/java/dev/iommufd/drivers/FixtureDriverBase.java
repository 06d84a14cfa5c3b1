package dev.iommufd.drivers;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.Machine;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import java.util.Set;

/**
 * The common part of the discovery-test drivers in {@code dev.iommufd.drivers.fixture}. Those are never registered
 * on the test class path: {@link ProviderJars} packs them into jars at test time.
 */
public abstract class FixtureDriverBase implements IommuDriverProvider {
    private final String id;
    private final int spiVersion;

    protected FixtureDriverBase(String id) {
        this(id, SpiVersion.CURRENT);
    }

    protected FixtureDriverBase(String id, int spiVersion) {
        this.id = id;
        this.spiVersion = spiVersion;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String version() {
        return "0-test";
    }

    @Override
    public int spiVersion() {
        return spiVersion;
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of();
    }

    @Override
    public Availability probe(Machine machine) {
        return Availability.no("a discovery fixture drives nothing");
    }

    @Override
    public IommuDriver bind(DriverContext context) {
        throw ErrnoException.notSupported("binding a discovery fixture");
    }
}
