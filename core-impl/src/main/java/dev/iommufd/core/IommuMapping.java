package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IotlbGather;

/**
 * The iommu core's map and unmap wrappers ({@code iommu_map} / {@code iommu_unmap} with {@code iommu_pgsize}):
 * split a physically contiguous range into the largest page sizes the domain supports at each step, given the
 * alignment of IOVA and physical address, and call the driver's {@code map_pages} / {@code unmap_pages}.
 *
 * <p>Unmaps here are always paired with a map of the identical range and use the same decomposition (IOVA and
 * physical alignment), so every {@code unmap_pages} call names exactly the leaves the map created. Allocates
 * nothing.
 */
public final class IommuMapping {

    private IommuMapping() {
    }

    /**
     * {@code iommu_pgsize}: the page size to use at {@code (iova, paddr)} for the remaining {@code size}, in the low
     * 8 bits the log2 of the page size and above them the page count.
     */
    static long pgsize(long bitmap, long iova, long paddr, long size) {
        // Page sizes that fit in size.
        long pgsizes = bitmap & mask(63 - Long.numberOfLeadingZeros(size));
        long addrMerge = iova | paddr;
        if (addrMerge != 0) {
            pgsizes &= mask(Long.numberOfTrailingZeros(addrMerge));
        }
        if (pgsizes == 0) {
            return -1;
        }
        int idx = 63 - Long.numberOfLeadingZeros(pgsizes);
        long count;
        long bigger = bitmap & ~mask(idx);
        long remaining = size;
        if (bigger != 0) {
            int nextIdx = Long.numberOfTrailingZeros(bigger);
            long next = 1L << nextIdx;
            if (((iova ^ paddr) & (next - 1)) == 0) {
                long offset = next - (addrMerge & (next - 1));
                if (Long.compareUnsigned(offset + next, size) <= 0) {
                    remaining = offset;
                }
            }
        }
        count = remaining >>> idx;
        return (count << 8) | idx;
    }

    private static long mask(int highBit) {
        return highBit >= 63 ? -1L : (1L << (highBit + 1)) - 1;
    }

    /**
     * {@code iommu_map}: maps {@code [iova, iova + size)} to {@code [paddr, paddr + size)}; on failure unmaps what
     * this call mapped and rethrows.
     *
     * @throws ErrnoException EINVAL when iova, paddr or size is not aligned to the domain's smallest page size;
     *         the driver's errno
     */
    public static void map(IommuDomain domain, long bitmap, long iova, long paddr, long size, int prot, IotlbGather gather) {
        long min = Long.lowestOneBit(bitmap);
        if (((iova | paddr | size) & (min - 1)) != 0 || size == 0) {
            throw ErrnoException.of(Errno.EINVAL, "iova %#x, paddr %#x, size %#x not aligned to the domain's minimum page size %#x",
                    iova, paddr, size, min);
        }
        long done = 0;
        try {
            while (done < size) {
                long r = pgsize(bitmap, iova + done, paddr + done, size - done);
                if (r < 0) {
                    throw ErrnoException.of(Errno.EINVAL, "no page size fits iova %#x paddr %#x", iova + done, paddr + done);
                }
                long pg = 1L << (r & 0xff);
                long count = r >>> 8;
                long mapped;
                try {
                    mapped = domain.mapPages(iova + done, paddr + done, pg, count, prot);
                } catch (ErrnoException e) {
                    done += e.progress();
                    throw e;
                }
                done += mapped;
            }
        } catch (RuntimeException e) {
            if (done > 0) {
                unmap(domain, bitmap, iova, paddr, done, gather);
            }
            throw e;
        }
        domain.iotlbSyncMap(iova, size);
    }

    /**
     * Unmaps {@code [iova, iova + size)}, mapped earlier by {@link #map} with the same {@code paddr} (or page by page),
     * and syncs the IOTLB. Each unmap_pages call names whole leaves: the decomposition of the map, stepping down to
     * smaller page sizes where the driver finds smaller leaves. Never fails: a driver that unmaps less than asked is a
     * bug (the kernel WARNs), reported here as an {@link IllegalStateException} after the sync.
     *
     * @return bytes unmapped
     */
    public static long unmap(IommuDomain domain, long bitmap, long iova, long paddr, long size, IotlbGather gather) {
        return unmap(domain, bitmap, iova, paddr, size, gather, true);
    }

    /**
     * {@link #unmap(IommuDomain, long, long, long, long, IotlbGather)}, with the sync left to the caller when
     * {@code sync} is false: the unmapped range stays in {@code gather} (the driver syncs by itself when the gather
     * cannot take a disjoint range), so that an area unmapped run by run is invalidated once, by {@link #sync},
     * before its pages are unpinned ({@code iommu_unmap_fast} + {@code iommu_iotlb_sync}).
     *
     * @return bytes unmapped
     * @throws IllegalStateException (after syncing) when the driver unmapped less than asked
     */
    public static long unmap(IommuDomain domain, long bitmap, long iova, long paddr, long size, IotlbGather gather, boolean sync) {
        long done = 0;
        while (done < size) {
            long r = pgsize(bitmap, iova + done, paddr + done, size - done);
            if (r < 0) {
                break;
            }
            long pg = 1L << (r & 0xff);
            long count = r >>> 8;
            long n = domain.unmapPages(iova + done, pg, count, gather);
            // The range may have been mapped with smaller leaves than its alignment allows (IOMMU_OPTION_HUGE_PAGES
            // was 0 when it was mapped): step down through the smaller page sizes, one leaf at a time.
            for (long smaller = bitmap & (pg - 1); n <= 0 && smaller != 0; smaller &= ~Long.highestOneBit(smaller)) {
                n = domain.unmapPages(iova + done, Long.highestOneBit(smaller), 1, gather);
            }
            if (n <= 0) {
                break;
            }
            done += n;
        }
        if (sync || done != size) {
            sync(domain, gather);
        }
        if (done != size) {
            throw new IllegalStateException(String.format(
                    "driver unmapped %#x of %#x bytes at iova %#x (unmap must pair with map)", done, size, iova));
        }
        return done;
    }

    /** {@code iommu_iotlb_sync}: invalidates what {@code gather} holds (if anything) and empties it. */
    public static void sync(IommuDomain domain, IotlbGather gather) {
        if (!gather.isEmpty() || gather.freelistSize() != 0) {
            domain.iotlbSync(gather);
        }
        gather.reset();
    }
}
