package dev.iommufd.vtd.hw;

import dev.iommufd.vtd.layout.FirstStagePte;
import dev.iommufd.vtd.layout.PasidDirectoryEntry;
import dev.iommufd.vtd.layout.PasidTableEntry;
import dev.iommufd.vtd.layout.RootEntry;
import dev.iommufd.vtd.layout.ScalableContextEntry;
import dev.iommufd.vtd.layout.SecondStagePte;

/** Hand-built scalable-mode tables: root, context for devfn 0x20, a one-page PASID directory, PASID table 0. */
final class ScalableTables {
    static final int RID = 0x20;
    final ModelBench b;
    final long root;
    final long context;
    final long dir;
    final long pasidTable;
    final long fsRoot;
    final long ssRoot;

    ScalableTables(ModelBench b) {
        this.b = b;
        root = b.frame();
        context = b.frame();
        dir = b.frame();
        pasidTable = b.frame();
        fsRoot = b.frame();
        ssRoot = b.frame();
        b.mem.write64(root, RootEntry.encode(context));
        context(2, false, true);
        b.mem.write64(dir, PasidDirectoryEntry.encode(pasidTable, false));
    }

    long contextAddress() {
        return ScalableContextEntry.entryAddress(context, RID);
    }

    void context(int pdts, boolean pre, boolean paside) {
        b.mem.write64(contextAddress(), ScalableContextEntry.encodeQ0(dir, pdts, false, paside, pre, false));
    }

    long entryAddress(int pasid) {
        return PasidTableEntry.entryAddress(pasidTable, pasid);
    }

    /** A first-stage (PGTT 1) entry, 4-level, DID 3. */
    void firstStage(int pasid, long q2Extra) {
        long e = entryAddress(pasid);
        b.mem.write64(e + 8, PasidTableEntry.encodeQ1(3, false, false));
        b.mem.write64(e + 16, PasidTableEntry.encodeQ2(fsRoot, 0, false, false, false) | q2Extra);
        b.mem.write64(e, PasidTableEntry.encodeQ0(0, 2, PasidTableEntry.PGTT_FIRST_STAGE, false, false));
    }

    /** A second-stage (PGTT 2) entry, AW 2 (4 levels), DID 4. */
    void secondStage(int pasid, boolean ssade) {
        long e = entryAddress(pasid);
        b.mem.write64(e + 8, PasidTableEntry.encodeQ1(4, false, false));
        b.mem.write64(e + 16, 0);
        b.mem.write64(e, PasidTableEntry.encodeQ0(ssRoot, 2, PasidTableEntry.PGTT_SECOND_STAGE, ssade, false));
    }

    /** A nested (PGTT 3) entry: first stage at guest-physical {@code fsGpa}, second stage at {@link #ssRoot}. */
    void nested(int pasid, long fsGpa) {
        long e = entryAddress(pasid);
        b.mem.write64(e + 8, PasidTableEntry.encodeQ1(5, false, false));
        b.mem.write64(e + 16, PasidTableEntry.encodeQ2(fsGpa, 0, false, false, false));
        b.mem.write64(e, PasidTableEntry.encodeQ0(ssRoot, 2, PasidTableEntry.PGTT_NESTED, false, false));
    }

    /** Maps a 4 KiB first-stage page (tables P|RW|US|A; leaf as given) in a 4-level table at {@code top}. */
    static void mapFs(ModelBench b, long top, long va, long leaf) {
        long table = top;
        for (int l = 4; l > 1; l--) {
            long ea = table + SecondStagePte.index(va, l) * 8L;
            long e = b.mem.read64(ea);
            if (!FirstStagePte.present(e)) {
                e = FirstStagePte.table(b.frame());
                b.mem.write64(ea, e);
            }
            table = FirstStagePte.address(e, l);
        }
        b.mem.write64(table + SecondStagePte.index(va, 1) * 8L, leaf);
    }

    static long fsEntryAddress(ModelBench b, long top, long va, int level) {
        long table = top;
        for (int l = 4; l > level; l--) {
            table = FirstStagePte.address(b.mem.read64(table + SecondStagePte.index(va, l) * 8L), l);
        }
        return table + SecondStagePte.index(va, level) * 8L;
    }
}
