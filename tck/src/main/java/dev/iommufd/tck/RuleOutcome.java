package dev.iommufd.tck;

/**
 * What one rule did on one driver.
 *
 * @param rule the rule
 * @param status passed, failed or skipped
 * @param message the failure message or the skip reason; empty when passed
 * @param nanos how long the rule ran
 * @param cause the exception behind a failure or skip, or {@code null}
 */
public record RuleOutcome(Rule rule, Status status, String message, long nanos, Throwable cause) {

    /** The three outcomes. */
    public enum Status {
        PASSED, FAILED, SKIPPED
    }

    /** Whether this outcome fails the run: a failed REQUIRED rule. */
    public boolean failsRun() {
        return status == Status.FAILED && rule.level() == Level.REQUIRED;
    }
}
