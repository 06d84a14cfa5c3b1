package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.MOCK_APERTURE_START;
import static dev.iommufd.core.selftest.SelftestSession.PS;
import static dev.iommufd.core.selftest.SelftestSession.err;
import static dev.iommufd.core.selftest.SelftestSession.ok;
import static dev.iommufd.mock.MockSelftestUapi.IOMMU_TEST_DEV_CACHE_DEFAULT;
import static dev.iommufd.mock.MockSelftestUapi.IOMMU_TEST_INVALIDATE_FLAG_ALL;
import static dev.iommufd.mock.MockSelftestUapi.IOMMU_VEVENTQ_TYPE_SELFTEST;
import static dev.iommufd.mock.MockSelftestUapi.IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST;
import static dev.iommufd.mock.MockSelftestUapi.IOMMU_VIOMMU_INVALIDATE_SELFTEST_SIZE;
import static dev.iommufd.mock.MockSelftestUapi.IOMMU_VIOMMU_TYPE_SELFTEST;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuHwQueueAlloc;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.mock.MockViommu;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Port of tools/testing/selftests/iommu/iommufd.c FIXTURE(iommufd_viommu), variants no_viommu (false) and
 * mock_viommu (true). Setup with a vIOMMU: a mock device on the IOAS, a NEST_PARENT HWPT, a SELFTEST vIOMMU on it and
 * a nested HWPT allocated through the vIOMMU. Teardown is teardown_iommufd (no pin left after close).
 */
class IommufdViommuTest {
    private SelftestSession s;
    private ViommuCalls v;
    private int ioasId;
    private int stdevId;
    private int hwptId;
    private int nestedHwptId;
    private int deviceId;
    private int viommuId;

    private void setUp(boolean viommu) {
        s = new SelftestSession();
        v = new ViommuCalls(s);
        ioasId = s.ioasAlloc();
        if (viommu) {
            int[] md = s.mockDomain(ioasId);
            stdevId = md[0];
            deviceId = md[2];
            hwptId = s.hwptAlloc(deviceId, ioasId, IommuHwptAlloc.FLAG_NEST_PARENT);
            viommuId = v.viommuAlloc(deviceId, hwptId);
            nestedHwptId = v.hwptAllocSelftest(deviceId, viommuId, 0, 0);
        }
    }

    @AfterEach
    void teardown() {
        if (s != null) {
            s.teardown();
            s.machine.close();
        }
    }

    /** iommufd_viommu.viommu_auto_destroy: closing the file destroys nested HWPT, vIOMMU and parent. */
    @ParameterizedTest(name = "viommu {0}")
    @ValueSource(booleans = {false, true})
    void viommuAutoDestroy(boolean viommu) {
        setUp(viommu);
        if (viommu) {
            assertTrue(s.fd.context().objects().isLive(viommuId, dev.iommufd.core.ObjectKind.VIOMMU));
        }
    }

    /** iommufd_viommu.viommu_negative_tests. */
    @ParameterizedTest(name = "viommu {0}")
    @ValueSource(booleans = {false, true})
    void viommuNegativeTests(boolean viommu) {
        setUp(viommu);
        if (deviceId != 0) {
            err(Errno.ENOENT, v.viommuAllocRc(deviceId, 0, IOMMU_VIOMMU_TYPE_SELFTEST, null, null));
            int hwpt = s.hwptAlloc(deviceId, ioasId, 0);
            err(Errno.EINVAL, v.viommuAllocRc(deviceId, hwpt, IOMMU_VIOMMU_TYPE_SELFTEST, null, null));
            s.destroy(hwpt);
            err(Errno.EOPNOTSUPP, v.viommuAllocRc(deviceId, hwptId, 0xdead, null, null));
            err(Errno.EBUSY, s.destroyRc(hwptId));
            err(Errno.EBUSY, s.destroyRc(viommuId));
        } else {
            err(Errno.ENOENT, v.viommuAllocRc(0, 0, IOMMU_VIOMMU_TYPE_SELFTEST, null, null));
        }
    }

