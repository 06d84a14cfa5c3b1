package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.MmioRegion;
import dev.iommufd.platform.MmioRegister;
import org.junit.jupiter.api.Test;

/** The MMIO bus: windows outside RAM, lookups, width checks, bus errors for holes. */
class SimulatedMmioBusTest {

    /** A window with one 32-bit register at 0x0 and one 64-bit register at 0x8; other accesses bus-error. */
    static final class TwoRegisters implements MmioRegion {
        long base;
        int reg32;
        long reg64;

        TwoRegisters(long base) {
            this.base = base;
        }

        @Override
        public long size() {
            return 0x1000;
        }

        @Override
        public long read(long offset, int width) {
            if (offset == 0 && width == 4) {
                return reg32 & 0xffff_ffffL;
            }
            if (offset == 8 && (width == 8 || width == 4)) {
                return width == 8 ? reg64 : reg64 & 0xffff_ffffL;
            }
            throw new BusErrorException(base + offset, "no " + width + "-byte register");
        }

        @Override
        public void write(long offset, int width, long value) {
            if (offset == 0 && width == 4) {
                reg32 = (int) value;
            } else if (offset == 8 && width == 8) {
                reg64 = value;
            } else {
                throw new BusErrorException(base + offset, "no " + width + "-byte register");
            }
        }
    }

    private final SparsePhysicalMemory mem = SparsePhysicalMemory.of(MachineProfile.Q35, 1L << 30);
    private final SimulatedMmioBus bus = new SimulatedMmioBus(mem);

    @Test
    void accessesReachTheWindowAtItsOffset() {
        TwoRegisters a = new TwoRegisters(0xfed9_0000L);
        TwoRegisters b = new TwoRegisters(0xfed8_0000L);
        bus.map(0xfed9_0000L, a);
        bus.map(0xfed8_0000L, b);
        bus.write32(0xfed9_0000L, 0x1234_5678);
        bus.write64(0xfed8_0008L, 0xdead_beef_0000_0001L);
        assertEquals(0x1234_5678, a.reg32);
        assertEquals(0, b.reg32);
        assertEquals(0xdead_beef_0000_0001L, b.reg64);
        assertEquals(0xdead_beef_0000_0001L, bus.read64(0xfed8_0008L));
        assertEquals(0x0000_0001, bus.read32(0xfed8_0008L));
        assertSame(a, bus.regionAt(0xfed9_0000L));
    }

    @Test
    void holesAndRefusedWidthsAreBusErrors() {
        bus.map(0xfed9_0000L, new TwoRegisters(0xfed9_0000L));
        BusErrorException hole = assertThrows(BusErrorException.class, () -> bus.read32(0xfed7_0000L));
        assertEquals(0xfed7_0000L, hole.address());
        assertThrows(BusErrorException.class, () -> bus.read32(0xfed9_1000L), "one past the window");
        assertThrows(BusErrorException.class, () -> bus.read(0xfed9_0ffcL, 8), "runs past the end");
        // The region refuses a 64-bit access to its 32-bit register: width enforcement is the region's job.
        assertThrows(BusErrorException.class, () -> bus.read64(0xfed9_0000L));
        assertThrows(BusErrorException.class, () -> bus.write(0xfed9_0008L, 2, 1));
    }

    @Test
    void interleavedAccessesToManyWindowsAndHolesEachReachTheirOwnWindow() {
        // The bus tries the window its last lookup found first: alternating windows and holes must never reuse it
        // for an address outside it.
        long[] bases = {0xe000_0000L, 0xe000_1000L, 0xe000_3000L, 0xfed9_0000L};
        TwoRegisters[] regions = new TwoRegisters[bases.length];
        for (int i = 0; i < bases.length; i++) {
            regions[i] = new TwoRegisters(bases[i]);
            bus.map(bases[i], regions[i]);
        }
        int[] order = {0, 0, 1, 0, 3, 2, 2, 1, 3, 0};
        for (int k = 0; k < order.length; k++) {
            int i = order[k];
            bus.write64(bases[i] + 8, 100L * k + i);
            assertEquals(100L * k + i, regions[i].reg64, "access " + k + " to window " + i);
            assertEquals(100L * k + i, bus.read64(bases[i] + 8));
            assertThrows(BusErrorException.class, () -> bus.read32(0xe000_2000L), "the hole between windows 1 and 2");
            long outside = i == 0 ? bases[0] - 4 : bases[i] + 0x1000; // window 0 is followed by window 1
            assertThrows(BusErrorException.class, () -> bus.read32(outside), "just outside window " + i);
        }
        for (int i = 0; i < bases.length; i++) {
            assertEquals(0, regions[i].reg32, "no 32-bit register was written by the 64-bit accesses");
        }
    }

