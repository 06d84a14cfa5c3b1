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

    /**
     * The machines the whole contract runs on: by default {@link #machineConfig()} alone. Override to run it on
     * several (each preset of your hardware model, other device mixes); with more than one, every machine gets a
     * container of its own named after its units ({@link TckTarget#describe}). {@link TckTarget#withPreset} derives
     * a machine from the reference machine with another hardware preset. Every REQUIRED rule must pass on each:
     * a capability a machine's units or functions lack is checked through its EOPNOTSUPP path (CAP-12).
     */
    protected List<MachineConfig> machineConfigs() {
        return java.util.Collections.singletonList(machineConfig());
    }

    /** Whether a failed OPTIONAL rule fails its JUnit test (default: reported as aborted). */
    protected boolean failOnOptional() {
        return false;
    }

    @TestFactory
    Stream<DynamicNode> driverContract() {
        IommuDriverProvider p = provider();
        List<MachineConfig> machines = machineConfigs();
        if (machines.size() == 1) {
            return contract(new TckTarget(p, machines.get(0), DriverCatalog.location(p))).stream();
        }
        List<DynamicNode> out = new ArrayList<>();
        for (int i = 0; i < machines.size(); i++) {
            MachineConfig m = machines.get(i);
            out.add(DynamicContainer.dynamicContainer("machine " + (i + 1) + ": " + (m == null ? "none" : TckTarget.describe(m)),
                    contract(new TckTarget(p, m, DriverCatalog.location(p)))));
        }
        return out.stream();
    }

    private List<DynamicNode> contract(TckTarget target) {
        List<DynamicNode> areas = new ArrayList<>();
        for (Area a : Area.values()) {
            List<DynamicNode> tests = new ArrayList<>();
            for (Rule r : RuleCatalog.of(a)) {
                tests.add(DynamicTest.dynamicTest(r.id() + " " + r.title(), () -> verdict(RuleRunner.run(target, r))));
            }
            areas.add(DynamicContainer.dynamicContainer(a.prefix() + ": " + a.title(), tests));
        }
        return areas;
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
