package dev.iommufd.core;

/**
 * An object of an iommufd context ({@code struct iommufd_object}): an ID in the context's {@link ObjectTable}, a
 * kind, and a long-term {@code users} count.
 *
 * <h2>References</h2>
 * {@code users} starts at 1, the table's own reference. Every object that depends on this one (an HWPT on its
 * IOAS, an attachment on its HWPT, an access on its IOAS) and every in-flight call that looked it up holds one
 * more. IOMMU_DESTROY succeeds only when the table's reference is the only one; otherwise EBUSY.
 *
 * <p>{@code users} is a {@code refcount_t}, as in the kernel: a look-up takes a reference with increment-not-zero
 * without the table's lock, a put decrements, and every removal from the table swaps it to 0 by compare-and-set
 * from the count it requires (a removal that sees one more user fails with EBUSY, a look-up that sees 0 fails with
 * ENOENT). Once 0 it never rises again. {@code live} is set (under the table's lock) when the object is finalized,
 * cleared when it leaves the table; look-ups read it without the lock.
 */
public abstract class IommufdObject {
    private final ObjectKind kind;
    /** Set by the table when the ID is reserved; 0 before. */
    int id;
    /** {@code obj->users}: updated atomically through {@link ObjectTable}'s VarHandle (see the class comment). */
    volatile int users = 1;
    /** Finalized and still in the table: visible to look-ups. Written under the table's lock. */
    volatile boolean live;

    protected IommufdObject(ObjectKind kind) {
        if (kind == ObjectKind.ANY) {
            throw new IllegalArgumentException("ANY is a lookup wildcard, not an object kind");
        }
        this.kind = kind;
    }

    public final ObjectKind kind() {
        return kind;
    }

    /** The object ID (1..INT_MAX), 0 before the table assigned one. */
    public final int id() {
        return id;
    }

    /**
     * The type's destroy op: releases what the object holds (references on other objects included). Called once,
     * after the object left the table, never under the table's lock. Must not fail.
     */
    protected abstract void destroy();

    /**
     * The type's abort op, run when creation fails after the ID was reserved; by default {@link #destroy}.
     */
    protected void abort() {
        destroy();
    }

    @Override
    public String toString() {
        return kind + "#" + id;
    }
}
