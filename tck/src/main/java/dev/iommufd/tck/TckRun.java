package dev.iommufd.tck;

import dev.iommufd.drivers.DriverCatalog;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.tck.report.HtmlReport;
import dev.iommufd.tck.report.JUnitXmlReport;
import dev.iommufd.tck.report.TextReport;
import dev.iommufd.tck.rules.RuleCatalog;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the whole contract on drivers and writes the reports: the Java API behind {@link TckLauncher} and
 * {@code iommufd-sim tck}.
 *
 * <pre>{@code
 * TckResult r = TckRun.run(TckOptions.parse("--driver", "vtd", "--report", "target/tck"), System.err);
 * System.out.println(r.summaryLine());
 * System.exit(r.exitCode());
 * }</pre>
 */
public final class TckRun {
    private TckRun() {
    }

    /**
     * Finds the drivers named in {@code options} (all of them when none is named) with {@link DriverCatalog} on the
     * thread's context class loader, runs every rule on each with progress on {@code progress}, and writes the
     * reports to {@link TckOptions#reportDir()} when set.
     *
     * @throws dev.iommufd.api.ErrnoException ENODEV for an unknown driver id (naming the known ones), or when
     *         discovery fails
     * @throws UncheckedIOException when a report cannot be written
     */
    public static TckResult run(TckOptions options, PrintStream progress) {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        DriverCatalog catalog = DriverCatalog.load(loader != null ? loader : TckRun.class.getClassLoader());
        List<TckTarget> targets = new ArrayList<>();
        if (options.driverIds().isEmpty()) {
            for (IommuDriverProvider p : catalog.all()) {
                targets.add(TckTarget.of(p, DriverCatalog.location(p)));
            }
        } else {
            for (String id : options.driverIds()) {
                IommuDriverProvider p = catalog.get(id);
                targets.add(TckTarget.of(p, DriverCatalog.location(p)));
            }
        }
        if (options.machinePreset() != null) {
            targets.replaceAll(t -> t.withPreset(options.machinePreset()));
        }
        return run(targets, options.reportDir(), progress);
    }

    /** Runs every rule on each target (drivers not registered with ServiceLoader, too) and writes reports to {@code reportDir} if not null. */
    public static TckResult run(List<TckTarget> targets, Path reportDir, PrintStream progress) {
        List<Rule> rules = RuleCatalog.all();
        List<DriverReport> reports = new ArrayList<>();
        for (TckTarget t : targets) {
            IommuDriverProvider p = t.provider();
            progress.printf("tck: driver %s (%s) from %s: %d rules%s%n", p.id(), p.description(), t.origin(), rules.size(),
                    t.machine() == null ? "" : " on " + TckTarget.describe(t.machine()));
            List<RuleOutcome> outcomes = new ArrayList<>();
            int i = 0;
            for (Rule r : rules) {
                i++;
                RuleOutcome o = RuleRunner.run(t, r);
                outcomes.add(o);
                progress.printf("tck: [%s %3d/%d] %-8s %-7s %5d ms%s%n", p.id(), i, rules.size(), r.id(), o.status(), o.nanos() / 1_000_000,
                        o.status() == RuleOutcome.Status.PASSED ? "" : "  " + o.message());
            }
            DriverReport d = new DriverReport(p.id(), p.description(), p.version(), t.origin(), p.capabilities(), outcomes);
            reports.add(d);
            progress.printf("tck: driver %s: %d passed, %d failed (%d required), %d skipped%n", d.id(), d.count(RuleOutcome.Status.PASSED),
                    d.count(RuleOutcome.Status.FAILED), d.requiredFailures(), d.count(RuleOutcome.Status.SKIPPED));
            if (reportDir != null) {
                write(reportDir.resolve(JUnitXmlReport.fileName(d)), JUnitXmlReport.render(d));
            }
        }
        TckResult result = new TckResult(reports);
        if (reportDir != null) {
            write(reportDir.resolve("tck-report.txt"), TextReport.render(result));
            write(reportDir.resolve("tck-report.html"), HtmlReport.render(result));
            progress.printf("tck: reports in %s%n", reportDir.toAbsolutePath());
        }
        return result;
    }

    private static void write(Path file, String content) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, content, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
