package dev.iommufd.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

/**
 * B11, measured in bytes rather than time (no JMH):
 *
 * <ul>
 *   <li>{@link #tableBytesPerPage}: frames the driver took from the machine's frame allocator while mapping
 *       {@code span} bytes in 4 KiB pages into an empty domain, times 4096, divided by the pages mapped (the
 *       kernel's figure for four-level tables: 8.016 B per 4 KiB page).
 *   <li>{@link #heapBytesPerArea}: retained Java heap (after full GCs) per live IOAS area, for {@code areas}
 *       one-page areas created with IOAS_MAP; includes the area's share of page-table storage (the simulated
 *       memory keeps table frames on the heap: about 8 B per page).
 *   <li>{@link #iotlbBytesPerEntry}: the hardware model's IOTLB arrays, read by reflection (the IOTLB is internal
 *       to the model): bytes of every array no longer than the capacity, divided by the capacity. Fixed
 *       per-unit arrays (longer than the capacity, e.g. VT-d's per-domain-ID generation table) are reported
 *       separately by {@link #iotlbFixedBytes}.
 * </ul>
 */
public final class MemoryFootprint {
    private MemoryFootprint() {
    }

    public static double tableBytesPerPage(Format format, long span) {
        try (DomainFixture f = new DomainFixture(format, false, 1)) {
            long before = f.allocatedFrames();
            f.mapSpan(1L << 40, span, DomainFixture.PAGE);
            long frames = f.allocatedFrames() - before;
            double r = frames * 4096.0 / (span / DomainFixture.PAGE);
            f.unmapSpan(1L << 40, span, DomainFixture.PAGE);
            return r;
        }
    }

    static long usedHeap() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    public static double heapBytesPerArea(Format format, int areas) {
        return heapBytesPerArea(format, areas, 1);
    }

    /**
     * Retained heap per live area of {@code pagesPerArea} 4 KiB pages (all areas map the same user buffer, so each
     * holds its own pages object and pins). One-page areas keep their pages state in the area table; larger areas
     * carry an {@code IoPages} object, as the kernel allocates an {@code iopt_pages} per map.
     */
    public static double heapBytesPerArea(Format format, int areas, int pagesPerArea) {
        long length = 4096L * pagesPerArea;
        try (IommufdFixture f = new IommufdFixture(format, 1L << 30)) {
            long page = f.process.mmap(IoasBenchmark.USER_VA, length, dev.iommufd.platform.Prot.READ_WRITE,
                    dev.iommufd.platform.MapKind.ANONYMOUS);
            for (long off = 0; off < length; off += 4096) {
                f.process.write64(page + off, 1);
            }
            // one area first, so that one-time structures are not charged to the measured areas
            f.fd.ioasMap(f.ioas, IommufdFixture.RW_FIXED, page, length, 1L << 40);
            long before = usedHeap();
            IoasBenchmark.packFromBottom(f, page, length, areas);
            long after = usedHeap();
            return (double) (after - before) / areas;
        }
    }

    /** Bytes per IOTLB entry of the format's hardware model, {@code [perEntry, fixed]}. */
    static double[] iotlb(Format format) {
        try (DomainFixture f = new DomainFixture(format, false, 1)) {
            Object tlb = null;
            for (Field fl : allFields(f.unit.getClass())) {
                String n = fl.getType().getSimpleName();
                // the IOTLB itself, not another cache built from the same class (VT-d's paging-structure cache
                // "pwc", SMMUv3's "walkCache")
                if ((n.equals("Iotlb") || n.equals("Smmuv3Tlb")) && (fl.getName().equals("iotlb") || fl.getName().equals("tlb"))) {
                    fl.setAccessible(true);
                    tlb = fl.get(f.unit);
                }
            }
            if (tlb == null) {
                throw new IllegalStateException("no IOTLB field in " + f.unit.getClass().getName());
            }
            int capacity = format.iotlbEntries;
            long perEntry = 0;
            long fixed = 0;
            for (Field fl : allFields(tlb.getClass())) {
                if (Modifier.isStatic(fl.getModifiers()) || !fl.getType().isArray()) {
                    continue;
                }
                fl.setAccessible(true);
                Object a = fl.get(tlb);
                if (a == null) {
                    continue;
                }
                int len = Array.getLength(a);
                long bytes = (long) len * elementSize(fl.getType().getComponentType()) + 16;
                // per entry: one element per entry, or a few words per entry in one interleaved array (VT-d's Iotlb
                // keeps each 4-way set's 16 words together: 4 per entry; SMMUv3's Smmuv3Tlb each 4-way set's 17 words:
                // 4.25 per entry); the per-DID / per-ASID tables (65536 elements: 16 or 64 per entry) do not grow
                // with the capacity
                if (len <= 8L * capacity) {
                    perEntry += bytes;
                } else {
                    fixed += bytes;
                }
            }
            return new double[] {(double) perEntry / capacity, fixed};
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    public static double iotlbBytesPerEntry(Format format) {
        return iotlb(format)[0];
    }

    public static double iotlbFixedBytes(Format format) {
        return iotlb(format)[1];
    }

    private static java.util.List<Field> allFields(Class<?> c) {
        java.util.List<Field> l = new java.util.ArrayList<>();
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            l.addAll(java.util.Arrays.asList(k.getDeclaredFields()));
        }
        return l;
    }

    private static int elementSize(Class<?> t) {
        if (t == long.class || t == double.class) {
            return 8;
        }
        if (t == int.class || t == float.class) {
            return 4;
        }
        if (t == short.class || t == char.class) {
            return 2;
        }
        if (t == byte.class || t == boolean.class) {
            return 1;
        }
        return 4; // compressed reference
    }
}
