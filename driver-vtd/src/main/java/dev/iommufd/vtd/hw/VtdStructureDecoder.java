package dev.iommufd.vtd.hw;

import com.google.auto.service.AutoService;
import dev.iommufd.spi.hw.DecodedNode;
import dev.iommufd.spi.hw.MemoryView;
import dev.iommufd.spi.hw.RegisterValues;
import dev.iommufd.spi.hw.StructureDecoder;
import dev.iommufd.vtd.layout.CapabilityRegister;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import dev.iommufd.vtd.layout.FirstStagePte;
import dev.iommufd.vtd.layout.PasidDirectoryEntry;
import dev.iommufd.vtd.layout.PasidTableEntry;
import dev.iommufd.vtd.layout.RootEntry;
import dev.iommufd.vtd.layout.ScalableContextEntry;
import dev.iommufd.vtd.layout.SecondStagePte;
import dev.iommufd.vtd.layout.VtdRegisters;
import java.util.List;

/**
 * Decodes VT-d structures from a snapshot (VT-d spec chapter 9 and 11): the registers that locate and enable
 * translation, the root table (legacy or scalable, RTADDR_REG.TTM), and per device its root entry, context entry
 * (legacy 128-bit or scalable 256-bit), PASID directory and PASID-table entry for RID_PASID in scalable mode,
 * and the walk of its second- or first-stage page table. Uses the layout classes the driver and the hardware
 * model use; reads only the given registers and memory.
 */
@AutoService(StructureDecoder.class)
public final class VtdStructureDecoder implements StructureDecoder {
    /** Entries listed per table at most (the rest is summarised), to keep output bounded. */
    static final int MAX_ENTRIES_PER_TABLE = 512;

    /** FaultReason's constants by value, named as that class names them (VT-d spec appendix A). */
    static final java.util.Map<Integer, String> FAULT_REASONS = faultReasons();

