package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The object table's ID, visibility and reference rules (reference §3.2, B.5 #5). */
class ObjectTableTest {

    private final List<String> destroyed = new ArrayList<>();
    private final ObjectTable table = new ObjectTable();

    private final class Thing extends IommufdObject {
        private final IommufdObject dependsOn;

        Thing(IommufdObject dependsOn) {
            super(ObjectKind.IOAS);
            this.dependsOn = dependsOn;
            if (dependsOn != null) {
                table.addUser(dependsOn);
            }
        }

        @Override
        protected void destroy() {
            destroyed.add("#" + id());
            if (dependsOn != null) {
                table.put(dependsOn);
            }
        }
    }

    private Thing live(IommufdObject dependsOn) {
        Thing t = new Thing(dependsOn);
        table.allocate(t);
        table.finalizeObject(t);
        return t;
    }

    private static Errno errno(Runnable r) {
        return assertThrows(ErrnoException.class, r::run).errno();
    }

    @Test
    void idsStartAtOneAndTheLowestFreeIdIsReused() {
        Thing a = live(null);
        Thing b = live(null);
        Thing c = live(null);
        assertEquals(List.of(1, 2, 3), List.of(a.id(), b.id(), c.id()));
        table.destroyUser(2);
        table.destroyUser(1);
        assertEquals(1, live(null).id());
        assertEquals(2, live(null).id());
        assertEquals(4, live(null).id());
    }

    @Test
    void anObjectBeingCreatedIsInvisibleAndAbortReleasesItsId() {
        Thing t = new Thing(null);
        int id = table.allocate(t);
        assertEquals(Errno.ENOENT, errno(() -> table.get(id, ObjectKind.ANY, IommufdObject.class)));
        assertEquals(Errno.ENOENT, errno(() -> table.destroyUser(id)));
        table.abort(t);
        assertEquals(List.of("#1"), destroyed);
        assertEquals(1, live(null).id());
    }

    @Test
    void destroyIsRefusedWhileReferencedAndNeverCascades() {
        Thing ioas = live(null);
        Thing hwpt = live(ioas);
        assertEquals(Errno.EBUSY, errno(() -> table.destroyUser(ioas.id())));
        assertEquals(Errno.ENOENT, errno(() -> table.destroyUser(0)));
        assertEquals(Errno.ENOENT, errno(() -> table.get(ioas.id(), ObjectKind.DEVICE, IommufdObject.class)));
        table.destroyUser(hwpt.id());
        table.destroyUser(ioas.id());
        assertEquals(List.of("#2", "#1"), destroyed);
    }

    @Test
    void releaseDestroysLeafFirst() {
        Thing ioas = live(null);
        Thing hwpt = live(ioas);
        live(hwpt);
        assertTrue(table.destroyAll().isEmpty());
        assertEquals(List.of("#3", "#2", "#1"), destroyed);
        assertTrue(table.isEmpty());
    }
}
