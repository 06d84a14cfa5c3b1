package dev.iommufd.core;

/**
 * A populated IOVA range of an {@link IoPageTable} ({@code struct iopt_area}): {@code [iova, last]} maps bytes
 * {@code [startByte, startByte + length)} of one {@link IoPages}.
 *
 * <p>Invariant: while {@link #domainFilled} the whole range is mapped in every domain of the table and the
 * pages hold a domain span over {@code [firstIndex(), lastIndex()]}; otherwise it is mapped in none. All fields
 * but the final ones are guarded by the owning table's lock.
 */
final class IoArea {
    final long iova;
    final long last;
    final IoPages pages;
    /** Byte offset in {@link #pages} that {@link #iova} maps. */
    final long startByte;
    /** {@link dev.iommufd.spi.IoProt} bits, immutable. */
    final int prot;
    /** Whether the area's PFNs are mapped in the table's domains (the kernel's storage_domain != NULL). */
    boolean domainFilled;
    /** Set while an unmap is asking accesses to let go; new access pins fail EINVAL. */
    boolean preventAccess;
    /** Access pins inside the area ({@code num_accesses}); UNMAP notifies accesses while non-zero. */
    int numAccesses;
    /** {@code num_locks}: pins of internal accesses (HW queues); IOAS_UNMAP answers EBUSY while non-zero (core3). */
    int numLocks;

    IoArea(long iova, long last, IoPages pages, long startByte, int prot) {
        this.iova = iova;
        this.last = last;
        this.pages = pages;
        this.startByte = startByte;
        this.prot = prot;
    }

    long length() {
        return last - iova + 1;
    }

    /** {@code page_offset}: offset of the first IOVA in its page. */
    long pageOffset() {
        return startByte & (IoPages.PAGE_SIZE - 1);
    }

    /** {@code iopt_area_start_byte}: the byte in the pages that {@code at} maps. */
    long startByte(long at) {
        return startByte + (at - iova);
    }

    long firstIndex() {
        return startByte >>> IoPages.PAGE_SHIFT;
    }

    long lastIndex() {
        return (startByte + length() - 1) >>> IoPages.PAGE_SHIFT;
    }

    @Override
    public String toString() {
        return String.format("area[%#x, %#x] %s+%#x", iova, last, pages, startByte);
    }
}
