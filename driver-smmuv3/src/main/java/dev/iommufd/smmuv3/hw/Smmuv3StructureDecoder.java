package dev.iommufd.smmuv3.hw;

import com.google.auto.service.AutoService;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.ContextDescriptor;
import dev.iommufd.smmuv3.layout.EventRecord;
import dev.iommufd.smmuv3.layout.SmmuRegisters;
import dev.iommufd.smmuv3.layout.StreamTableDescriptor;
import dev.iommufd.smmuv3.layout.StreamTableEntry;
import dev.iommufd.smmuv3.layout.TranslationDescriptor;
import dev.iommufd.smmuv3.layout.TranslationGranule;
import dev.iommufd.spi.hw.DecodedNode;
import dev.iommufd.spi.hw.MemoryView;
import dev.iommufd.spi.hw.RegisterValues;
import dev.iommufd.spi.hw.StructureDecoder;
import java.util.List;

/**
 * Decodes SMMUv3 structures from a snapshot (SMMUv3 spec chapters 5 and 6): the registers that locate the
 * stream table and queues, and per device (StreamID = PCI requester ID) the level-1 stream table descriptor
 * (2-level format), the STE, the CD for SubstreamID 0 when stage 1 is enabled, and the walk of the stage-1
 * (TTB0) or stage-2 (S2TTB) translation table. Uses the driver's layout classes; reads only the given
 * registers and memory.
 */
@AutoService(StructureDecoder.class)
public final class Smmuv3StructureDecoder implements StructureDecoder {
    /** Valid descriptors listed per table at most. */
    static final int MAX_ENTRIES_PER_TABLE = 512;

    @Override
    public String model() {
        return "smmuv3";
    }

    @Override
    public DecodedNode decode(RegisterValues regs, MemoryView mem, List<Device> devices) {
        DecodedNode unit = DecodedNode.group("smmuv3", "Arm SMMUv3");
        DecodedNode r = unit.add(DecodedNode.group("registers", ""));
        long idr0 = regs.valueOr0("SMMU_IDR0");
        r.add(DecodedNode.register("SMMU_IDR0", SmmuRegisters.IDR0, idr0)).field("S2P", idr0 & 1).field("S1P", idr0 >>> 1 & 1)
                .field("TTF", idr0 >>> 2 & 3).field("ASID16", idr0 >>> 12 & 1).field("ST_LEVEL", idr0 >>> 27 & 3);
        long cr0 = regs.valueOr0("SMMU_CR0");
        r.add(DecodedNode.register("SMMU_CR0", SmmuRegisters.CR0, cr0)).field("SMMUEN", cr0 & 1).field("PRIQEN", cr0 >>> 1 & 1)
                .field("EVENTQEN", cr0 >>> 2 & 1).field("CMDQEN", cr0 >>> 3 & 1).field("ATSCHK", cr0 >>> 4 & 1);
        long base = regs.valueOr0("SMMU_STRTAB_BASE");
        long stBase = base & SmmuRegisters.STRTAB_BASE_ADDR_MASK;
        r.add(DecodedNode.register("SMMU_STRTAB_BASE", SmmuRegisters.STRTAB_BASE, base)).field("RA", base >>> 62 & 1)
                .field("ADDR", stBase >>> 6);
        long cfg = regs.valueOr0("SMMU_STRTAB_BASE_CFG");
        int log2size = (int) (cfg & SmmuRegisters.STRTAB_BASE_CFG_LOG2SIZE_MASK);
        int split = (int) (cfg >>> SmmuRegisters.STRTAB_BASE_CFG_SPLIT_SHIFT & SmmuRegisters.STRTAB_BASE_CFG_SPLIT_MASK);
        int fmt = (int) (cfg >>> SmmuRegisters.STRTAB_BASE_CFG_FMT_SHIFT & 3);
        boolean twoLevel = fmt == SmmuRegisters.STRTAB_BASE_CFG_FMT_2LVL;
        r.add(DecodedNode.register("SMMU_STRTAB_BASE_CFG", SmmuRegisters.STRTAB_BASE_CFG, cfg))
                .field("LOG2SIZE", log2size).field("SPLIT", split)
                .add(DecodedNode.field("FMT", fmt, twoLevel ? "2-level" : fmt == 0 ? "linear" : "reserved"));
        for (String q : new String[] {"SMMU_CMDQ_BASE", "SMMU_EVENTQ_BASE", "SMMU_PRIQ_BASE"}) {
            long v = regs.valueOr0(q);
            r.add(DecodedNode.register(q, offset(regs, q), v)).field("ADDR", (v & SmmuRegisters.Q_BASE_ADDR_MASK) >>> 5)
                    .field("LOG2SIZE", v & SmmuRegisters.Q_BASE_LOG2SIZE_MASK);
        }
        for (String q : new String[] {"SMMU_CMDQ_PROD", "SMMU_CMDQ_CONS", "SMMU_EVENTQ_PROD", "SMMU_EVENTQ_CONS"}) {
            regs.get(q).ifPresent(v -> r.add(DecodedNode.register(q, offset(regs, q), v)));
        }
        decodeEvents(regs, mem, unit);
        if (stBase == 0) {
            unit.add(DecodedNode.problem("stream table", "SMMU_STRTAB_BASE is not set"));
            return unit;
        }
        DecodedNode st = unit.add(DecodedNode.table(twoLevel ? "level-1 stream table" : "linear stream table", stBase,
                (1L << log2size) + " StreamIDs" + (twoLevel ? ", " + (1 << split) + " STEs per level-2 table" : "")));
        if (twoLevel && mem.contains(stBase)) {
            long n = Math.min(1L << Math.max(0, log2size - split), MAX_ENTRIES_PER_TABLE);
            for (int i = 0; i < n; i++) {
                long d = mem.read64(stBase + 8L * i);
                if (StreamTableDescriptor.span(d) != 0) {
                    st.add(DecodedNode.entry("L1STD[" + i + "]", stBase + 8L * i, d, "")).field("SPAN", StreamTableDescriptor.span(d))
                            .field("L2PTR", StreamTableDescriptor.l2Table(d) >>> 6);
                }
            }
        }
        for (Device dev : devices) {
            unit.add(decodeDevice(dev, stBase, twoLevel, split, log2size, mem));
        }
        return unit;
    }

