package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRange;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The sublinear IOVA allocator ({@code iopt_alloc_iova}, max-gap summaries of areas and reservations) against
 * a simple linear reference that walks every hole of (reserved ∪ areas), lowest first, within each allowed range
 * (or [PAGE_SIZE, ULONG_MAX - PAGE_SIZE]), with the kernel's alignment and page-offset rules
 * ({@code __alloc_iova_check_range}). Thousands of random map / unmap / reserve / unreserve sequences, including
 * tables of many summary blocks (several levels of the max-tree), page offsets in the user address, and ranges at the top
 * of the address space. Every allocation must return the same IOVA (or fail with the same errno) as the reference.
 */
class IovaAllocatorRandomTest {
    private static final long PAGE = IoPageTable.PAGE_SIZE;

    @Test
    void smallTablesMatchTheLinearReference() {
        run(3000, 40, 60, 0x4000_0000L, 11);
    }

    @Test
    void tablesOfManySummaryBlocksMatchTheLinearReference() { // up to 512 blocks: ten levels of the max-tree
        run(2, 512 * IovaIntervals.BLOCK, 400, 1L << 40, 12);
    }

    private static void run(int trials, int mapsPerTrial, int queriesPerTrial, long universe, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long compared = 0;
        long fits = 0;
        try (SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20).build())) {
            UserProcess proc = machine.spawn("p", 0);
            for (int t = 0; t < trials; t++) {
                IoPageTable iopt = new IoPageTable(machine.memory());
                // A small universe makes holes short and collisions frequent; some trials use the top of the space.
                long base = rnd.nextInt(4) == 0 ? -universe : 0;
                long scale = rnd.nextBoolean() ? PAGE : PAGE * (1 + rnd.nextInt(64));
                List<long[]> allowed = new ArrayList<>();
                if (rnd.nextInt(3) == 0) {
                    int n = 1 + rnd.nextInt(4);
                    long cur = base + rnd.nextLong(universe / 8);
                    long[] s = new long[n];
                    long[] l = new long[n];
                    for (int i = 0; i < n; i++) {
                        s[i] = cur;
                        l[i] = cur + rnd.nextLong(universe / 8) + PAGE - 1;
                        cur = l[i] + 1 + rnd.nextLong(universe / 16);
                        allowed.add(new long[] {s[i], l[i]});
                    }
                    iopt.setAllowed(s, l);
                }
                Object[] owners = {"a", "b", "c"};
                for (int step = 0; step < mapsPerTrial; step++) {
                    int op = rnd.nextInt(10);
                    long iova = base + (rnd.nextLong(universe) & -PAGE);
                    long len = (1 + rnd.nextInt(mapsPerTrial > 1000 ? 4 : 16)) * (rnd.nextBoolean() ? PAGE : scale);
                    try {
                        if (op < 6) {
                            IoPages pages = IoPages.ofUser(proc, 0x7000_0000_0000L, len, true);
                            iopt.mapPages(List.of(new IoPageTable.PagesSlice(pages, 0, len)), len, iova, 3, false);
                        } else if (op < 8) {
                            iopt.reserve(owners[rnd.nextInt(owners.length)], iova, iova + len - 1);
                        } else if (op < 9 && mapsPerTrial < 1000) {
                            List<IovaRange> areas = iopt.areaRanges();
                            if (!areas.isEmpty()) {
                                IovaRange a = areas.get(rnd.nextInt(areas.size()));
                                iopt.unmapIova(a.start(), a.last() - a.start() + 1);
                            }
                        } else if (mapsPerTrial < 1000 && rnd.nextInt(4) == 0) {
                            iopt.unreserveOwner(owners[rnd.nextInt(owners.length)]);
                        }
                    } catch (ErrnoException e) {
                        // Overlaps and out-of-range requests are refused; the table is unchanged.
                    }
                    if (mapsPerTrial < 1000 || step % 97 == 0) {
                        for (int q = 0; q < (mapsPerTrial < 1000 ? 2 : 1); q++) {
                            fits += compare(iopt, allowed, rnd, universe, scale);
                            compared++;
                        }
                    }
                }
                for (int q = 0; q < queriesPerTrial; q++) {
                    fits += compare(iopt, allowed, rnd, universe, scale);
                    compared++;
                }
                iopt.unmapAll();
            }
        }
        // The sequences must exercise both outcomes.
        assertTrue(fits > compared / 10 && fits < compared, "fits " + fits + " of " + compared);
    }

    /** One random allocation compared with the reference; returns 1 when it fitted. */
    private static int compare(IoPageTable iopt, List<long[]> allowed, SplittableRandom rnd, long universe, long scale) {
        long addr = switch (rnd.nextInt(4)) {
            case 0 -> 0;
            case 1 -> rnd.nextLong() & -PAGE;
            case 2 -> (rnd.nextLong() & -PAGE) | (16L << rnd.nextInt(8));
            default -> rnd.nextLong(universe);
        };
        long length = switch (rnd.nextInt(3)) {
            case 0 -> (1 + rnd.nextInt(32)) * PAGE;
            case 1 -> 1 + rnd.nextLong(universe / 4);
            default -> (1 + rnd.nextInt(8)) * scale;
        };
        List<long[]> blockers = new ArrayList<>();
        for (IovaRange r : iopt.areaRanges()) {
            blockers.add(new long[] {r.start(), r.last()});
        }
        for (IovaRange r : iopt.reservedRanges()) {
            blockers.add(new long[] {r.start(), r.last()});
        }
        blockers.sort((a, b) -> Long.compareUnsigned(a[0], b[0]));
        String expected;
        try {
            expected = Long.toHexString(referenceAlloc(allowed, blockers, addr, length));
        } catch (ErrnoException e) {
            expected = e.errno().name();
        }
        String actual;
        iopt.lock.lock();
        try {
            actual = Long.toHexString(iopt.allocIova(addr, length));
        } catch (ErrnoException e) {
            actual = e.errno().name();
        } finally {
            iopt.lock.unlock();
        }
        assertEquals(expected, actual, () -> String.format("allocIova(%#x, %#x) with allowed %s, blockers %d",
                addr, length, allowed.stream().map(a -> Long.toHexString(a[0]) + "-" + Long.toHexString(a[1])).toList(), blockers.size()));
        return expected.startsWith("E") && !expected.matches("[0-9a-f]+") ? 0 : 1;
    }

    // ---------------------------------------------------------------- the linear reference

    private static long referenceAlloc(List<long[]> allowed, List<long[]> blockers, long addr, long length) {
        long pageOffset = addr & (PAGE - 1);
        if (length == 0 || Long.compareUnsigned(length, -1L >>> 1) >= 0) {
            throw ErrnoException.of(dev.iommufd.api.Errno.EOVERFLOW, "length");
        }
        long align = length == 1 ? 1 : Long.highestOneBit(length - 1) << 1;
        if (addr != 0 && Long.compareUnsigned(Long.lowestOneBit(addr), align) < 0) {
            align = Long.lowestOneBit(addr);
        }
        if (Long.compareUnsigned(align, IoPageTable.HPAGE_SIZE) > 0) {
            align = IoPageTable.HPAGE_SIZE;
        }
        long lo = PAGE;
        long hi = -1L - PAGE;
        List<long[]> spans = allowed.isEmpty() ? List.of(new long[] {lo, hi}) : allowed;
        for (long[] span : spans) {
            long s = Long.compareUnsigned(span[0], lo) < 0 ? lo : span[0];
            long l = Long.compareUnsigned(span[1], hi) > 0 ? hi : span[1];
            if (Long.compareUnsigned(s, hi) > 0) {
                break;
            }
            if (fit(s, l, length, align, pageOffset) == null) {
                continue;
            }
            long cur = s;
            boolean done = false;
            for (long[] b : blockers) {
                if (Long.compareUnsigned(b[1], cur) < 0) {
                    continue;
                }
                if (Long.compareUnsigned(b[0], l) > 0) {
                    break;
                }
                if (Long.compareUnsigned(b[0], cur) > 0) {
                    Long r = fit(cur, b[0] - 1, length, align, pageOffset);
                    if (r != null) {
                        return r;
                    }
                }
                if (Long.compareUnsigned(b[1], l) >= 0) {
                    done = true;
                    break;
                }
                cur = b[1] + 1;
            }
            if (!done) {
                Long r = fit(cur, l, length, align, pageOffset);
                if (r != null) {
                    return r;
                }
            }
        }
        throw ErrnoException.of(dev.iommufd.api.Errno.ENOSPC, "no fit");
    }

    /** {@code __alloc_iova_check_range}, written out independently. */
    private static Long fit(long start, long last, long length, long align, long pageOffset) {
        long aligned = start + (align - 1);
        if (Long.compareUnsigned(aligned, start) < 0) {
            return null;
        }
        aligned = (aligned & -align) | pageOffset;
        if (Long.compareUnsigned(aligned, last) >= 0 || Long.compareUnsigned(last - aligned, length - 1) < 0) {
            return null;
        }
        return aligned;
    }
}
