package dev.iommufd.core.selftest;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.core.HwPagetable;
import dev.iommufd.core.HwptNested;
import dev.iommufd.core.HwptPaging;
import dev.iommufd.core.IoctlCall;
import dev.iommufd.core.IommufdContext;
import dev.iommufd.core.IommufdDevice;
import dev.iommufd.core.IommufdObject;
import dev.iommufd.core.ObjectKind;
import dev.iommufd.mock.MockDevice;
import dev.iommufd.mock.MockDomain;
import dev.iommufd.mock.MockNestedDomain;
import dev.iommufd.spi.IommuDomain;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The device-dependent IOMMU_TEST_CMD ops of drivers/iommu/iommufd/selftest.c over driver-mock: MOCK_DOMAIN,
 * MOCK_DOMAIN_FLAGS, MOCK_DOMAIN_REPLACE, MD_CHECK_MAP, MD_CHECK_IOTLB, DEV_CHECK_CACHE, DIRTY, PASID_ATTACH,
 * PASID_REPLACE, PASID_DETACH, PASID_CHECK_HWPT. (TRIGGER_IOPF and TRIGGER_VEVENT are {@link EventOps}.)
 */
final class MockDomainOps {
    /** Test-only PASID probe range for {@link #attachedPasids}: the PASIDs the selftests use. */
    private static final int[] PROBED_PASIDS = {1, 100, 200, 1024, 2048};

    private MockDomainOps() {
    }

    static void register(SelftestIoctl t) {
        register(t, MockSelftestDomainProvider.INSTANCE);
    }

    /** The ops, with MOCK_DOMAIN / MOCK_DOMAIN_FLAGS plugging their device through {@code provider}. */
    static void register(SelftestIoctl t, SelftestDomainProvider provider) {
        t.registerOp(IommuTestCmd.OP_MOCK_DOMAIN, c -> mockDomain(c, provider, 0));
        t.registerOp(IommuTestCmd.OP_MOCK_DOMAIN_FLAGS, c -> mockDomain(c, provider,
                c.cmd().u32(IommuTestCmd.OFFSET_MOCK_DOMAIN_FLAGS_DEV_FLAGS)));
        t.registerOp(IommuTestCmd.OP_MOCK_DOMAIN_REPLACE, MockDomainOps::mockDomainReplace);
        t.registerOp(IommuTestCmd.OP_MD_CHECK_MAP, MockDomainOps::checkMap);
        t.registerOp(IommuTestCmd.OP_MD_CHECK_IOTLB, MockDomainOps::checkIotlb);
        t.registerOp(IommuTestCmd.OP_DEV_CHECK_CACHE, MockDomainOps::checkDevCache);
        t.registerOp(IommuTestCmd.OP_DIRTY, MockDomainOps::dirty);
        t.registerOp(IommuTestCmd.OP_PASID_ATTACH, c -> pasidChange(c, true));
        t.registerOp(IommuTestCmd.OP_PASID_REPLACE, c -> pasidChange(c, false));
        t.registerOp(IommuTestCmd.OP_PASID_DETACH, MockDomainOps::pasidDetach);
        t.registerOp(IommuTestCmd.OP_PASID_CHECK_HWPT, MockDomainOps::pasidCheckHwpt);
    }

    /** PASIDs (other than the RID) the device is attached at, among those the selftests use. */
    static List<Integer> attachedPasids(IommufdDevice idev) {
        List<Integer> out = new ArrayList<>();
        for (int p : PROBED_PASIDS) {
            if (idev.attachedHwpt(p) != null) {
                out.add(p);
            }
        }
        return out;
    }

    /**
     * MOCK_DOMAIN / MOCK_DOMAIN_FLAGS ({@code iommufd_test_mock_domain}): selftest object, mock device
     * ({@code mock_dev_create}: EINVAL for unknown flags), bind, attach to {@code id} (IOAS or HWPT), reply,
     * finalize; errors unwind in reverse.
     */
    private static void mockDomain(IoctlCall c, SelftestDomainProvider provider, int devFlags) {
        IommufdContext ctx = c.ctx();
        UserStruct cmd = c.cmd();
        SelftestDevice sobj = new SelftestDevice(ctx);
        ctx.objects().allocate(sobj);
        try {
            sobj.function = provider.createDevice(ctx.machine(), devFlags);
            sobj.idev = IommufdDevice.bind(ctx, sobj.function, false);
            int hwptId;
            try {
                hwptId = sobj.idev.attach(IommufdDevice.NO_PASID, cmd.u32(IommuTestCmd.OFFSET_ID));
            } catch (RuntimeException e) {
                sobj.idev.unbind();
                sobj.idev = null;
                throw e;
            }
            cmd.put32(IommuTestCmd.OFFSET_MOCK_DOMAIN_OUT_STDEV_ID, sobj.id());
            cmd.put32(IommuTestCmd.OFFSET_MOCK_DOMAIN_OUT_HWPT_ID, hwptId);
            cmd.put32(IommuTestCmd.OFFSET_MOCK_DOMAIN_OUT_IDEV_ID, sobj.idev.id());
            c.respond();
        } catch (RuntimeException e) {
            ctx.objects().abort(sobj);
            throw e;
        }
        ctx.objects().finalizeObject(sobj);
    }

