package dev.iommufd.tck;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.tck.report.RuleCatalogue;
import dev.iommufd.tck.report.TextReport;
import java.io.PrintStream;

/**
 * The command line: {@code java -cp <tck + core-impl + driver jars> dev.iommufd.tck.TckLauncher [--driver ID]...
 * [--report DIR] [--list-rules]}. Progress goes to stderr, the text report and the closing
 * {@code N passed, N failed, N skipped} line to stdout. Exit status: 0, 1 when a REQUIRED rule failed, 2 on a
 * usage or discovery error.
 */
public final class TckLauncher {
    private TckLauncher() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** {@link #main} without exiting: returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        TckOptions options;
        try {
            options = TckOptions.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("tck: " + e.getMessage());
            err.println(TckOptions.USAGE);
            return 2;
        }
        if (options.listRules()) {
            out.print(options.markdown() ? RuleCatalogue.markdown() : RuleCatalogue.text());
            return 0;
        }
        TckResult result;
        try {
            result = TckRun.run(options, err);
        } catch (ErrnoException e) {
            err.println("tck: " + e.getMessage());
            return 2;
        }
        if (result.drivers().isEmpty()) {
            err.println("tck: no IOMMU driver on the class path");
        }
        out.print(TextReport.render(result));
        out.flush();
        return result.exitCode();
    }
}
