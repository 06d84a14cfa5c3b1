package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.UserDataArray;
import dev.iommufd.spi.UserStructs;
import java.nio.ByteBuffer;

/**
 * {@code struct iommu_user_data_array} over user memory: {@code entry_num} entries of {@code entry_len} bytes at
 * {@code uptr}, copied one at a time when the driver asks ({@code iommu_copy_struct_from_user_array}). Immutable;
 * each {@link #copyEntry} allocates the entry's buffers.
 */
final class UserMemoryDataArray implements UserDataArray {
    private final UserProcess process;
    private final int type;
    private final long uptr;
    private final int entryLen;
    private final int entryNum;

    UserMemoryDataArray(UserProcess process, int type, long uptr, int entryLen, int entryNum) {
        this.process = process;
        this.type = type;
        this.uptr = uptr;
        this.entryLen = entryLen;
        this.entryNum = entryNum;
    }

    @Override
    public int type() {
        return type;
    }

    @Override
    public int entryLength() {
        return entryLen;
    }

    @Override
    public int entryCount() {
        return entryNum;
    }

    /**
     * @throws ErrnoException EINVAL (type mismatch, index beyond entry_num, entry_len below minSize), E2BIG
     *         (non-zero bytes past kernelSize), EFAULT (unreadable user memory)
     */
    @Override
    public ByteBuffer copyEntry(int index, int expectedType, int kernelSize, int minSize) {
        if (type != expectedType) {
            throw ErrnoException.of(Errno.EINVAL, "data_type %#x is not the expected %#x", type, expectedType);
        }
        if (Integer.compareUnsigned(index, entryNum) >= 0) {
            throw ErrnoException.of(Errno.EINVAL, "entry %d is beyond entry_num %d", index, Integer.toUnsignedLong(entryNum));
        }
        if (Integer.compareUnsigned(entryLen, minSize) < 0) {
            throw ErrnoException.of(Errno.EINVAL, "entry_len %d is shorter than the minimum %d", Integer.toUnsignedLong(entryLen), minSize);
        }
        if (entryLen < 0 || entryLen > (1 << 20)) {
            throw ErrnoException.of(Errno.E2BIG, "entry_len %d is larger than any entry this kernel knows", Integer.toUnsignedLong(entryLen));
        }
        byte[] raw = new byte[entryLen];
        process.read(uptr + (long) entryLen * index, raw, 0, entryLen);
        return UserStructs.copyStruct(raw, 0, entryLen, kernelSize, minSize, "entry " + index);
    }
}
