package dev.iommufd.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.iommufd.tck.broken.OptionalOnlyProvider;
import dev.iommufd.tck.broken.WrongErrnoProvider;
import dev.iommufd.tck.rules.RuleCatalog;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/** The vendor-facing JUnit face, run through the JUnit Platform: verdicts per rule as a vendor's build sees them. */
class JUnitFaceTest {

    /** A vendor's contract class for a driver with one wrong errno (not named *Test: Surefire must not run it). */
    static class BrokenErrnoContract extends IommuDriverContractTest {
        @Override
        protected String driverId() {
            return WrongErrnoProvider.ID;
        }
    }

    /** A vendor's contract class for a driver that fails one OPTIONAL rule. */
    static class OptionalOnlyContract extends IommuDriverContractTest {
        @Override
        protected String driverId() {
            return OptionalOnlyProvider.ID;
        }
    }

    record Verdicts(List<String> failed, List<String> aborted, int succeeded) {
    }

    static Verdicts run(Class<?> contract) {
        List<String> failed = new ArrayList<>();
        List<String> aborted = new ArrayList<>();
        int[] ok = {0};
        Launcher launcher = LauncherFactory.create();
        launcher.execute(LauncherDiscoveryRequestBuilder.request().selectors(selectClass(contract)).build(), new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (!id.isTest()) {
                    return;
                }
                String rule = id.getDisplayName().split(" ")[0];
                switch (result.getStatus()) {
                    case SUCCESSFUL:
                        ok[0]++;
                        break;
                    case FAILED:
                        failed.add(rule + ": " + result.getThrowable().map(Throwable::getMessage).orElse(""));
                        break;
                    default:
                        aborted.add(rule + ": " + result.getThrowable().map(Throwable::getMessage).orElse(""));
                }
            }
        });
        return new Verdicts(failed, aborted, ok[0]);
    }

    @Test
    void aRequiredFailureFailsExactlyItsTestWithTheRuleMessage() {
        Verdicts v = run(BrokenErrnoContract.class);
        assertEquals(1, v.failed().size(), v.failed().toString());
        assertTrue(v.failed().get(0).startsWith("MAP-5: MAP-5 (REQUIRED): mapPages over a mapped IOVA must fail with EEXIST"), v.failed().get(0));
        assertTrue(v.failed().get(0).contains("reference: IommuDomain.mapPages javadoc (EEXIST)"), v.failed().get(0));
        assertEquals(RuleCatalog.all().size(), v.succeeded() + v.failed().size() + v.aborted().size(), "one test per rule");
    }

    @Test
    void anOptionalFailureIsReportedAbortedNotFailed() {
        Verdicts v = run(OptionalOnlyContract.class);
        assertEquals(List.of(), v.failed());
        assertTrue(v.aborted().stream().anyMatch(a -> a.startsWith("MAP-13: optional rule not met: MAP-13 (OPTIONAL)")), v.aborted().toString());
    }
}
