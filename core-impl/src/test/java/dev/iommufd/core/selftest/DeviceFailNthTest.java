package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.core.FaultInjection;
import dev.iommufd.mock.MockIommu;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;
import java.util.function.ToIntFunction;
import org.junit.jupiter.api.Test;

/**
 * Ports of tools/testing/selftests/iommu/iommufd_fail_nth.c for the device/domain paths (map_domain,
 * map_two_domains, device): each scenario runs with the N-th injection point failing, for N = 1, 2, ... until no
 * point is reached; after every run the file is closed and nothing may stay pinned, no object may leak, and the mock
 * driver must not have seen a contract violation (a domain freed with mappings, an unmap not matching its map).
 * The last run, in which nothing failed, must succeed.
 */
class DeviceFailNthTest {
    private static final long BIG = 256L << 10;

    /** The sweep: per N, a fresh session, {@code setup} (not swept), then {@code body} (0 or -errno) with the N-th point armed. */
    private static void sweep(java.util.function.Consumer<SelftestSession> setup, ToIntFunction<SelftestSession> body) {
        for (int nth = 1; ; nth++) {
            assertTrue(nth < 400, "the scenario never stops reaching injection points");
            SelftestSession s = new SelftestSession();
            try {
                setup.accept(s);
                FaultInjection.arm(nth);
                int rc;
                try {
                    rc = body.applyAsInt(s);
                } finally {
                    nthFired = FaultInjection.disarm();
                }
                s.fd.close();
                assertTrue(s.fd.context().leakedAtRelease().isEmpty(), "objects leaked after fail-nth " + nth);
                for (long off = 0; off < BIG; off += PS) {
                    assertEquals(0, s.proc.pinCount(s.proc.translate(BIG_VA + off)), "pinned after fail-nth " + nth);
                }
                MockIommu driver = (MockIommu) s.subsystem.iommu().drivers().get(0);
                assertEquals(0, driver.warningCount(), "mock driver contract violations after fail-nth " + nth);
                if (nthFired == null) {
                    assertEquals(0, rc, "the run without an injected failure must succeed");
                    assertTrue(nth > 1, "at least one injection point is on the path");
                    return;
                }
            } finally {
                s.machine.close();
            }
        }
    }

    private static String nthFired;
    private static final long BIG_VA = 0x30_0000_0000L;

    private static long big(SelftestSession s) {
        return s.proc.mmap(BIG_VA, BIG, Prot.READ_WRITE, MapKind.ANONYMOUS);
    }

    /** Runs the calls in order and stops at the first failure (as the C body's {@code if (...) return -1}). */
    private static int first(java.util.function.IntSupplier... calls) {
        for (java.util.function.IntSupplier c : calls) {
            int rc = c.getAsInt();
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }

    @Test
    void mapDomain() { // basic_fail_nth.map_domain
        int[] ioas = new int[1];
        sweep(s -> {
            big(s);
            ioas[0] = s.ioasAlloc();
        }, s -> {
            int[] m = new int[3];
            int rc = s.mockDomainRc(ioas[0], 0, m);
            if (rc != 0) {
                return rc;
            }
            rc = s.mapRc(ioas[0], BIG_VA, BIG, 0, RW, new long[1]);
            if (rc != 0) {
                return rc;
            }
            rc = s.destroyRc(m[0]);
            if (rc != 0) {
                return rc;
            }
            return s.mockDomainRc(ioas[0], 0, m);
        });
    }

    @Test
    void mapTwoDomains() { // basic_fail_nth.map_two_domains
        int[] ioas = new int[1];
        int[] first = new int[3];
        sweep(s -> {
            big(s);
            ioas[0] = s.ioasAlloc();
            ok(s.mockDomainRc(ioas[0], 0, first));
        }, s -> {
            int[] second = new int[3];
            int rc = s.mockDomainRc(ioas[0], 0, second);
            if (rc != 0) {
                return rc;
            }
            rc = s.mapRc(ioas[0], BIG_VA, BIG, 0, RW, new long[1]);
            if (rc != 0) {
                return rc;
            }
            rc = first(() -> s.destroyRc(first[0]), () -> s.destroyRc(second[0]));
            if (rc != 0) {
                return rc;
            }
            return first(() -> s.mockDomainRc(ioas[0], 0, first), () -> s.mockDomainRc(ioas[0], 0, second));
        });
    }

    @Test
    void device() { // basic_fail_nth.device (the device/HWPT/PASID part)
        int[] ioas = new int[2];
        sweep(s -> {
            big(s);
            ioas[0] = s.ioasAlloc();
            ioas[1] = s.ioasAlloc();
            s.mapFixed(ioas[0], BIG_VA, PS, MOCK_APERTURE_START);
            s.mapFixed(ioas[1], BIG_VA, PS, MOCK_APERTURE_START);
        }, s -> {
            int[] m = new int[3];
            int rc = s.mockDomainRc(ioas[0], MockSelftestUapi.MOCK_FLAGS_DEVICE_PASID, m);
            if (rc != 0) {
                return rc;
            }
            rc = s.getHwInfoRc(m[2], 0, s.scratch(), 8, struct(IommuHwInfo.SIZE));
            if (rc != 0) {
                return rc;
            }
            int[] hwpt = new int[1];
            rc = s.hwptAllocRc(m[2], ioas[0], IommuHwptAlloc.FLAG_PASID, 0, 0, 0, 0, hwpt);
            if (rc != 0) {
                return rc;
            }
            rc = first(() -> s.replaceRc(m[0], ioas[1], null), () -> s.replaceRc(m[0], hwpt[0], null));
            if (rc != 0) {
                return rc;
            }
            int[] parent = new int[1];
            rc = s.hwptAllocRc(m[2], ioas[0], IommuHwptAlloc.FLAG_NEST_PARENT | IommuHwptAlloc.FLAG_PASID, 0, 0, 0, 0, parent);
            if (rc != 0) {
                return rc;
            }
            s.proc.write64(s.scratch(), MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT);
            int[] nested = new int[1];
            rc = s.hwptAllocRc(m[2], parent[0], IommuHwptAlloc.FLAG_PASID, MockSelftestUapi.IOMMU_HWPT_DATA_SELFTEST,
                    s.scratch(), 4, 0, nested);
            if (rc != 0) {
                return rc;
            }
            int[] test = new int[1];
            rc = s.hwptAllocRc(m[2], ioas[0], IommuHwptAlloc.FLAG_PASID, 0, 0, 0, 0, test);
            if (rc != 0) {
                return rc;
            }
            return first(() -> s.pasidRc(IommuTestCmd.OP_PASID_ATTACH, m[0], 200, parent[0]),
                    () -> s.pasidRc(IommuTestCmd.OP_PASID_REPLACE, m[0], 200, test[0]),
                    () -> s.pasidRc(IommuTestCmd.OP_PASID_REPLACE, m[0], 200, nested[0]),
                    () -> s.pasidRc(IommuTestCmd.OP_PASID_DETACH, m[0], 200, 0));
        });
    }
}
