package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The objects of one context: the kernel's {@code ictx->objects} xarray ({@code XA_FLAGS_ALLOC1},
 * {@code xa_limit_31b}).
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>IDs are in {@code [1, INT_MAX]}; a new object gets the lowest free ID (IDs are reused, never cyclic).
 *   <li>A slot is FREE, CREATING (ID reserved, lookups answer ENOENT: the kernel's XA_ZERO_ENTRY), LIVE, or
 *       TOMBSTONE (ID kept until close, lookups ENOENT, IOMMU_DESTROY ENOENT).
 *   <li>A LIVE object's {@code users} is at least 1 (the table's reference).
 * </ul>
 * All state is guarded by {@code this}.
 */
public final class ObjectTable {
    private static final byte FREE = 0;
    private static final byte CREATING = 1;
    private static final byte LIVE = 2;
    private static final byte TOMBSTONE = 3;

    private IommufdObject[] slots = new IommufdObject[16];
    private byte[] states = new byte[16];
    /** No free slot below this index (index 0 is never used). */
    private int lowestFree = 1;
    private int used;

    /**
     * {@code _iommufd_object_alloc}: reserves the lowest free ID for {@code obj}; the object stays invisible until
     * {@link #finalizeObject}.
     *
     * @throws ErrnoException EBUSY when every ID is taken
     */
    public synchronized int allocate(IommufdObject obj) {
        if (obj.id != 0) {
            throw new IllegalStateException(obj + " already has an ID");
        }
        FaultInjection.check("iommufd_object_alloc");
        int id = lowestFree;
        while (id < slots.length && states[id] != FREE) {
            id++;
        }
        if (id == Integer.MAX_VALUE) {
            throw new ErrnoException(Errno.EBUSY, "object table is full (IDs 1..INT_MAX in use)");
        }
        if (id >= slots.length) {
            int n = (int) Math.min(Integer.MAX_VALUE, slots.length * 2L);
            slots = Arrays.copyOf(slots, n);
            states = Arrays.copyOf(states, n);
        }
        slots[id] = obj;
        states[id] = CREATING;
        obj.id = id;
        obj.users = 1;
        lowestFree = id + 1;
        used++;
        return id;
    }

    /** {@code iommufd_object_finalize}: makes a CREATING object visible to lookups. */
    public synchronized void finalizeObject(IommufdObject obj) {
        requireSlot(obj, CREATING);
        states[obj.id] = LIVE;
    }

    /**
     * {@code iommufd_object_abort_and_destroy}: releases the ID of an object that never became visible and runs
     * its abort op.
     */
    public void abort(IommufdObject obj) {
        synchronized (this) {
            requireSlot(obj, CREATING);
            release(obj.id);
        }
        obj.abort();
    }

    /**
     * {@code iommufd_get_object}: the LIVE object {@code id} of {@code kind} (or any kind for {@link ObjectKind#ANY})
     * with one more {@code users} reference, which the caller gives back with {@link #put}.
     *
     * @throws ErrnoException ENOENT when there is none of that kind
     */
    public synchronized <T extends IommufdObject> T get(int id, ObjectKind kind, Class<T> type) {
        IommufdObject obj = id > 0 && id < slots.length && states[id] == LIVE ? slots[id] : null;
        if (obj == null || obj.users == 0 || (kind != ObjectKind.ANY && obj.kind() != kind) || !type.isInstance(obj)) {
            throw ErrnoException.of(Errno.ENOENT, "no %s object with ID %d", kind == ObjectKind.ANY ? "" : kind, id);
        }
        obj.users++;
        return type.cast(obj);
    }

    /**
     * The LIVE objects of {@code kind}, in ID order, without taking references (a read-only view for snapshots
     * and diagnostics; an object may be destroyed right after). Added for the machine snapshot.
     */
    public synchronized <T extends IommufdObject> java.util.List<T> liveObjects(ObjectKind kind, Class<T> type) {
        java.util.List<T> out = new java.util.ArrayList<>();
        for (int i = 1; i < slots.length; i++) {
            IommufdObject obj = slots[i];
            if (states[i] == LIVE && obj != null && (kind == ObjectKind.ANY || obj.kind() == kind) && type.isInstance(obj)) {
                out.add(type.cast(obj));
            }
        }
        return out;
    }

    /** Whether {@code id} names a LIVE object of {@code kind} (no reference taken). */
    public synchronized boolean isLive(int id, ObjectKind kind) {
        return id > 0 && id < slots.length && states[id] == LIVE
                && (kind == ObjectKind.ANY || slots[id].kind() == kind);
    }

    /** Gives back a reference taken by {@link #get} or {@link #addUser}. */
    public synchronized void put(IommufdObject obj) {
        if (obj.users <= 0) {
            throw new IllegalStateException(obj + ": users underflow");
        }
        obj.users--;
    }

    /** Takes a long-term {@code users} reference (a dependent object). */
    public synchronized void addUser(IommufdObject obj) {
        if (obj.users <= 0) {
            throw new IllegalStateException(obj + " is being destroyed");
        }
        obj.users++;
    }

