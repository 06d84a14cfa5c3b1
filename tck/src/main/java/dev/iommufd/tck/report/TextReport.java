package dev.iommufd.tck.report;

import dev.iommufd.tck.DriverReport;
import dev.iommufd.tck.RuleOutcome;
import dev.iommufd.tck.TckResult;
import java.util.TreeSet;

/** The plain-text conformance report: per driver, per rule, passed / failed with the message / skipped with the reason. */
public final class TextReport {
    private TextReport() {
    }

    public static String render(TckResult result) {
        StringBuilder sb = new StringBuilder();
        sb.append("iommufd driver TCK: conformance report\n");
        for (DriverReport d : result.drivers()) {
            sb.append('\n').append("Driver ").append(d.id()).append(' ').append(d.version()).append(" - ").append(d.description()).append('\n');
            sb.append("  from: ").append(d.origin()).append('\n');
            sb.append("  declares: ").append(new TreeSet<>(d.capabilities())).append('\n');
            for (RuleOutcome o : d.outcomes()) {
                sb.append(String.format("  %-4s %-8s %-8s %s%n", label(o.status()), o.rule().id(), o.rule().level(), o.rule().title()));
                if (o.status() != RuleOutcome.Status.PASSED) {
                    sb.append("                         ").append(o.status() == RuleOutcome.Status.FAILED ? "failure: " : "reason: ")
                            .append(o.message()).append('\n');
                }
            }
            sb.append(String.format("  %s: %d passed, %d failed (%d required), %d skipped%n", d.id(),
                    d.count(RuleOutcome.Status.PASSED), d.count(RuleOutcome.Status.FAILED), d.requiredFailures(),
                    d.count(RuleOutcome.Status.SKIPPED)));
        }
        sb.append('\n').append(result.summaryLine()).append('\n');
        return sb.toString();
    }

    static String label(RuleOutcome.Status s) {
        switch (s) {
            case PASSED:
                return "PASS";
            case FAILED:
                return "FAIL";
            default:
                return "SKIP";
        }
    }
}
