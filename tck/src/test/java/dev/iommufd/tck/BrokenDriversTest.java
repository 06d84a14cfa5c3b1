package dev.iommufd.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.mock.MockIommuProvider;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.tck.RuleOutcome.Status;
import dev.iommufd.tck.broken.FalseCapabilityProvider;
import dev.iommufd.tck.broken.ForgetsInvalidationProvider;
import dev.iommufd.tck.broken.LeaksTablesProvider;
import dev.iommufd.tck.broken.OptionalOnlyProvider;
import dev.iommufd.tck.broken.UndeclaredCapabilityProvider;
import dev.iommufd.tck.broken.WrongErrnoProvider;
import dev.iommufd.tck.broken.WrongPermissionProvider;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The TCK checks itself: each deliberately broken driver (the mock with one defect) is caught by the rule that
 * names the defect, with a message that tells the implementer what to check, while the mock itself passes those
 * rules. A TCK rule that could not fail would show here as a broken driver passing.
 */
class BrokenDriversTest {

    private static DriverReport mock;

    @BeforeAll
    static void runMock() {
        mock = contract(new MockIommuProvider());
    }

    static DriverReport contract(IommuDriverProvider p) {
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        return TckRun.run(List.of(TckTarget.of(p, "test")), null, quiet).drivers().get(0);
    }

    /** Fails unless {@code rule} failed on {@code report} with a message containing every fragment, and passed on the mock. */
    static void caught(DriverReport report, String rule, String... fragments) {
        RuleOutcome o = report.outcome(rule);
        assertEquals(Status.FAILED, o.status(), () -> rule + " should catch " + report.id() + " but was " + o.status() + " " + o.message());
        for (String f : fragments) {
            assertTrue(o.message().contains(f), () -> rule + " message should mention '" + f + "': " + o.message());
        }
        assertEquals(Status.PASSED, mock.outcome(rule).status(), () -> "the mock must pass " + rule + ": " + mock.outcome(rule).message());
    }

    static List<String> failedIds(DriverReport r) {
        return r.outcomes().stream().filter(o -> o.status() == Status.FAILED).map(o -> o.rule().id()).collect(Collectors.toList());
    }

    @Test
    void mockPassesEveryRequiredRule() {
        assertEquals(List.of(), failedIds(mock), () -> "mock failures: " + mock.outcomes().stream()
                .filter(o -> o.status() == Status.FAILED).map(o -> o.rule().id() + ": " + o.message()).collect(Collectors.joining("\n")));
        assertEquals(0, mock.requiredFailures());
        assertTrue(mock.count(Status.PASSED) > mock.outcomes().size() * 9 / 10, "the mock should exercise nearly every rule");
    }

    /** Kernel behaviour pinned: iotlb_sync must invalidate before the IOVA can be reused (TLB-2, TLB-3, E2E-3). */
    @Test
    void forgottenInvalidationIsCaughtByTheStaleEntry() {
        DriverReport r = contract(new ForgetsInvalidationProvider());
        caught(r, "TLB-2", "stale IOTLB entry", "iotlb_sync must invalidate");
        caught(r, "TLB-3", "stale IOTLB entry for the old page");
        caught(r, "E2E-3", "IOMMU_IOAS_UNMAP");
        caught(r, "TLB-7", "stale PASID-tagged IOTLB entry");
        assertTrue(r.requiredFailures() > 0);
    }

    /** IOMMU_READ alone must produce a read-only leaf (MAP-14) and a READABLE IOAS map must be read-only (E2E-2). */
    @Test
    void wrongPermissionIsCaughtByDmaWrite() {
        DriverReport r = contract(new WrongPermissionProvider());
        caught(r, "MAP-14", "READ-only mapping", "prot-to-PTE");
        caught(r, "E2E-2", "READABLE-only");
    }

    /** Every table frame comes back after free (DOM-4), under concurrency too (CONC-1), and end to end (E2E-5). */
    @Test
    void leakedTablePagesAreCounted() {
        DriverReport r = contract(new LeaksTablesProvider());
        caught(r, "DOM-4", "frames are still allocated");
        caught(r, "CONC-1", "frames are still allocated");
        caught(r, "E2E-5", "frames remain allocated");
    }

    /** A declared capability must work: DIRTY_TRACKING declared but refused fails CAP-5 and the DIRTY rules. */
    @Test
    void declaredButMissingCapabilityFails() {
        DriverReport r = contract(new FalseCapabilityProvider());
        caught(r, "CAP-5", "allocPagingDomain(DIRTY_TRACKING) must succeed", "EOPNOTSUPP", "DIRTY_TRACKING is declared");
        assertEquals(Status.FAILED, r.outcome("DIRTY-1").status());
    }

    /** An undeclared capability must fail with EOPNOTSUPP: NESTING working while undeclared fails CAP-4. */
    @Test
    void undeclaredButWorkingCapabilityFails() {
        DriverReport r = contract(new UndeclaredCapabilityProvider());
        caught(r, "CAP-4", "must fail with EOPNOTSUPP but succeeded", "declare NESTING");
        assertEquals(Status.SKIPPED, r.outcome("NEST-1").status(), "rules needing an undeclared capability are skipped");
        assertTrue(r.outcome("NEST-1").message().contains("does not declare"), r.outcome("NEST-1").message());
    }

