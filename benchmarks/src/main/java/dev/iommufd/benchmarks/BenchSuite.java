package dev.iommufd.benchmarks;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the B1-B13 suite programmatically with JMH, compares every score with {@link Targets#ALL}, prints a table and
 * writes a JSON report. The entry point of {@code iommufd-sim bench [--quick] [--only B4,B6] [--json FILE]}.
 *
 * <p>Quick mode: in-process (no fork), one 200 ms warm-up and two 200 ms measurement iterations (single-shot
 * benchmarks: one warm-up and two measured invocations), 100K live areas only for B9 and 64K holes for the
 * fragmented case; under two minutes on the 2-core CI machine. Full mode: one fork per benchmark ({@link #forkJvmArgs}: -Xmx3g, THP), three
 * 500 ms warm-up and five 500 ms measurement iterations; under fifteen minutes. Both run with JMH's GC profiler,
 * whose {@code gc.alloc.rate.norm} gives B12.
 */
public final class BenchSuite {
    private static final String PKG = "dev.iommufd.benchmarks.";
    /** A derived row {@code ratio:<row a>/<row b>}: score(a) / score(b), per format. */
    static final String RATIO = "ratio:";
    /**
     * Quick mode: the 64 GiB scenarios (B4 in 4K pages, B6, B10) run over 4 GiB; B4/B10 times are scaled x16
     * (linear). B4b (2M/1G leaves, {@link LargeLeafBulkMapBenchmark}) is cheap and runs over 64 GiB.
     */
    static final long QUICK_SPAN = 4L << 30;
    /** Quick mode: B5 maps 1 GiB of user memory (its score is per 4 KiB page anyway). */
    static final long QUICK_USER_SPAN = 1L << 30;

    private BenchSuite() {
    }

    /** One JMH result: score and error in the benchmark's unit, allocation per op, the span it ran over (or 0). */
    record Measured(double score, double error, double alloc, long span) {
    }

    /** One reported score: a target row for one format. */
    public record Row(Target target, String format, double score, double error) {
        public boolean met() {
            if (Double.isNaN(score)) {
                return false;
            }
            if (!target.hasLimit()) {
                return true;
            }
            if (target.id().startsWith("B12")) {
                return score < Targets.ALLOCATION_NOISE; // 0 B/op up to gc.alloc.rate.norm's noise
            }
            return target.met(score);
        }
    }

    /**
     * Runs the suite.
     *
     * @param quick the short run (under two minutes)
     * @param only scenarios to run ({@code B4} also selects {@code B4b}); empty or null: all
     * @param json where to write the JSON report; null: none
     * @param out where the table (and JMH's progress, in full mode) goes
     * @return every row, in table order
     */
    public static List<Row> run(boolean quick, Set<String> only, Path json, PrintStream out)
            throws IOException, RunnerException {
        List<Target> targets = new ArrayList<>();
        for (Target t : Targets.ALL) {
            if (selected(t, only)) {
                targets.add(t);
            }
        }
        Set<String> methods = new LinkedHashSet<>();
        for (Target t : targets) {
            for (Target r : dependencies(t)) {
                if (!r.benchmark().contains(":")) {
                    methods.add(r.benchmark());
                }
            }
        }
        long start = System.nanoTime();
        Map<String, Measured> scores = new HashMap<>();
        Set<String> singleShot = new LinkedHashSet<>();
        Set<String> timed = new LinkedHashSet<>();
        for (String m : methods) {
            (SINGLE_SHOT.contains(m.substring(0, m.indexOf('.'))) || m.startsWith("IoasBenchmark.ioas") ? singleShot : timed).add(m);
        }
        if (!timed.isEmpty()) {
            collect(runJmh(quick, timed, 1, false, out), scores, "");
        }
        if (!singleShot.isEmpty()) {
            collect(runJmh(quick, singleShot, 1, true, out), scores, "");
        }
        boolean b13 = targets.stream().anyMatch(t -> t.group().equals("B13"));
        if (b13) {
            Set<String> c = Set.of("ConcurrencyBenchmark.mapUnmap", "ConcurrencyBenchmark.translate",
                    "ConcurrencyBenchmark.control", "ConcurrencyBenchmark.sharedLine");
            collect(runJmh(quick, c, 1, false, out), scores, "t1:");
            collect(runJmh(quick, c, 2, false, out), scores, "t2:");
        }
        List<Row> rows = new ArrayList<>();
        for (Target t : targets) {
            for (Format f : Format.values()) {
                rows.add(row(t, f, scores, quick));
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        print(rows, quick, seconds, out);
        if (json != null) {
            Files.writeString(json, json(rows, quick, seconds), StandardCharsets.UTF_8);
            out.println("JSON written to " + json);
        }
        return rows;
    }

    static boolean selected(Target t, Set<String> only) {
        if (only == null || only.isEmpty()) {
            return true;
        }
        String g = t.group();
        for (String o : only) {
            String x = o.trim();
            if (g.equalsIgnoreCase(x) || t.id().equalsIgnoreCase(x)
                    || g.length() == x.length() + 1 && g.regionMatches(true, 0, x, 0, x.length())
                    && Character.isLetter(g.charAt(g.length() - 1))) {
                return true;
            }
        }
        return false;
    }

    /** The rows whose benchmarks a row needs (itself, the row B12 reads, or both rows of a ratio). */
    static List<Target> dependencies(Target t) {
        if (t.benchmark().startsWith("B12:")) {
            return List.of(byId(t.benchmark().substring(4)));
        }
        if (t.benchmark().startsWith(RATIO)) {
            String[] ids = t.benchmark().substring(RATIO.length()).split("/");
            return List.of(byId(ids[0]), byId(ids[1]));
        }
        return List.of(t);
    }

    static Target byId(String id) {
        for (Target t : Targets.ALL) {
            if (t.id().equals(id)) {
                return t;
            }
        }
        throw new IllegalArgumentException("no target " + id);
    }

    /**
     * Classes whose benchmarks are single-shot: one invocation is a whole 64 GiB operation of tens of milliseconds
     * or more (4 KiB leaves), long enough for its loops to run compiled. B4b (2 MiB / 1 GiB leaves: microseconds to
     * under a millisecond) is not here: {@link LargeLeafBulkMapBenchmark} measures it in steady state.
     */
    private static final Set<String> SINGLE_SHOT = Set.of("BulkMapBenchmark", "DirtyHarvestBenchmark");

    private static Collection<RunResult> runJmh(boolean quick, Set<String> methods, int threads, boolean singleShot,
            PrintStream out) throws RunnerException {
        ChainedOptionsBuilder o = new OptionsBuilder().threads(threads).addProfiler(GCProfiler.class)
                .shouldFailOnError(true);
        for (String m : methods) {
            o = o.include("^" + (PKG + m).replace(".", "\\.") + "$");
        }
        if (quick) {
            o = o.forks(0).warmupIterations(1).warmupTime(TimeValue.milliseconds(200)).measurementIterations(2)
                    .measurementTime(TimeValue.milliseconds(200)).param("areas", "100000").param("holes", "65536")
                    .param("span", Long.toString(QUICK_SPAN)).param("userSpan", Long.toString(QUICK_USER_SPAN));
        } else {
            // Single-shot rows get 5 warm-up invocations, so that their loops run in C2 code (OSR) when measured.
            o = o.forks(1).jvmArgsAppend(forkJvmArgs()).param("areas", "100000").warmupIterations(singleShot ? 5 : 3)
                    .warmupTime(TimeValue.milliseconds(500)).measurementIterations(5)
                    .measurementTime(TimeValue.milliseconds(500));
        }
        if (!quick || out != System.out) {
            o = o.verbosity(quick ? org.openjdk.jmh.runner.options.VerboseMode.SILENT
                    : org.openjdk.jmh.runner.options.VerboseMode.NORMAL);
        }
        return new Runner(o.build()).run();
    }

    /**
     * The JVM options of a full-mode fork: a fixed, pre-touched 3 GiB heap and transparent huge pages for it, plus
     * the options in the system property {@code iommufd.bench.jvmArgs} (separated by white space).
     *
     * <p>Fixed and pre-touched ({@code -Xms3g -XX:+AlwaysPreTouch}), because a heap that grows during the measurement
     * makes the OS fault in (and, with THP, compact) fresh heap pages inside a timed invocation: B5-map, one 64 GiB
     * IOAS_MAP per invocation, read 8.5 ± 15.3 / 6.9 ± 14.5 ns per page without them and 4.4 ± 1.7 / 4.5 ± 0.7 with
     * them, back to back (VT-d / SMMUv3, 2026-11-22). The fork pays the pre-touch once, before its first iteration.
     *
     * <p>Huge pages, because the simulated physical memory of a 64 GiB mapping holds 128 MiB of page tables in the
     * heap: with 4 KiB host pages a random leaf-PTE read also misses the CPU's TLB (a dependent random load over
     * 128 MiB measured ~250 ns on the 2-core CI machine, ~170 ns with THP). Real IOMMU page walks read DRAM
     * through no CPU TLB at all, so THP brings the model closer to the hardware, not further. Where the OS has no
     * THP (or it is "never"), HotSpot prints a warning and runs with small pages.
     */
    static String[] forkJvmArgs() {
        List<String> args = new ArrayList<>(List.of("-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch", "-XX:+UseTransparentHugePages"));
        String extra = System.getProperty("iommufd.bench.jvmArgs", "").trim();
        if (!extra.isEmpty()) {
            args.addAll(List.of(extra.split("\\s+")));
        }
        return args.toArray(new String[0]);
    }

    /** Key: prefix + Class.method + sorted non-format params + "/" + format. Value: {score, error, alloc/op}. */
    private static void collect(Collection<RunResult> results, Map<String, Measured> scores, String prefix) {
        for (RunResult r : results) {
            BenchmarkParams p = r.getParams();
            String bench = p.getBenchmark().substring(PKG.length());
            Result<?> primary = r.getPrimaryResult();
            Result<?> alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
            String spanParam = p.getParamsKeys().contains("span") ? p.getParam("span")
                    : p.getParamsKeys().contains("userSpan") ? p.getParam("userSpan") : "0";
            Measured v = new Measured(primary.getScore(), primary.getScoreError(),
                    alloc == null ? Double.NaN : alloc.getScore(), Long.parseLong(spanParam));
            StringBuilder key = new StringBuilder(prefix).append(bench);
            List<String> names = new ArrayList<>(p.getParamsKeys());
            java.util.Collections.sort(names);
            for (String k : names) {
                if (!k.equals("format")) {
                    key.append(' ').append(k).append('=').append(p.getParam(k));
                }
            }
            scores.put(key.append('/').append(p.getParam("format")).toString(), v);
        }
    }

    private static Measured find(Map<String, Measured> scores, String prefix, Target t, Format f) {
        String tail = "/" + f.name();
        for (Map.Entry<String, Measured> e : scores.entrySet()) {
            String k = e.getKey();
            if (!k.startsWith(prefix + t.benchmark()) || !k.endsWith(tail)) {
                continue;
            }
            String rest = k.substring((prefix + t.benchmark()).length(), k.length() - tail.length());
            if (!rest.isEmpty() && rest.charAt(0) != ' ') {
                continue; // another method whose name starts alike
            }
            boolean all = true;
            for (Map.Entry<String, String> want : t.params().entrySet()) {
                all &= (" " + rest + " ").contains(" " + want.getKey() + "=" + want.getValue() + " ");
            }
            if (all) {
                return e.getValue();
            }
        }
        return null;
    }

    static Row row(Target t, Format f, Map<String, Measured> scores, boolean quick) {
        String b = t.benchmark();
        double nan = Double.NaN;
        if (b.startsWith("B11:")) {
            switch (b) {
                case "B11:table":
                    return new Row(t, f.label(), MemoryFootprint.tableBytesPerPage(f, quick ? 4L << 30 : 64L << 30), nan);
                case "B11:area":
                    return new Row(t, f.label(), MemoryFootprint.heapBytesPerArea(f, 100_000), nan);
                case "B11:area64k":
                    return new Row(t, f.label(), MemoryFootprint.heapBytesPerArea(f, 100_000, 16), nan);
                default:
                    return new Row(t, f.label(), MemoryFootprint.iotlbBytesPerEntry(f), nan);
            }
        }
        if (b.startsWith("B12:")) {
            Measured v = find(scores, "", byId(b.substring(4)), f);
            return new Row(t, f.label(), v == null ? nan : v.alloc(), nan);
        }
        if (b.startsWith(RATIO)) {
            List<Target> pair = dependencies(t);
            Measured h = find(scores, "", pair.get(0), f);
            Measured e = find(scores, "", pair.get(1), f);
            return new Row(t, f.label(), e == null || h == null ? nan : h.score() / e.score(), nan);
        }
        if (b.startsWith("B13op:")) {
            Target m = new Target(t.id(), b.substring(6), Map.of(), 1, "", nan, false, "");
            Measured one = find(scores, "t1:", m, f);
            return new Row(t, f.label(), one == null ? nan : 1000 / one.score(), nan); // ops/us to ns/op
        }
        if (b.startsWith("B13:")) {
            Target m = new Target(t.id(), b.substring(4), Map.of(), 1, "", nan, false, "");
            Measured one = find(scores, "t1:", m, f);
            Measured two = find(scores, "t2:", m, f);
            return new Row(t, f.label(), one == null || two == null ? nan : two.score() / one.score(), nan);
        }
        Measured v = find(scores, "", t, f);
        if (v == null) {
            return new Row(t, f.label(), nan, nan);
        }
        double scale = t.scale();
        if (t.unit().equals("ns/page") && v.span() > 0) {
            scale = 1e6 / (v.span() / 4096.0); // a whole-range single shot in ms, per 4 KiB page
        } else if (v.span() > 0 && v.span() != Targets.SPAN_64G && !t.unit().startsWith("ns/")) {
            scale *= (double) Targets.SPAN_64G / v.span(); // quick: measured over a smaller span, linear in it
        }
        return new Row(t, f.label(), v.score() * scale, v.error() * scale);
    }

    /** The machine the numbers came from: CPUs, CPU model, JDK, load average at the end of the run. */
    public static Map<String, String> machine() {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("nproc", Integer.toString(Runtime.getRuntime().availableProcessors()));
        String cpu = "unknown";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: unknown
        }
        m.put("cpu", cpu);
        m.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        m.put("loadavg1", String.format(Locale.ROOT, "%.2f",
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
        return m;
    }

    private static String num(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return "-";
        }
        double a = Math.abs(v);
        return String.format(Locale.ROOT, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 0.1 ? "%.2f" : "%.3g", v);
    }

    static void print(List<Row> rows, boolean quick, double seconds, PrintStream out) {
        out.println();
        out.printf(Locale.ROOT, "iommufd-java benchmarks (%s run, %.0f s) on %s%n", quick ? "quick" : "full", seconds,
                machine());
        if (quick) {
            out.println("quick: in-process; B4, B6, B6c, B10 over 4 GiB (B4/B10 times scaled x16 to 64 GiB; B4b over 64 GiB),"
                    + " B5 over 1 GiB,"
                    + " B9-ioas with 100K areas and 64K holes");
        }
        out.printf(Locale.ROOT, "%-21s %-14s %12s %10s %-10s %10s  %s%n", "scenario", "format", "score", "error",
                "unit", "target", "met");
        for (Row r : rows) {
            Target t = r.target();
            String target = t.hasLimit() ? (t.atLeast() ? ">= " : "<= ") + num(t.limit()) : "-";
            String met = Double.isNaN(r.score()) ? "not run" : !t.hasLimit() ? "" : r.met() ? "yes" : "NO";
            out.printf(Locale.ROOT, "%-21s %-14s %12s %10s %-10s %10s  %s%n", t.id(), r.format(), num(r.score()),
                    Double.isNaN(r.error()) ? "" : "±" + num(r.error()), t.unit(), target, met);
        }
    }

    private static String jsonNum(double v) {
        return Double.isNaN(v) || Double.isInfinite(v) ? "null" : Double.toString(v);
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static String json(List<Row> rows, boolean quick, double seconds) {
        StringBuilder b = new StringBuilder("{\n  \"suite\": \"iommufd-java\",\n");
        b.append("  \"quick\": ").append(quick).append(",\n");
        b.append("  \"seconds\": ").append(jsonNum(seconds)).append(",\n  \"machine\": {");
        String sep = "";
        for (Map.Entry<String, String> e : machine().entrySet()) {
            b.append(sep).append(jsonString(e.getKey())).append(": ").append(jsonString(e.getValue()));
            sep = ", ";
        }
        b.append("},\n  \"results\": [\n");
        sep = "";
        for (Row r : rows) {
            Target t = r.target();
            b.append(sep).append("    {\"scenario\": ").append(jsonString(t.id()))
                    .append(", \"format\": ").append(jsonString(r.format()))
                    .append(", \"score\": ").append(jsonNum(r.score()))
                    .append(", \"unit\": ").append(jsonString(t.unit()))
                    .append(", \"error\": ").append(jsonNum(r.error()))
                    .append(", \"target\": ").append(jsonNum(t.limit()))
                    .append(", \"comparison\": ").append(jsonString(t.hasLimit() ? (t.atLeast() ? ">=" : "<=") : "none"))
                    .append(", \"met\": ").append(Double.isNaN(r.score()) ? "null" : Boolean.toString(r.met()))
                    .append(", \"what\": ").append(jsonString(t.what())).append('}');
            sep = ",\n";
        }
        return b.append("\n  ]\n}\n").toString();
    }

    /**
     * {@code [--quick | --full] [--only B4,B6] [--json FILE]} (the last of {@code --quick}/{@code --full} and of
     * {@code --json} wins); exit status 0 (targets missed are reported, not failed).
     */
    public static void main(String[] args) throws Exception {
        boolean quick = false;
        Set<String> only = new LinkedHashSet<>();
        Path json = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick":
                    quick = true;
                    break;
                case "--full":
                    quick = false; // overrides an earlier --quick (the bench-smoke profile passes --quick first)
                    break;
                case "--only":
                    for (String s : args[++i].split(",")) {
                        only.add(s.trim());
                    }
                    break;
                case "--json":
                    json = Path.of(args[++i]);
                    break;
                default:
                    throw new IllegalArgumentException("unknown argument " + args[i]
                            + " (usage: [--quick | --full] [--only B4,B6] [--json FILE])");
            }
        }
        run(quick, only, json, System.out);
    }
}
