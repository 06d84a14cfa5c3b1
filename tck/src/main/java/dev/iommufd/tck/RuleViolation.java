package dev.iommufd.tck;

/** A rule was broken; the message tells the implementer what to check. */
public final class RuleViolation extends AssertionError {
    private static final long serialVersionUID = 1L;

    public RuleViolation(String message) {
        super(message);
    }

    public RuleViolation(String message, Throwable cause) {
        super(message, cause);
    }
}