    /** CAP-10: deviceCapable(d, c) implies c is declared; a per-device claim beyond capabilities() is caught. */
    @Test
    void deviceCapableBeyondDeclaredIsCaught() {
        DriverReport r = contract(new dev.iommufd.tck.broken.OverclaimingDeviceProvider());
        caught(r, "CAP-10", "deviceCapable(", "DIRTY_TRACKING) is true but DIRTY_TRACKING is not declared");
        assertEquals(Status.PASSED, r.outcome("CAP-5").status(), "the undeclared path itself is right: " + r.outcome("CAP-5").message());
    }

    /**
     * CAP-12: declared but not deviceCapable must fail with EOPNOTSUPP (intel_iommu_domain_alloc_paging_flags:
     * NEST_PARENT without nested support is -EOPNOTSUPP); a silent success is caught, naming the device.
     */
    @Test
    void declaredButNotDeviceCapableSucceedingIsCaught() {
        DriverReport r = contract(new dev.iommufd.tck.broken.SilentNotCapableProvider());
        caught(r, "CAP-12", "allocPagingDomain(NEST_PARENT) for 0000:00:03.0, not deviceCapable(NESTING) must fail with EOPNOTSUPP "
                + "but succeeded", "NESTING is declared but deviceCapable(0000:00:03.0, NESTING) is false");
        assertEquals(List.of("CAP-12"), failedIds(r), "the capable functions still pass the NESTING rules");
        assertEquals(Status.PASSED, r.outcome("NEST-1").status(), r.outcome("NEST-1").message());
    }

    /** CAP-12: a crash (not an ErrnoException) on the not-deviceCapable path is caught as such. */
    @Test
    void declaredButNotDeviceCapableCrashingIsCaught() {
        DriverReport r = contract(new dev.iommufd.tck.broken.CrashingNotCapableProvider());
        caught(r, "CAP-12", "allocPagingDomain(DIRTY_TRACKING) for 0000:00:03.0", "must fail with ErrnoException(EOPNOTSUPP) but threw "
                + "java.lang.NullPointerException");
        assertEquals(Status.PASSED, r.outcome("DIRTY-1").status(), "DIRTY rules pick a deviceCapable function: "
                + r.outcome("DIRTY-1").message());
    }

    /**
     * CAP-12, attach-time: a DIRTY_TRACKING domain must not attach to a device that is not dirty capable (intel
     * paging_domain_compatible, selftest mock_domain_nop_attach: -EINVAL).
     */
    @Test
    void missingAttachTimeCheckIsCaught() {
        DriverReport r = contract(new dev.iommufd.tck.broken.MissingAttachCheckProvider());
        caught(r, "CAP-12", "attachDevice(0000:00:03.0) of a DIRTY_TRACKING domain allocated for 0000:00:05.0 must fail with EINVAL "
                + "but succeeded", "paging_domain_compatible");
    }

    /** CAP-11: the reference machine must exercise every declared capability; consistent refusal everywhere is caught. */
    @Test
    void declaredCapabilityMissingOnTheReferenceMachineIsCaught() {
        DriverReport r = contract(new dev.iommufd.tck.broken.WeakReferenceMachineProvider());
        caught(r, "CAP-11", "no PCI function is deviceCapable for declared [DIRTY_TRACKING]");
        assertEquals(List.of("CAP-11"), failedIds(r), "every per-device rule passes: the weak machine is the only defect");
        assertEquals(Status.SKIPPED, r.outcome("DIRTY-1").status());
        assertTrue(r.outcome("DIRTY-1").message().contains("CAP-12"), r.outcome("DIRTY-1").message());
    }

    /** The IOTLB must be flushed after dirty bits are cleared (iopt_read_and_clear_dirty_data syncs the gather). */
    @Test
    void dirtyClearWithoutFlushIsCaught() {
        DriverReport r = contract(new dev.iommufd.tck.broken.StaleDirtyProvider());
        caught(r, "DIRTY-4", "was not reported dirty", "DirtyRecorder.gather()");
    }

    /** io-pgtable's -EEXIST for a map over a live entry (MAP-5). */
    @Test
    void wrongErrnoIsNamed() {
        DriverReport r = contract(new WrongErrnoProvider());
        caught(r, "MAP-5", "must fail with EEXIST but failed with EINVAL");
        assertEquals(List.of("MAP-5"), failedIds(r), "only the errno rule should fail");
    }

    /** A window of outstanding requests: a fault must not stop the requests after it (TLB-8). */
    @Test
    void windowThatStopsAtAFaultIsCaught() {
        DriverReport r = contract(new dev.iommufd.tck.broken.WindowStopsAtFaultProvider());
        caught(r, "TLB-8", "a fault must not stop the requests after it", "translate() alone gives");
    }

    /** An OPTIONAL failure is reported but does not fail the run. */
    @Test
    void optionalFailureDoesNotFailTheRun() {
        DriverReport r = contract(new OptionalOnlyProvider());
        caught(r, "MAP-13", "return the bytes up to the hole");
        assertEquals(List.of("MAP-13"), failedIds(r));
        assertEquals(0, r.requiredFailures());
        assertEquals(0, new TckResult(List.of(r)).exitCode());
    }
}
