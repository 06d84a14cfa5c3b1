package dev.iommufd.tck;

import dev.iommufd.drivers.DriverCatalog;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.tck.rules.RuleCatalog;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * The whole driver contract as JUnit 5 tests. A vendor extends it in the driver's test sources:
 *
 * <pre>{@code
 * class VtdContractTest extends IommuDriverContractTest {
 *     protected String driverId() { return "vtd"; }
 * }
 * }</pre>
 *
 * One dynamic container per area, one dynamic test per rule ({@code MAP-3 ...}); each rule runs on a fresh machine
 * and a freshly bound driver. A failed REQUIRED rule fails its test with the rule's message; a skipped rule is
 * reported aborted with its reason; a failed OPTIONAL rule is reported aborted with "optional rule not met: ..."
 * unless {@link #failOnOptional()} says otherwise.
 */
public abstract class IommuDriverContractTest {

    /** The id of the driver under test, as its provider reports it. */
    protected abstract String driverId();

    /**
     * The driver under test: by default the provider {@link DriverCatalog} finds under {@link #driverId()} (so the
     * test also proves the ServiceLoader registration). Override to check a provider that is not registered.
     */
    protected IommuDriverProvider provider() {
        return DriverCatalog.load(getClass().getClassLoader()).get(driverId());
    }

    /**
     * The machine every rule builds: by default {@link IommuDriverProvider#referenceMachine()}. Override to check
     * other presets or device mixes; return {@code null} to have DISC-4 fail and the machine rules skipped.
     */
    protected MachineConfig machineConfig() {
        return provider().referenceMachine().orElse(null);
    }

    /** Whether a failed OPTIONAL rule fails its JUnit test (default: reported as aborted). */
    protected boolean failOnOptional() {
        return false;
    }

    @TestFactory
    Stream<DynamicNode> driverContract() {
        IommuDriverProvider p = provider();
        TckTarget target = new TckTarget(p, machineConfig(), DriverCatalog.location(p));
        List<DynamicNode> areas = new ArrayList<>();
        for (Area a : Area.values()) {
            List<DynamicNode> tests = new ArrayList<>();
            for (Rule r : RuleCatalog.of(a)) {
                tests.add(DynamicTest.dynamicTest(r.id() + " " + r.title(), () -> verdict(RuleRunner.run(target, r))));
            }
            areas.add(DynamicContainer.dynamicContainer(a.prefix() + ": " + a.title(), tests));
        }
        return areas.stream();
    }

    private void verdict(RuleOutcome o) {
        switch (o.status()) {
            case PASSED:
                return;
            case SKIPPED:
                throw new TestAbortedException(o.message());
            default:
                String msg = o.rule().id() + " (" + o.rule().level() + "): " + o.message() + "\n  reference: " + o.rule().reference();
                if (o.rule().level() == Level.OPTIONAL && !failOnOptional()) {
                    throw new TestAbortedException("optional rule not met: " + msg);
                }
                throw new AssertionFailedError(msg, o.cause());
        }
    }
}
