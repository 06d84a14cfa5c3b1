package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MsiVector;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** MSI allocation and delivery. */
class SimulatedInterruptControllerTest {

    @Test
    void x86VectorsAreCompatibilityFormatMessagesInTheInterruptWindow() {
        SimulatedInterruptController ic = new SimulatedInterruptController(MachineProfile.Q35);
        AtomicInteger a = new AtomicInteger();
        AtomicInteger b = new AtomicInteger();
        MsiVector va = ic.allocate("dmar0-fault", a::incrementAndGet);
        MsiVector vb = ic.allocate("dmar0-inv", b::incrementAndGet);
        // Intel SDM 11.11.1: address 0xFEEx_xxxx, destination ID in bits 19:12; data bits 7:0 the vector (>= 0x20).
        assertEquals(0xfee0_0000L, va.address() & 0xfff0_0000L);
        assertTrue(va.data() >= 0x20 && va.data() <= 0xff, Integer.toHexString(va.data()));
        assertNotEquals(va.data(), vb.data());
        assertTrue(ic.signal(va.address(), va.data()));
        assertEquals(1, a.get());
        assertEquals(0, b.get());
        assertFalse(ic.signal(va.address(), 0x10), "an exception vector is no device interrupt");
        assertFalse(ic.signal(0xfed0_0000L, va.data()), "outside the interrupt window");
        ic.free(va);
        assertFalse(ic.signal(va.address(), va.data()), "a freed vector is dropped");
        assertEquals(1, a.get());
        assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> ic.free(va)).errno());
        MsiVector reused = ic.allocate("again", a::incrementAndGet);
        assertEquals(va.data(), reused.data(), "lowest free vector first");
    }

    @Test
    void x86VectorsSpillToTheNextDestination() {
        SimulatedInterruptController ic = new SimulatedInterruptController(MachineProfile.Q35);
        MsiVector last = null;
        for (int i = 0; i < 225; i++) {
            last = ic.allocate("v" + i, () -> { });
        }
        assertEquals(0xfee0_1000L, last.address(), "APIC ID 1 after 224 vectors on APIC 0");
        assertEquals(0x20, last.data());
    }

    @Test
    void armVectorsWriteTheItsTranslater() {
        SimulatedInterruptController ic = new SimulatedInterruptController(MachineProfile.VIRT);
        AtomicInteger n = new AtomicInteger();
        MsiVector v0 = ic.allocate("evtq", () -> { });
        MsiVector v1 = ic.allocate("gerror", n::incrementAndGet);
        assertEquals(0x0809_0040L, v0.address());
        assertEquals(v0.address(), v1.address());
        assertEquals(1, v1.data());
        assertTrue(ic.signal(0x0809_0040L, 1));
        assertEquals(1, n.get());
    }
}
