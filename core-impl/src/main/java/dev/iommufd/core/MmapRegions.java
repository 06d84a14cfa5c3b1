package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import java.util.Map;
import java.util.TreeMap;

/**
 * The regions of physical (MMIO) pages an iommufd file offers to {@code mmap} ({@code ictx->mt_mmap}, Linux 6.17):
 * file offset → region. A vIOMMU registers one at allocation ({@code iommufd_viommu_alloc_mmap}) and removes it when
 * destroyed; user space learns the offset and length from the driver's output data and must pass both exactly.
 *
 * <pre>
 *   offsets: [PAGE_SIZE, ...) first fit, page granular (as mtree_alloc_range from PAGE_SIZE)
 *   Region { offset, length, pa, owner }   each live VMA of it holds one users reference on owner (IOMMU_DESTROY of the
 *                                          owner → EBUSY until munmap) and one reference on the file (vm_file)
 * </pre>
 *
 * <p>Lock: this object's monitor guards {@code regions}; the object table's lock is taken inside it.
 */
final class MmapRegions {
    private static final long PAGE_SIZE = 4096;

    /** One mmap-able region. Immutable. */
    static final class Region {
        final long offset;
        final long length;
        final long pa;
        final IommufdObject owner;

        Region(long offset, long length, long pa, IommufdObject owner) {
            this.offset = offset;
            this.length = length;
            this.pa = pa;
            this.owner = owner;
        }
    }

    private final IommufdContext ctx;
    /** By offset; guarded by this. */
    private final TreeMap<Long, Region> regions = new TreeMap<>();

    MmapRegions(IommufdContext ctx) {
        this.ctx = ctx;
    }

    /** {@code _iommufd_alloc_mmap}: registers {@code [pa, pa + length)} of {@code owner}; returns the file offset. */
    synchronized Region register(IommufdObject owner, long pa, long length) {
        if (length <= 0 || (length & (PAGE_SIZE - 1)) != 0 || (pa & (PAGE_SIZE - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "mmap region [%#x, +%#x) is not page aligned", pa, length);
        }
        long at = PAGE_SIZE;
        for (Region r : regions.values()) {
            if (r.offset - at >= length) {
                break;
            }
            at = r.offset + r.length;
        }
        Region region = new Region(at, length, pa, owner);
        regions.put(at, region);
        return region;
    }

    /** {@code iommufd_destroy_mmap}: the region leaves the file (live VMAs keep their pages mapped). */
    synchronized void unregister(Region region) {
        regions.remove(region.offset, region);
    }

    /** Regions still registered (for tests). */
    synchronized int size() {
        return regions.size();
    }

    /**
     * {@code iommufd_fops_mmap}: maps the region registered at exactly {@code offset} with exactly {@code length} into
     * {@code current} (MAP_SHARED). Order as the kernel: mmap(2)'s own checks (length 0 or offset not page aligned
     * EINVAL), then length not page aligned EINVAL, PROT_EXEC EPERM, no region containing {@code offset} ENXIO, not
     * its exact offset and length ENXIO. The mapping takes a users reference on the owner and a file reference,
     * both released when its last piece is unmapped.
     */
    long mmap(UserProcess current, long length, int prot, long offset) {
        if (length == 0 || (offset & (PAGE_SIZE - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "mmap length %#x is 0 or offset %#x is not page aligned", length, offset);
        }
        if ((prot & ~(Prot.READ | Prot.WRITE | Prot.EXEC)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "mmap prot %#x has unknown bits", prot);
        }
        if ((length & (PAGE_SIZE - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "mmap length %#x is not page aligned", length);
        }
        if ((prot & Prot.EXEC) != 0) {
            throw ErrnoException.of(Errno.EPERM, "mmap of iommufd MMIO with PROT_EXEC");
        }
        Region r;
        synchronized (this) {
            Map.Entry<Long, Region> e = regions.floorEntry(offset);
            r = e == null ? null : e.getValue();
            if (r == null || Long.compareUnsigned(offset - r.offset, r.length) >= 0) {
                throw ErrnoException.of(Errno.ENXIO, "no mmap region at offset %#x", offset);
            }
            if (r.offset != offset || r.length != length) {
                throw ErrnoException.of(Errno.ENXIO, "mmap (offset %#x, length %#x) is not exactly the region (%#x, %#x)",
                        offset, length, r.offset, r.length);
            }
            try {
                ctx.objects().addUser(r.owner);
            } catch (IllegalStateException dying) {
                throw ErrnoException.of(Errno.ENXIO, "the owner of mmap region %#x is being destroyed", offset);
            }
        }
        Region region = r;
        try {
            ctx.addFileReference();
        } catch (RuntimeException e) {
            ctx.objects().put(region.owner);
            throw e;
        }
        try {
            return current.mmapPhysical(0, length, prot, region.pa, () -> {
                ctx.objects().put(region.owner);
                ctx.releaseFileReference();
            });
        } catch (RuntimeException e) {
            ctx.objects().put(region.owner);
            ctx.releaseFileReference();
            throw e;
        }
    }
}
