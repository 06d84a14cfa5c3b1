package dev.iommufd.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.mock.MockIommuProvider;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.tck.RuleOutcome.Status;
import dev.iommufd.tck.broken.WrappingProvider;
import dev.iommufd.tck.rules.RuleCatalog;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The registry's shape, and what happens to a driver the TCK cannot run. */
class RuleCatalogTest {

    @Test
    void everyRuleIsNumberedReferencedAndUnique() {
        Set<String> ids = new HashSet<>();
        for (Rule r : RuleCatalog.all()) {
            assertTrue(r.id().matches(r.area().prefix() + "-[1-9][0-9]*"), r.id());
            assertTrue(ids.add(r.id()), "duplicate " + r.id());
            assertFalse(r.reference().isBlank(), r.id() + " has no reference");
            assertTrue(r.title().endsWith("."), r.id() + " title should be a sentence");
        }
        for (Area a : Area.values()) {
            assertFalse(RuleCatalog.of(a).isEmpty(), "area " + a + " has no rule");
        }
        assertEquals(RuleCatalog.all().size(), ids.size());
    }

    @Test
    void aRuleIdMustCarryItsAreaPrefix() {
        try {
            Rule.required("MAP-1", Area.DISCOVERY, "t.", "r", f -> { });
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().contains("DISC"));
            return;
        }
        throw new AssertionError("a mislabelled rule id was accepted");
    }

    /** A driver without a reference machine fails DISC-4 (required), and the machine rules say why they skipped. */
    @Test
    void driverWithoutMachineFailsLoudly() {
        WrappingProvider p = new WrappingProvider() {
            @Override
            public String id() {
                return "broken-nomachine";
            }

            @Override
            protected String defect() {
                return "declares no reference machine";
            }

            @Override
            public Optional<MachineConfig> referenceMachine() {
                return Optional.empty();
            }
        };
        DriverReport r = TckRun.run(List.of(TckTarget.of(p, "test")), null, new PrintStream(OutputStream.nullOutputStream()))
                .drivers().get(0);
        assertEquals(Status.FAILED, r.outcome("DISC-4").status());
        assertTrue(r.outcome("DISC-4").message().contains("referenceMachine()"), r.outcome("DISC-4").message());
        assertEquals(Status.SKIPPED, r.outcome("MAP-1").status(), r.outcome("MAP-1").message());
        assertTrue(r.outcome("MAP-1").message().contains("see DISC-4"), r.outcome("MAP-1").message());
        assertTrue(r.requiredFailures() > 0);
    }

    /** A machine that cannot be built is a failure of every rule that needs it, naming the cause. */
    @Test
    void unbuildableMachineIsAFailureNotASkip() {
        MachineConfig bad = MachineConfig.builder(dev.iommufd.platform.MachineProfile.Q35).ramSize(512L << 20)
                .iommu(dev.iommufd.platform.IommuUnitConfig.of("mock0", "mock", "no-such-preset")).build();
        DriverReport r = TckRun.run(List.of(new TckTarget(new MockIommuProvider(), bad, "test")), null,
                new PrintStream(OutputStream.nullOutputStream())).drivers().get(0);
        assertEquals(Status.FAILED, r.outcome("TLB-1").status());
        assertTrue(r.outcome("TLB-1").message().contains("cannot be built"), r.outcome("TLB-1").message());
    }

    /** The vendor guide's rule tables are generated from the registry and must not go stale. */
    @Test
    void vendorGuideListsTheCurrentCatalogue() throws Exception {
        String guide = java.nio.file.Files.readString(java.nio.file.Path.of("VENDOR-GUIDE.md"));
        assertTrue(guide.contains(dev.iommufd.tck.report.RuleCatalogue.markdown()),
                "regenerate section 7 of tck/VENDOR-GUIDE.md with TckLauncher --list-rules --markdown");
        long required = RuleCatalog.all().stream().filter(r -> r.level() == Level.REQUIRED).count();
        assertTrue(guide.contains(RuleCatalog.all().size() + " rules: " + required + " REQUIRED"), "rule counts in the guide");
    }
}
