package dev.iommufd.vtd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.IommufdSubsystem;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.vtd.layout.FirstStagePte;
import dev.iommufd.vtd.layout.SecondStagePte;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The driver under the real iommufd core: user memory mapped into an IOAS, a function bound and attached,
 * DMA through the VT-d model reaching exactly the user's bytes, and faulting after IOMMU_IOAS_UNMAP.
 */
class IommufdIntegrationTest {
    static final long PS = 4096;
    static final int RW_FIXED = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE | IommuIoasMap.FLAG_FIXED_IOVA;

    @ParameterizedTest
    @ValueSource(strings = {"qemu", "server"})
    void dmaThroughAnIoasAttachedToAVtdDomain(String preset) {
        try (SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(1L << 30)
                .iommu(new IommuUnitConfig("dmar0", "vtd", 0, preset, java.util.Map.of()))
                .device(PciFunctionSpec.endpoint("00:04.0", "dmar0")).build())) {
            IommufdSubsystem subsystem = new IommufdSubsystem(machine);
            subsystem.iommu().bind(new VtdDriverProvider());
            UserProcess proc = machine.spawn("vmm", 0);
            proc.grant(ProcessCapability.CAP_IPC_LOCK);
            long buffer = proc.mmap(0x10_0000_0000L, 4 * PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
            byte[] pattern = new byte[(int) (2 * PS)];
            for (int i = 0; i < pattern.length; i++) {
                pattern[i] = (byte) (i * 13 + 1);
            }
            proc.write(buffer, pattern, 0, pattern.length);
            try (IommufdFd fd = subsystem.open(proc)) {
                PciFunction f = machine.pci().function(PciAddress.parse("00:04.0"));
                int dev = fd.bindDevice(f);
                HwInfo info = fd.getHwInfo(dev, 0, 0);
                assertEquals(VtdDriver.IOMMU_HW_INFO_TYPE_INTEL_VTD, info.type());
                int ioas = fd.ioasAlloc();
                long iova = 0x4000_0000L;
                fd.ioasMap(ioas, RW_FIXED, buffer, 2 * PS, iova);
                int hwpt = fd.deviceAttach(dev, 0, ioas);
                assertNotEquals(0, hwpt);
                byte[] seen = new byte[pattern.length];
                assertEquals(DmaStatus.OK, f.dmaRead(iova, seen));
                assertArrayEquals(pattern, seen);
                byte[] w = new byte[64];
                java.util.Arrays.fill(w, (byte) 0x3c);
                assertEquals(DmaStatus.OK, f.dmaWrite(iova + PS - 32, w));
                byte[] back = new byte[64];
                proc.read(buffer + PS - 32, back, 0, 64);
                assertArrayEquals(w, back);
                assertEquals(DmaStatus.FAULT, f.dmaRead(iova + 2 * PS, new byte[8]));
                assertEquals(2 * PS, fd.ioasUnmap(ioas, iova, 2 * PS));
                assertEquals(DmaStatus.FAULT, f.dmaRead(iova, new byte[8]), "the unmap invalidated the IOTLB");
                fd.deviceDetach(dev, 0);
                fd.unbindDevice(dev);
            }
        }
    }

    private static void put64(UserProcess proc, long va, long value) {
        byte[] b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
        proc.write(va, b, 0, 8);
    }

