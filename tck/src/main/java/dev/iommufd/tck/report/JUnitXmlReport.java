package dev.iommufd.tck.report;

import static dev.iommufd.tck.report.Markup.escape;

import dev.iommufd.tck.DriverReport;
import dev.iommufd.tck.RuleOutcome;
import java.util.Locale;

/**
 * One driver's outcomes as a JUnit XML test suite (the Ant/Surefire {@code TEST-*.xml} format CI servers read):
 * suite {@code tck.<driver>}, a test case per rule (class {@code tck.<driver>.<AREA>}, name {@code <id> <title>}),
 * {@code <failure>} for failed rules (type = the level), {@code <skipped>} with the reason.
 */
public final class JUnitXmlReport {
    private JUnitXmlReport() {
    }

    /** The file name for a driver: {@code TEST-tck-<id>.xml}. */
    public static String fileName(DriverReport d) {
        return "TEST-tck-" + d.id() + ".xml";
    }

    public static String render(DriverReport d) {
        double total = d.outcomes().stream().mapToLong(RuleOutcome::nanos).sum() / 1e9;
        StringBuilder sb = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        sb.append(String.format(Locale.ROOT, "<testsuite name=\"tck.%s\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" time=\"%.3f\">%n",
                escape(d.id()), d.outcomes().size(), d.count(RuleOutcome.Status.FAILED), d.count(RuleOutcome.Status.SKIPPED), total));
        sb.append("  <properties>\n");
        sb.append("    <property name=\"driver.version\" value=\"").append(escape(d.version())).append("\"/>\n");
        sb.append("    <property name=\"driver.origin\" value=\"").append(escape(d.origin())).append("\"/>\n");
        sb.append("  </properties>\n");
        for (RuleOutcome o : d.outcomes()) {
            sb.append(String.format(Locale.ROOT, "  <testcase classname=\"tck.%s.%s\" name=\"%s %s\" time=\"%.3f\"",
                    escape(d.id()), o.rule().area(), escape(o.rule().id()), escape(o.rule().title()), o.nanos() / 1e9));
            switch (o.status()) {
                case PASSED:
                    sb.append("/>\n");
                    break;
                case FAILED:
                    sb.append(">\n    <failure type=\"").append(o.rule().level()).append("\" message=\"").append(escape(o.message()))
                            .append("\">").append(escape(o.message())).append("\nReference: ").append(escape(o.rule().reference()))
                            .append("</failure>\n  </testcase>\n");
                    break;
                default:
                    sb.append(">\n    <skipped message=\"").append(escape(o.message())).append("\"/>\n  </testcase>\n");
            }
        }
        sb.append("</testsuite>\n");
        return sb.toString();
    }
}
