package dev.iommufd.spi.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The register-window layout contract: widths, 32-bit halves of 64-bit registers, holes, listing, validation. */
class RegisterMapTest {
    // 0x00 A32, 0x08 B64, 0x10 WO64 (write-only), 0x1c C32, 0xff8 LAST64; everything else is a hole
    private final RegisterMap map = RegisterMap.builder(0x1000)
            .register(0x1c, "C", 32)
            .register(0x08, "B", 64)
            .writeOnly(0x10, "WO", 64)
            .register(0x00, "A", 32)
            .register(0xff8, "LAST", 64)
            .build();

    @Test
    void widthAtIsTheRegisterWidthOrZeroForAHole() {
        assertEquals(32, map.widthAt(0x00));
        assertEquals(64, map.widthAt(0x08));
        assertEquals(64, map.widthAt(0x10));
        assertEquals(32, map.widthAt(0x1c));
        assertEquals(0, map.widthAt(0x04));
        assertEquals(0, map.widthAt(0x0c), "the high half of a 64-bit register is not a register start");
        assertEquals(0, map.widthAt(0x18));
        assertEquals(0, map.widthAt(-8));
        assertEquals(0, map.widthAt(0x1000));
    }

    @Test
    void eightByteAccessReachesOnlyA64BitRegisterAtItsOffset() {
        assertEquals(RegisterMap.REG64, map.access(0x08, 8));
        assertEquals(RegisterMap.REG64, map.access(0x10, 8));
        assertEquals(RegisterMap.REG64, map.access(0xff8, 8));
        assertEquals(RegisterMap.NONE, map.access(0x00, 8), "a 32-bit register read with width 8");
        assertEquals(RegisterMap.NONE, map.access(0x0c, 8), "the middle of a 64-bit register");
        assertEquals(RegisterMap.NONE, map.access(0x18, 8), "a hole");
    }

    @Test
    void fourByteAccessReachesA32BitRegisterOrAHalfOfA64BitOne() {
        assertEquals(RegisterMap.REG32, map.access(0x00, 4));
        assertEquals(RegisterMap.REG32, map.access(0x1c, 4));
        assertEquals(RegisterMap.LOW32, map.access(0x08, 4));
        assertEquals(RegisterMap.HIGH32, map.access(0x0c, 4));
        assertEquals(RegisterMap.HIGH32, map.access(0xffc, 4));
        assertEquals(RegisterMap.NONE, map.access(0x04, 4), "a hole after a 32-bit register is not its high half");
        assertEquals(RegisterMap.NONE, map.access(0x18, 4));
        assertEquals(RegisterMap.NONE, map.access(0x0a, 4), "misaligned");
        assertEquals(RegisterMap.NONE, map.access(-4, 4));
        assertEquals(RegisterMap.NONE, map.access(0x1000, 4));
    }

    @Test
    void otherWidthsAreNeverAnAccess() {
        for (int width : new int[] {0, 1, 2, 3, 5, 16}) {
            assertEquals(RegisterMap.NONE, map.access(0x00, width));
            assertEquals(RegisterMap.NONE, map.access(0x08, width));
        }
    }

    @Test
    void registersListsTheListedOnesInAscendingOffsetOrder() {
        assertEquals(List.of(new RegisterInfo(0x00, "A", 32), new RegisterInfo(0x08, "B", 64),
                new RegisterInfo(0x1c, "C", 32), new RegisterInfo(0xff8, "LAST", 64)), map.registers());
        assertThrows(UnsupportedOperationException.class, () -> map.registers().add(new RegisterInfo(0x20, "D", 32)));
        assertEquals(0x1000, map.windowSize());
    }

    @Test
    void buildRejectsABadLayout() {
        assertThrows(IllegalArgumentException.class, () -> RegisterMap.builder(0));
        assertThrows(IllegalArgumentException.class, () -> RegisterMap.builder(0x100).register(0, "W16", 16));
        assertThrows(IllegalArgumentException.class, () -> RegisterMap.builder(0x100).register(4, "MISALIGNED64", 64));
        assertThrows(IllegalArgumentException.class, () -> RegisterMap.builder(0x100).register(2, "MISALIGNED32", 32));
        assertThrows(IllegalArgumentException.class, () -> RegisterMap.builder(0x100).register(0xfc, "PAST_END64", 64));
        assertThrows(IllegalArgumentException.class, () -> RegisterMap.builder(0x100).register(-4, "NEGATIVE", 32));
        RegisterMap.builder(0x100).register(0xfc, "FITS32", 32).build();
        assertThrows(IllegalArgumentException.class,
                () -> RegisterMap.builder(0x100).register(0x08, "X", 64).register(0x0c, "Y", 32).build());
        assertThrows(IllegalArgumentException.class,
                () -> RegisterMap.builder(0x100).register(0x08, "X", 32).writeOnly(0x08, "Y", 32).build());
    }
}
