package dev.iommufd.benchmarks;

/**
 * The state B4 ({@link BulkMapBenchmark}) and B4b ({@link LargeLeafBulkMapBenchmark}) share: one domain
 * ({@link DomainFixture}) and whether {@code [BulkMapBenchmark.BASE, + bytes())} is mapped with leaves of
 * {@code pageSize()}. The JMH state classes of the two benchmarks declare the parameters and the setup levels;
 * this class does the work, 1 GiB per {@code mapPages}/{@code unmapPages} call (as iommufd fills a domain area by
 * area), every mapping pointing into the fixture's 1 GiB physical block.
 */
abstract class MappedRange {
    DomainFixture f;
    boolean mapped;

    /** Bytes of the range. */
    abstract long bytes();

    /** Size of every leaf of the range. */
    abstract long leafSize();

    /** Opens the domain (a trial setup). */
    final void open(Format format) {
        f = new DomainFixture(format, false, 1);
    }

    /** Empties the range if it is mapped, then closes the domain (a trial tear-down). */
    final void close() {
        ensureEmpty();
        f.close();
    }

    /** Unmaps the range (and syncs) if it is mapped: an untimed setup before a map. */
    final void ensureEmpty() {
        if (mapped) {
            unmapAll();
        }
    }

    /** Maps the range if it is not: an untimed setup before an unmap. */
    final void ensureFull() {
        if (!mapped) {
            mapAll();
        }
    }

    /** Maps the whole range into an empty one; returns the frames the fixture has allocated. */
    final long mapAll() {
        f.mapSpan(BulkMapBenchmark.BASE, bytes(), leafSize());
        mapped = true;
        return f.allocatedFrames();
    }

    /** Unmaps the whole range, then syncs (tables freed as the format frees them); returns the frames allocated. */
    final long unmapAll() {
        f.unmapSpan(BulkMapBenchmark.BASE, bytes(), leafSize());
        mapped = false;
        return f.allocatedFrames();
    }
}