    /** The current {@code users} count (for tests and invariants). */
    public synchronized int users(IommufdObject obj) {
        return obj.users;
    }

    /**
     * IOMMU_DESTROY ({@code iommufd_object_remove(ctx, NULL, id, 0)}): removes {@code id} if only the table holds
     * it, then runs the destroy op.
     *
     * @throws ErrnoException ENOENT for a free, creating or tombstoned ID; EBUSY while referenced
     */
    public void destroyUser(int id) {
        IommufdObject obj;
        synchronized (this) {
            obj = id > 0 && id < slots.length && states[id] == LIVE ? slots[id] : null;
            if (obj == null) {
                throw ErrnoException.of(Errno.ENOENT, "no object with ID %d", id);
            }
            if (obj.users != 1) {
                throw ErrnoException.of(Errno.EBUSY, "object %d (%s) is in use (%d references besides the table's)",
                        id, obj.kind(), obj.users - 1);
            }
            obj.users = 0;
            release(id);
        }
        obj.destroy();
    }

    /**
     * Removal by the kernel-side owner ({@code iommufd_object_destroy_user}): the caller gives back its reference
     * and the object is destroyed if the table's reference is then the only one.
     *
     * @throws ErrnoException EBUSY when someone else still holds it (the caller's reference is kept)
     */
    public void destroyByOwner(IommufdObject obj) {
        synchronized (this) {
            requireSlot(obj, LIVE);
            if (obj.users != 2) {
                throw ErrnoException.of(Errno.EBUSY, "%s is still referenced (%d users)", obj, obj.users);
            }
            obj.users = 0;
            release(obj.id);
        }
        obj.destroy();
    }

    /**
     * {@code iommufd_object_put_and_try_destroy}: gives back the caller's reference and destroys the object if the
     * table's reference is then the only one; otherwise the object simply stays (no error).
     */
    public void putAndTryDestroy(IommufdObject obj) {
        synchronized (this) {
            if (obj.users <= 1) {
                throw new IllegalStateException(obj + ": the caller holds no reference");
            }
            if (obj.users != 2 || obj.id <= 0 || obj.id >= slots.length || slots[obj.id] != obj || states[obj.id] != LIVE) {
                obj.users--;
                return;
            }
            obj.users = 0;
            release(obj.id);
        }
        obj.destroy();
    }

    /**
     * Tombstones a LIVE object's ID ({@code REMOVE_OBJ_TOMBSTONE}): the ID stays reserved until close. The caller
     * destroys the object itself.
     */
    public synchronized void tombstone(IommufdObject obj) {
        requireSlot(obj, LIVE);
        obj.users = 0;
        states[obj.id] = TOMBSTONE;
        slots[obj.id] = null;
    }

    /** Whether the table holds no entry at all (creating and tombstoned IDs count as entries, as in xa_empty). */
    public synchronized boolean isEmpty() {
        return used == 0;
    }

    /** The LIVE objects of {@code kind}, in ID order. */
    public synchronized <T extends IommufdObject> List<T> live(ObjectKind kind, Class<T> type) {
        List<T> out = new ArrayList<>();
        for (int i = 1; i < slots.length; i++) {
            if (states[i] == LIVE && (kind == ObjectKind.ANY || slots[i].kind() == kind) && type.isInstance(slots[i])) {
                out.add(type.cast(slots[i]));
            }
        }
        return out;
    }

    /**
     * The release sweep of {@code iommufd_fops_release}: repeatedly destroys every LIVE object that only the table
     * references (leaf first) until none is left, then drops tombstones.
     *
     * @return the objects that could not be destroyed because something outside the context still holds them
     *         (the kernel WARNs); empty normally
     */
    public List<IommufdObject> destroyAll() {
        for (;;) {
            List<IommufdObject> victims = new ArrayList<>();
            List<IommufdObject> stuck = new ArrayList<>();
            synchronized (this) {
                for (int i = 1; i < slots.length; i++) {
                    if (states[i] == LIVE) {
                        IommufdObject obj = slots[i];
                        if (obj.users == 1) {
                            obj.users = 0;
                            release(i);
                            victims.add(obj);
                        } else {
                            stuck.add(obj);
                        }
                    }
                }
            }
            // Destroy outside the lock: destroy ops give back references on other objects.
            for (IommufdObject obj : victims) {
                obj.destroy();
            }
            if (victims.isEmpty()) {
                synchronized (this) {
                    for (int i = 1; i < slots.length; i++) {
                        if (states[i] == TOMBSTONE) {
                            release(i);
                        }
                    }
                }
                return stuck;
            }
        }
    }

    private void requireSlot(IommufdObject obj, byte state) {
        if (obj.id <= 0 || obj.id >= slots.length || slots[obj.id] != obj || states[obj.id] != state) {
            throw new IllegalStateException(obj + " is not in state " + state + " in this table");
        }
    }

    private void release(int id) {
        slots[id] = null;
        states[id] = FREE;
        used--;
        if (id < lowestFree) {
            lowestFree = id;
        }
    }
}
