package dev.iommufd.sim;

import dev.iommufd.platform.IommuGroup;
import dev.iommufd.platform.PciFunction;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * An IOMMU group: functions the IOMMU cannot isolate from each other. Members are added by
 * {@link SimulatedPciTopology} under its monitor; {@link #members()} is an immutable snapshot, sorted by address,
 * replaced on every addition (volatile).
 */
final class SimulatedIommuGroup implements IommuGroup {

    private final int id;
    private final String iommuUnit;
    private volatile List<PciFunction> members = List.of();

    SimulatedIommuGroup(int id, String iommuUnit) {
        this.id = id;
        this.iommuUnit = iommuUnit;
    }

    @Override
    public int id() {
        return id;
    }

    /** The unit every member sits behind. */
    String iommuUnit() {
        return iommuUnit;
    }

    @Override
    public List<PciFunction> members() {
        return members;
    }

    /** Called under the topology's monitor. */
    void add(PciFunction fn) {
        List<PciFunction> next = new ArrayList<>(members);
        next.add(fn);
        next.sort(Comparator.comparing(PciFunction::address));
        members = List.copyOf(next);
    }

    @Override
    public String toString() {
        return "iommu_group " + id + " " + members;
    }
}
