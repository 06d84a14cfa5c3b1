package dev.iommufd.tck;

import org.opentest4j.TestAbortedException;

/**
 * A rule does not apply to this driver or machine (for example, it needs a capability the driver does not
 * declare). JUnit reports it as skipped; the reason is kept in every report.
 */
public final class RuleNotApplicable extends TestAbortedException {
    private static final long serialVersionUID = 1L;

    public RuleNotApplicable(String reason) {
        super(reason);
    }
}
