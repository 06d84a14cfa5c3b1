package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.mock.MockSelftestUapi;
import dev.iommufd.mock.MockIommu;
import dev.iommufd.mock.MockIommuProvider;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.ReservedRegion;
import dev.iommufd.spi.UserData;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Device reserved regions entering the IOAS at RID attach (§7.4 step 2 / §7.15 step 6): owned by the device,
 * EADDRINUSE against mappings or the allow list, removed at detach, moved by replace between IOASes, never added
 * by a PASID attach. The mock driver reports none, so the test binds the mock under a provider that adds an
 * RMRR-like RESERVED region inside the mock aperture.
 */
class ReservedRegionsTest {
    static final long RESV = 0x2000_0000L;
    static final long RESV_LEN = 0x10_0000L;
    private final SelftestSession s = new SelftestSession(1L << 30, new RegionProvider());

    @AfterEach
    void tearDown() {
        s.close();
    }

    private static Errno errno(Runnable r) {
        return assertThrows(ErrnoException.class, r::run).errno();
    }

    @Test
    void regionsAreReservedWhileAttachedAndRefuseOverlappingMaps() {
        PciFunction f = MockIommu.createDevice(s.machine, 0);
        int dev = s.fd.bindDevice(f);
        int ioas = s.fd.ioasAlloc();
        s.fd.deviceAttach(dev, 0, ioas);
        List<IovaRange> ranges = s.fd.ioasIovaRanges(ioas).ranges();
        assertEquals(List.of(new IovaRange(MOCK_APERTURE_START, RESV - 1), new IovaRange(RESV + RESV_LEN, MOCK_APERTURE_LAST)), ranges);
        assertEquals(Errno.EINVAL, errno(() -> s.fd.ioasMap(ioas, RW_FIXED, s.buffer, PS, RESV + PS)),
                "FIXED_IOVA into a reserved range is EINVAL");
        s.fd.deviceDetach(dev, 0);
        assertEquals(List.of(new IovaRange(0, -1L)), s.fd.ioasIovaRanges(ioas).ranges(), "detach removes them");
        s.fd.unbindDevice(dev);
    }

    @Test
    void attachOverAnExistingMappingIsEaddrinuseAndLeavesNothing() {
        PciFunction f = MockIommu.createDevice(s.machine, 0);
        int dev = s.fd.bindDevice(f);
        int ioas = s.fd.ioasAlloc();
        s.fd.ioasMap(ioas, RW_FIXED, s.buffer, PS, RESV + 2 * PS);
        assertEquals(Errno.EADDRINUSE, errno(() -> s.fd.deviceAttach(dev, 0, ioas)));
        assertEquals(List.of(new IovaRange(0, -1L)), s.fd.ioasIovaRanges(ioas).ranges());
        s.fd.ioasAllowIovas(ioas, List.of());
        int other = s.fd.ioasAlloc();
        s.fd.ioasAllowIovas(other, List.of(new IovaRange(RESV, RESV + PS)));
        assertEquals(Errno.EADDRINUSE, errno(() -> s.fd.deviceAttach(dev, 0, other)), "the allow list refuses them too");
        s.fd.unbindDevice(dev);
    }

    @Test
    void replaceMovesTheReservationsAndPasidAttachAddsNone() {
        PciFunction f = MockIommu.createDevice(s.machine, MockSelftestUapi.MOCK_FLAGS_DEVICE_PASID);
        int dev = s.fd.bindDevice(f);
        int a = s.fd.ioasAlloc();
        int b = s.fd.ioasAlloc();
        s.fd.ioasMap(b, RW_FIXED, s.buffer, PS, RESV);
        int s2 = s.fd.hwptAlloc(dev, a, IommuHwptAlloc.FLAG_PASID, 0, null, 0);
        s.fd.deviceAttach(dev, 0, s2);
        assertEquals(2, s.fd.ioasIovaRanges(a).ranges().size(), "the aperture split around the region");
        assertEquals(Errno.EADDRINUSE, errno(() -> s.fd.deviceReplace(dev, 0, b)), "b maps over the region");
        assertEquals(2, s.fd.ioasIovaRanges(a).ranges().size(), "failed replace: still reserved in a");
        s.fd.ioasUnmap(b, RESV, PS);
        s.fd.deviceReplace(dev, 0, b);
        assertEquals(List.of(new IovaRange(MOCK_APERTURE_START, MOCK_APERTURE_LAST)), s.fd.ioasIovaRanges(a).ranges(),
                "the region left a (s2 still narrows a to its aperture)");
        assertEquals(2, s.fd.ioasIovaRanges(b).ranges().size(), "and entered b");

        int other = s.fd.ioasAlloc();
        int s3 = s.fd.hwptAlloc(dev, other, IommuHwptAlloc.FLAG_PASID, 0, null, 0);
        s.fd.deviceReplace(dev, 0, s2); // the RID on a PASID-compatible HWPT
        s.fd.deviceAttach(dev, 7, s3);
        assertEquals(1, s.fd.ioasIovaRanges(other).ranges().size(), "a PASID attach reserves nothing");
        s.fd.deviceDetach(dev, 7);
        s.fd.deviceDetach(dev, 0);
        s.fd.unbindDevice(dev);
    }

    /** The mock driver plus one RESERVED region per device. */
    static final class RegionProvider implements IommuDriverProvider {
        private final MockIommuProvider mock = new MockIommuProvider();

        @Override
        public String id() {
            return "mock-resv";
        }

        @Override
        public String version() {
            return mock.version();
        }

        @Override
        public int spiVersion() {
            return mock.spiVersion();
        }

        @Override
        public Set<Capability> capabilities() {
            return mock.capabilities();
        }

        @Override
        public Set<String> hardwareModels() {
            return mock.hardwareModels();
        }

        @Override
        public Availability probe(Machine machine) {
            return mock.probe(machine);
        }

        @Override
        public IommuDriver bind(DriverContext context) {
            IommuDriver d = mock.bind(context);
            IommuDriverProvider self = this;
            return new IommuDriver() {
                @Override
                public IommuDriverProvider provider() {
                    return self;
                }

                @Override
                public List<String> units() {
                    return d.units();
                }

                @Override
                public DeviceHandle probeDevice(PciFunction function) {
                    return d.probeDevice(function);
                }

                @Override
                public void releaseDevice(DeviceHandle device) {
                    d.releaseDevice(device);
                }

                @Override
                public boolean deviceCapable(DeviceHandle device, Capability capability) {
                    return d.deviceCapable(device, capability);
                }

                @Override
                public HwInfo hwInfo(DeviceHandle device, int requestedType) {
                    return d.hwInfo(device, requestedType);
                }

                @Override
                public List<ReservedRegion> reservedRegions(DeviceHandle device) {
                    return List.of(new ReservedRegion(RESV, RESV_LEN, IoProt.READ, ReservedRegion.Type.RESERVED),
                            new ReservedRegion(0x3000_0000L, PS, IoProt.READ, ReservedRegion.Type.DIRECT_RELAXABLE));
                }

                @Override
                public IommuDomain allocPagingDomain(DeviceHandle device, int flags, UserData data) {
                    return d.allocPagingDomain(device, flags, data);
                }

                @Override
                public IommuDomain allocNestedDomain(DeviceHandle device, IommuDomain parent, int flags, UserData data) {
                    return d.allocNestedDomain(device, parent, flags, data);
                }

                @Override
                public IommuDomain blockedDomain() {
                    return d.blockedDomain();
                }

                @Override
                public void close() {
                    d.close();
                }
            };
        }
    }
}
