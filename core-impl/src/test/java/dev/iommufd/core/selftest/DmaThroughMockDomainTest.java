package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.SelftestSession.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRanges;
import dev.iommufd.mock.MockIommu;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * End to end through the typed API: user memory mapped into an IOAS, a mock PCI function bound and attached, DMA
 * through the function reaching exactly the user's bytes; after unmap (or detach) the same DMA faults.
 */
class DmaThroughMockDomainTest {
    private final SelftestSession s = new SelftestSession();

    @AfterEach
    void tearDown() {
        s.close();
    }

    @Test
    void dmaReadsAndWritesTheMappedUserBufferAndFaultsAfterUnmap() {
        PciFunction f = MockIommu.createDevice(s.machine, 0);
        int dev = s.fd.bindDevice(f);
        int ioas = s.fd.ioasAlloc();
        long iova = MOCK_APERTURE_START + 0x10000;
        byte[] pattern = new byte[2 * (int) PS];
        for (int i = 0; i < pattern.length; i++) {
            pattern[i] = (byte) (i * 7 + 3);
        }
        s.proc.write(s.buffer, pattern, 0, pattern.length);
        s.fd.ioasMap(ioas, RW_FIXED, s.buffer, 2 * PS, iova);
        int hwpt = s.fd.deviceAttach(dev, 0, ioas);
        assertNotEquals(0, hwpt);

        byte[] seen = new byte[pattern.length];
        assertEquals(DmaStatus.OK, f.dmaRead(iova, seen));
        assertArrayEquals(pattern, seen);

        byte[] written = new byte[100];
        java.util.Arrays.fill(written, (byte) 0x5a);
        assertEquals(DmaStatus.OK, f.dmaWrite(iova + PS - 50, written)); // crosses a page
        byte[] back = new byte[100];
        s.proc.read(s.buffer + PS - 50, back, 0, 100);
        assertArrayEquals(written, back);

        // outside the mapping (but inside the aperture): a translation fault
        assertEquals(DmaStatus.FAULT, f.dmaRead(iova + 2 * PS, new byte[8]));

        assertEquals(2 * PS, s.fd.ioasUnmap(ioas, iova, 2 * PS));
        assertEquals(DmaStatus.FAULT, f.dmaRead(iova, new byte[8]), "the IOTLB was flushed by the unmap");

        s.fd.deviceDetach(dev, 0);
        assertEquals(Errno.ENOENT, assertThrows(ErrnoException.class, () -> s.fd.destroy(hwpt)).errno(),
                "the automatic HWPT went with its last device");
        s.fd.unbindDevice(dev);
    }

    @Test
    void detachBlocksDmaAndAttachNarrowsTheIovaRanges() {
        PciFunction f = MockIommu.createDevice(s.machine, 0);
        int dev = s.fd.bindDevice(f);
        int ioas = s.fd.ioasAlloc();
        assertEquals(1, s.fd.ioasIovaRanges(ioas).ranges().size());
        s.fd.ioasMap(ioas, RW_FIXED, s.buffer, PS, MOCK_APERTURE_START);
        s.fd.deviceAttach(dev, 0, ioas);
        IovaRanges r = s.fd.ioasIovaRanges(ioas);
        assertEquals(1, r.ranges().size());
        assertEquals(MOCK_APERTURE_START, r.ranges().get(0).start());
        assertEquals(MOCK_APERTURE_LAST, r.ranges().get(0).last());
        assertEquals(MOCK_PAGE_SIZE, r.iovaAlignment());
        assertEquals(DmaStatus.OK, f.dmaRead(MOCK_APERTURE_START, new byte[8]));
        s.fd.deviceDetach(dev, 0);
        assertEquals(DmaStatus.FAULT, f.dmaRead(MOCK_APERTURE_START, new byte[8]));
        assertEquals(1, s.fd.ioasIovaRanges(ioas).iovaAlignment(), "alignment widens back after the last domain left");
        assertEquals(Errno.EBUSY, assertThrows(ErrnoException.class, () -> s.fd.bindDevice(f)).errno());
        s.fd.unbindDevice(dev);
    }
}