    private static SelftestDevice stdev(IoctlCall c) {
        return c.ctx().objects().get(c.cmd().u32(IommuTestCmd.OFFSET_ID), ObjectKind.SELFTEST, SelftestDevice.class);
    }

    /** MOCK_DOMAIN_REPLACE: {@code iommufd_device_replace(idev, IOMMU_NO_PASID, &pt_id)}, pt_id written back. */
    private static void mockDomainReplace(IoctlCall c) {
        SelftestDevice s = stdev(c);
        try {
            int hwpt = s.idev.replace(IommufdDevice.NO_PASID, c.cmd().u32(IommuTestCmd.OFFSET_MOCK_DOMAIN_REPLACE_PT_ID));
            c.cmd().put32(IommuTestCmd.OFFSET_MOCK_DOMAIN_REPLACE_PT_ID, hwpt);
            c.respond();
        } finally {
            c.ctx().objects().put(s);
        }
    }

    /** {@code iommufd_get_md_pagetable}: a HWPT_PAGING (ENOENT) whose domain is a mock paging domain (EINVAL). */
    private static MockDomain mockPaging(IommufdContext ctx, HwptPaging h) {
        if (!(h.domain() instanceof MockDomain)) {
            throw ErrnoException.of(Errno.EINVAL, "HWPT %d is not a mock paging domain", h.id());
        }
        return (MockDomain) h.domain();
    }

    /**
     * MD_CHECK_MAP ({@code iommufd_test_md_check_pa}): iova, length and uptr aligned to the domain's check size,
     * and every chunk of the domain translating to the physical page behind the user VA (EINVAL otherwise).
     */
    private static void checkMap(IoctlCall c) {
        UserStruct cmd = c.cmd();
        HwptPaging h = c.ctx().objects().get(cmd.u32(IommuTestCmd.OFFSET_ID), ObjectKind.HWPT_PAGING, HwptPaging.class);
        try {
            MockDomain d = mockPaging(c.ctx(), h);
            long iova = cmd.u64(IommuTestCmd.OFFSET_CHECK_MAP_IOVA);
            long length = cmd.u64(IommuTestCmd.OFFSET_CHECK_MAP_LENGTH);
            long uptr = cmd.u64(IommuTestCmd.OFFSET_CHECK_MAP_UPTR);
            long ps = d.checkMapPageSize();
            if (((iova | length | uptr) & (ps - 1)) != 0 || uptr + length < uptr) {
                throw ErrnoException.of(Errno.EINVAL, "check_map: iova %#x / length %#x / uptr %#x not %#x aligned", iova, length, uptr, ps);
            }
            for (long off = 0; off < length; off += ps) {
                long pa = c.caller().translate(uptr + off);
                long mapped = d.iovaToPhys(iova + off);
                if (mapped != pa) {
                    throw ErrnoException.of(Errno.EINVAL, "check_map: iova %#x maps %#x, user VA %#x is at %#x", iova + off,
                            mapped, uptr + off, pa);
                }
            }
        } finally {
            c.ctx().objects().put(h);
        }
    }

    /** MD_CHECK_IOTLB: the mock nested domain's iotlb[id] must equal the expected value (EINVAL). */
    private static void checkIotlb(IoctlCall c) {
        UserStruct cmd = c.cmd();
        HwptNested h = c.ctx().objects().get(cmd.u32(IommuTestCmd.OFFSET_ID), ObjectKind.HWPT_NESTED, HwptNested.class);
        try {
            if (!(h.domain() instanceof MockNestedDomain)) {
                throw ErrnoException.of(Errno.EINVAL, "HWPT %d is not a mock nested domain", h.id());
            }
            int id = cmd.u32(IommuTestCmd.OFFSET_CHECK_IOTLB_ID);
            int expected = cmd.u32(IommuTestCmd.OFFSET_CHECK_IOTLB_IOTLB);
            int actual = ((MockNestedDomain) h.domain()).iotlb(id);
            if (actual != expected) {
                throw ErrnoException.of(Errno.EINVAL, "iotlb[%d] = %#x, expected %#x", id, actual, expected);
            }
        } finally {
            c.ctx().objects().put(h);
        }
    }

    /** DEV_CHECK_CACHE (id = device object): the mock device's cache[id] must equal the expected value. */
    private static void checkDevCache(IoctlCall c) {
        UserStruct cmd = c.cmd();
        IommufdDevice d = c.ctx().objects().get(cmd.u32(IommuTestCmd.OFFSET_ID), ObjectKind.DEVICE, IommufdDevice.class);
        try {
            if (!(d.handle() instanceof MockDevice)) {
                throw ErrnoException.of(Errno.EINVAL, "device %d is not a mock device", d.id());
            }
            int id = cmd.u32(IommuTestCmd.OFFSET_CHECK_DEV_CACHE_ID);
            int expected = cmd.u32(IommuTestCmd.OFFSET_CHECK_DEV_CACHE_CACHE);
            int actual = ((MockDevice) d.handle()).cache(id);
            if (actual != expected) {
                throw ErrnoException.of(Errno.EINVAL, "cache[%d] = %#x, expected %#x", id, actual, expected);
            }
        } finally {
            c.ctx().objects().put(d);
        }
    }

