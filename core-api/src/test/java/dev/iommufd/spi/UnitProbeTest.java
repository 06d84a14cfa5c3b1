package dev.iommufd.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.Machine;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The probe outcome order: a unit's reason, then a read failure with its cause, then "no unit", else yes. */
class UnitProbeTest {
    private static final Set<String> MODELS = Set.of("x");
    private final List<String> checked = new ArrayList<>();

    private static IommuUnitModel unit(String name, String model) {
        return (IommuUnitModel) Proxy.newProxyInstance(UnitProbeTest.class.getClassLoader(),
                new Class<?>[] {IommuUnitModel.class}, (p, m, a) -> {
                    switch (m.getName()) {
                        case "name": return name;
                        case "model": return model;
                        default: throw new UnsupportedOperationException(m.getName());
                    }
                });
    }

    private static Machine machine(IommuUnitModel... units) {
        return (Machine) Proxy.newProxyInstance(UnitProbeTest.class.getClassLoader(), new Class<?>[] {Machine.class},
                (p, m, a) -> {
                    if (m.getName().equals("iommuUnits")) {
                        return List.of(units);
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
    }

    /** Usable unless the unit's name starts with "bad"; "boom" throws as a bus error would. */
    private String check(Machine machine, IommuUnitModel unit) {
        checked.add(unit.name());
        if (unit.name().equals("boom")) {
            throw new IllegalStateException("bus error at 0x1000");
        }
        return unit.name().startsWith("bad") ? unit.name() + " is unsupported" : null;
    }

    @Test
    void firstUnitDecidesAndSkipsOtherModels() {
        Machine m = machine(unit("other", "y"), unit("good", "x"), unit("bad1", "x"));
        Availability a = UnitProbe.firstUnit(m, MODELS, this::check, "no x unit", "reading failed");
        assertTrue(a.available());
        assertEquals("", a.reason());
        assertEquals(List.of("good"), checked, "only the first unit of the model is read");
        checked.clear();
        Availability b = UnitProbe.firstUnit(machine(unit("bad1", "x"), unit("good", "x")), MODELS, this::check,
                "no x unit", "reading failed");
        assertFalse(b.available());
        assertEquals("bad1 is unsupported", b.reason());
        assertNull(b.cause());
    }

    @Test
    void everyUnitNeedsAllUsable() {
        Availability a = UnitProbe.everyUnit(machine(unit("good", "x"), unit("bad2", "x"), unit("bad3", "x")), MODELS,
                this::check, "no x unit", "reading failed");
        assertFalse(a.available());
        assertEquals("bad2 is unsupported", a.reason(), "the first unusable unit is named");
        assertEquals(List.of("good", "bad2"), checked);
        assertTrue(UnitProbe.everyUnit(machine(unit("g1", "x"), unit("g2", "x")), MODELS, this::check, "no x unit",
                "reading failed").available());
    }

    @Test
    void noUnitOfTheModel() {
        for (Availability a : new Availability[] {
            UnitProbe.firstUnit(machine(unit("other", "y")), MODELS, this::check, "no x unit", "reading failed"),
            UnitProbe.everyUnit(machine(), MODELS, this::check, "no x unit", "reading failed")}) {
            assertFalse(a.available());
            assertEquals("no x unit", a.reason());
        }
        assertEquals(List.of(), checked);
    }

    @Test
    void aReadFailureIsKeptAsTheCause() {
        Availability a = UnitProbe.everyUnit(machine(unit("good", "x"), unit("boom", "x")), MODELS, this::check,
                "no x unit", "reading failed");
        assertFalse(a.available());
        assertEquals("reading failed: bus error at 0x1000", a.reason());
        assertTrue(a.cause() instanceof IllegalStateException);
        RuntimeException listing = new IllegalStateException("machine closed");
        Machine broken = (Machine) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Machine.class},
                (p, m, args) -> {
                    throw listing;
                });
        Availability b = UnitProbe.firstUnit(broken, MODELS, this::check, "no x unit", "reading failed");
        assertSame(listing, b.cause());
    }
}
