package dev.iommufd.smmuv3;

import static dev.iommufd.smmuv3.layout.SmmuRegisters.*;

import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.StreamTableDescriptor;
import dev.iommufd.smmuv3.layout.StreamTableEntry;

/**
 * The driver's stream table ({@code arm_smmu_strtab_cfg}): linear when the SMMU has no 2-level support or
 * SIDSIZE is at most {@link #SPLIT}, otherwise 2-level with SPLIT=8 (256 STEs, 16 KiB per level-2 table),
 * level-2 tables allocated on the first probe of a StreamID in their range ({@code arm_smmu_init_l2_strtab}).
 * Every STE starts as an abort STE (Linux with {@code disable_bypass}).
 *
 * <p>Locking: {@link #ensureSte} synchronises on this table (Linux's {@code streams_mutex}); STE contents are
 * written only by the STE writer under the master's lock.
 */
final class StreamTable {
    /** Linux {@code STRTAB_SPLIT}. */
    static final int SPLIT = 8;
    /** Linux {@code STRTAB_MAX_L1_ENTRIES}. */
    static final int MAX_L1_ENTRIES = 1 << 15;

    private final PhysicalMemory memory;
    final boolean twoLevel;
    final int log2size;
    final long base;
    private final int baseOrder;
    private final long[] l2Tables;
    private static final int L2_ORDER = 2; // 256 * 64 B = 16 KiB

    StreamTable(PhysicalMemory memory, SmmuFeatures features) {
        this.memory = memory;
        this.twoLevel = features.twoLevelStrtab && features.sidBits > SPLIT;
        if (twoLevel) {
            int l1Entries = Math.min(1 << Math.min(features.sidBits - SPLIT, 30), MAX_L1_ENTRIES);
            log2size = Integer.numberOfTrailingZeros(l1Entries) + SPLIT;
            baseOrder = orderFor((long) l1Entries * StreamTableDescriptor.SIZE);
            l2Tables = new long[l1Entries];
        } else {
            log2size = features.sidBits;
            baseOrder = orderFor((long) StreamTableEntry.SIZE << log2size);
            l2Tables = null;
        }
        base = memory.frames().allocate(baseOrder);
        if (!twoLevel) {
            for (long sid = 0; sid < 1L << log2size; sid++) {
                initAbort(base + sid * StreamTableEntry.SIZE);
            }
        }
    }

    private static int orderFor(long bytes) {
        int o = 0;
        while ((PhysicalMemory.FRAME_SIZE << o) < bytes) {
            o++;
        }
        return o;
    }

    private void initAbort(long ste) {
        memory.write64(ste, StreamTableEntry.CONFIG_ABORT << 1 | 1L);
    }

    void program(MmioBus mmio, long regs) {
        mmio.write64(regs + STRTAB_BASE, STRTAB_BASE_RA | base);
        int cfg = log2size | (twoLevel ? SPLIT << STRTAB_BASE_CFG_SPLIT_SHIFT
                | STRTAB_BASE_CFG_FMT_2LVL << STRTAB_BASE_CFG_FMT_SHIFT : 0);
        mmio.write32(regs + STRTAB_BASE_CFG, cfg);
    }

    /** Whether {@code sid} fits the table. */
    boolean covers(int sid) {
        return log2size >= 32 || ((sid & 0xffff_ffffL) >>> log2size) == 0;
    }

    /** Makes sure the STE of {@code sid} exists (allocating its level-2 table) and returns its address. */
    synchronized long ensureSte(int sid) {
        if (!twoLevel) {
            return base + (sid & 0xffff_ffffL) * StreamTableEntry.SIZE;
        }
        int l1 = sid >>> SPLIT;
        if (l2Tables[l1] == 0) {
            long l2 = memory.frames().allocate(L2_ORDER);
            for (int i = 0; i < 1 << SPLIT; i++) {
                initAbort(l2 + (long) i * StreamTableEntry.SIZE);
            }
            // the L1 descriptor was invalid, so it cannot be cached: no CFGI needed (arm_smmu_init_l2_strtab)
            memory.write64(base + (long) l1 * StreamTableDescriptor.SIZE, StreamTableDescriptor.encode(l2, SPLIT + 1));
            l2Tables[l1] = l2;
        }
        return l2Tables[l1] + (long) (sid & ((1 << SPLIT) - 1)) * StreamTableEntry.SIZE;
    }

    void free() {
        if (l2Tables != null) {
            for (long l2 : l2Tables) {
                if (l2 != 0) {
                    memory.frames().free(l2, L2_ORDER);
                }
            }
        }
        memory.frames().free(base, baseOrder);
    }
}
