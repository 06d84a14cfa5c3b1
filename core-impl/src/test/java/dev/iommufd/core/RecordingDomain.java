package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainGeometry;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IotlbGather;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A paging domain that records what the core asks of it: every map_pages / unmap_pages call and the leaves it
 * holds (IOVA → physical address and page size). It checks the SPI preconditions (alignment, no overlap, unmap
 * exactly a leaf) and can fail the n-th map with ENOMEM.
 */
final class RecordingDomain implements IommuDomain {
    /** One map_pages or unmap_pages call. */
    record Call(boolean map, long iova, long paddr, long pgsize, long pgcount) {
    }

    private final DomainGeometry geometry;
    final List<Call> calls = new ArrayList<>();
    /** Leaves: iova → {paddr, pgsize, prot}. */
    final TreeMap<Long, long[]> leaves = new TreeMap<>(Long::compareUnsigned);
    int syncs;
    /** Fail the map_pages call with this index (0-based), or -1. */
    int failMapAt = -1;
    private int mapCount;

    RecordingDomain(DomainGeometry geometry) {
        this.geometry = geometry;
    }

    @Override
    public DomainType type() {
        return DomainType.PAGING;
    }

    @Override
    public IommuDriver driver() {
        return null;
    }

    @Override
    public DomainGeometry geometry() {
        return geometry;
    }

    @Override
    public long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
        calls.add(new Call(true, iova, paddr, pgsize, pgcount));
        if ((geometry.pgsizeBitmap() & pgsize) == 0 || ((iova | paddr) & (pgsize - 1)) != 0) {
            throw ErrnoException.of(Errno.EINVAL, "bad map_pages %#x %#x %#x", iova, paddr, pgsize);
        }
        if (mapCount++ == failMapAt) {
            throw new ErrnoException(Errno.ENOMEM, "injected", 0, null);
        }
        for (long i = 0; i < pgcount; i++) {
            long at = iova + i * pgsize;
            Map.Entry<Long, long[]> below = leaves.floorEntry(at + pgsize - 1);
            if (below != null && Long.compareUnsigned(below.getKey() + below.getValue()[1] - 1, at) >= 0) {
                throw new ErrnoException(Errno.EEXIST, String.format("iova %#x already mapped", at), i * pgsize, null);
            }
            leaves.put(at, new long[] {paddr + i * pgsize, pgsize, prot});
        }
        return pgsize * pgcount;
    }

    @Override
    public long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
        calls.add(new Call(false, iova, 0, pgsize, pgcount));
        long done = 0;
        for (long i = 0; i < pgcount; i++) {
            long[] leaf = leaves.get(iova + i * pgsize);
            if (leaf == null || leaf[1] != pgsize) {
                break;
            }
            leaves.remove(iova + i * pgsize);
            done += pgsize;
        }
        if (done > 0) {
            gather.addRange(iova, done);
        }
        return done;
    }

    @Override
    public void iotlbSync(IotlbGather gather) {
        syncs++;
    }

    @Override
    public long iovaToPhys(long iova) {
        Map.Entry<Long, long[]> e = leaves.floorEntry(iova);
        if (e == null || Long.compareUnsigned(iova - e.getKey(), e.getValue()[1]) >= 0) {
            return NO_TRANSLATION;
        }
        return e.getValue()[0] + (iova - e.getKey());
    }

    long mapCalls() {
        return calls.stream().filter(Call::map).count();
    }

    @Override
    public void attachDevice(DeviceHandle device) {
        throw ErrnoException.notSupported("attach to a recording domain");
    }

    @Override
    public void free() {
    }
}
