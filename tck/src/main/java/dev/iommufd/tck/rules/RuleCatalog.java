package dev.iommufd.tck.rules;

import dev.iommufd.tck.Area;
import dev.iommufd.tck.Level;
import dev.iommufd.tck.Rule;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** The rule registry: every rule of the contract, in area order, with unique ids. */
public final class RuleCatalog {

    private static final List<Rule> ALL = build();

    private RuleCatalog() {
    }

    private static List<Rule> build() {
        List<Rule> all = new ArrayList<>();
        all.addAll(DiscoveryRules.rules());
        all.addAll(CapabilityRules.rules());
        all.addAll(DomainRules.rules());
        all.addAll(MapRules.rules());
        all.addAll(PermissionRules.rules());
        all.addAll(IovaToPhysRules.rules());
        all.addAll(IotlbRules.rules());
        all.addAll(AttachRules.rules());
        all.addAll(NestingRules.rules());
        all.addAll(DirtyRules.rules());
        all.addAll(FaultRules.rules());
        all.addAll(ConcurrencyRules.rules());
        all.addAll(BadInputRules.rules());
        all.addAll(EndToEndRules.rules());
        Set<String> ids = new HashSet<>();
        for (Rule r : all) {
            if (!ids.add(r.id())) {
                throw new IllegalStateException("duplicate rule id " + r.id());
            }
        }
        all.sort((a, b) -> a.area() != b.area() ? a.area().compareTo(b.area()) : compareIds(a.id(), b.id()));
        return Collections.unmodifiableList(all);
    }

    private static int compareIds(String a, String b) {
        return Integer.compare(Integer.parseInt(a.substring(a.lastIndexOf('-') + 1)), Integer.parseInt(b.substring(b.lastIndexOf('-') + 1)));
    }

    /** Every rule. */
    public static List<Rule> all() {
        return ALL;
    }

    /** The rules of one area. */
    public static List<Rule> of(Area area) {
        List<Rule> out = new ArrayList<>();
        for (Rule r : ALL) {
            if (r.area() == area) {
                out.add(r);
            }
        }
        return out;
    }

    /** The rule with that id. */
    public static Rule byId(String id) {
        for (Rule r : ALL) {
            if (r.id().equals(id)) {
                return r;
            }
        }
        throw new IllegalArgumentException("no rule " + id);
    }

    /** How many rules of that area and level. */
    public static long count(Area area, Level level) {
        return ALL.stream().filter(r -> r.area() == area && r.level() == level).count();
    }
}
