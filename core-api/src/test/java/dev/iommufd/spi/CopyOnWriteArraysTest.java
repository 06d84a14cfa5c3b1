package dev.iommufd.spi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The copy-on-write contract: the argument is never modified, identity comparison, order kept. */
class CopyOnWriteArraysTest {
    private final String a = new String("a");
    private final String b = new String("b");
    private final String c = new String("c");

    @Test
    void appendedCopiesAndKeepsTheComponentType() {
        String[] base = {a, b};
        String[] n = CopyOnWriteArrays.appended(base, c);
        assertArrayEquals(new String[] {a, b, c}, n);
        assertArrayEquals(new String[] {a, b}, base);
        assertEquals(String[].class, n.getClass());
        assertArrayEquals(new String[] {a}, CopyOnWriteArrays.appended(new String[0], a));
    }

    @Test
    void removedAtKeepsTheOrderOfTheOthers() {
        String[] base = {a, b, c};
        assertArrayEquals(new String[] {b, c}, CopyOnWriteArrays.removedAt(base, 0));
        assertArrayEquals(new String[] {a, c}, CopyOnWriteArrays.removedAt(base, 1));
        assertArrayEquals(new String[] {a, b}, CopyOnWriteArrays.removedAt(base, 2));
        assertArrayEquals(new String[] {a, b, c}, base);
        assertThrows(ArrayIndexOutOfBoundsException.class, () -> CopyOnWriteArrays.removedAt(base, 3));
        assertThrows(ArrayIndexOutOfBoundsException.class, () -> CopyOnWriteArrays.removedAt(base, -1));
    }

    @Test
    void comparesByIdentityNotEquals() {
        String equalToB = new String("b");
        String[] base = {a, b};
        assertEquals(1, CopyOnWriteArrays.indexOf(base, b));
        assertEquals(-1, CopyOnWriteArrays.indexOf(base, equalToB));
        assertSame(base, CopyOnWriteArrays.removed(base, equalToB));
    }

    @Test
    void removedTakesOnlyTheFirstOccurrence() {
        String[] base = {a, b, a};
        String[] n = CopyOnWriteArrays.removed(base, a);
        assertNotSame(base, n);
        assertArrayEquals(new String[] {b, a}, n);
        assertArrayEquals(new String[] {a, b, a}, base);
        assertArrayEquals(new String[0], CopyOnWriteArrays.removed(new String[] {c}, c));
    }
}
