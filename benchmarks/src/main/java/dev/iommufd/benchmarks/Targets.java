package dev.iommufd.benchmarks;

import java.util.List;
import java.util.Map;

/**
 * The targets table: the one place where the scenarios are tied to benchmarks and limits. Kernel
 * reference points the targets were set from: generic page-table code maps one 4 KiB IOPTE in 53-71 ns and 256 in
 * about 390 ns (desktop CPU); vfio pins a 4 KiB page in about 62 ns; four-level tables cost 8.016 B of PTE memory
 * per mapped 4 KiB page.
 */
public final class Targets {
    private Targets() {
    }

    static final double NONE = Double.NaN;
    static final long SPAN_64G = 64L << 30;

    private static Target t(String id, String benchmark, Map<String, String> params, double scale, String unit,
            double limit, String what) {
        return new Target(id, benchmark, params, scale, unit, limit, false, what);
    }

    public static final List<Target> ALL = List.of(
            t("B1-4K", "MapUnmapBenchmark.mapOne", Map.of("pageSize", "4096"), 1, "ns/page", 100,
                    "map one 4K IOPTE into a warm table (256 one-page calls; the unmap is untimed)"),
            t("B1-2M", "MapUnmapBenchmark.mapOne", Map.of("pageSize", "2097152"), 1, "ns/page", 100,
                    "map one 2M IOPTE into a warm table (256 one-page calls; the unmap is untimed)"),
            t("B1-1G", "MapUnmapBenchmark.mapOne", Map.of("pageSize", "1073741824"), 1, "ns/page", 100,
                    "map one 1G IOPTE into a warm table (256 one-page calls; the unmap is untimed)"),
            t("B2", "MapUnmapBenchmark.map256", Map.of(), 1, "ns/call", 600, "map 256 4K IOPTEs in one call"),
            t("B3-1", "MapUnmapBenchmark.unmapOne", Map.of(), 1, "ns/page", 120,
                    "unmap one 4K IOPTE + gather sync (256 in a row; the map is untimed)"),
            t("B3-256", "MapUnmapBenchmark.unmap256", Map.of(), 1, "ns/call", 700,
                    "unmap 256 4K IOPTEs in one call + gather sync"),
            t("B4-4K-map", "BulkMapBenchmark.mapAll", Map.of("pageSize", "4096"), 1, "ms", 50,
                    "map 64 GiB in 4K pages into an empty table"),
            t("B4-4K-unmap", "BulkMapBenchmark.unmapAll", Map.of("pageSize", "4096"), 1, "ms", 50,
                    "unmap 64 GiB of 4K pages + sync, tables freed"),
            t("B4b-2M-map", "LargeLeafBulkMapBenchmark.mapAll", Map.of("pageSize", "2097152"), 1e-3, "ms", 1,
                    "map 64 GiB in 2M pages into an empty range (steady state; emptied untimed per invocation)"),
            t("B4b-2M-unmap", "LargeLeafBulkMapBenchmark.unmapAll", Map.of("pageSize", "2097152"), 1e-3, "ms", 1,
                    "unmap 64 GiB of 2M pages + sync, tables freed (steady state; refilled untimed)"),
            t("B4b-1G-map", "LargeLeafBulkMapBenchmark.mapAll", Map.of("pageSize", "1073741824"), 1, "us", 20,
                    "map 64 GiB in 1G pages into an empty range (steady state; emptied untimed per invocation)"),
            t("B4b-1G-unmap", "LargeLeafBulkMapBenchmark.unmapAll", Map.of("pageSize", "1073741824"), 1, "us", 20,
                    "unmap 64 GiB of 1G pages + sync (steady state; refilled untimed)"),
            t("B5-map", "IoasBenchmark.ioasMapAll", Map.of(), 1, "ns/page", 10,
                    "IOAS_MAP of a user range (pin, account, fill the domain), per 4 KiB page"),
            t("B5-unmap", "IoasBenchmark.ioasUnmapAll", Map.of(), 1, "ns/page", 10,
                    "IOAS_UNMAP of it (unmap, invalidate, unpin), per page"),
            t("B6", "TranslateBenchmark.hit90Window", Map.of(), 1, "ns/xlate", 30,
                    "device translation, 90% IOTLB hits, 64 GiB of 4K pages, 32 requests outstanding (translateWindow)"),
            t("B6-serial", "TranslateBenchmark.hit90", Map.of(), 1, "ns/xlate", NONE,
                    "the same stream, one request outstanding at a time (translate)"),
            t("B6b-dependent", "TranslateBenchmark.missDependent", Map.of(), 1, "ns/xlate", 350,
                    "IOTLB-miss translation, each address depends on the previous result"),
            t("B6b-independent", "TranslateBenchmark.missIndependent", Map.of(), 1, "ns/xlate", NONE,
                    "IOTLB-miss translation, independent random addresses"),
            t("B6b-independent-window", "TranslateBenchmark.missIndependentWindow", Map.of(), 1, "ns/xlate", NONE,
                    "IOTLB-miss translation, independent random addresses, 32 requests outstanding"),
            t("B6b-sequential", "TranslateBenchmark.missSequential", Map.of(), 1, "ns/xlate", NONE,
                    "IOTLB-miss translation, consecutive pages"),
            t("B6c", "NestedTranslateBenchmark.hit90", Map.of(), 1, "ns/xlate", NONE,
                    "nested (stage 1 over stage 2) translation, 90% IOTLB hits, 64 GiB of guest 4K pages"),
            t("B6c-dependent", "NestedTranslateBenchmark.missDependent", Map.of(), 1, "ns/xlate", NONE,
                    "nested IOTLB-miss translation, each address depends on the previous result"),
            t("B6c-independent", "NestedTranslateBenchmark.missIndependent", Map.of(), 1, "ns/xlate", NONE,
                    "nested IOTLB-miss translation, independent random addresses"),
            t("B6c-sequential", "NestedTranslateBenchmark.missSequential", Map.of(), 1, "ns/xlate", NONE,
                    "nested IOTLB-miss translation, consecutive pages"),
            t("B7-page", "IotlbInvalidationBenchmark.page", Map.of(), 1, "ns/op", 30,
                    "IOTLB model: page-selective invalidation of one cached 4K page, IOTLB full"),
            t("B7-range16", "IotlbInvalidationBenchmark.range16", Map.of(), 1, "ns/op", NONE,
                    "IOTLB model: invalidation of a 16-page range"),
            t("B7-domain-empty", "IotlbInvalidationBenchmark.domainWide", Map.of("iotlb", "empty"), 1, "ns/op", NONE,
                    "IOTLB model: domain-wide invalidation, IOTLB empty"),
            t("B7-domain-half", "IotlbInvalidationBenchmark.domainWide", Map.of("iotlb", "half"), 1, "ns/op", NONE,
                    "IOTLB model: domain-wide invalidation, IOTLB half full"),
            t("B7-domain-ratio", "ratio:B7-domain-half/B7-domain-empty", Map.of(), 1, "x", 1.5,
                    "IOTLB model, domain-wide: half-full / empty (O(1): about 1)"),
            t("B7-page-sync", "InvalidationBenchmark.page", Map.of(), 1, "ns/op", NONE,
                    "driver iotlb_sync of one page: queue descriptors + wait, executed by the model"),
            t("B7-range16-sync", "InvalidationBenchmark.range16", Map.of(), 1, "ns/op", NONE,
                    "driver iotlb_sync of a 16-page gather"),
            t("B7-domain-sync-empty", "InvalidationBenchmark.domainWide", Map.of("iotlb", "empty"), 1, "ns/op", NONE,
                    "driver flush_iotlb_all, IOTLB empty"),
            t("B7-domain-sync-half", "InvalidationBenchmark.domainWide", Map.of("iotlb", "half"), 1, "ns/op", NONE,
                    "driver flush_iotlb_all, IOTLB half full"),
            t("B8", "IoasBenchmark.churn64k", Map.of(), 1, "ns/buffer", 400,
                    "IOAS_MAP 64 KiB at an allocated IOVA, translate, IOAS_UNMAP"),
            t("B9-100K", "IovaAllocatorBenchmark.allocFree", Map.of("liveAreas", "100000"), 1, "ns/op", 300,
                    "IOVA allocator: allocate + free one page (area insert/remove) with 100K live areas"),
            t("B9-1M", "IovaAllocatorBenchmark.allocFree", Map.of("liveAreas", "1000000"), 1, "ns/op", 2000,
                    "IOVA allocator: allocate + free one page with 1M live areas"),
            t("B9-fragmented", "IovaAllocatorBenchmark.allocFreeFragmented", Map.of(), 1, "ns/op", 2000,
                    "IOVA allocator: 8 KiB above every one-page hole of a fragmented 32-bit window, + free"),
            t("B9-search-100K", "IovaAllocatorBenchmark.allocOnly", Map.of("liveAreas", "100000"), 1, "ns/op", NONE,
                    "IOVA allocator: the search alone (allocIova), 100K live areas"),
            t("B9-search-1M", "IovaAllocatorBenchmark.allocOnly", Map.of("liveAreas", "1000000"), 1, "ns/op", NONE,
                    "IOVA allocator: the search alone (allocIova), 1M live areas"),
            t("B9-ioas-100K", "IoasBenchmark.allocIova", Map.of("areas", "100000"), 1, "ns/op", NONE,
                    "IOAS_MAP (allocated IOVA, pin, domain fill) + IOAS_UNMAP of one page, 100K live areas"),
            t("B9-ioas-fragmented", "IoasBenchmark.allocIovaFragmented", Map.of(), 1, "ns/op", NONE,
                    "IOAS_MAP + IOAS_UNMAP of 8 KiB above every hole of a fragmented window"),
            t("B10-1/64", "DirtyHarvestBenchmark.harvestSparse", Map.of(), 1, "ms", 30,
                    "read_and_clear_dirty over 64 GiB, 1/64 dirty, into a bitmap"),
            t("B10-100%", "DirtyHarvestBenchmark.harvestAllNoClear", Map.of(), 1, "ms", NONE,
                    "read dirty (NO_CLEAR) over 64 GiB, 100% dirty"),
            t("B11-table", "B11:table", Map.of(), 1, "B/page", 8.1, "page-table bytes per mapped 4K page (64 GiB)"),
            t("B11-area", "B11:area", Map.of(), 1, "B/area", 64, "retained heap per live IOAS area (100K areas)"),
            t("B11-area-64K", "B11:area64k", Map.of(), 1, "B/area", NONE, "retained heap per live 64 KiB (16-page) IOAS area (100K areas)"),
            t("B11-iotlb", "B11:iotlb", Map.of(), 1, "B/entry", NONE, "IOTLB bytes per entry (model arrays)"),
            t("B12-B1", "B12:B1-4K", Map.of(), 1, "B/op", 0, "allocation per B1 (gc.alloc.rate.norm)"),
            t("B12-B2", "B12:B2", Map.of(), 1, "B/op", 0, "allocation per B2"),
            t("B12-B3", "B12:B3-1", Map.of(), 1, "B/op", 0, "allocation per B3-1"),
            t("B12-B3-256", "B12:B3-256", Map.of(), 1, "B/op", 0, "allocation per B3-256"),
            t("B12-B6", "B12:B6", Map.of(), 1, "B/op", 0, "allocation per B6 translation"),
            t("B12-B6c", "B12:B6c", Map.of(), 1, "B/op", 0, "allocation per B6c nested translation"),
            t("B12-B7", "B12:B7-page", Map.of(), 1, "B/op", 0, "allocation per B7 page invalidation (IOTLB model)"),
            t("B12-B7-sync", "B12:B7-page-sync", Map.of(), 1, "B/op", 0, "allocation per driver iotlb_sync of a page"),
            t("B12-B9", "B12:B9-100K", Map.of(), 1, "B/op", 0, "allocation per B9 allocate + free (100K areas)"),
            t("B12-B9-ioas", "B12:B9-ioas-100K", Map.of(), 1, "B/op", NONE, "allocation per IOAS_MAP+UNMAP of one page"),
            new Target("B13-map", "B13:ConcurrencyBenchmark.mapUnmap", Map.of(), 1, "x", 1.7, true,
                    "2-thread / 1-thread throughput, map+unmap on disjoint ranges of one domain"),
            new Target("B13-xlate", "B13:ConcurrencyBenchmark.translate", Map.of(), 1, "x", 1.7, true,
                    "2-thread / 1-thread throughput, translation from two devices"),
            new Target("B13-control", "B13:ConcurrencyBenchmark.control", Map.of(), 1, "x", NONE, true,
                    "2-thread / 1-thread throughput of work that shares nothing: the machine's ceiling for B13"),
            new Target("B13-sharedline", "B13:ConcurrencyBenchmark.sharedLine", Map.of(), 1, "x", NONE, true,
                    "2-thread / 1-thread throughput of increments of one shared counter: the cost of a cache-line"
                            + " transfer between the CPUs in this run"),
            new Target("B13-map-op", "B13op:ConcurrencyBenchmark.mapUnmap", Map.of(), 1, "ns/op", NONE, false,
                    "one thread's time per map 16 + unmap 16 + sync: what one cache-line transfer per operation"
                            + " (B13-sharedline) is set against"),
            new Target("B13-xlate-op", "B13op:ConcurrencyBenchmark.translate", Map.of(), 1, "ns/op", NONE, false,
                    "one thread's time per translation of B13-xlate's stream (one device alone)"));

    /**
     * B12 counts as met below this many bytes per operation: gc.alloc.rate.norm divides every byte the benchmark
     * thread allocated in an iteration (JIT-time, profiler and per-invocation setup included) by the operations, so
     * a path that allocates nothing still shows a fraction of a byte; one object per operation is at least 16 B.
     */
    static final double ALLOCATION_NOISE = 1.0;
}