    /**
     * DIRTY ({@code iommufd_test_dirty}): for every set bit i of the user bitmap, dirties the IOPTE holding
     * iova + i * page_size; out_nr_dirty = the number of set bits.
     */
    private static void dirty(IoctlCall c) {
        UserStruct cmd = c.cmd();
        HwptPaging h = c.ctx().objects().get(cmd.u32(IommuTestCmd.OFFSET_ID), ObjectKind.HWPT_PAGING, HwptPaging.class);
        try {
            MockDomain d = mockPaging(c.ctx(), h);
            long iova = cmd.u64(IommuTestCmd.OFFSET_DIRTY_IOVA);
            long length = cmd.u64(IommuTestCmd.OFFSET_DIRTY_LENGTH);
            long pageSize = cmd.u64(IommuTestCmd.OFFSET_DIRTY_PAGE_SIZE);
            long uptr = cmd.u64(IommuTestCmd.OFFSET_DIRTY_UPTR);
            if (pageSize == 0 || length == 0 || uptr == 0 || Long.remainderUnsigned(iova, pageSize) != 0
                    || Long.remainderUnsigned(length, pageSize) != 0) {
                throw ErrnoException.of(Errno.EINVAL, "dirty: bad iova %#x / length %#x / page_size %#x / uptr", iova, length, pageSize);
            }
            if (!d.dirtyTrackingEnabled()) {
                throw ErrnoException.of(Errno.EINVAL, "dirty: tracking is not enabled");
            }
            long bits = length / pageSize;
            int bytes = (int) ((bits + 7) / 8);
            byte[] raw = new byte[(bytes + 7) & ~7];
            c.caller().read(uptr, raw, 0, bytes);
            long[] bitmap = new long[raw.length / 8];
            ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(bitmap);
            long n = d.markDirty(iova, length, pageSize, bitmap);
            cmd.put64(IommuTestCmd.OFFSET_DIRTY_OUT_NR_DIRTY, n);
            c.respond();
        } finally {
            c.ctx().objects().put(h);
        }
    }

    /** PASID_ATTACH / PASID_REPLACE (id = stdev): {@code iommufd_device_attach/replace(idev, pasid, &pt_id)}. */
    private static void pasidChange(IoctlCall c, boolean attach) {
        SelftestDevice s = stdev(c);
        try {
            int pasid = c.cmd().u32(IommuTestCmd.OFFSET_PASID_PASID);
            int pt = c.cmd().u32(IommuTestCmd.OFFSET_PASID_PT_ID);
            int hwpt = attach ? s.idev.attach(pasid, pt) : s.idev.replace(pasid, pt);
            c.cmd().put32(IommuTestCmd.OFFSET_PASID_PT_ID, hwpt);
            c.respond();
        } finally {
            c.ctx().objects().put(s);
        }
    }

    /** PASID_DETACH: always succeeds. */
    private static void pasidDetach(IoctlCall c) {
        SelftestDevice s = stdev(c);
        try {
            s.idev.detach(c.cmd().u32(IommuTestCmd.OFFSET_PASID_PASID));
        } finally {
            c.ctx().objects().put(s);
        }
    }

    /**
     * PASID_CHECK_HWPT: the domain the mock device's PASID context actually uses must be hwpt_id's domain (hwpt_id 0:
     * nothing attached); EINVAL otherwise.
     */
    private static void pasidCheckHwpt(IoctlCall c) {
        SelftestDevice s = stdev(c);
        try {
            int pasid = c.cmd().u32(IommuTestCmd.OFFSET_PASID_PASID);
            int hwptId = c.cmd().u32(IommuTestCmd.OFFSET_PASID_PT_ID);
            MockDevice md = (MockDevice) s.idev.handle();
            IommuDomain attached = pasid == IommufdDevice.NO_PASID ? md.domain() : md.pasidDomain(pasid);
            if (hwptId == 0) {
                if (attached != null && pasid != IommufdDevice.NO_PASID) {
                    throw ErrnoException.of(Errno.EINVAL, "pasid %d is attached", pasid);
                }
                return;
            }
            IommufdObject obj = c.ctx().objects().get(hwptId, ObjectKind.ANY, IommufdObject.class);
            try {
                if (!(obj instanceof HwPagetable)) {
                    throw ErrnoException.of(Errno.EINVAL, "object %d is not a HWPT", hwptId);
                }
                if (((HwPagetable) obj).domain() != attached) {
                    throw ErrnoException.of(Errno.EINVAL, "pasid %d is not attached to HWPT %d", pasid, hwptId);
                }
            } finally {
                c.ctx().objects().put(obj);
            }
        } finally {
            c.ctx().objects().put(s);
        }
    }
}
