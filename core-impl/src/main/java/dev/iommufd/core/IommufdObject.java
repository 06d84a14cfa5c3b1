package dev.iommufd.core;

/**
 * An object of an iommufd context ({@code struct iommufd_object}): an ID in the context's {@link ObjectTable}, a
 * kind, and a long-term {@code users} count.
 *
 * <h2>References</h2>
 * {@code users} starts at 1, the table's own reference. Every object that depends on this one (an HWPT on its
 * IOAS, an attachment on its HWPT, an access on its IOAS) and every in-flight call that looked it up holds one
 * more. IOMMU_DESTROY succeeds only when the table's reference is the only one; otherwise EBUSY. {@code users}
 * is guarded by the table's lock.
 */
public abstract class IommufdObject {
    private final ObjectKind kind;
    /** Set by the table when the ID is reserved; 0 before. */
    int id;
    /** Guarded by the owning table's lock. */
    int users = 1;

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
