package dev.iommufd.tck.report;

import static dev.iommufd.tck.report.Markup.escape;

import dev.iommufd.tck.DriverReport;
import dev.iommufd.tck.RuleOutcome;
import dev.iommufd.tck.TckResult;
import java.util.TreeSet;

/** The HTML conformance report: one table per driver, a row per rule. Self-contained (inline CSS). */
public final class HtmlReport {
    private HtmlReport() {
    }

    public static String render(TckResult result) {
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>iommufd driver TCK report</title>\n")
                .append("<style>body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:2em}")
                .append("td,th{border:1px solid #bbb;padding:3px 6px;vertical-align:top;text-align:left}")
                .append(".PASSED{background:#dfd}.FAILED{background:#fdd}.SKIPPED{background:#eee}code{font-size:90%}</style>\n")
                .append("</head><body>\n<h1>iommufd driver TCK: conformance report</h1>\n")
                .append("<p id=\"summary\">").append(escape(result.summaryLine())).append("</p>\n");
        for (DriverReport d : result.drivers()) {
            sb.append("<h2 id=\"driver-").append(escape(d.id())).append("\">Driver <code>").append(escape(d.id())).append("</code> ")
                    .append(escape(d.version())).append(" &mdash; ").append(escape(d.description())).append("</h2>\n");
            sb.append("<p>From ").append(escape(d.origin())).append(". Declares ").append(escape(new TreeSet<>(d.capabilities()).toString()))
                    .append(". ").append(d.count(RuleOutcome.Status.PASSED)).append(" passed, ").append(d.count(RuleOutcome.Status.FAILED))
                    .append(" failed (").append(d.requiredFailures()).append(" required), ").append(d.count(RuleOutcome.Status.SKIPPED))
                    .append(" skipped.</p>\n");
            sb.append("<table><tr><th>Rule</th><th>Level</th><th>Outcome</th><th>Requirement</th><th>Message / reason</th><th>Reference</th></tr>\n");
            for (RuleOutcome o : d.outcomes()) {
                sb.append("<tr class=\"").append(o.status()).append("\"><td><code>").append(escape(o.rule().id())).append("</code></td><td>")
                        .append(o.rule().level()).append("</td><td>").append(o.status()).append("</td><td>").append(escape(o.rule().title()))
                        .append("</td><td>").append(escape(o.message())).append("</td><td>").append(escape(o.rule().reference()))
                        .append("</td></tr>\n");
            }
            sb.append("</table>\n");
        }
        sb.append("</body></html>\n");
        return sb.toString();
    }
}