    /**
     * The event queue's records that the unit wrote and software has consumed or not: the last {@code 16} before
     * SMMU_EVENTQ_PROD (records stay in memory after the driver consumed them), newest last.
     */
    private static void decodeEvents(RegisterValues regs, MemoryView mem, DecodedNode unit) {
        long qbase = regs.valueOr0("SMMU_EVENTQ_BASE");
        long base = qbase & SmmuRegisters.Q_BASE_ADDR_MASK;
        int log2 = (int) (qbase & SmmuRegisters.Q_BASE_LOG2SIZE_MASK);
        if (base == 0 || !mem.contains(base) || regs.get("SMMU_EVENTQ_PROD").isEmpty()) {
            return;
        }
        long prod = regs.valueOr0("SMMU_EVENTQ_PROD");
        long size = 1L << log2;
        // PROD: WR index in [log2-1:0], WR_WRAP at bit log2; records written so far (at most one lap)
        long written = (prod >>> log2 & 1) != 0 ? size : prod & (size - 1);
        if (written == 0) {
            return;
        }
        DecodedNode q = unit.add(DecodedNode.table("event queue", base, size + " records of 32 bytes, "
                + written + " written" + (written > 16 ? ", the last 16 shown" : "")));
        long end = prod & (size - 1);
        for (long j = Math.min(written, 16); j >= 1; j--) {
            long i = Math.floorMod(end - j, size);
            long a = base + i * EventRecord.SIZE;
            long[] e = read(mem, a, EventRecord.DWORDS);
            int id = (int) BitField.get(e, EventRecord.ID);
            q.add(DecodedNode.entry("event[" + i + "]", a, e[0], eventName(id)))
                    .field("EventID", id).field("SID", BitField.get(e, EventRecord.SID))
                    .field("SSV", BitField.get(e, EventRecord.SSV)).field("SSID", BitField.get(e, EventRecord.SSID))
                    .field("RnW", BitField.get(e, EventRecord.RNW)).field("InD", BitField.get(e, EventRecord.IND))
                    .field("PnU", BitField.get(e, EventRecord.PNU)).field("S2", BitField.get(e, EventRecord.S2))
                    .field("CLASS", BitField.get(e, EventRecord.CLASS)).field("InputAddr", BitField.get(e, EventRecord.INPUT_ADDR));
        }
    }

