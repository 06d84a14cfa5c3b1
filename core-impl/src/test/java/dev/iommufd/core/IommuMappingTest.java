package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** iommu_pgsize: the page size and count chosen for each step of an iommu_map (hand-computed cases). */
class IommuMappingTest {
    private static final long SZ_4K = 1L << 12;
    private static final long SZ_2M = 1L << 21;
    private static final long SZ_1G = 1L << 30;
    private static final long BITMAP = SZ_4K | SZ_2M | SZ_1G;

    private static long size(long r) {
        return 1L << (r & 0xff);
    }

    private static long count(long r) {
        return r >>> 8;
    }

    @Test
    void alignedRunUsesTheLargestPage() {
        long r = IommuMapping.pgsize(BITMAP, 0x4000_0000L, 0x8000_0000L, 4 * SZ_2M);
        assertEquals(SZ_2M, size(r));
        assertEquals(4, count(r));
    }

    @Test
    void smallPagesStopAtTheNextLargePageBoundary() {
        // IOVA and PA share their 2 MiB offset 0x1ff000: one 4K page, then 2M pages can start.
        long r = IommuMapping.pgsize(BITMAP, 0x1ff000L, 0x5ff000L, SZ_4K + SZ_2M + SZ_2M);
        assertEquals(SZ_4K, size(r));
        assertEquals(1, count(r));
    }

    @Test
    void mismatchedOffsetsNeverUseLargePages() {
        // IOVA 2M aligned but PA only 4K aligned relative to it: all 4K pages.
        long r = IommuMapping.pgsize(BITMAP, 0x20_0000L, 0x30_1000L, SZ_2M);
        assertEquals(SZ_4K, size(r));
        assertEquals(512, count(r));
    }

    @Test
    void subPageGranuleDomain() {
        long mock = 1L << 11 | 1L << 20; // 2 KiB and 1 MiB, like the selftest mock domain
        long r = IommuMapping.pgsize(mock, 0x800L, 0x1800L, 3 * 2048);
        assertEquals(2048, size(r));
        assertEquals(3, count(r));
    }
}
