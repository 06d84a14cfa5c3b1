package dev.iommufd.tck;

import dev.iommufd.spi.Capability;
import java.util.List;
import java.util.Set;

/**
 * The contract's outcome for one driver.
 *
 * @param id the driver id
 * @param description the provider's description
 * @param version the provider's version
 * @param origin where it was loaded from
 * @param capabilities what it declares
 * @param outcomes one per rule, in catalogue order
 */
public record DriverReport(String id, String description, String version, String origin, Set<Capability> capabilities,
        List<RuleOutcome> outcomes) {

    public DriverReport {
        capabilities = Set.copyOf(capabilities);
        outcomes = List.copyOf(outcomes);
    }

    public long count(RuleOutcome.Status status) {
        return outcomes.stream().filter(o -> o.status() == status).count();
    }

    /** Failed REQUIRED rules. */
    public long requiredFailures() {
        return outcomes.stream().filter(RuleOutcome::failsRun).count();
    }

    /** The outcome of one rule. */
    public RuleOutcome outcome(String ruleId) {
        for (RuleOutcome o : outcomes) {
            if (o.rule().id().equals(ruleId)) {
                return o;
            }
        }
        throw new IllegalArgumentException("no outcome for rule " + ruleId);
    }
}
