package dev.iommufd.spi;

import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The entry point of a driver jar, found with {@link java.util.ServiceLoader} (register it with
 * {@code @AutoService(IommuDriverProvider.class)}).
 *
 * <p>Rules (checked at discovery; a violation fails discovery with a message naming the jar):
 * <ol>
 *   <li>{@link #id()} matches {@link #ID_PATTERN} and is unique on the classpath (two jars with one id fail
 *       discovery, naming both jars).
 *   <li>{@link #spiVersion()} equals {@link SpiVersion#CURRENT}.
 *   <li>{@link #capabilities()} is exactly what works: see {@link Capability}.
 * </ol>
 */
public interface IommuDriverProvider {

    /** Lower-case letters, digits and dashes, starting with a letter, at most 32 characters. */
    Pattern ID_PATTERN = Pattern.compile("[a-z][a-z0-9-]{0,31}");

    /** The stable id ({@code vtd}, {@code smmuv3}, {@code amdvi}, {@code ppc-spapr}, {@code sw-nesting}). */
    String id();

    /** A human-readable name. */
    default String description() {
        return id();
    }

    /** The driver's own version. */
    String version();

    /** The SPI version the driver was built for. */
    int spiVersion();

    /** What the driver can do. */
    Set<Capability> capabilities();

    /** The hardware model ids this driver drives (by default, its own id). */
    default Set<String> hardwareModels() {
        return Set.of(id());
    }

    /**
     * Whether the driver can run on {@code machine}: for example, whether the machine has a unit it drives and the
     * unit's registers report a supported version. Never throws; the cause is kept.
     */
    Availability probe(Machine machine);

    /**
     * Initialises every unit of {@link #hardwareModels()} on the machine (through MMIO: reads capabilities,
     * allocates root structures, enables translation) and returns the bound driver.
     *
     * @throws dev.iommufd.api.ErrnoException ENODEV when the machine has no such unit, or the unit's registers
     *         are not usable
     */
    IommuDriver bind(DriverContext context);

    /**
     * The machine this driver is conformance-tested on (the TCK's launcher and {@code iommufd-sim tck} build it
     * for every rule): at least one unit of one of {@link #hardwareModels()} with a preset the driver supports,
     * and PCI functions behind it. To be checked fully it should carry at least two plain endpoints (isolation
     * rules), and, for drivers declaring {@link Capability#PASID} or {@link Capability#IOPF}, one function with
     * a PASID capability and one with ATS and PRI.
     *
     * <p>Additive in SPI version 1: the default returns empty, and the TCK reports that as a failed required
     * rule (a driver the TCK cannot run is misconfigured, never silently skipped).
     */
    default Optional<MachineConfig> referenceMachine() {
        return Optional.empty();
    }
}
