package dev.iommufd.spi;

import dev.iommufd.platform.FrameAllocator;

/**
 * Gathers the IOVA ranges unmapped by successive {@link IommuDomain#unmapPages} calls, and the page-table pages
 * they emptied, so that one {@link IommuDomain#iotlbSync} invalidates them and only then frees the table pages
 * (the kernel's {@code struct iommu_iotlb_gather}).
 *
 * <p>An empty gather has {@code start = -1 (ULONG_MAX)}, {@code end = 0}, {@code pgsize = 0}. {@link #end()} is
 * inclusive. A gather is reusable: {@link #reset()} empties it without allocating. Not thread-safe: one gather
 * belongs to one unmap operation.
 */
public final class IotlbGather {
    private long start = -1L;
    private long end;
    private long pgsize;
    private boolean queued;
    private long[] freelist = new long[16];
    private int freeCount;

    public long start() {
        return start;
    }

    /** Last IOVA gathered, inclusive. */
    public long end() {
        return end;
    }

    /** The flush granule: the page size of the gathered unmaps, 0 when mixed or none. */
    public long pgsize() {
        return pgsize;
    }

    /** Whether the flush may be deferred to a later {@link IommuDomain#flushIotlbAll} (flush queue). */
    public boolean queued() {
        return queued;
    }

    public void setQueued(boolean queued) {
        this.queued = queued;
    }

    public boolean isEmpty() {
        return Long.compareUnsigned(start, end) > 0;
    }

    /** Empties the gather (start = ULONG_MAX, end = 0, pgsize = 0); the freelist must have been drained. */
    public void reset() {
        start = -1L;
        end = 0;
        pgsize = 0;
        queued = false;
        if (freeCount != 0) {
            throw new IllegalStateException(freeCount + " table pages in the gather were never freed (drainFreelist)");
        }
    }

    /** {@code iommu_iotlb_gather_add_range}: widens the range to cover {@code [iova, iova + size)}. */
    public void addRange(long iova, long size) {
        long last = iova + size - 1;
        if (Long.compareUnsigned(iova, start) < 0) {
            start = iova;
        }
        if (Long.compareUnsigned(last, end) > 0) {
            end = last;
        }
    }

    /**
     * Whether adding {@code [iova, iova + size)} of page size {@code size} would require a sync first
     * ({@code iommu_iotlb_gather_is_disjoint} or a different page size), as {@code iommu_iotlb_gather_add_page}
     * decides. A driver calls {@code domain.iotlbSync(gather)} when this is true, then {@link #addPage}.
     */
    public boolean needsSyncBefore(long iova, long size) {
        if (isEmpty()) {
            return false;
        }
        long last = iova + size - 1;
        boolean disjoint = Long.compareUnsigned(last + 1, start) < 0 || Long.compareUnsigned(iova, end + 1) > 0;
        return pgsize != size || disjoint;
    }

    /** Records an unmapped page of size {@code size} (call {@link #needsSyncBefore} first). */
    public void addPage(long iova, long size) {
        pgsize = size;
        addRange(iova, size);
    }

    /** Queues a page-table block ({@code 2^order} frames at {@code pa}) to be freed after the IOTLB sync. */
    public void addFreedTable(long pa, int order) {
        if (freeCount == freelist.length) {
            freelist = java.util.Arrays.copyOf(freelist, freelist.length * 2);
        }
        freelist[freeCount++] = pa | order; // frames are 4 KiB aligned, so the low 12 bits carry the order
    }

    /** Table pages waiting for the sync. */
    public int freelistSize() {
        return freeCount;
    }

    /** Frees every queued table page; a driver calls this at the end of its {@code iotlbSync}. */
    public void drainFreelist(FrameAllocator frames) {
        for (int i = 0; i < freeCount; i++) {
            long e = freelist[i];
            frames.free(e & ~0xfffL, (int) (e & 0xfff));
        }
        freeCount = 0;
    }
}
