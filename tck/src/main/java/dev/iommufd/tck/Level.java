package dev.iommufd.tck;

/** How binding a rule is. */
public enum Level {
    /** Every driver must pass it; a failure makes the run (and the launcher's exit status) fail. */
    REQUIRED,
    /** Recommended behaviour; a failure is reported but does not fail the run. */
    OPTIONAL
}
