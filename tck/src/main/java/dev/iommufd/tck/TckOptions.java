package dev.iommufd.tck;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What to run.
 *
 * @param driverIds the drivers to check; empty for every driver on the class path
 * @param reportDir where to write JUnit XML per driver and the text/HTML conformance report, or {@code null}
 * @param listRules print the rule catalogue instead of running
 * @param markdown print the catalogue as a Markdown table
 * @param machinePreset run every driver on its reference machine with its units switched to this hardware preset
 *        (e.g. {@code qemu}), or {@code null} for the reference machine as declared
 */
public record TckOptions(List<String> driverIds, Path reportDir, boolean listRules, boolean markdown, String machinePreset) {

    public TckOptions {
        driverIds = List.copyOf(driverIds);
    }

    /** Options on the reference machines as declared. */
    public TckOptions(List<String> driverIds, Path reportDir, boolean listRules, boolean markdown) {
        this(driverIds, reportDir, listRules, markdown, null);
    }

    /** Every driver, no report files. */
    public static TckOptions allDrivers() {
        return new TckOptions(List.of(), null, false, false);
    }

    public static final String USAGE = String.join("\n",
            "usage: tck [--driver ID]... [--machine-preset NAME] [--report DIR] [--list-rules [--markdown]]",
            "  --driver ID     check driver ID (repeatable; default: every driver on the class path)",
            "  --machine-preset NAME",
            "                  run on the reference machine with the driver's units switched to hardware preset NAME",
            "  --report DIR    write TEST-tck-<id>.xml (JUnit XML) per driver and tck-report.txt / tck-report.html",
            "  --list-rules    print the rule catalogue (id, level, capability, title, reference) and exit",
            "  --markdown      with --list-rules: print it as a Markdown table",
            "Exit status: 0 when every REQUIRED rule passed (or was skipped), 1 when one failed, 2 on a usage error.");

    /**
     * Parses command-line arguments.
     *
     * @throws IllegalArgumentException naming the bad argument
     */
    public static TckOptions parse(String... args) {
        List<String> ids = new ArrayList<>();
        Path report = null;
        boolean list = false;
        boolean md = false;
        String preset = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--driver":
                    ids.add(value(args, ++i, a));
                    break;
                case "--report":
                    report = Path.of(value(args, ++i, a));
                    break;
                case "--list-rules":
                    list = true;
                    break;
                case "--markdown":
                    md = true;
                    break;
                case "--machine-preset":
                    preset = value(args, ++i, a);
                    break;
                default:
                    if (a.startsWith("--driver=")) {
                        ids.add(a.substring("--driver=".length()));
                    } else if (a.startsWith("--machine-preset=")) {
                        preset = a.substring("--machine-preset=".length());
                    } else if (a.startsWith("--report=")) {
                        report = Path.of(a.substring("--report=".length()));
                    } else {
                        throw new IllegalArgumentException("unknown argument '" + a + "'");
                    }
            }
        }
        return new TckOptions(ids, report, list, md, preset);
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length || args[i].startsWith("--")) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }
}