    private static String eventName(int id) {
        switch (id) {
            case EventRecord.F_UUT: return "F_UUT";
            case EventRecord.C_BAD_STREAMID: return "C_BAD_STREAMID";
            case EventRecord.F_STE_FETCH: return "F_STE_FETCH";
            case EventRecord.C_BAD_STE: return "C_BAD_STE";
            case EventRecord.F_STREAM_DISABLED: return "F_STREAM_DISABLED";
            case EventRecord.F_TRANSL_FORBIDDEN: return "F_TRANSL_FORBIDDEN";
            case EventRecord.C_BAD_SUBSTREAMID: return "C_BAD_SUBSTREAMID";
            case EventRecord.F_CD_FETCH: return "F_CD_FETCH";
            case EventRecord.C_BAD_CD: return "C_BAD_CD";
            case EventRecord.F_WALK_EABT: return "F_WALK_EABT";
            case EventRecord.F_TRANSLATION: return "F_TRANSLATION";
            case EventRecord.F_ADDR_SIZE: return "F_ADDR_SIZE";
            case EventRecord.F_ACCESS: return "F_ACCESS";
            case EventRecord.F_PERMISSION: return "F_PERMISSION";
            case EventRecord.F_TLB_CONFLICT: return "F_TLB_CONFLICT";
            case EventRecord.F_CFG_CONFLICT: return "F_CFG_CONFLICT";
            case EventRecord.E_PAGE_REQUEST: return "E_PAGE_REQUEST";
            case EventRecord.F_VMS_FETCH: return "F_VMS_FETCH";
            default: return String.format("event %#x", id);
        }
    }

