package dev.iommufd.vtd.hw;

import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.RootEntry;
import dev.iommufd.vtd.layout.SecondStagePte;

/** Hand-built legacy-mode tables for the model tests: one root table, a context table for bus 0, SS tables. */
final class LegacyTables {
    static final int RID = 0x20; // 00:04.0
    final ModelBench b;
    final long root;
    final long context;
    long pgd;

    LegacyTables(ModelBench b) {
        this.b = b;
        root = b.frame();
        context = b.frame();
        b.mem.write64(RootEntry.entryAddress(root, 0), RootEntry.encode(context));
        pgd = b.frame();
    }

    void context(int devfn, int tt, int aw, int did, boolean fpd) {
        long a = ContextEntry.entryAddress(context, devfn);
        b.mem.write64(a + 8, ContextEntry.encodeHi(aw, did));
        b.mem.write64(a, ContextEntry.encodeLo(pgd, tt, fpd));
    }

    /** Maps one page of {@code level} (1 = 4 KiB) at {@code iova}, walking/allocating from {@code top} with {@code levels}. */
    static void map(ModelBench b, long top, int levels, long iova, long pa, int level, long attrs) {
        long table = top;
        for (int l = levels; l > level; l--) {
            long ea = table + SecondStagePte.index(iova, l) * 8L;
            long e = b.mem.read64(ea);
            if (!SecondStagePte.present(e)) {
                long t = b.frame();
                e = SecondStagePte.table(t);
                b.mem.write64(ea, e);
            }
            table = SecondStagePte.address(e);
        }
        b.mem.write64(table + SecondStagePte.index(iova, level) * 8L, SecondStagePte.leaf(pa, level, attrs));
    }

    /** The address of the level-{@code level} entry for {@code iova} (tables must exist). */
    static long entryAddress(ModelBench b, long top, int levels, long iova, int level) {
        long table = top;
        for (int l = levels; l > level; l--) {
            table = SecondStagePte.address(b.mem.read64(table + SecondStagePte.index(iova, l) * 8L));
        }
        return table + SecondStagePte.index(iova, level) * 8L;
    }

    void map(long iova, long pa, int level, long attrs) {
        map(b, pgd, 4, iova, pa, level, attrs);
    }
}
