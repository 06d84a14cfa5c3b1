package dev.iommufd.snapshot;

import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.hw.MemoryView;
import java.util.TreeMap;

/** The frames of a {@link MachineSnapshot} as read-only little-endian memory. */
public final class SnapshotMemory implements MemoryView {
    private final TreeMap<Long, byte[]> frames;

    SnapshotMemory(TreeMap<Long, byte[]> frames) {
        this.frames = frames;
    }

    @Override
    public boolean contains(long physicalAddress) {
        return frames.containsKey(physicalAddress & -PhysicalMemory.FRAME_SIZE);
    }

    @Override
    public long read64(long physicalAddress) {
        byte[] f = frames.get(physicalAddress & -PhysicalMemory.FRAME_SIZE);
        if (f == null) {
            return 0;
        }
        int o = (int) (physicalAddress & (PhysicalMemory.FRAME_SIZE - 8));
        long v = 0;
        for (int b = 7; b >= 0; b--) {
            v = v << 8 | (f[o + b] & 0xffL);
        }
        return v;
    }
}
