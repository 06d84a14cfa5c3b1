package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.mock.MockSelftestUapi;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Port of FIXTURE(iommufd_device_pasid) TEST_F(pasid_attach) of tools/testing/selftests/iommu/iommufd.c for both
 * variants (no_pasid: with a second, non-PASID device; has_pasid). The FAULT-queue steps (the iopf HWPT, pasid 2048
 * with TRIGGER_IOPF) are ported in {@link FaultQueueTest}; nested[2] (allocated on a vIOMMU, unused) is left out.
 */
class IommufdDevicePasidTest {
    private static final int ATTACH = IommuTestCmd.OP_PASID_ATTACH;
    private static final int REPLACE = IommuTestCmd.OP_PASID_REPLACE;
    private static final int DETACH = IommuTestCmd.OP_PASID_DETACH;
    private static final int CHECK = IommuTestCmd.OP_PASID_CHECK_HWPT;

    @ParameterizedTest(name = "pasid_capable={0}")
    @ValueSource(booleans = {false, true})
    void pasidAttach(boolean pasidCapable) {
        try (SelftestSession s = new SelftestSession()) {
            int ioas = s.ioasAlloc();
            int[] main = s.mockDomain(ioas, MockSelftestUapi.MOCK_FLAGS_DEVICE_PASID);
            int stdev = main[0];
            int dev = main[2];
            int noPasidStdev = 0;
            if (!pasidCapable) {
                noPasidStdev = s.mockDomain(ioas, 0)[0];
            }
            int pasid = 100;
            long data = s.scratch();
            s.proc.write64(data, MockSelftestUapi.IOMMU_TEST_IOTLB_DEFAULT & 0xffff_ffffL);
            int sel = MockSelftestUapi.IOMMU_HWPT_DATA_SELFTEST;

            // 1. detaching an unattached PASID is fine
            ok(s.pasidRc(DETACH, stdev, pasid, 0));

            // 2. the HWPTs
            int parent = s.hwptAlloc(dev, ioas, IommuHwptAlloc.FLAG_NEST_PARENT);
            int[] nested = new int[2];
            int[] out = new int[1];
            for (int i = 0; i < 2; i++) {
                ok(s.hwptAllocRc(dev, parent, IommuHwptAlloc.FLAG_PASID, sel, data, 4, 0, out));
                nested[i] = out[0];
            }
            int s2 = s.hwptAlloc(dev, ioas, IommuHwptAlloc.FLAG_PASID);

            // 3. the RID on a non-PASID-compatible domain blocks PASID attach
            s.replace(stdev, parent);
            err(Errno.EINVAL, s.pasidRc(ATTACH, stdev, pasid, s2));

            // 4. with a PASID attached, the RID cannot move to a non-PASID-compatible domain
            s.replace(stdev, s2);
            ok(s.pasidRc(ATTACH, stdev, pasid, nested[0]));
            err(Errno.EINVAL, s.replaceRc(stdev, parent, null));
            ok(s.pasidRc(DETACH, stdev, pasid, 0));
            ok(s.pasidRc(CHECK, stdev, pasid, 0));

            // 5. a PASID-compatible domain serves a non-PASID device's RID; that device has no PASIDs to attach
            if (!pasidCapable) {
                s.replace(noPasidStdev, nested[0]);
                s.replace(noPasidStdev, ioas);
                err(Errno.EINVAL, s.pasidRc(ATTACH, noPasidStdev, pasid, parent));
                err(Errno.EINVAL, s.pasidRc(ATTACH, noPasidStdev, pasid, s2));
            }

            // 6. a non-PASID HWPT, or an IOAS, cannot be attached to a PASID
            err(Errno.EINVAL, s.pasidRc(ATTACH, stdev, pasid, parent));
            ok(s.pasidRc(CHECK, stdev, pasid, 0));
            err(Errno.EINVAL, s.pasidRc(ATTACH, stdev, pasid, ioas));
            ok(s.pasidRc(CHECK, stdev, pasid, 0));

            // 7. attach does not overwrite
            ok(s.pasidRc(ATTACH, stdev, pasid, s2));
            ok(s.pasidRc(CHECK, stdev, pasid, s2));
            err(Errno.EBUSY, s.pasidRc(ATTACH, stdev, pasid, nested[0]));
            ok(s.pasidRc(DETACH, stdev, pasid, 0));
            ok(s.pasidRc(CHECK, stdev, pasid, 0));

            // 8. nor does attaching the same HWPT twice
            ok(s.pasidRc(ATTACH, stdev, pasid, nested[0]));
            ok(s.pasidRc(CHECK, stdev, pasid, nested[0]));
            err(Errno.EBUSY, s.pasidRc(ATTACH, stdev, pasid, nested[0]));
            ok(s.pasidRc(DETACH, stdev, pasid, 0));

            // 9. replace
            pasid = 200;
            err(Errno.EINVAL, s.pasidRc(REPLACE, stdev, pasid, s2));
            ok(s.pasidRc(ATTACH, stdev, pasid, s2));
            ok(s.pasidRc(CHECK, stdev, pasid, s2));
            err(Errno.EINVAL, s.pasidRc(REPLACE, stdev, pasid, ioas));
            ok(s.pasidRc(CHECK, stdev, pasid, s2));
            ok(s.pasidRc(REPLACE, stdev, pasid, nested[0]));
            ok(s.pasidRc(CHECK, stdev, pasid, nested[0]));
            err(Errno.EINVAL, s.pasidRc(CHECK, stdev, pasid, s2));
            ok(s.pasidRc(REPLACE, stdev, pasid, nested[1]));
            ok(s.pasidRc(CHECK, stdev, pasid, nested[1]));
            ok(s.pasidRc(DETACH, stdev, pasid, 0));

            // 10. a failed replace keeps the old domain (the mock fails the replace of pasid 1024 once)
            pasid = MockSelftestUapi.IOMMU_TEST_PASID_RESERVED;
            ok(s.pasidRc(ATTACH, stdev, pasid, s2));
            ok(s.pasidRc(CHECK, stdev, pasid, s2));
            err(Errno.ENOMEM, s.pasidRc(REPLACE, stdev, pasid, nested[0]));
            ok(s.pasidRc(CHECK, stdev, pasid, s2));
            err(Errno.EBUSY, s.destroyRc(s2)); // still attached at pasid 1024 (and the RID)
            ok(s.pasidRc(DETACH, stdev, pasid, 0));

            // 12. back to the IOAS
            s.replace(stdev, ioas);
            s.destroy(nested[0]);
            s.destroy(nested[1]);
            s.destroy(s2);
            s.teardown();
        }
    }
}