    /**
     * A VMM's nested setup: a NEST_PARENT hwpt over the IOAS (guest RAM), a nested hwpt from struct
     * iommu_hwpt_vtd_s1 whose first-stage tables live in guest RAM, DMA through both stages, and a guest
     * invalidation through IOMMU_HWPT_INVALIDATE.
     */
    @Test
    void nestedHwptFromVtdS1DataTranslatesThroughGuestTables() {
        try (SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(1L << 30)
                .iommu(new IommuUnitConfig("dmar0", "vtd", 0, "server", java.util.Map.of()))
                .device(PciFunctionSpec.endpoint("00:04.0", "dmar0")).build())) {
            IommufdSubsystem subsystem = new IommufdSubsystem(machine);
            subsystem.iommu().bind(new VtdDriverProvider());
            UserProcess proc = machine.spawn("vmm", 0);
            proc.grant(ProcessCapability.CAP_IPC_LOCK);
            long guestRam = proc.mmap(0x10_0000_0000L, 8 * PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long gpaBase = 0x8000_0000L;
            long gva = 0x7f12_3456_7000L;
            // guest first stage: PML4 at gpa+0, PDPT +1, PD +2, PT +3, data pages +4 and +5
            for (int l = 4; l > 1; l--) {
                int i = 4 - l;
                put64(proc, guestRam + i * PS + SecondStagePte.index(gva, l) * 8L, FirstStagePte.table(gpaBase + (i + 1) * PS));
            }
            long pte = guestRam + 3 * PS + SecondStagePte.index(gva, 1) * 8L;
            put64(proc, pte, FirstStagePte.leaf(gpaBase + 4 * PS, 1, true));
            try (IommufdFd fd = subsystem.open(proc)) {
                PciFunction f = machine.pci().function(PciAddress.parse("00:04.0"));
                int dev = fd.bindDevice(f);
                int ioas = fd.ioasAlloc();
                fd.ioasMap(ioas, RW_FIXED, guestRam, 8 * PS, gpaBase);
                int parent = fd.hwptAlloc(dev, ioas, DomainAllocFlags.NEST_PARENT, 0, null, 0);
                byte[] s1 = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(0).putLong(gpaBase).putInt(48).putInt(0).array();
                int nested = fd.hwptAlloc(dev, parent, 0, NestedDomain.IOMMU_HWPT_DATA_VTD_S1, s1, 0);
                fd.deviceAttach(dev, 0, nested);
                assertEquals(DmaStatus.OK, f.dmaWrite(gva + 8, new byte[] {11}));
                byte[] got = new byte[1];
                proc.read(guestRam + 4 * PS + 8, got, 0, 1);
                assertEquals(11, got[0]);
                // the guest remaps its PTE and invalidates with one struct iommu_hwpt_vtd_s1_invalidate
                put64(proc, pte, FirstStagePte.leaf(gpaBase + 5 * PS, 1, true));
                long inv = proc.mmap(0, PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
                proc.write(inv, TestUserDataArray.inv(gva, 1, 0, 0), 0, 24);
                assertEquals(1, fd.hwptInvalidate(nested, NestedDomain.IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, inv, 24, 1));
                assertEquals(DmaStatus.OK, f.dmaWrite(gva + 8, new byte[] {12}));
                proc.read(guestRam + 5 * PS + 8, got, 0, 1);
                assertEquals(12, got[0]);
                fd.deviceDetach(dev, 0);
            }
        }
    }

    /** IOMMU_HWPT_ALLOC(DIRTY_TRACKING), SET_DIRTY_TRACKING, DMA writes, GET_DIRTY_BITMAP (iommufd_dirty_tracking selftests). */
    @Test
    void dirtyBitmapReportsPagesTheDeviceWrote() {
        try (SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(1L << 30)
                .iommu(new IommuUnitConfig("dmar0", "vtd", 0, "server", java.util.Map.of()))
                .device(PciFunctionSpec.endpoint("00:04.0", "dmar0")).build())) {
            IommufdSubsystem subsystem = new IommufdSubsystem(machine);
            subsystem.iommu().bind(new VtdDriverProvider());
            UserProcess proc = machine.spawn("vmm", 0);
            proc.grant(ProcessCapability.CAP_IPC_LOCK);
            long buf = proc.mmap(0x10_0000_0000L, 8 * PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
            long bitmap = proc.mmap(0, PS, Prot.READ_WRITE, MapKind.ANONYMOUS);
            try (IommufdFd fd = subsystem.open(proc)) {
                PciFunction f = machine.pci().function(PciAddress.parse("00:04.0"));
                int dev = fd.bindDevice(f);
                assertEquals(HwInfo.CAP_DIRTY_TRACKING, fd.getHwInfo(dev, 0, 0).capabilities() & HwInfo.CAP_DIRTY_TRACKING);
                int ioas = fd.ioasAlloc();
                long iova = 0x100_0000L;
                fd.ioasMap(ioas, RW_FIXED, buf, 8 * PS, iova);
                int hwpt = fd.hwptAlloc(dev, ioas, DomainAllocFlags.DIRTY_TRACKING, 0, null, 0);
                fd.deviceAttach(dev, 0, hwpt);
                fd.hwptSetDirtyTracking(hwpt, true);
                assertEquals(DmaStatus.OK, f.dmaWrite(iova + 2 * PS + 5, new byte[] {1}));
                assertEquals(DmaStatus.OK, f.dmaWrite(iova + 6 * PS, new byte[] {1}));
                assertEquals(DmaStatus.OK, f.dmaRead(iova + 4 * PS, new byte[1]));
                fd.hwptGetDirtyBitmap(hwpt, 0, iova, 8 * PS, PS, bitmap);
                byte[] bits = new byte[1];
                proc.read(bitmap, bits, 0, 1);
                assertEquals((1 << 2) | (1 << 6), bits[0] & 0xff);
                proc.write(bitmap, new byte[1], 0, 1);
                fd.hwptGetDirtyBitmap(hwpt, 0, iova, 8 * PS, PS, bitmap);
                proc.read(bitmap, bits, 0, 1);
                assertEquals(0, bits[0], "the first read cleared the dirty bits");
                assertEquals(DmaStatus.OK, f.dmaWrite(iova + 2 * PS, new byte[] {1}));
                fd.hwptGetDirtyBitmap(hwpt, 0, iova, 8 * PS, PS, bitmap);
                proc.read(bitmap, bits, 0, 1);
                assertEquals(1 << 2, bits[0] & 0xff, "the flush after clearing made the unit set D again");
                fd.deviceDetach(dev, 0);
            }
        }
    }
}