    private static java.util.Map<Integer, String> faultReasons() {
        java.util.Map<Integer, String> m = new java.util.HashMap<>();
        for (java.lang.reflect.Field f : dev.iommufd.vtd.layout.FaultReason.class.getFields()) {
            if (f.getType() == int.class && java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
                try {
                    m.putIfAbsent(f.getInt(null), f.getName());
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return java.util.Map.copyOf(m);
    }

    @Override
    public String model() {
        return "vtd";
    }

    @Override
    public DecodedNode decode(RegisterValues regs, MemoryView mem, List<Device> devices) {
        DecodedNode unit = DecodedNode.group("vtd", "Intel VT-d DMA remapping unit");
        DecodedNode r = unit.add(DecodedNode.group("registers", ""));
        long ver = regs.valueOr0("VER_REG");
        r.add(DecodedNode.register("VER_REG", VtdRegisters.VER_REG, ver)).field("MAX", ver >>> 4 & 0xf).field("MIN", ver & 0xf);
        long cap = regs.valueOr0("CAP_REG");
        r.add(DecodedNode.register("CAP_REG", VtdRegisters.CAP_REG, cap))
                .field("ND", cap & 7).field("SAGAW", CapabilityRegister.sagaw(cap)).field("MGAW", (cap >>> 16 & 0x3f) + 1)
                .field("FRO", CapabilityRegister.faultRecordOffset(cap) / 16)
                .field("NFR", CapabilityRegister.faultRecordCount(cap) - 1).field("SLLPS", cap >>> 34 & 0xf);
        long ecap = regs.valueOr0("ECAP_REG");
        DecodedNode e = r.add(DecodedNode.register("ECAP_REG", VtdRegisters.ECAP_REG, ecap));
        e.field("QI", bit(ecap, ExtendedCapabilityRegister.QI)).field("PT", bit(ecap, ExtendedCapabilityRegister.PT))
                .field("SC", bit(ecap, ExtendedCapabilityRegister.SC)).field("PASID", bit(ecap, ExtendedCapabilityRegister.PASID))
                .field("SMTS", bit(ecap, ExtendedCapabilityRegister.SMTS))
                .field("SLTS", bit(ecap, ExtendedCapabilityRegister.SLTS))
                .field("FLTS", bit(ecap, ExtendedCapabilityRegister.FLTS));
        long gsts = regs.valueOr0("GSTS_REG");
        r.add(DecodedNode.register("GSTS_REG", VtdRegisters.GSTS_REG, gsts))
                .field("TES", bit(gsts, VtdRegisters.GSTS_TES)).field("RTPS", bit(gsts, VtdRegisters.GSTS_RTPS))
                .field("QIES", bit(gsts, VtdRegisters.GSTS_QIES));
        long rtaddr = regs.valueOr0("RTADDR_REG");
        long rta = rtaddr & VtdRegisters.RTADDR_RTA_MASK;
        int ttm = (int) ((rtaddr & VtdRegisters.RTADDR_TTM_MASK) >>> VtdRegisters.RTADDR_TTM_SHIFT);
        boolean scalable = ttm == VtdRegisters.TTM_SCALABLE;
        r.add(DecodedNode.register("RTADDR_REG", VtdRegisters.RTADDR_REG, rtaddr)).field("RTA", rta >>> 12)
                .add(DecodedNode.field("TTM", ttm, scalable ? "scalable-mode tables" : ttm == 0 ? "legacy tables" : "reserved"));
        long iqa = regs.valueOr0("IQA_REG");
        r.add(DecodedNode.register("IQA_REG", VtdRegisters.IQA_REG, iqa)).field("IQA", iqa >>> 12).field("DW", iqa >>> 11 & 1)
                .field("QS", iqa & 7);
        long fsts = regs.valueOr0("FSTS_REG");
        r.add(DecodedNode.register("FSTS_REG", VtdRegisters.FSTS_REG, fsts)).field("PFO", fsts & 1).field("PPF", fsts >>> 1 & 1)
                .field("FRI", fsts >>> 8 & 0xff);
        for (RegisterValues.Value v : regs.all()) {
            if (v.register().name().startsWith("FRCD_REG") && v.register().name().endsWith("_HI")) {
                long hi = v.value();
                DecodedNode fr = r.add(DecodedNode.register(v.register().name(), v.register().offset(), hi))
                        .field("SID", hi & 0xffff).field("PRIV", hi >>> 29 & 1).field("PP", hi >>> 31 & 1);
                fr.add(DecodedNode.field("FR", hi >>> 32 & 0xff, FAULT_REASONS.getOrDefault((int) (hi >>> 32 & 0xff), "")));
                fr.field("PV", hi >>> 40 & 0xfffff).field("AT", hi >>> 60 & 3)
                        .add(DecodedNode.field("T", hi >>> 62 & 1, (hi >>> 62 & 1) != 0 ? "read" : "write"));
                fr.add(DecodedNode.field("F", hi >>> 63 & 1, (hi >>> 63 & 1) != 0 ? "pending" : "cleared by software"));
            }
        }
        if (rta == 0 && (gsts & VtdRegisters.GSTS_RTPS) == 0) {
            unit.add(DecodedNode.problem("root table", "no root table pointer set (GSTS_REG.RTPS = 0)"));
            return unit;
        }
        DecodedNode root = unit.add(DecodedNode.table(scalable ? "scalable-mode root table" : "root table", rta,
                "256 root entries of 128 bits, one per bus"));
        if (!mem.contains(rta)) {
            root.add(DecodedNode.problem("frame", String.format("root table frame %#x is not in the snapshot", rta)));
        } else {
            for (int bus = 0; bus < 256; bus++) {
                long a = RootEntry.entryAddress(rta, bus);
                long lo = mem.read64(a);
                long hi = mem.read64(a + 8);
                if (RootEntry.present(lo) || (scalable && RootEntry.present(hi))) {
                    DecodedNode n = root.add(DecodedNode.entry("root entry[bus " + hex2(bus) + "]", a, lo, ""));
                    if (scalable) {
                        n.field("LP", lo & 1).field("LCTP", RootEntry.contextTablePointer(lo) >>> 12).field("UP", hi & 1)
                                .field("UCTP", RootEntry.contextTablePointer(hi) >>> 12);
                    } else {
                        n.field("P", lo & 1).field("CTP", RootEntry.contextTablePointer(lo) >>> 12);
                    }
                }
            }
        }
        for (Device d : devices) {
            unit.add(decodeDevice(d, rta, scalable, mem));
        }
        return unit;
    }

    private DecodedNode decodeDevice(Device d, long rta, boolean scalable, MemoryView mem) {
        DecodedNode g = DecodedNode.group(d.bdf(), String.format("RID %#06x", d.rid()));
        int bus = d.rid() >>> 8;
        int devfn = d.rid() & 0xff;
        long ra = RootEntry.entryAddress(rta, bus);
        if (!mem.contains(ra)) {
            g.add(DecodedNode.problem("root entry", "root table not in the snapshot"));
            return g;
        }
        long half = mem.read64(ra + (scalable && devfn >= 0x80 ? 8 : 0));
        if (!RootEntry.present(half)) {
            g.add(DecodedNode.problem("root entry", "not present: DMA from this device faults (reason 0x1)"));
            return g;
        }
        long ctp = RootEntry.contextTablePointer(half);
        if (!scalable) {
            long ca = ContextEntry.entryAddress(ctp, devfn);
            if (!mem.contains(ca)) {
                g.add(DecodedNode.problem("context entry", String.format("context table %#x not in the snapshot", ctp)));
                return g;
            }
            long lo = mem.read64(ca);
            long hi = mem.read64(ca + 8);
            DecodedNode ce = g.add(DecodedNode.entry("context entry", ca, lo, ContextEntry.present(lo) ? "present"
                    : "not present: DMA faults (reason 0x2)"));
            if (!ContextEntry.present(lo)) {
                return g;
            }
            int tt = ContextEntry.tt(lo);
            int aw = ContextEntry.aw(hi);
            ce.field("P", 1).field("FPD", ContextEntry.fpd(lo) ? 1 : 0)
                    .add(DecodedNode.field("TT", tt, tt == ContextEntry.TT_MULTI_LEVEL ? "untranslated requests walk SLPTPTR"
                            : tt == ContextEntry.TT_DEV_IOTLB ? "walk SLPTPTR, device-TLB allowed"
                            : tt == ContextEntry.TT_PASS_THROUGH ? "pass-through" : "reserved"));
            ce.field("SLPTPTR", ContextEntry.slptptr(lo) >>> 12);
            ce.add(DecodedNode.field("AW", aw, levelsOf(aw) + "-level, " + (30 + 9 * aw) + "-bit guest address width"));
            ce.field("DID", ContextEntry.did(hi));
            if (tt != ContextEntry.TT_PASS_THROUGH) {
                g.add(walk("second-stage", ContextEntry.slptptr(lo), levelsOf(aw), 0, mem, false));
            }
            return g;
        }
        long ca = ScalableContextEntry.entryAddress(ctp, devfn);
        if (!mem.contains(ca)) {
            g.add(DecodedNode.problem("context entry", String.format("context table %#x not in the snapshot", ctp)));
            return g;
        }
        long q0 = mem.read64(ca);
        long q1 = mem.read64(ca + 8);
        DecodedNode ce = g.add(DecodedNode.entry("scalable-mode context entry", ca, q0,
                ScalableContextEntry.present(q0) ? "present" : "not present: DMA faults"));
        if (!ScalableContextEntry.present(q0)) {
            return g;
        }
        int ridPasid = ScalableContextEntry.ridPasid(q1);
        long dir = ScalableContextEntry.pasidDirPointer(q0);
        ce.field("P", 1).field("FPD", q0 >>> 1 & 1).field("DTE", q0 >>> 2 & 1).field("PASIDE", q0 >>> 3 & 1)
                .field("PRE", q0 >>> 4 & 1)
                .add(DecodedNode.field("PDTS", ScalableContextEntry.pdts(q0), ScalableContextEntry.pasidLimit(q0) + " PASIDs"));
        ce.field("PASIDDIRPTR", dir >>> 12).field("RID_PASID", ridPasid);
        long de = PasidDirectoryEntry.entryAddress(dir, ridPasid);
        if (!mem.contains(de)) {
            g.add(DecodedNode.problem("PASID directory", String.format("frame %#x not in the snapshot", dir)));
            return g;
        }
        long pde = mem.read64(de);
        DecodedNode pd = g.add(DecodedNode.entry("PASID directory entry[" + (ridPasid >>> 6) + "]", de, pde,
                PasidDirectoryEntry.present(pde) ? "present" : "not present"));
        if (!PasidDirectoryEntry.present(pde)) {
            return g;
        }
        long table = PasidDirectoryEntry.tablePointer(pde);
        pd.field("P", 1).field("FPD", pde >>> 1 & 1).field("PTP", table >>> 12);
        long pa = PasidTableEntry.entryAddress(table, ridPasid);
        if (!mem.contains(pa)) {
            g.add(DecodedNode.problem("PASID table", String.format("frame %#x not in the snapshot", table)));
            return g;
        }
        long p0 = mem.read64(pa);
        long p1 = mem.read64(pa + 8);
        long p2 = mem.read64(pa + 16);
        DecodedNode pe = g.add(DecodedNode.entry("PASID table entry[RID_PASID " + ridPasid + "]", pa, p0,
                PasidTableEntry.present(p0) ? "present" : "not present"));
        if (!PasidTableEntry.present(p0)) {
            return g;
        }
        int pgtt = PasidTableEntry.pgtt(p0);
        int aw = PasidTableEntry.aw(p0);
        pe.field("P", 1).field("FPD", PasidTableEntry.fpd(p0) ? 1 : 0).add(DecodedNode.field("AW", aw, levelsOf(aw) + "-level"));
        pe.add(DecodedNode.field("PGTT", pgtt, switch (pgtt) {
            case PasidTableEntry.PGTT_FIRST_STAGE -> "first-stage only";
            case PasidTableEntry.PGTT_SECOND_STAGE -> "second-stage only";
            case PasidTableEntry.PGTT_NESTED -> "nested";
            case PasidTableEntry.PGTT_PASS_THROUGH -> "pass-through";
            default -> "reserved";
        }));
        pe.field("SSADE", PasidTableEntry.ssade(p0) ? 1 : 0).field("SSPTPTR", PasidTableEntry.ssptptr(p0) >>> 12)
                .field("DID", PasidTableEntry.did(p1)).field("PGSNP", PasidTableEntry.pgsnp(p1) ? 1 : 0)
                .field("SRE", PasidTableEntry.sre(p2) ? 1 : 0).field("FSPM", PasidTableEntry.fspm(p2))
                .field("FSPTPTR", PasidTableEntry.fsptptr(p2) >>> 12);
        if (pgtt == PasidTableEntry.PGTT_SECOND_STAGE || pgtt == PasidTableEntry.PGTT_NESTED) {
            g.add(walk("second-stage", PasidTableEntry.ssptptr(p0), levelsOf(aw), 0, mem, false));
        }
        if (pgtt == PasidTableEntry.PGTT_FIRST_STAGE || pgtt == PasidTableEntry.PGTT_NESTED) {
            int levels = PasidTableEntry.fspm(p2) == PasidTableEntry.FSPM_5_LEVEL ? 5 : 4;
            g.add(walk("first-stage", PasidTableEntry.fsptptr(p2), levels, 0, mem, true));
        }
        return g;
    }

    /** AW encodings 1, 2, 3 are 3-, 4- and 5-level tables (39-, 48-, 57-bit). */
    private static int levelsOf(int aw) {
        return aw + 2;
    }

    /** The page-table tree from the level-{@code level} table at {@code table} covering IOVAs from {@code base}. */
    static DecodedNode walk(String stage, long table, int level, long base, MemoryView mem, boolean firstStage) {
        DecodedNode t = DecodedNode.table(stage + " level-" + level + " table", table,
                String.format("IOVA %#x, each entry maps %s", base, size(SecondStagePte.levelSize(level))));
        if (!mem.contains(table)) {
            t.add(DecodedNode.problem("frame", String.format("%#x is not in the snapshot", table)));
            return t;
        }
        int listed = 0;
        for (int i = 0; i < SecondStagePte.ENTRIES; i++) {
            long a = table + 8L * i;
            long e = mem.read64(a);
            boolean present = firstStage ? FirstStagePte.present(e) : SecondStagePte.present(e);
            if (!present) {
                continue;
            }
            if (++listed > MAX_ENTRIES_PER_TABLE) {
                break;
            }
            long iova = base + i * SecondStagePte.levelSize(level);
            boolean leaf = level == 1 || (e & (firstStage ? FirstStagePte.PS : SecondStagePte.PS)) != 0;
            long addr = firstStage ? FirstStagePte.address(e, level) : SecondStagePte.address(e);
            String perm = firstStage ? ((e & FirstStagePte.RW) != 0 ? "RW" : "R-")
                    : ((e & SecondStagePte.R) != 0 ? "R" : "-") + ((e & SecondStagePte.W) != 0 ? "W" : "-");
            DecodedNode n = t.add(DecodedNode.entry("[" + i + "]", a, e, leaf
                    ? String.format("IOVA %#x -> PA %#x, %s page, %s", iova, addr, size(SecondStagePte.levelSize(level)), perm)
                    : String.format("IOVA %#x.. -> next table %#x, %s", iova, addr, perm)));
            if (firstStage) {
                n.field("P", e & 1).field("R/W", e >>> 1 & 1).field("A", e >>> 5 & 1).field("D", e >>> 6 & 1)
                        .field("PS", e >>> 7 & 1).field("ADDR", addr >>> 12).field("XD", e >>> 63 & 1);
            } else {
                n.field("R", e & 1).field("W", e >>> 1 & 1).field("PS", e >>> 7 & 1).field("A", e >>> 8 & 1)
                        .field("D", e >>> 9 & 1).field("SNP", e >>> 11 & 1).field("ADDR", addr >>> 12);
            }
            if (!leaf) {
                n.add(walk(stage, addr, level - 1, iova, mem, firstStage));
            }
        }
        if (listed > MAX_ENTRIES_PER_TABLE) {
            t.add(DecodedNode.problem("more", "more present entries not listed"));
        }
        return t;
    }

    private static long bit(long reg, long mask) {
        return (reg & mask) != 0 ? 1 : 0;
    }

    private static String hex2(int v) {
        return String.format("%02x", v);
    }

    static String size(long bytes) {
        if (bytes >= 1L << 30) {
            return (bytes >> 30) + " GiB";
        }
        if (bytes >= 1L << 20) {
            return (bytes >> 20) + " MiB";
        }
        return (bytes >> 10) + " KiB";
    }
}
