package dev.iommufd.tck;

import dev.iommufd.tck.RuleOutcome.Status;
import dev.iommufd.tck.fixture.TckFixture;

/** Runs one rule on one target in a fresh {@link TckFixture}; shared by the JUnit face and the launcher. */
public final class RuleRunner {
    private RuleRunner() {
    }

    public static RuleOutcome run(TckTarget target, Rule rule) {
        long t0 = System.nanoTime();
        if (rule.capability() != null && !target.provider().capabilities().contains(rule.capability())) {
            return new RuleOutcome(rule, Status.SKIPPED, "needs capability " + rule.capability() + ", which driver '"
                    + target.provider().id() + "' does not declare (the CAP rules check that it fails with EOPNOTSUPP)",
                    System.nanoTime() - t0, null);
        }
        try (TckFixture f = new TckFixture(target, rule)) {
            rule.body().check(f);
            return new RuleOutcome(rule, Status.PASSED, "", System.nanoTime() - t0, null);
        } catch (RuleNotApplicable e) {
            return new RuleOutcome(rule, Status.SKIPPED, e.getMessage(), System.nanoTime() - t0, e);
        } catch (RuleViolation e) {
            return new RuleOutcome(rule, Status.FAILED, e.getMessage(), System.nanoTime() - t0, e);
        } catch (Throwable e) {
            return new RuleOutcome(rule, Status.FAILED, "unexpected " + describe(e), System.nanoTime() - t0, e);
        }
    }

    /** The exception and where it was thrown (the first frame outside the JDK). */
    static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder(e.toString());
        for (StackTraceElement el : e.getStackTrace()) {
            if (!el.getClassName().startsWith("java.")) {
                sb.append(" at ").append(el);
                break;
            }
        }
        return sb.toString();
    }
}
