package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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
 *   <li>A LIVE object's {@code users} is at least 1 (the table's reference); an object leaves LIVE only with
 *       {@code users} swapped to 0, after which it never rises again.
 * </ul>
 *
 * <h2>Locking</h2>
 * Slot states, IDs and every change of state are guarded by {@code this} (the kernel's {@code xa_lock}). Look-ups
 * ({@link #get}) and reference counting ({@link #put}, {@link #addUser}) take no lock: {@code users} is a
 * {@code refcount_t} (see {@link IommufdObject}); a look-up reads the slot array (volatile; a grown array is
 * published whole, element stores are releases), checks the object's {@code live} flag and kind, and takes its
 * reference with increment-not-zero, as {@code iommufd_get_object()} takes it with {@code refcount_inc_not_zero()}.
 * A removal swaps {@code users} from the count it requires to 0 by compare-and-set under the lock, so a look-up
 * racing it either takes its reference first (and the removal fails with EBUSY, or, for the forced
 * {@link #tombstone}, which drops only the table's reference, gives it back later with {@link #put}) or finds 0
 * and fails with ENOENT; a look-up that read a stale slot array meets the same 0 (or, after a tombstone, the
 * cleared live flag).
 */
public final class ObjectTable {
    private static final VarHandle USERS;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(IommufdObject[].class);

    static {
        try {
            USERS = MethodHandles.lookup().findVarHandle(IommufdObject.class, "users", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final byte FREE = 0;
    private static final byte CREATING = 1;
    private static final byte LIVE = 2;
    private static final byte TOMBSTONE = 3;

    /** Replaced (grown) and written under this; read by {@link #get} without it. */
    private volatile IommufdObject[] slots = new IommufdObject[16];
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
        obj.id = id;
        obj.users = 1;
        obj.live = false;
        SLOT.setRelease(slots, id, obj);
        states[id] = CREATING;
        lowestFree = id + 1;
        used++;
        return id;
    }

    /** {@code iommufd_object_finalize}: makes a CREATING object visible to lookups. */
    public synchronized void finalizeObject(IommufdObject obj) {
        requireSlot(obj, CREATING);
        states[obj.id] = LIVE;
        obj.live = true;
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
     * with one more {@code users} reference, which the caller gives back with {@link #put}. Lock-free (see the class
     * comment): one increment-not-zero.
     *
     * @throws ErrnoException ENOENT when there is none of that kind
     */
    public <T extends IommufdObject> T get(int id, ObjectKind kind, Class<T> type) {
        IommufdObject[] s = slots;
        IommufdObject obj = id > 0 && id < s.length ? (IommufdObject) SLOT.getAcquire(s, id) : null;
        if (obj == null || !obj.live || (kind != ObjectKind.ANY && obj.kind() != kind) || !type.isInstance(obj)
                || !tryGet(obj)) {
            throw ErrnoException.of(Errno.ENOENT, "no %s object with ID %d", kind == ObjectKind.ANY ? "" : kind, id);
        }
        return type.cast(obj);
    }

    /** {@code refcount_inc_not_zero(&obj->users)}. */
    private static boolean tryGet(IommufdObject obj) {
        int v = obj.users;
        while (v > 0) {
            int witness = (int) USERS.compareAndExchange(obj, v, v + 1);
            if (witness == v) {
                return true;
            }
            v = witness;
        }
        return false;
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

    /** Gives back a reference taken by {@link #get} or {@link #addUser}. Lock-free: one decrement. */
    public void put(IommufdObject obj) {
        int v = obj.users;
        for (;;) {
            if (v <= 0) {
                throw new IllegalStateException(obj + ": users underflow");
            }
            int witness = (int) USERS.compareAndExchange(obj, v, v - 1);
            if (witness == v) {
                return;
            }
            v = witness;
        }
    }

    /** Takes a long-term {@code users} reference (a dependent object). Lock-free. */
    public void addUser(IommufdObject obj) {
        if (!tryGet(obj)) {
            throw new IllegalStateException(obj + " is being destroyed");
        }
    }

    /** The current {@code users} count (for tests and invariants). */
    public int users(IommufdObject obj) {
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
            if (!USERS.compareAndSet(obj, 1, 0)) { // refcount_dec_if_one
                throw ErrnoException.of(Errno.EBUSY, "object %d (%s) is in use (%d references besides the table's)",
                        id, obj.kind(), obj.users - 1);
            }
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
            if (!USERS.compareAndSet(obj, 2, 0)) {
                throw ErrnoException.of(Errno.EBUSY, "%s is still referenced (%d users)", obj, obj.users);
            }
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
            if (obj.id <= 0 || obj.id >= slots.length || slots[obj.id] != obj || states[obj.id] != LIVE
                    || !USERS.compareAndSet(obj, 2, 0)) {
                put(obj);
                return;
            }
            release(obj.id);
        }
        obj.destroy();
    }

    /**
     * Tombstones a LIVE object's ID ({@code REMOVE_OBJ_TOMBSTONE}): the ID stays reserved until close, look-ups
     * answer ENOENT from now on, and the table's reference is dropped. The caller destroys the object itself.
     *
     * <p>A look-up that took its reference before (it found the object live) keeps it and gives it back with
     * {@link #put}: the kernel's {@code iommufd_object_remove()} waits for such short-term users before it
     * tombstones; the model has no short-term count, so it does not wait, but the late {@code put} is not an
     * underflow.
     */
    public synchronized void tombstone(IommufdObject obj) {
        requireSlot(obj, LIVE);
        obj.live = false;
        states[obj.id] = TOMBSTONE;
        SLOT.setRelease(slots, obj.id, null);
        put(obj); // the table's reference
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
                        if (USERS.compareAndSet(obj, 1, 0)) {
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
        IommufdObject obj = slots[id];
        if (obj != null) {
            obj.live = false;
        }
        SLOT.setRelease(slots, id, null);
        states[id] = FREE;
        used--;
        if (id < lowestFree) {
            lowestFree = id;
        }
    }
}
