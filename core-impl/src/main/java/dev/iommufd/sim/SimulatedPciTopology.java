package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.IommuGroup;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.PciTopology;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The machine's PCI functions and IOMMU groups.
 *
 * <h2>Grouping</h2>
 * As Linux's {@code pci_device_group()} does for functions of a multi-function device
 * ({@code get_pci_function_alias_group}): a function with ACS gets a group of its own; a function without ACS joins
 * the group of another function without ACS in the same segment, bus and device (slot), when that sibling sits
 * behind the same IOMMU unit; otherwise it starts a new group. Group ids count from 0 in creation order, as
 * {@code iommu_group_alloc()} numbers them.
 *
 * <p>Locking: {@link #add} takes this object's monitor; lookups read a volatile immutable snapshot.
 */
public final class SimulatedPciTopology implements PciTopology {

    private final PhysicalMemory memory;
    private final MachineProfile profile;
    private final SimulatedInterruptController interrupts;
    private final Function<String, IommuUnitModel> units;
    /** Guarded by this. */
    private final TreeMap<PciAddress, SimulatedPciFunction> byAddress = new TreeMap<>();
    /** Guarded by this. */
    private final List<SimulatedIommuGroup> groupList = new ArrayList<>();
    private volatile List<PciFunction> functionSnapshot = List.of();
    private volatile List<IommuGroup> groupSnapshot = List.of();

    /**
     * @param profile the machine profile: on x86 ({@code q35}) untagged writes to the interrupt window are MSIs
     * @param interrupts where MSIs written by devices are delivered
     * @param units resolves an IOMMU unit by name, throwing ENODEV for an unknown one
     */
    public SimulatedPciTopology(PhysicalMemory memory, MachineProfile profile, SimulatedInterruptController interrupts,
            Function<String, IommuUnitModel> units) {
        this.memory = Objects.requireNonNull(memory, "memory");
        this.profile = Objects.requireNonNull(profile, "profile");
        this.interrupts = Objects.requireNonNull(interrupts, "interrupts");
        this.units = Objects.requireNonNull(units, "units");
    }

    @Override
    public synchronized PciFunction add(PciFunctionSpec spec) {
        Objects.requireNonNull(spec, "spec");
        if (byAddress.containsKey(spec.address())) {
            throw ErrnoException.of(Errno.EEXIST, "PCI address %s is taken", spec.address());
        }
        IommuUnitModel unit = units.apply(spec.iommuUnit());
        SimulatedIommuGroup group = null;
        if (!spec.acs()) {
            for (SimulatedPciFunction sibling : byAddress.values()) {
                PciAddress a = sibling.address();
                if (!sibling.spec().acs() && a.segment() == spec.address().segment() && a.bus() == spec.address().bus()
                        && a.device() == spec.address().device() && sibling.iommuUnit().equals(spec.iommuUnit())) {
                    group = sibling.simGroup();
                    break;
                }
            }
        }
        if (group == null) {
            group = new SimulatedIommuGroup(groupList.size(), spec.iommuUnit());
            groupList.add(group);
            groupSnapshot = List.copyOf(groupList);
        }
        SimulatedPciFunction fn = new SimulatedPciFunction(spec, unit, group, memory, interrupts, profile == MachineProfile.Q35);
        group.add(fn);
        byAddress.put(spec.address(), fn);
        functionSnapshot = List.copyOf(byAddress.values());
        return fn;
    }

    @Override
    public PciFunction function(PciAddress address) {
        Objects.requireNonNull(address, "address");
        for (PciFunction f : functionSnapshot) {
            if (f.address().equals(address)) {
                return f;
            }
        }
        throw ErrnoException.of(Errno.ENODEV, "no PCI function at %s", address);
    }

    @Override
    public List<PciFunction> functions() {
        return functionSnapshot;
    }

    @Override
    public List<IommuGroup> groups() {
        return groupSnapshot;
    }
}
