package dev.iommufd.smmuv3;

import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.smmuv3.layout.ContextDescriptor;
import dev.iommufd.smmuv3.layout.StreamTableEntry;

/**
 * A master's CD table ({@code arm_smmu_ctx_desc_cfg}): linear when the SMMU lacks 2-level CD tables or the
 * master has at most {@link #L2_ENTRIES} SSIDs, otherwise 2-level with 4 KiB leaves of 64 CDs (S1Fmt=1,
 * {@code CTXDESC_SPLIT} 6), leaves allocated on first use ({@code arm_smmu_alloc_cd_ptr}).
 *
 * <p>Locking: {@link #cdAddress} synchronises on the table; CD contents are written by the CD writer.
 */
final class ContextDescriptorTable {
    /** Linux {@code CTXDESC_L2_ENTRIES}. */
    static final int L2_ENTRIES = 1 << ContextDescriptor.SPLIT_4K;

    private final PhysicalMemory memory;
    final int s1CdMax;
    final int s1Fmt;
    final long base;
    private final int baseOrder;
    private final long[] leaves;

    ContextDescriptorTable(PhysicalMemory memory, int ssidBits, boolean twoLevelSupported) {
        this.memory = memory;
        this.s1CdMax = ssidBits;
        long maxCds = 1L << ssidBits;
        if (twoLevelSupported && maxCds > L2_ENTRIES) {
            s1Fmt = StreamTableEntry.S1FMT_4K_L2;
            int l1 = (int) (maxCds / L2_ENTRIES);
            leaves = new long[l1];
            baseOrder = orderFor((long) l1 * ContextDescriptor.L1_SIZE);
        } else {
            s1Fmt = StreamTableEntry.S1FMT_LINEAR;
            leaves = null;
            baseOrder = orderFor(maxCds * ContextDescriptor.SIZE);
        }
        base = memory.frames().allocate(baseOrder);
    }

    private static int orderFor(long bytes) {
        int o = 0;
        while ((PhysicalMemory.FRAME_SIZE << o) < bytes) {
            o++;
        }
        return o;
    }

    /** The address of CD {@code ssid}, allocating its leaf; -1 when {@code ssid} is out of range. */
    synchronized long cdAddress(int ssid) {
        if ((ssid >>> s1CdMax) != 0 || ssid < 0) {
            return -1;
        }
        if (leaves == null) {
            return base + (long) ssid * ContextDescriptor.SIZE;
        }
        int l1 = ssid >>> ContextDescriptor.SPLIT_4K;
        if (leaves[l1] == 0) {
            long leaf = memory.frames().allocate(0);
            memory.write64(base + (long) l1 * ContextDescriptor.L1_SIZE, ContextDescriptor.encodeL1(leaf));
            leaves[l1] = leaf;
        }
        return leaves[l1] + (long) (ssid & (L2_ENTRIES - 1)) * ContextDescriptor.SIZE;
    }

    void free() {
        if (leaves != null) {
            for (long leaf : leaves) {
                if (leaf != 0) {
                    memory.frames().free(leaf, 0);
                }
            }
        }
        memory.frames().free(base, baseOrder);
    }
}
