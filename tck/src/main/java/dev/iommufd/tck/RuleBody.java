package dev.iommufd.tck;

import dev.iommufd.tck.fixture.TckFixture;

/**
 * What a rule checks. A body signals a violation with {@link RuleViolation}, a rule that cannot apply with
 * {@link RuleNotApplicable}; any other exception is a violation too (reported as unexpected).
 */
@FunctionalInterface
public interface RuleBody {
    void check(TckFixture fixture) throws Exception;
}