    /** iommufd_viommu.viommu_alloc_nested_iopf. */
    @ParameterizedTest(name = "viommu {0}")
    @ValueSource(booleans = {false, true})
    void viommuAllocNestedIopf(boolean viommu) {
        setUp(viommu);
        if (deviceId == 0) {
            return; // SKIP
        }
        int[] fault = v.faultAlloc();
        assertNotEquals(0, fault[0]);
        int[] out = new int[1];
        err(Errno.ENOENT, v.hwptAllocSelftestRc(deviceId, viommuId, -1, IommuHwptAlloc.FLAG_FAULT_ID_VALID, out));
        err(Errno.EOPNOTSUPP, v.hwptAllocSelftestRc(deviceId, viommuId, fault[0], IommuHwptAlloc.FLAG_FAULT_ID_VALID | (1 << 31), out));
        int iopfHwpt = v.hwptAllocSelftest(deviceId, viommuId, fault[0], IommuHwptAlloc.FLAG_FAULT_ID_VALID);
        err(Errno.ENOENT, s.replaceRc(stdevId, iopfHwpt, null));
        v.vdeviceAlloc(viommuId, deviceId, 0x99);
        s.replace(stdevId, iopfHwpt);
        err(Errno.EBUSY, s.destroyRc(iopfHwpt));
        UserStruct rec = v.triggerIopf(deviceId, 0x1, fault[1]);
        assertEquals(deviceId, rec.u32(dev.iommufd.api.uapi.IommuHwptPgfault.OFFSET_DEV_ID));
        s.replace(stdevId, ioasId);
        s.destroy(iopfHwpt);
        v.file(fault[1]).close();
        s.destroy(fault[0]);
    }

