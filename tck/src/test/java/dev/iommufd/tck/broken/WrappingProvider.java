package dev.iommufd.tck.broken;

import dev.iommufd.mock.MockIommuProvider;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import java.util.Optional;
import java.util.Set;

/**
 * A driver made of the mock driver and one deliberate defect: the base of the TCK's self-test drivers. The
 * wrapper passes everything through ({@link WrappingDriver}, {@link WrappingDomain}, {@link WrappingDevice});
 * each subclass breaks one thing by overriding a hook.
 */
public abstract class WrappingProvider implements IommuDriverProvider {
    final MockIommuProvider mock = new MockIommuProvider();

    @Override
    public String description() {
        return "mock driver with a deliberate defect: " + defect();
    }

    /** What this driver gets wrong. */
    protected abstract String defect();

    @Override
    public String version() {
        return "0-broken";
    }

    @Override
    public int spiVersion() {
        return SpiVersion.CURRENT;
    }

    @Override
    public Set<Capability> capabilities() {
        return mock.capabilities();
    }

    @Override
    public Set<String> hardwareModels() {
        return mock.hardwareModels();
    }

    @Override
    public Optional<MachineConfig> referenceMachine() {
        return mock.referenceMachine();
    }

    @Override
    public Availability probe(Machine machine) {
        return mock.probe(machine);
    }

    @Override
    public IommuDriver bind(DriverContext context) {
        return WrappingDriver.bind(this, mock, context);
    }

    /** Hook: a domain wrapper for {@code inner} (override to return a defective subclass). */
    protected WrappingDomain wrapDomain(WrappingDriver driver, dev.iommufd.spi.IommuDomain inner) {
        return new WrappingDomain(driver, inner);
    }

    /** Hook: called before the driver allocates a paging domain with {@code flags}. */
    protected void beforePagingAlloc(int flags) {
    }

    /** Hook: called before the driver allocates a paging domain with {@code flags} for {@code device}. */
    protected void beforePagingAlloc(dev.iommufd.spi.DeviceHandle device, int flags) {
        beforePagingAlloc(flags);
    }

    /**
     * Hook: the driver's {@code deviceCapable} answer, given the mock's answer for the same device. By default the
     * mock's, narrowed to {@link #capabilities()}.
     */
    protected boolean deviceCapable(dev.iommufd.spi.DeviceHandle device, Capability capability, boolean mockAnswer) {
        return capabilities().contains(capability) && mockAnswer;
    }

    /** Hook: called before the driver returns its identity domain. */
    protected void beforeIdentityDomain() {
    }
}