    private DecodedNode decodeDevice(Device dev, long stBase, boolean twoLevel, int split, int log2size, MemoryView mem) {
        DecodedNode g = DecodedNode.group(dev.bdf(), String.format("StreamID %#x", dev.rid()));
        int sid = dev.rid();
        if (sid >= 1L << log2size) {
            g.add(DecodedNode.problem("STE", "StreamID beyond SMMU_STRTAB_BASE_CFG.LOG2SIZE: C_BAD_STREAMID"));
            return g;
        }
        long steAddr;
        if (twoLevel) {
            long l1 = stBase + 8L * (sid >>> split);
            if (!mem.contains(l1)) {
                g.add(DecodedNode.problem("L1STD", "level-1 stream table not in the snapshot"));
                return g;
            }
            long d = mem.read64(l1);
            int span = StreamTableDescriptor.span(d);
            g.add(DecodedNode.entry("L1STD[" + (sid >>> split) + "]", l1, d, span == 0 ? "invalid: C_BAD_STE" : ""))
                    .field("SPAN", span).field("L2PTR", StreamTableDescriptor.l2Table(d) >>> 6);
            int index = sid & ((1 << split) - 1);
            if (span == 0 || index >= 1 << (span - 1)) {
                return g;
            }
            steAddr = StreamTableDescriptor.l2Table(d) + (long) StreamTableEntry.SIZE * index;
        } else {
            steAddr = stBase + (long) StreamTableEntry.SIZE * sid;
        }
        if (!mem.contains(steAddr)) {
            g.add(DecodedNode.problem("STE", String.format("frame of %#x not in the snapshot", steAddr)));
            return g;
        }
        long[] ste = read(mem, steAddr, StreamTableEntry.DWORDS);
        int config = (int) BitField.get(ste, StreamTableEntry.CONFIG);
        boolean valid = BitField.get(ste, StreamTableEntry.V) != 0;
        DecodedNode s = g.add(DecodedNode.entry("STE[" + sid + "]", steAddr, ste[0], valid ? configName(config) : "V=0: C_BAD_STE"));
        s.field("V", valid ? 1 : 0).add(DecodedNode.field("Config", config, configName(config)));
        s.field("S1Fmt", BitField.get(ste, StreamTableEntry.S1FMT)).field("S1ContextPtr", StreamTableEntry.s1ContextPtr(ste[0]) >>> 6)
                .field("S1CDMax", BitField.get(ste, StreamTableEntry.S1CDMAX)).field("S1DSS", BitField.get(ste, StreamTableEntry.S1DSS))
                .field("EATS", BitField.get(ste, StreamTableEntry.EATS)).field("STRW", BitField.get(ste, StreamTableEntry.STRW))
                .field("SHCFG", BitField.get(ste, StreamTableEntry.SHCFG)).field("S2VMID", BitField.get(ste, StreamTableEntry.S2VMID))
                .field("S2T0SZ", BitField.get(ste, StreamTableEntry.S2T0SZ)).field("S2SL0", BitField.get(ste, StreamTableEntry.S2SL0))
                .field("S2TG", BitField.get(ste, StreamTableEntry.S2TG)).field("S2PS", BitField.get(ste, StreamTableEntry.S2PS))
                .field("S2AA64", BitField.get(ste, StreamTableEntry.S2AA64)).field("S2R", BitField.get(ste, StreamTableEntry.S2R))
                .field("S2TTB", StreamTableEntry.s2Ttb(ste[3]) >>> 4);
        if (!valid) {
            return g;
        }
        if (StreamTableEntry.stage1Enabled(config)) {
            long cdPtr = StreamTableEntry.s1ContextPtr(ste[0]);
            long cdAddr = cdPtr;
            if (BitField.get(ste, StreamTableEntry.S1CDMAX) != 0
                    && BitField.get(ste, StreamTableEntry.S1FMT) != StreamTableEntry.S1FMT_LINEAR) {
                long l1 = mem.read64(cdPtr);
                g.add(DecodedNode.entry("L1CD[0]", cdPtr, l1, (l1 & ContextDescriptor.L1_V) != 0 ? "valid" : "invalid: C_BAD_CD"))
                        .field("V", l1 & 1).field("L2Ptr", (l1 & ContextDescriptor.L1_L2PTR_MASK) >>> 12);
                cdAddr = l1 & ContextDescriptor.L1_L2PTR_MASK;
            }
            if (!mem.contains(cdAddr)) {
                g.add(DecodedNode.problem("CD", String.format("frame of %#x not in the snapshot", cdAddr)));
            } else {
                long[] cd = read(mem, cdAddr, ContextDescriptor.DWORDS);
                boolean cdValid = BitField.get(cd, ContextDescriptor.V) != 0;
                int t0sz = (int) BitField.get(cd, ContextDescriptor.T0SZ);
                int tg0 = (int) BitField.get(cd, ContextDescriptor.TG0);
                DecodedNode c = g.add(DecodedNode.entry("CD[SSID 0]", cdAddr, cd[0], cdValid ? "valid" : "V=0: C_BAD_CD"));
                c.field("V", cdValid ? 1 : 0).add(DecodedNode.field("T0SZ", t0sz, (64 - t0sz) + "-bit input"));
                c.add(DecodedNode.field("TG0", tg0, tg0 == ContextDescriptor.TG0_4K ? "4 KiB granule"
                        : tg0 == ContextDescriptor.TG0_16K ? "16 KiB granule" : tg0 == ContextDescriptor.TG0_64K ? "64 KiB granule" : "reserved"));
                c.field("EPD0", BitField.get(cd, ContextDescriptor.EPD0)).field("EPD1", BitField.get(cd, ContextDescriptor.EPD1))
                        .field("IPS", BitField.get(cd, ContextDescriptor.IPS)).field("AA64", BitField.get(cd, ContextDescriptor.AA64))
                        .field("HD", BitField.get(cd, ContextDescriptor.HD)).field("HA", BitField.get(cd, ContextDescriptor.HA))
                        .field("R", BitField.get(cd, ContextDescriptor.R)).field("A", BitField.get(cd, ContextDescriptor.A))
                        .field("ASET", BitField.get(cd, ContextDescriptor.ASET)).field("ASID", BitField.get(cd, ContextDescriptor.ASID))
                        .field("TTB0", ContextDescriptor.ttb0(cd[1]) >>> 4).field("MAIR", BitField.get(cd, ContextDescriptor.MAIR));
                if (cdValid && BitField.get(cd, ContextDescriptor.EPD0) == 0) {
                    TranslationGranule gr = granule(tg0, true);
                    if (gr == null) {
                        g.add(DecodedNode.problem("TG0", "reserved granule encoding"));
                    } else {
                        g.add(walk("stage-1", ContextDescriptor.ttb0(cd[1]), gr, gr.startLevel(64 - t0sz), 0, mem, true));
                    }
                }
            }
        }
        if (StreamTableEntry.stage2Enabled(config)) {
            int t0sz = (int) BitField.get(ste, StreamTableEntry.S2T0SZ);
            TranslationGranule gr = granule((int) BitField.get(ste, StreamTableEntry.S2TG), false);
            if (gr == null) {
                g.add(DecodedNode.problem("S2TG", "reserved granule encoding"));
            } else {
                g.add(walk("stage-2", StreamTableEntry.s2Ttb(ste[3]), gr, gr.startLevel(64 - t0sz), 0, mem, false));
            }
        }
        return g;
    }