    @Test
    void widthMustBeOneTwoFourOrEight() {
        bus.map(0xfed9_0000L, new TwoRegisters(0xfed9_0000L));
        for (int w : new int[] {0, 3, 5, 16, -4}) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> bus.read(0xfed9_0000L, w));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> bus.write(0xfed9_0000L, w, 0)).errno());
        }
    }

    @Test
    void overlapWithRamOrAnotherWindowIsEbusy() {
        bus.map(0xfed9_0000L, new TwoRegisters(0xfed9_0000L));
        ErrnoException ram = assertThrows(ErrnoException.class, () -> bus.map(0x3fff_f800L, new TwoRegisters(0)));
        assertEquals(Errno.EBUSY, ram.errno());
        ErrnoException win = assertThrows(ErrnoException.class, () -> bus.map(0xfed8_f800L, new TwoRegisters(0)));
        assertEquals(Errno.EBUSY, win.errno());
        assertTrue(win.getMessage().contains("0xfed90000"), win.getMessage());
        bus.map(0xfed9_1000L, new TwoRegisters(0xfed9_1000L)); // adjacent is fine
        bus.unmap(0xfed9_0000L);
        assertThrows(BusErrorException.class, () -> bus.read32(0xfed9_0000L));
        bus.read32(0xfed9_1000L);
        assertEquals(Errno.ENOENT, assertThrows(ErrnoException.class, () -> bus.unmap(0xfed9_0000L)).errno());
        bus.map(0xfed9_0000L, new TwoRegisters(0xfed9_0000L)); // the hole can be reused
    }

    @Test
    void readsAreZeroExtendedToTheWidth() {
        MmioRegion sloppy = new MmioRegion() {
            @Override
            public long size() {
                return 0x100;
            }

            @Override
            public long read(long offset, int width) {
                return -1L;
            }

            @Override
            public void write(long offset, int width, long value) {
            }
        };
        bus.map(0xe000_0000L, sloppy);
        assertEquals(0xffffL, bus.read(0xe000_0000L, 2));
        assertEquals(0xffffffffL, bus.read(0xe000_0000L, 4));
        assertEquals(-1L, bus.read(0xe000_0000L, 8));
    }

    // ---------------------------------------------------------------- resolved registers (MmioBus.resolve)

    /** The message and address of the bus error {@code access} throws (fails the test when it throws none). */
    private static String busError(org.junit.jupiter.api.function.Executable access) {
        BusErrorException e = assertThrows(BusErrorException.class, access);
        return e.address() + " " + e.getMessage();
    }

    @Test
    void aResolvedRegisterSeesTheSameRegistersAsBusAccesses() {
        TwoRegisters a = new TwoRegisters(0xfed9_0000L);
        TwoRegisters b = new TwoRegisters(0xfed8_0000L);
        bus.map(0xfed9_0000L, a);
        bus.map(0xfed8_0000L, b);
        MmioRegister a32 = bus.resolve(0xfed9_0000L);
        MmioRegister b64 = bus.resolve(0xfed8_0008L);
        assertEquals(0xfed8_0008L, b64.address());
        a32.write32(0x1234_5678);
        assertEquals(0x1234_5678, a.reg32);
        assertEquals(0x1234_5678, bus.read32(0xfed9_0000L));
        bus.write64(0xfed8_0008L, 0xdead_beef_0000_0001L);
        assertEquals(0xdead_beef_0000_0001L, b64.read64());
        assertEquals(0x0000_0001, b64.read32(), "a 32-bit read of the 64-bit register, as the bus gives it");
        assertEquals(bus.read(0xfed8_0008L, 4), b64.read(4));
        b64.write64(7);
        assertEquals(7, b.reg64);
        assertEquals(0, a.reg64);
    }

    @Test
    void aResolvedRegisterFailsLikeTheBus() {
        bus.map(0xfed9_0000L, new TwoRegisters(0xfed9_0000L));
        MmioRegister hole = bus.resolve(0xfed7_0000L);
        assertEquals(busError(() -> bus.read32(0xfed7_0000L)), busError(hole::read32));
        assertEquals(busError(() -> bus.write64(0xfed7_0000L, 1)), busError(() -> hole.write64(1)));
        MmioRegister last = bus.resolve(0xfed9_0ffcL);
        assertEquals(busError(() -> bus.read(0xfed9_0ffcL, 8)), busError(() -> last.read(8)), "runs past the end");
        MmioRegister reg32 = bus.resolve(0xfed9_0000L);
        assertEquals(busError(() -> bus.read64(0xfed9_0000L)), busError(reg32::read64), "the region refuses the width");
        for (int w : new int[] {0, 3, 5, 16, -4}) {
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> reg32.read(w)).errno());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> reg32.write(w, 0)).errno());
        }
    }

    @Test
    void aResolvedRegisterFollowsMapAndUnmap() {
        MmioRegister reg = bus.resolve(0xfed9_0000L);
        busError(reg::read32); // resolved before its window exists: the access fails, the handle stays usable
        TwoRegisters first = new TwoRegisters(0xfed9_0000L);
        bus.map(0xfed9_0000L, first);
        reg.write32(1);
        assertEquals(1, first.reg32);
        bus.map(0xfed8_0000L, new TwoRegisters(0xfed8_0000L)); // another window: the table changes, the answer not
        reg.write32(2);
        assertEquals(2, first.reg32);
        bus.unmap(0xfed9_0000L);
        assertEquals(busError(() -> bus.write32(0xfed9_0000L, 3)), busError(() -> reg.write32(3)));
        assertEquals(2, first.reg32, "an unmapped window is never reached through a stale handle");
        TwoRegisters second = new TwoRegisters(0xfed9_0000L);
        bus.map(0xfed9_0000L, second);
        reg.write32(4);
        assertEquals(4, second.reg32);
        assertEquals(2, first.reg32);
    }

    @Test
    void aResolvedRegisterZeroExtendsAndTruncatesLikeTheBus() {
        long[] written = new long[1];
        MmioRegion sloppy = new MmioRegion() {
            @Override
            public long size() {
                return 0x100;
            }

            @Override
            public long read(long offset, int width) {
                return -1L;
            }

            @Override
            public void write(long offset, int width, long value) {
                written[0] = value;
            }
        };
        bus.map(0xe000_0000L, sloppy);
        MmioRegister reg = bus.resolve(0xe000_0010L);
        assertEquals(0xffL, reg.read(1));
        assertEquals(0xffffL, reg.read(2));
        assertEquals(0xffffffffL, reg.read(4));
        assertEquals(-1L, reg.read(8));
        reg.write(2, 0x1234_5678L);
        assertEquals(0x5678L, written[0]);
        reg.write32(-1);
        assertEquals(0xffff_ffffL, written[0]);
    }

    @Test
    void theDefaultResolveDelegatesToTheBus() {
        bus.map(0xfed9_0000L, new TwoRegisters(0xfed9_0000L));
        MmioBus plain = new MmioBus() { // a bus that does not override resolve
            @Override
            public void map(long base, MmioRegion region) {
                bus.map(base, region);
            }

            @Override
            public void unmap(long base) {
                bus.unmap(base);
            }

            @Override
            public long read(long pa, int width) {
                return bus.read(pa, width);
            }

            @Override
            public void write(long pa, int width, long value) {
                bus.write(pa, width, value);
            }
        };
        MmioRegister reg = plain.resolve(0xfed9_0008L);
        reg.write64(0x55);
        assertEquals(0x55, bus.read64(0xfed9_0008L));
        assertEquals(busError(() -> bus.read32(0xfed7_0000L)), busError(plain.resolve(0xfed7_0000L)::read32));
    }
}
