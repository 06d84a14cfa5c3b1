package dev.iommufd.benchmarks;

import java.util.Map;

/**
 * One row of the targets table: a scenario, the JMH benchmark (and parameters) that measures it, and the target
 * the issue set for one thread on the 2-core CI machine.
 *
 * @param id scenario id as the issue numbers it, with a variant ({@code B1-4K}, {@code B3-256})
 * @param benchmark {@code Class.method} of the benchmark, or a pseudo-benchmark for derived rows ({@code B11:...},
 *        {@code B12:<row id>}, {@code B13:...} for the 2-thread / 1-thread ratio,
 *        {@code B13op:...} for one thread's time per operation)
 * @param params JMH parameters other than {@code format} that select the run
 * @param scale factor applied to the JMH score to express it in {@code unit} (e.g. ms for a whole 64 GiB run to ns
 *        per 4 KiB page)
 * @param unit unit of the reported score
 * @param limit the target; {@link Double#NaN} when the issue sets none (the score is reported only)
 * @param atLeast whether the target is a minimum ({@code >=}); otherwise a maximum ({@code <=})
 * @param what one line on what is measured
 */
public record Target(String id, String benchmark, Map<String, String> params, double scale, String unit, double limit,
        boolean atLeast, String what) {

    public boolean hasLimit() {
        return !Double.isNaN(limit);
    }

    /** Whether {@code score} meets the target (true when there is none). */
    public boolean met(double score) {
        if (!hasLimit()) {
            return true;
        }
        return atLeast ? score >= limit : score <= limit;
    }

    /** The scenario as {@code --only} names it: the id up to the first dash ({@code B4b-2M-map} is in {@code B4b}). */
    public String group() {
        int dash = id.indexOf('-');
        return dash < 0 ? id : id.substring(0, dash);
    }
}