    private static long offset(RegisterValues regs, String name) {
        var info = regs.info(name);
        return info == null ? DecodedNode.NO_ADDRESS : info.offset();
    }

    private static TranslationGranule granule(int tg, boolean stage1) {
        try {
            return stage1 ? TranslationGranule.fromTg0(tg) : TranslationGranule.fromS2tg(tg);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String configName(int config) {
        switch (config) {
            case StreamTableEntry.CONFIG_ABORT: return "abort";
            case StreamTableEntry.CONFIG_BYPASS: return "bypass";
            case StreamTableEntry.CONFIG_S1_TRANS: return "stage 1 translate, stage 2 bypass";
            case StreamTableEntry.CONFIG_S2_TRANS: return "stage 1 bypass, stage 2 translate";
            case StreamTableEntry.CONFIG_NESTED: return "stage 1 and stage 2 translate";
            default: return "reserved";
        }
    }

    private static long[] read(MemoryView mem, long addr, int dwords) {
        long[] w = new long[dwords];
        for (int i = 0; i < dwords; i++) {
            w[i] = mem.read64(addr + 8L * i);
        }
        return w;
    }

    /** The translation-table tree from the level-{@code level} table at {@code table} covering IOVAs from {@code base}. */
    static DecodedNode walk(String stage, long table, TranslationGranule g, int level, long base, MemoryView mem, boolean s1) {
        DecodedNode t = DecodedNode.table(stage + " level-" + level + " table", table,
                String.format("IOVA %#x, each descriptor maps %s", base, size(g.levelSize(level))));
        if (!mem.contains(table)) {
            t.add(DecodedNode.problem("frame", String.format("%#x is not in the snapshot", table)));
            return t;
        }
        int listed = 0;
        int n = g.entriesPerTable();
        for (int i = 0; i < n; i++) {
            long a = table + 8L * i;
            long d = mem.read64(a);
            if (!TranslationDescriptor.isValid(d)) {
                continue;
            }
            if (++listed > MAX_ENTRIES_PER_TABLE) {
                t.add(DecodedNode.problem("more", "more valid descriptors not listed"));
                break;
            }
            long iova = base + i * g.levelSize(level);
            boolean table2 = TranslationDescriptor.isTable(d, level);
            long out = TranslationDescriptor.outputAddress(d, g, table2 ? g.shift() : g.levelShift(level));
            String perm = s1 ? ((d & TranslationDescriptor.AP_RDONLY) != 0 ? "read-only" : "read/write")
                    : ((d & TranslationDescriptor.S2AP_READ) != 0 ? "R" : "-") + ((d & TranslationDescriptor.S2AP_WRITE) != 0 ? "W" : "-");
            DecodedNode e = t.add(DecodedNode.entry("[" + i + "]", a, d, table2
                    ? String.format("IOVA %#x.. -> next table %#x", iova, out)
                    : String.format("IOVA %#x -> PA %#x, %s %s, %s", iova, out, size(g.levelSize(level)),
                            level == 3 ? "page" : "block", perm)));
            e.field("type", d & TranslationDescriptor.TYPE_MASK).field("OA", out >>> 12);
            if (!table2) {
                e.field("AttrIndx", (d & TranslationDescriptor.ATTRINDX_MASK) >>> TranslationDescriptor.ATTRINDX_SHIFT)
                        .field("AP[2:1]", d >>> 6 & 3).field("SH", d >>> 8 & 3).field("AF", d >>> 10 & 1)
                        .field("nG", d >>> 11 & 1).field("DBM", d >>> 51 & 1).field("XN", d >>> 54 & 1);
                continue;
            }
            e.add(walk(stage, out, g, level + 1, iova, mem, s1));
        }
        return t;
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
