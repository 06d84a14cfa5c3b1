package dev.iommufd.tck;

import dev.iommufd.spi.Capability;
import java.util.Objects;

/**
 * One numbered rule of the driver contract.
 *
 * @param id the stable id, {@code <area prefix>-<n>} ({@code MAP-3})
 * @param area the area it belongs to
 * @param level REQUIRED or OPTIONAL
 * @param capability the capability the rule needs, or {@code null} when it applies to every driver; a rule with a
 *        capability is skipped (with that reason) for drivers that do not declare it, because the CAP rules check
 *        that undeclared capabilities fail with EOPNOTSUPP
 * @param title what the rule requires, one sentence
 * @param reference where the behaviour is specified (kernel source, uAPI text, architecture-spec section)
 * @param body the check
 */
public record Rule(String id, Area area, Level level, Capability capability, String title, String reference, RuleBody body) {
    public Rule {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(area, "area");
        Objects.requireNonNull(level, "level");
        Objects.requireNonNull(title, "title");
        Objects.requireNonNull(reference, "reference");
        Objects.requireNonNull(body, "body");
        if (!id.startsWith(area.prefix() + "-")) {
            throw new IllegalArgumentException("rule id " + id + " does not start with its area's prefix " + area.prefix());
        }
    }

    /** A required rule for every driver. */
    public static Rule required(String id, Area area, String title, String reference, RuleBody body) {
        return new Rule(id, area, Level.REQUIRED, null, title, reference, body);
    }

    /** A required rule for drivers declaring {@code capability}. */
    public static Rule requiredWith(Capability capability, String id, Area area, String title, String reference, RuleBody body) {
        return new Rule(id, area, Level.REQUIRED, capability, title, reference, body);
    }

    /** An optional rule for every driver. */
    public static Rule optional(String id, Area area, String title, String reference, RuleBody body) {
        return new Rule(id, area, Level.OPTIONAL, null, title, reference, body);
    }

    @Override
    public String toString() {
        return id + " [" + level + (capability == null ? "" : ", needs " + capability) + "] " + title;
    }
}