    /**
     * iommufd_viommu.viommu_alloc_with_data: out_data == in_data; the vIOMMU's MMIO region is mmap-able on the
     * iommufd file only at exactly out_mmap_offset / out_mmap_length (test_err_mmap ENXIO ×4), the mapping reads
     * in_data (the mock's loopback page), and the mapping holds the vIOMMU (IOMMU_DESTROY → EBUSY until munmap).
     */
    @ParameterizedTest(name = "viommu {0}")
    @ValueSource(booleans = {false, true})
    void viommuAllocWithData(boolean viommu) {
        setUp(viommu);
        if (deviceId == 0) {
            return;
        }
        byte[] data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(0xbeef).array();
        int[] out = new int[1];
        ok(v.viommuAllocRc(deviceId, hwptId, IOMMU_VIOMMU_TYPE_SELFTEST, data, out));
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xbeef, b.getInt(4), "out_data");
        long mmapOffset = b.getLong(8);
        long mmapLength = b.getLong(16);
        assertEquals(MockViommu.MMAP_LENGTH, mmapLength, "out_mmap_length");
        int rw = dev.iommufd.platform.Prot.READ_WRITE;
        // Negative mmap tests -- offset and length cannot be changed.
        assertEquals(Errno.ENXIO, mmapErrno(mmapLength, rw, mmapOffset + PS));
        assertEquals(Errno.ENXIO, mmapErrno(mmapLength, rw, mmapOffset + 2 * PS));
        assertEquals(Errno.ENXIO, mmapErrno(mmapLength / 2, rw, mmapOffset));
        assertEquals(Errno.ENXIO, mmapErrno(mmapLength * 2, rw, mmapOffset));
        long mmapBuf = s.fd.mmap(mmapLength, rw, mmapOffset); // the loopback mapping
        assertEquals(0xbeef, (int) s.proc.read64(mmapBuf), "*(u32 *)mmap_buf == in_data");
        err(Errno.EBUSY, s.destroyRc(out[0])); // the owner of the mmap region is blocked
        s.proc.munmap(mmapBuf, mmapLength);
        // (not in the selftest: munmap gave the reference back)
        ok(s.destroyRc(out[0]));
    }

    private Errno mmapErrno(long length, int prot, long offset) {
        return org.junit.jupiter.api.Assertions.assertThrows(dev.iommufd.api.ErrnoException.class,
                () -> s.fd.mmap(length, prot, offset)).errno();
    }

    /** iommufd_viommu.vdevice_alloc (with its vEVENTQ part). */
    @ParameterizedTest(name = "viommu {0}")
    @ValueSource(booleans = {false, true})
    void vdeviceAlloc(boolean viommu) {
        setUp(viommu);
        if (deviceId == 0) {
            err(Errno.ENOENT, v.vdeviceAllocRc(0, 0, 0x99, null));
            return;
        }
        int[] prevSeq = {-1};
        err(Errno.ENOENT, s.replaceRc(stdevId, nestedHwptId, null));
        int[] q = new int[2];
        ok(v.veventqAllocRc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 2, q));
        err(Errno.EEXIST, v.veventqAllocRc(viommuId, IOMMU_VEVENTQ_TYPE_SELFTEST, 2, null));

        int vdev = v.vdeviceAlloc(viommuId, deviceId, 0x99);
        s.replace(stdevId, nestedHwptId);
        v.triggerVevents(deviceId, 1);
        assertEquals(0, v.readVevents(q[1], 1, 0x99, prevSeq));
        err(Errno.EEXIST, v.vdeviceAllocRc(viommuId, deviceId, 0x99, null));
        s.replace(stdevId, ioasId);
        s.destroy(vdev);

        vdev = v.vdeviceAlloc(viommuId, deviceId, 0x88);
        s.replace(stdevId, nestedHwptId);
        v.triggerVevents(deviceId, 3);
        assertEquals(Errno.EOVERFLOW.number(), v.readVevents(q[1], 3, 0x88, prevSeq));
        v.triggerVevents(deviceId, 1);
        assertEquals(0, v.readVevents(q[1], 1, 0x88, prevSeq));
        v.file(q[1]).close();
        s.replace(stdevId, ioasId);
        s.destroy(vdev);
        s.destroy(q[0]);
    }

    /** iommufd_viommu.vdevice_cache: IOMMU_HWPT_INVALIDATE with hwpt_id = the vIOMMU. */
    @ParameterizedTest(name = "viommu {0}")
    @ValueSource(booleans = {false, true})
    void vdeviceCache(boolean viommu) {
        setUp(viommu);
        if (deviceId == 0) {
            return;
        }
        int vdev = v.vdeviceAlloc(viommuId, deviceId, 0x99);
        s.checkDevCacheAll(deviceId, IOMMU_TEST_DEV_CACHE_DEFAULT);
        long reqs = s.scratch();
        int len = IOMMU_VIOMMU_INVALIDATE_SELFTEST_SIZE;
        int type = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST;
        int[] n = {0};
        ok(s.invalidateRc(viommuId, reqs, type, len, n));
        assertEquals(0, n[0]);
        n[0] = 1;
        writeReqs(reqs, 0, 0, 0, 0, 0, 0); // inv_reqs[2] = {} until the flags test
        err(Errno.EINVAL, s.invalidateRc(viommuId, reqs, type + 1, len, n));
        assertEquals(0, n[0]);
        n[0] = 1;
        err(Errno.EINVAL, s.invalidateRc(viommuId, reqs, type, len + 1, n));
        assertEquals(0, n[0]);
        n[0] = 1;
        err(Errno.EINVAL, s.invalidateRc(viommuId, reqs, type, 1, n));
        assertEquals(0, n[0]);
        n[0] = 1;
        writeReqs(reqs, 0xffffffff, 0x99, 0);
        err(Errno.EOPNOTSUPP, s.invalidateRc(viommuId, reqs, type, len, n));
        assertEquals(0, n[0]);
        n[0] = 1;
        err(Errno.EINVAL, s.invalidateRc(viommuId, 0, type, len, n));
        assertEquals(0, n[0]);
        n[0] = 1;
        err(Errno.EINVAL, s.invalidateRc(viommuId, reqs, type, 0, n));
        assertEquals(0, n[0]);
        n[0] = 1;
        writeReqs(reqs, 0, 0x99, 4);
        err(Errno.EINVAL, s.invalidateRc(viommuId, reqs, type, len, n));
        assertEquals(0, n[0]);
        n[0] = 1;
        writeReqs(reqs, 0, 0x9, 0);
        err(Errno.EINVAL, s.invalidateRc(viommuId, reqs, type, len, n));
        assertEquals(0, n[0]);

        n[0] = 2;
        writeReqs(reqs, 0, 0x99, 0, 0xffffffff, 0x99, 1);
        err(Errno.EOPNOTSUPP, s.invalidateRc(viommuId, reqs, type, len, n));
        assertEquals(1, n[0]);
        checkCaches(0, IOMMU_TEST_DEV_CACHE_DEFAULT, IOMMU_TEST_DEV_CACHE_DEFAULT, IOMMU_TEST_DEV_CACHE_DEFAULT);

        n[0] = 2;
        writeReqs(reqs, 0, 0x99, 0, 0, 0x99, 4);
        err(Errno.EINVAL, s.invalidateRc(viommuId, reqs, type, len, n));
        assertEquals(1, n[0]);
        checkCaches(0, IOMMU_TEST_DEV_CACHE_DEFAULT, IOMMU_TEST_DEV_CACHE_DEFAULT, IOMMU_TEST_DEV_CACHE_DEFAULT);

        n[0] = 1;
        writeReqs(reqs, 0, 0x99, 1);
        ok(s.invalidateRc(viommuId, reqs, type, len, n));
        assertEquals(1, n[0]);
        checkCaches(0, 0, IOMMU_TEST_DEV_CACHE_DEFAULT, IOMMU_TEST_DEV_CACHE_DEFAULT);

        n[0] = 2;
        writeReqs(reqs, 0, 0x99, 2, 0, 0x99, 3);
        ok(s.invalidateRc(viommuId, reqs, type, len, n));
        assertEquals(2, n[0]);
        checkCaches(0, 0, 0, 0);

        // FLAG_ALL after resetting nothing: every cache stays 0, and the call handles one entry.
        n[0] = 1;
        writeReqs(reqs, IOMMU_TEST_INVALIDATE_FLAG_ALL, 0x99, 0);
        ok(s.invalidateRc(viommuId, reqs, type, len, n));
        assertEquals(1, n[0]);
        checkCaches(0, 0, 0, 0);
        s.destroy(vdev);
    }

    private void writeReqs(long va, int... fields) {
        UserStruct u = new UserStruct(fields.length * 4);
        for (int i = 0; i < fields.length; i++) {
            u.put32(i * 4, fields[i]);
        }
        s.proc.write(va, u.bytes(), 0, u.size());
    }

    private void checkCaches(int... expected) {
        for (int i = 0; i < expected.length; i++) {
            ok(s.test(SelftestSession.testCmd(IommuTestCmd.OP_DEV_CHECK_CACHE, deviceId)
                    .put32(IommuTestCmd.OFFSET_CHECK_DEV_CACHE_ID, i).put32(IommuTestCmd.OFFSET_CHECK_DEV_CACHE_CACHE, expected[i])));
        }
    }

    /** iommufd_viommu.hw_queue. */
    @ParameterizedTest(name = "viommu {0}")
    @ValueSource(booleans = {false, true})
    void hwQueue(boolean viommu) {
        setUp(viommu);
        if (viommuId == 0) {
            return;
        }
        int sel = dev.iommufd.mock.MockSelftestUapi.IOMMU_HW_QUEUE_TYPE_SELFTEST;
        long iova = MOCK_APERTURE_START;
        int[] q0 = new int[1];
        int[] q1 = new int[1];
        err(Errno.EOPNOTSUPP, v.hwQueueAllocRc(viommuId, IommuHwQueueAlloc.TYPE_DEFAULT, 0, iova, PS, q0));
        err(Errno.EINVAL, v.hwQueueAllocRc(viommuId, sel, 0, iova, 0, q0));
        err(Errno.EOVERFLOW, v.hwQueueAllocRc(viommuId, sel, 0, -1L, PS, q0));
        err(Errno.ENOENT, v.hwQueueAllocRc(viommuId, sel, 0, iova, PS, q0));

        iova = s.map(ioasId, s.buffer, PS);
        long iova2 = s.map(ioasId, s.buffer + PS, PS);
        err(Errno.EIO, v.hwQueueAllocRc(viommuId, sel, 1, iova, PS, q1));
        err(Errno.EINVAL, v.hwQueueAllocRc(viommuId, sel, dev.iommufd.mock.MockSelftestUapi.IOMMU_TEST_HW_QUEUE_MAX, iova, PS, q1));

        ok(v.hwQueueAllocRc(viommuId, sel, 0, iova, PS, q0));
        err(Errno.EEXIST, v.hwQueueAllocRc(viommuId, sel, 0, iova, PS, q1));
        err(Errno.EBUSY, s.unmapRc(ioasId, iova, PS));
        s.unmap(ioasId, iova2, PS);

        ok(v.hwQueueAllocRc(viommuId, sel, 1, iova + PS / 2, PS / 2, q1));
        err(Errno.EBUSY, s.destroyRc(q0[0]));
        s.destroy(q1[0]);
        s.destroy(q0[0]);
        s.unmap(ioasId, iova, PS);
    }

    /** iommufd_viommu.vdevice_tombstone: unbinding the device destroys the vDEVICE; its ID answers ENOENT. */
    @ParameterizedTest(name = "viommu {0}")
    @ValueSource(booleans = {false, true})
    void vdeviceTombstone(boolean viommu) {
        setUp(viommu);
        if (deviceId == 0) {
            return;
        }
        int vdev = v.vdeviceAlloc(viommuId, deviceId, 0x99);
        s.destroy(stdevId);
        err(Errno.ENOENT, s.destroyRc(vdev));
        // The tombstoned ID is not reused by later objects.
        int other = s.ioasAlloc();
        assertNotEquals(vdev, other);
    }
}
