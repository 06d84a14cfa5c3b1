package dev.iommufd.sim;

import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.platform.Prot;

/**
 * One mapping of a process ({@code struct vm_area_struct}): {@code [start, end)} with protection bits, backed either by
 * anonymous pages ({@code anon}), by a memfd ({@code file}), or (MAP_PRIVATE of a file, {@link MapKind#PRIVATE_FILE})
 * by both: the file's pages, each replaced on its first write (or long-term pin) by a private copy in {@code anon}.
 * Immutable: munmap replaces a mapping by its remainders.
 *
 * <pre>
 *   kind           anon                      file     page i of the mapping is
 *   ANONYMOUS/HUGE the pages                 null     anon[pgoff + i]
 *   SHARED         null                      memfd    file page pgoff + i
 *   PRIVATE_FILE   the private (COW) copies  memfd    anon[copyOff + i] if present, else file page pgoff + i
 *   PFN_MAP        null                      null     physical page pfn.pa + (pgoff + i) * 4 KiB
 * </pre>
 */
final class Vma {
    final long start;
    final long end;
    final int prot;
    final MapKind kind;
    final int pageShift;
    /** Backing pages of an anonymous or hugetlb mapping, or null. */
    final UserPages anon;
    /** The file of a shared mapping, or null. */
    final SimulatedMemFd file;
    /** Index of the first page in the backing (file offset / page size for a file). */
    final long pgoff;
    /** For {@link MapKind#PRIVATE_FILE}: index in {@code anon} of the first page's private copy; else 0. */
    final long copyOff;
    /** For {@link MapKind#PFN_MAP}: the mapped physical region; else null. */
    final PfnRegion pfn;

    Vma(long start, long end, int prot, MapKind kind, int pageShift, UserPages anon, SimulatedMemFd file, long pgoff) {
        this(start, end, prot, kind, pageShift, anon, file, pgoff, 0);
    }

    Vma(long start, long end, int prot, MapKind kind, int pageShift, UserPages anon, SimulatedMemFd file, long pgoff,
            long copyOff) {
        this(start, end, prot, kind, pageShift, anon, file, pgoff, copyOff, null);
    }

    /** A PFN_MAP mapping of {@code region}. */
    Vma(long start, long end, int prot, PfnRegion region, long pgoff) {
        this(start, end, prot, MapKind.PFN_MAP, PhysicalMemory.FRAME_SHIFT, null, null, pgoff, 0, region);
    }

    private Vma(long start, long end, int prot, MapKind kind, int pageShift, UserPages anon, SimulatedMemFd file, long pgoff,
            long copyOff, PfnRegion pfn) {
        this.start = start;
        this.end = end;
        this.prot = prot;
        this.kind = kind;
        this.pageShift = pageShift;
        this.anon = anon;
        this.file = file;
        this.pgoff = pgoff;
        this.copyOff = copyOff;
        this.pfn = pfn;
    }

    /** A MAP_PRIVATE mapping of a file (copy-on-write). */
    boolean privateFile() {
        return anon != null && file != null;
    }

    /** For a private file mapping: the index in {@code anon} of the private copy of {@code va}'s page. */
    long copyIndex(long va) {
        return copyOff + ((va - start) >>> pageShift);
    }

    long pageSize() {
        return 1L << pageShift;
    }

    boolean readable() {
        return (prot & Prot.READ) != 0;
    }

    boolean writable() {
        return (prot & Prot.WRITE) != 0;
    }

    /** The backing page index of {@code va}. */
    long pageIndex(long va) {
        return pgoff + ((va - start) >>> pageShift);
    }

    /** The part {@code [from, to)} of this mapping, same backing. */
    Vma slice(long from, long to) {
        long skip = (from - start) >>> pageShift;
        if (pfn != null) {
            return new Vma(from, to, prot, pfn, pgoff + skip);
        }
        return new Vma(from, to, prot, kind, pageShift, anon, file, pgoff + skip, file != null && anon != null ? copyOff + skip : 0);
    }

    /**
     * The physical address of {@code va} for a read, allocating its page on first touch. In a private file mapping
     * that is the private copy once there is one, else the file's page.
     */
    long touch(long va) {
        long inPage = va & (pageSize() - 1);
        if (pfn != null) {
            return pfn.pa + (pageIndex(va) << pageShift) + inPage;
        }
        if (file == null) {
            return anon.touch(pageIndex(va)) + inPage;
        }
        if (anon != null) {
            // A private copy of a page beyond the end of file is unreachable as well (the kernel zaps even COW'd
            // pages on truncate; here the copy is freed at munmap).
            file.checkWithinFile(pageIndex(va) << pageShift);
            long copy = anon.peek(copyIndex(va));
            if (copy >= 0) {
                return copy + inPage;
            }
        }
        return file.touch((pageIndex(va) << pageShift) + inPage);
    }

    /**
     * The physical address of {@code va} for a write (or a long-term pin): as {@link #touch}, except that in a private
     * file mapping a page without a private copy gets one first (COW break: a new page holding the file page's
     * current bytes).
     */
    long touchForWrite(long va, PhysicalMemory memory) {
        if (file == null || anon == null) {
            return touch(va);
        }
        long inPage = va & (pageSize() - 1);
        long index = copyIndex(va);
        file.checkWithinFile(pageIndex(va) << pageShift);
        long copy = anon.peek(index);
        if (copy >= 0) {
            return copy + inPage;
        }
        long source = file.touch(pageIndex(va) << pageShift);
        return anon.touchCopyOf(index, source, memory) + inPage;
    }

    @Override
    public String toString() {
        return String.format("%x-%x %s%s%s %s", start, end, readable() ? "r" : "-", writable() ? "w" : "-",
                (prot & Prot.EXEC) != 0 ? "x" : "-", file != null ? (anon != null ? "private " : "") + file : pfn != null ? pfn.toString() : kind.toString());
    }
}
