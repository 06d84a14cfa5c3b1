package dev.iommufd.sim;

import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.Prot;

/**
 * One mapping of a process ({@code struct vm_area_struct}): {@code [start, end)} with protection bits, backed either by
 * anonymous pages ({@code anon}) or by a memfd ({@code file}). Immutable: munmap replaces a mapping by its remainders.
 *
 * <p>Page {@code i} of the mapping (in units of its page size) is page {@code pgoff + i} of the backing.
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

    Vma(long start, long end, int prot, MapKind kind, int pageShift, UserPages anon, SimulatedMemFd file, long pgoff) {
        this.start = start;
        this.end = end;
        this.prot = prot;
        this.kind = kind;
        this.pageShift = pageShift;
        this.anon = anon;
        this.file = file;
        this.pgoff = pgoff;
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
        return new Vma(from, to, prot, kind, pageShift, anon, file, pgoff + ((from - start) >>> pageShift));
    }

    /** The physical address of {@code va}, allocating its page on first touch. */
    long touch(long va) {
        long inPage = va & (pageSize() - 1);
        if (anon != null) {
            return anon.touch(pageIndex(va)) + inPage;
        }
        return file.touch((pageIndex(va) << pageShift) + inPage);
    }

    @Override
    public String toString() {
        return String.format("%x-%x %s%s%s %s", start, end, readable() ? "r" : "-", writable() ? "w" : "-",
                (prot & Prot.EXEC) != 0 ? "x" : "-", file != null ? file.toString() : kind.toString());
    }
}
