package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.Iommufd;
import dev.iommufd.core.IommufdDevice;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.IommufdObject;
import dev.iommufd.core.ObjectKind;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.mock.MockIommu;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * device.c binding and group rules through the typed API (§7.1-§7.8): ownership, unbind while attached, the
 * group sharing one HWPT (hardware attach is group-wide, every device's attach is counted), and the file staying
 * open while a VFIO-style binding exists.
 */
class DeviceBindingTest {
    private final SelftestSession s = new SelftestSession();

    @AfterEach
    void tearDown() {
        s.close();
    }

    private static Errno errno(Runnable r) {
        return assertThrows(ErrnoException.class, r::run).errno();
    }

    @Test
    void bindClaimsOwnershipOncePerFunctionAndPerGroup() { // §7.2 step 4 (iommu_device_claim_dma_owner)
        PciFunction f = MockIommu.createDevice(s.machine, 0);
        int dev = s.fd.bindDevice(f);
        assertEquals(Errno.EBUSY, errno(() -> s.fd.bindDevice(f)));
        try (IommufdFd other = s.subsystem.open(s.proc)) {
            assertEquals(Errno.EBUSY, errno(() -> other.bindDevice(f)), "another context cannot take the group");
        }
        assertEquals(Errno.EBUSY, errno(() -> s.fd.destroy(dev)), "IOMMU_DESTROY of a device is refused");
        s.fd.unbindDevice(dev);
        assertEquals(Errno.ENOENT, errno(() -> s.fd.unbindDevice(dev)));
        try (IommufdFd other = s.subsystem.open(s.proc)) {
            int d2 = other.bindDevice(f);
            other.unbindDevice(d2);
        }
    }

    @Test
    void bindWithoutADriverForTheUnitIsEnodev() { // probe: no bound driver drives the function's unit
        PciFunction f = org.mockito.Mockito.mock(PciFunction.class);
        org.mockito.Mockito.when(f.iommuUnit()).thenReturn("nosuch0");
        org.mockito.Mockito.when(f.address()).thenReturn(PciAddress.parse("0000:07:00.0"));
        assertEquals(Errno.ENODEV, errno(() -> s.fd.bindDevice(f)));
        assertTrue(s.fd.context().objects().isEmpty(), "no ID consumed");
    }

    @Test
    void unbindWhileAttachedIsEbusyAndTheBindingHoldsTheFile() { // §7.2 unbind; iommufd_ctx_get in bind
        PciFunction f = MockIommu.createDevice(s.machine, 0);
        Iommufd second = s.fd.inheritedBy(s.proc);
        int dev = second.bindDevice(f);
        int ioas = second.ioasAlloc();
        int hwpt = second.deviceAttach(dev, 0, ioas);
        assertEquals(Errno.EBUSY, errno(() -> second.unbindDevice(dev)));
        assertEquals(Errno.EBUSY, errno(() -> second.destroy(hwpt)));
        assertEquals(Errno.EBUSY, errno(() -> second.deviceAttach(dev, 0, ioas)), "attached twice at one PASID");
        s.fd.close();
        second.close();
        assertFalse(s.fd.context().isReleased(), "the binding keeps the iommufd file alive");
        s.fd.context().ioctls(); // still usable through the binding
        // the binding driver finishes: detach and unbind release the file
        s.fd.context().objects(); // (no descriptor left: reach the device through the context)
        IommufdDevice d = s.fd.context().objects().get(dev, ObjectKind.DEVICE, IommufdDevice.class);
        s.fd.context().objects().put(d);
        d.detach(0);
        d.unbind();
        assertTrue(s.fd.context().isReleased());
        assertTrue(s.fd.context().leakedAtRelease().isEmpty());
    }

    /**
     * iommufd_hwpt_compatible_device (device.c, v6.15+): a HWPT allocated with IOMMU_HWPT_FAULT_ID_VALID takes no
     * PCI VF that supports PRI (the VFs share their PF's PRI, so failure responses cannot be forwarded): attach and
     * replace fail with EINVAL and change nothing; a PRI-capable PF, a VF without PRI, and a HWPT without a fault
     * object are fine.
     */
    @Test
    void faultCapableHwptRefusesAPriCapableVirtualFunction() {
        PciFunction vf = s.machine.pci().add(PciFunctionSpec.endpoint("0000:06:00.1", "mock0").withPri().asVirtualFunction());
        PciFunction pf = s.machine.pci().add(PciFunctionSpec.endpoint("0000:06:00.0", "mock0").withPri());
        PciFunction plainVf = s.machine.pci().add(PciFunctionSpec.endpoint("0000:06:00.2", "mock0").asVirtualFunction());
        assertTrue(vf.virtualFunction() && vf.priCapable());
        assertFalse(pf.virtualFunction());
        int dVf = s.fd.bindDevice(vf);
        int dPf = s.fd.bindDevice(pf);
        int dPlainVf = s.fd.bindDevice(plainVf);
        int ioas = s.fd.ioasAlloc();
        int faultId = s.fd.faultQueueAlloc().id();
        int faultHwpt = s.fd.hwptAlloc(dPf, ioas, dev.iommufd.api.uapi.IommuHwptAlloc.FLAG_FAULT_ID_VALID, 0, null, faultId);
        int plainHwpt = s.fd.hwptAlloc(dVf, ioas, 0, 0, null, 0);

        IommufdObject hwptObj = s.fd.context().objects().get(faultHwpt, ObjectKind.ANY, IommufdObject.class);
        s.fd.context().objects().put(hwptObj);
        int usersBefore = s.fd.context().objects().users(hwptObj);
        assertEquals(Errno.EINVAL, errno(() -> s.fd.deviceAttach(dVf, 0, faultHwpt)));
        assertEquals(usersBefore, s.fd.context().objects().users(hwptObj), "no reference left behind by the failed attach");
        assertEquals(plainHwpt, s.fd.deviceAttach(dVf, 0, plainHwpt), "a HWPT without a fault object is fine");
        assertEquals(Errno.EINVAL, errno(() -> s.fd.deviceReplace(dVf, 0, faultHwpt)), "replace checks it too");
        assertEquals(faultHwpt, s.fd.deviceAttach(dPf, 0, faultHwpt), "a PRI-capable PF is fine");
        assertEquals(faultHwpt, s.fd.deviceAttach(dPlainVf, 0, faultHwpt), "a VF without PRI is fine");
        s.fd.deviceDetach(dPf, 0);
        s.fd.deviceDetach(dPlainVf, 0);
        s.fd.deviceDetach(dVf, 0);
    }

    @Test
    void devicesOfOneGroupShareOneHwptAndTheHardwareAttachIsGroupWide() { // §7.4 / §7.15 steps 4-7
        PciFunction f0 = s.machine.pci().add(PciFunctionSpec.endpoint("0000:05:00.0", "mock0").withoutAcs());
        PciFunction f1 = s.machine.pci().add(PciFunctionSpec.endpoint("0000:05:00.1", "mock0").withoutAcs());
        assertEquals(f0.group().id(), f1.group().id(), "functions of one device without ACS share a group");
        int d0 = s.fd.bindDevice(f0);
        int d1 = s.fd.bindDevice(f1);
        int ioasA = s.fd.ioasAlloc();
        int ioasB = s.fd.ioasAlloc();
        byte[] pattern = {1, 2, 3, 4, 5, 6, 7, 8};
        s.proc.write(s.buffer, pattern, 0, pattern.length);
        s.fd.ioasMap(ioasA, RW_FIXED, s.buffer, PS, MOCK_APERTURE_START);
        int hwptA = s.fd.deviceAttach(d0, 0, ioasA);

        // the group is attached in hardware as a whole: f1 already translates through hwptA
        byte[] seen = new byte[8];
        assertEquals(DmaStatus.OK, f1.dmaRead(MOCK_APERTURE_START, seen));
        assertArrayEquals(pattern, seen);

        assertEquals(Errno.EINVAL, errno(() -> s.fd.deviceAttach(d1, 0, ioasB)), "the group is on hwptA");
        assertEquals(hwptA, s.fd.deviceAttach(d1, 0, ioasA), "joining the group's HWPT");

        s.fd.deviceDetach(d0, 0);
        assertEquals(DmaStatus.OK, f0.dmaRead(MOCK_APERTURE_START, seen), "f1 still holds the group on hwptA");
        assertEquals(Errno.EBUSY, errno(() -> s.fd.destroy(hwptA)));

        // replace moves the whole group
        s.fd.ioasMap(ioasB, RW_FIXED, s.buffer, PS, MOCK_APERTURE_START + PS);
        int hwptB = s.fd.deviceReplace(d1, 0, ioasB);
        assertNotEquals(hwptA, hwptB);
        assertEquals(Errno.ENOENT, errno(() -> s.fd.destroy(hwptA)), "the old automatic HWPT was freed");
        assertEquals(DmaStatus.FAULT, f0.dmaRead(MOCK_APERTURE_START, seen));
        assertEquals(DmaStatus.OK, f0.dmaRead(MOCK_APERTURE_START + PS, seen));

        s.fd.deviceDetach(d1, 0);
        assertEquals(DmaStatus.FAULT, f0.dmaRead(MOCK_APERTURE_START + PS, seen), "the group went back to blocking");
        s.fd.unbindDevice(d0);
        s.fd.unbindDevice(d1);
    }

    @Test
    void replaceOfADetachedDeviceIsEinvalAndDetachOfNothingIsANoop() { // §7.15 do_replace step 1; detach
        PciFunction f = MockIommu.createDevice(s.machine, 0);
        int dev = s.fd.bindDevice(f);
        int ioas = s.fd.ioasAlloc();
        assertEquals(Errno.EINVAL, errno(() -> s.fd.deviceReplace(dev, 0, ioas)));
        s.fd.deviceDetach(dev, 0);
        assertEquals(Errno.ENOENT, errno(() -> s.fd.deviceAttach(dev, 0, 4242)));
        assertEquals(Errno.EINVAL, errno(() -> s.fd.deviceAttach(dev, 0, dev)), "a DEVICE is not a page table");
        s.fd.unbindDevice(dev);
    }

    @Test
    void existingMappingsOutsideTheApertureRefuseTheDomain() { // iopt_table_add_domain: EADDRINUSE
        PciFunction f = MockIommu.createDevice(s.machine, 0);
        int dev = s.fd.bindDevice(f);
        int ioas = s.fd.ioasAlloc();
        s.fd.ioasMap(ioas, RW_FIXED, s.buffer, PS, 0x1000); // below MOCK_APERTURE_START
        int before = s.fd.context().objects().live(ObjectKind.ANY, IommufdObject.class).size();
        assertEquals(Errno.EADDRINUSE, errno(() -> s.fd.deviceAttach(dev, 0, ioas)));
        assertEquals(before, s.fd.context().objects().live(ObjectKind.ANY, IommufdObject.class).size(),
                "the failed automatic HWPT left nothing behind");
        assertEquals(DmaStatus.FAULT, f.dmaRead(0x1000, new byte[8]), "and the device stayed blocked");
        assertEquals(0, s.proc.pinCount(s.proc.translate(s.buffer)), "nothing stays pinned");
        s.fd.unbindDevice(dev);
    }
}
