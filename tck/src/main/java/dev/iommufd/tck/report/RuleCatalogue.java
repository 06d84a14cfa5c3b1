package dev.iommufd.tck.report;

import dev.iommufd.tck.Area;
import dev.iommufd.tck.Level;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.rules.RuleCatalog;
import java.util.List;

/** The rule catalogue as text (for {@code --list-rules}) or Markdown (for the vendor guide). */
public final class RuleCatalogue {
    private RuleCatalogue() {
    }

    public static String text() {
        StringBuilder sb = new StringBuilder();
        List<Rule> all = RuleCatalog.all();
        sb.append(String.format("%d rules (%d required, %d optional)%n", all.size(),
                all.stream().filter(r -> r.level() == Level.REQUIRED).count(), all.stream().filter(r -> r.level() == Level.OPTIONAL).count()));
        for (Area a : Area.values()) {
            sb.append('\n').append(a.prefix()).append(": ").append(a.title()).append('\n');
            for (Rule r : RuleCatalog.of(a)) {
                sb.append(String.format("  %-8s %-8s %-24s %s%n", r.id(), r.level(),
                        r.capability() == null ? "" : "needs " + r.capability(), r.title()));
                sb.append(String.format("  %-8s %-8s %-24s ref: %s%n", "", "", "", r.reference()));
            }
        }
        return sb.toString();
    }

    public static String markdown() {
        StringBuilder sb = new StringBuilder();
        for (Area a : Area.values()) {
            sb.append("\n### ").append(a.prefix()).append(" — ").append(a.title()).append("\n\n");
            sb.append("| Rule | Level | Needs | Requirement | Reference |\n|---|---|---|---|---|\n");
            for (Rule r : RuleCatalog.of(a)) {
                sb.append("| ").append(r.id()).append(" | ").append(r.level()).append(" | ")
                        .append(r.capability() == null ? "" : r.capability().name()).append(" | ").append(r.title().replace("|", "\\|"))
                        .append(" | ").append(r.reference().replace("|", "\\|")).append(" |\n");
            }
        }
        return sb.toString();
    }
}
