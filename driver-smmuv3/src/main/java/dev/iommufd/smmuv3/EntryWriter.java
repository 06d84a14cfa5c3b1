package dev.iommufd.smmuv3;

/**
 * The hitless STE/CD update algorithm of Linux ({@code arm_smmu_write_entry}, {@code arm_smmu_entry_qword_diff},
 * {@code entry_set}): changes a live 8-dword structure into a target so that the SMMU, which may read the
 * dwords at different times (IHI0070 3.21.3, 64-bit single-copy atomicity), only ever sees the old
 * configuration, the new one, or (when no hitless order exists) an invalid entry.
 *
 * <ol>
 *   <li>Compute, per dword, the bits the current entry uses, the bits the target uses, and the bits that may
 *       change while used ("update safe"). Bits the current entry ignores can take their new values at once
 *       ({@code unused_update}).</li>
 *   <li>If after that exactly one dword still has to change a used bit, the update is hitless: write all
 *       ignored bits, sync; write that critical dword, sync; write the remaining (now unused) bits, sync.</li>
 *   <li>If several dwords must change used bits, the update is disruptive: write dword 0 = 0 (V=0), sync;
 *       write dwords 1..7, sync; write dword 0, sync.</li>
 * </ol>
 * Each {@link #entrySet} stores only the dwords that differ, each with one 64-bit store, and calls
 * {@link #sync} (CFGI + CMD_SYNC) only if it changed something.
 *
 * <p>Not thread-safe: callers serialise writes to one entry (Linux holds the group mutex).
 */
abstract class EntryWriter {
    static final int DWORDS = 8;

    private final long[] cur = new long[DWORDS];
    private final long[] curUsed = new long[DWORDS];
    private final long[] targetUsed = new long[DWORDS];
    private final long[] safe = new long[DWORDS];
    private final long[] unusedUpdate = new long[DWORDS];

    /** The bits of {@code entry} the hardware reads in its current configuration. */
    abstract void getUsed(long[] entry, long[] used);

    /** Bits that may change while used by both entries (default: none). */
    void getUpdateSafe(long[] current, long[] target, long[] safeBits) {
    }

    /** Reads dword {@code i} of the live entry. */
    abstract long read(int i);

    /** Stores dword {@code i} of the live entry with one 64-bit store. */
    abstract void write(int i, long value);

    /** Makes the hardware observe the stores so far: CFGI_STE/CFGI_CD + CMD_SYNC. */
    abstract void sync();

    /** {@code arm_smmu_entry_qword_diff}: fills {@code unused_update} and returns the used-dword diff mask. */
    private int qwordDiff(long[] target) {
        for (int i = 0; i < DWORDS; i++) {
            cur[i] = read(i);
            curUsed[i] = 0;
            targetUsed[i] = 0;
            safe[i] = 0;
        }
        getUsed(cur, curUsed);
        getUsed(target, targetUsed);
        getUpdateSafe(cur, target, safe);
        int diff = 0;
        for (int i = 0; i < DWORDS; i++) {
            safe[i] &= targetUsed[i] & curUsed[i];
            if ((target[i] & ~targetUsed[i]) != 0) {
                throw new IllegalStateException(String.format(
                        "target dword %d sets bits %#x its own used mask says are unused", i, target[i] & ~targetUsed[i]));
            }
            curUsed[i] &= ~safe[i];
            unusedUpdate[i] = cur[i] & curUsed[i] | target[i] & ~curUsed[i];
            if ((unusedUpdate[i] & targetUsed[i]) != target[i]) {
                diff |= 1 << i;
            }
        }
        return diff;
    }

    /** {@code entry_set}: stores the differing dwords of {@code [start, start+len)}, then syncs if any changed. */
    private boolean entrySet(long[] target, int start, int len) {
        boolean changed = false;
        for (int i = start; i < start + len; i++) {
            if (read(i) != target[i]) {
                write(i, target[i]);
                changed = true;
            }
        }
        if (changed) {
            sync();
        }
        return changed;
    }

    /** {@code arm_smmu_write_entry}: moves the live entry to {@code target}. */
    final void writeEntry(long[] target) {
        int diff = qwordDiff(target);
        if (Integer.bitCount(diff) == 1) {
            int critical = Integer.numberOfTrailingZeros(diff);
            unusedUpdate[critical] = cur[critical];
            entrySet(unusedUpdate, 0, DWORDS);
            entrySet(target, critical, 1);
            entrySet(target, 0, DWORDS);
        } else if (diff != 0) {
            unusedUpdate[0] = 0;
            entrySet(unusedUpdate, 0, 1);
            entrySet(target, 1, DWORDS - 1);
            entrySet(target, 0, 1);
        } else {
            entrySet(target, 0, DWORDS); // no used bit changes: only ignored bits may differ
        }
    }
}
