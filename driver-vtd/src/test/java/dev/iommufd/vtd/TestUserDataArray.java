package dev.iommufd.vtd;

import dev.iommufd.spi.AbstractUserDataArray;
import java.nio.ByteBuffer;

/** An in-memory {@link UserDataArray} of fixed-length little-endian entries. */
final class TestUserDataArray extends AbstractUserDataArray {
    private final byte[][] entries;

    TestUserDataArray(int type, int entryLength, byte[]... entries) {
        super(type, entryLength, entries.length);
        this.entries = entries;
    }

    /** A struct iommu_hwpt_vtd_s1_invalidate. */
    static byte[] inv(long addr, long npages, int flags, int reserved) {
        ByteBuffer b = ByteBuffer.allocate(24).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(addr).putLong(npages).putInt(flags).putInt(reserved);
        return b.array();
    }

    @Override
    protected void readEntry(int index, byte[] dst) {
        System.arraycopy(entries[index], 0, dst, 0, Math.min(dst.length, entries[index].length));
    }
}
