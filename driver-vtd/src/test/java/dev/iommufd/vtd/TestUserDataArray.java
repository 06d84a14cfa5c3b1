package dev.iommufd.vtd;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.UserDataArray;
import dev.iommufd.spi.UserStructs;
import java.nio.ByteBuffer;

/** An in-memory {@link UserDataArray} of fixed-length little-endian entries. */
final class TestUserDataArray implements UserDataArray {
    private final int type;
    private final int entryLength;
    private final byte[][] entries;

    TestUserDataArray(int type, int entryLength, byte[]... entries) {
        this.type = type;
        this.entryLength = entryLength;
        this.entries = entries;
    }

    /** A struct iommu_hwpt_vtd_s1_invalidate. */
    static byte[] inv(long addr, long npages, int flags, int reserved) {
        ByteBuffer b = ByteBuffer.allocate(24).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(addr).putLong(npages).putInt(flags).putInt(reserved);
        return b.array();
    }

    @Override
    public int type() {
        return type;
    }

    @Override
    public int entryLength() {
        return entryLength;
    }

    @Override
    public int entryCount() {
        return entries.length;
    }

    @Override
    public ByteBuffer copyEntry(int index, int expectedType, int kernelSize, int minSize) {
        if (expectedType != type || index < 0 || index >= entries.length) {
            throw ErrnoException.of(Errno.EINVAL, "bad entry request");
        }
        return UserStructs.copyStruct(entries[index], 0, entryLength, kernelSize, minSize, "entry");
    }
}
