package dev.iommufd.vtd;

import com.google.auto.service.AutoService;
import dev.iommufd.platform.Machine;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.vtd.layout.VtdRegisters;
import java.util.EnumSet;
import java.util.Set;

/**
 * The Intel VT-d driver ({@code vtd}). Which capabilities a device gets depends on its unit's CAP/ECAP (see
 * {@link IommuDriver#deviceCapable}); the set here is what the driver implements.
 */
@AutoService(IommuDriverProvider.class)
public final class VtdDriverProvider implements IommuDriverProvider {

    private static final Set<Capability> CAPABILITIES = EnumSet.of(Capability.PAGING, Capability.BLOCKED_DOMAIN,
            Capability.IDENTITY_DOMAIN, Capability.ENFORCE_CACHE_COHERENCY, Capability.NESTING, Capability.DIRTY_TRACKING,
            Capability.PASID, Capability.IOPF, Capability.HW_INFO);

    @Override
    public String id() {
        return "vtd";
    }

    @Override
    public String description() {
        return "Intel VT-d DMA remapping (legacy and scalable mode)";
    }

    @Override
    public String version() {
        return "0.1.0";
    }

    @Override
    public int spiVersion() {
        return SpiVersion.CURRENT;
    }

    @Override
    public Set<Capability> capabilities() {
        return CAPABILITIES;
    }

    @Override
    public Availability probe(Machine machine) {
        try {
            for (IommuUnitModel m : machine.iommuUnits()) {
                if (m.model().equals("vtd")) {
                    int ver = machine.mmio().read32(m.mmioBase() + VtdRegisters.VER_REG);
                    if ((ver >>> 4 & 0xf) == 0) {
                        return Availability.no(String.format("vtd: %s reports VER %#x", m.name(), ver));
                    }
                    return Availability.yes();
                }
            }
            return Availability.no("vtd: the machine has no VT-d unit");
        } catch (RuntimeException e) {
            return Availability.no("vtd: cannot read the unit's registers", e);
        }
    }

    @Override
    public IommuDriver bind(DriverContext context) {
        return new VtdDriver(this, context);
    }
}
