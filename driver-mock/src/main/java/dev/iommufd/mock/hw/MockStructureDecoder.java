package dev.iommufd.mock.hw;

import com.google.auto.service.AutoService;
import dev.iommufd.spi.hw.DecodedNode;
import dev.iommufd.spi.hw.MemoryView;
import dev.iommufd.spi.hw.RegisterValues;
import dev.iommufd.spi.hw.StructureDecoder;
import java.util.List;

/**
 * Decodes the mock IOMMU's structures from a snapshot: MOCK_DTBR, each device's device-table entry
 * ({@link MockContextEntry}) and the three-level walk of its I/O page table ({@link MockIoPte}). Reads only the
 * given registers and memory.
 */
@AutoService(StructureDecoder.class)
public final class MockStructureDecoder implements StructureDecoder {
    @Override
    public String model() {
        return MockHardwareModelProvider.ID;
    }

    @Override
    public DecodedNode decode(RegisterValues regs, MemoryView mem, List<Device> devices) {
        DecodedNode unit = DecodedNode.group("mock", "the mock IOMMU (kernel selftest mock domain in hardware form)");
        DecodedNode r = unit.add(DecodedNode.group("registers", ""));
        for (RegisterValues.Value v : regs.all()) {
            r.add(DecodedNode.register(v.register().name(), v.register().offset(), v.value()));
        }
        long dtbr = regs.valueOr0("MOCK_DTBR") & MockContextEntry.ADDR_MASK;
        if (dtbr == 0) {
            unit.add(DecodedNode.problem("device table", "MOCK_DTBR is not set"));
            return unit;
        }
        unit.add(DecodedNode.table("device table", dtbr, "65536 entries of 16 bytes, indexed by requester ID"));
        for (Device d : devices) {
            DecodedNode g = unit.add(DecodedNode.group(d.bdf(), String.format("RID %#06x", d.rid())));
            long a = MockContextEntry.dtePa(dtbr, d.rid());
            if (!mem.contains(a)) {
                g.add(DecodedNode.problem("DTE", String.format("frame of %#x not in the snapshot", a)));
                continue;
            }
            long w0 = mem.read64(a);
            int mode = MockContextEntry.mode(w0);
            boolean valid = (w0 & MockContextEntry.VALID) != 0;
            String m = switch (mode) {
                case MockContextEntry.MODE_BLOCKED -> "blocked";
                case MockContextEntry.MODE_IDENTITY -> "identity";
                case MockContextEntry.MODE_PAGING -> "paging";
                default -> "reserved";
            };
            DecodedNode e = g.add(DecodedNode.entry("DTE[" + d.rid() + "]", a, w0, valid ? m : "V=0: faults"));
            e.field("V", valid ? 1 : 0).add(DecodedNode.field("MODE", mode, m));
            e.field("DE", w0 >>> 3 & 1).field("PRE", w0 >>> 4 & 1).field("ROOT", MockContextEntry.root(w0) >>> 12)
                    .field("DTAG", MockContextEntry.dtag(w0));
            if (valid && mode == MockContextEntry.MODE_PAGING) {
                g.add(walk(MockContextEntry.root(w0), 2, 0, mem));
            }
        }
        return unit;
    }

    private static DecodedNode walk(long table, int level, long base, MemoryView mem) {
        long span = level == 2 ? 1L << MockIoPte.L2_ENTRY_SHIFT : level == 1 ? MockIoPte.BLOCK_SIZE : MockIoPte.PAGE_SIZE;
        DecodedNode t = DecodedNode.table("L" + level + " table", table, String.format("IOVA %#x", base));
        if (!mem.contains(table)) {
            t.add(DecodedNode.problem("frame", String.format("%#x is not in the snapshot", table)));
            return t;
        }
        for (int i = 0; i < MockIoPte.ENTRIES; i++) {
            long a = table + 8L * i;
            long pte = mem.read64(a);
            if (!MockIoPte.isPresent(pte)) {
                continue;
            }
            long iova = base + i * span;
            boolean leaf = MockIoPte.isLeaf(pte);
            String perm = ((pte & MockIoPte.READ) != 0 ? "R" : "-") + ((pte & MockIoPte.WRITE) != 0 ? "W" : "-");
            long pa = level == 1 ? MockIoPte.blockAddress(pte) : MockIoPte.pageAddress(pte);
            DecodedNode n = t.add(DecodedNode.entry("[" + i + "]", a, pte, leaf
                    ? String.format("IOVA %#x -> PA %#x, %d KiB %s, %s", iova, pa, span >> 10,
                            level == 1 ? "block" : "page", perm)
                    : String.format("IOVA %#x.. -> next table %#x", iova, MockIoPte.tableAddress(pte))));
            n.field("P", 1).field("R", pte >>> 1 & 1).field("W", pte >>> 2 & 1).field("L", pte >>> 3 & 1)
                    .field("D", pte >>> 4 & 1);
            if (!leaf && level > 0) {
                n.add(walk(MockIoPte.tableAddress(pte), level - 1, iova, mem));
            }
        }
        return t;
    }
}
