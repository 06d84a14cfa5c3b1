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

    /**
     * REMOVE_OBJ_TOMBSTONE drops the table's reference only: a look-up that took its reference before the tombstone
     * gives it back afterwards without an underflow, and the ID answers ENOENT to every later look-up and to
     * IOMMU_DESTROY (iommufd_object_remove; the vDEVICE revoke of a device unbind).
     */
    @Test
    void aReferenceTakenBeforeATombstoneIsGivenBackAfterIt() {
        Thing a = live(null);
        Thing held = table.get(a.id(), ObjectKind.IOAS, Thing.class);
        table.tombstone(a);
        assertEquals(Errno.ENOENT, errno(() -> table.get(a.id(), ObjectKind.IOAS, Thing.class)));
        assertEquals(1, table.users(held), "the look-up's reference survives the tombstone");
        table.put(held);
        assertEquals(0, table.users(a));
        assertEquals(Errno.ENOENT, errno(() -> table.destroyUser(a.id())));
        assertThrows(IllegalStateException.class, () -> table.put(a), "one put too many is still an underflow");
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

    /**
     * Look-ups take no lock ({@code iommufd_get_object}'s {@code refcount_inc_not_zero}): a look-up racing
     * IOMMU_DESTROY of the same ID (and the ID's reuse by a new object) either holds a reference on a live object,
     * which the destroy then refuses with EBUSY, or fails with ENOENT; it never returns an object whose destroy ran.
     * With a plain increment instead of increment-not-zero, a look-up that read the slot before the destroy
     * resurrects the destroyed object (users 0 -> 1) and this test sees it.
     */
    @Test
    void lockFreeLookupsRacingDestroyNeverReturnADestroyedObject() throws Exception {
        final class Gone extends IommufdObject {
            volatile boolean gone;

            Gone() {
                super(ObjectKind.IOAS);
            }

            @Override
            protected void destroy() {
                gone = true;
            }
        }
        java.util.concurrent.atomic.AtomicReference<String> failure = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicLong hits = new java.util.concurrent.atomic.AtomicLong();
        Gone first = new Gone();
        table.allocate(first);
        table.finalizeObject(first);
        int id = first.id();
        Thread reader = new Thread(() -> {
            while (!stop.get() && failure.get() == null) {
                Gone g;
                try {
                    g = table.get(id, ObjectKind.IOAS, Gone.class);
                } catch (ErrnoException e) {
                    if (e.errno() != Errno.ENOENT) {
                        failure.compareAndSet(null, "look-up failed with " + e.errno());
                    }
                    continue;
                }
                int users = table.users(g);
                if (g.gone || users < 2) {
                    failure.compareAndSet(null, "look-up returned a destroyed object (users " + users + ")");
                }
                hits.incrementAndGet();
                table.put(g);
            }
        });
        reader.start();
        long destroyedCount = 0;
        try {
            long deadline = System.nanoTime() + 600_000_000L;
            Gone cur = first;
            while (System.nanoTime() < deadline && failure.get() == null) {
                try {
                    table.destroyUser(id);
                } catch (ErrnoException e) {
                    assertEquals(Errno.EBUSY, e.errno());
                    continue;
                }
                assertTrue(cur.gone);
                destroyedCount++;
                cur = new Gone();
                assertEquals(id, table.allocate(cur), "the lowest free ID is reused");
                table.finalizeObject(cur);
            }
        } finally {
            stop.set(true);
            reader.join();
        }
        assertEquals(null, failure.get());
        assertTrue(destroyedCount > 0 && hits.get() > 0, destroyedCount + " destroys, " + hits.get() + " look-ups");
    }
}
