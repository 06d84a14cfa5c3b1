package dev.iommufd.spi;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.nio.ByteBuffer;

/**
 * A {@link UserDataArray} that applies the kernel's copy rules in the kernel's order, over a source of raw entry
 * bytes. The core implements it over a process's memory; tests and tools use {@link UserDataArray#of}.
 */
public abstract class AbstractUserDataArray implements UserDataArray {
    /** Entries longer than this are refused outright (no struct in the uAPI comes near it). */
    private static final int MAX_ENTRY_LEN = 1 << 20;

    private final int type;
    private final int entryLen;
    private final int entryNum;

    protected AbstractUserDataArray(int type, int entryLen, int entryNum) {
        this.type = type;
        this.entryLen = entryLen;
        this.entryNum = entryNum;
    }

    /** Reads the {@code entry_len} raw bytes of entry {@code index} (already range-checked) into {@code dst}. */
    protected abstract void readEntry(int index, byte[] dst);

    @Override
    public final int type() {
        return type;
    }

    @Override
    public final int entryLength() {
        return entryLen;
    }

    @Override
    public final int entryCount() {
        return entryNum;
    }

    /**
     * {@code __iommu_copy_struct_from_user_array}: index (EINVAL), type (EINVAL), length (EINVAL below
     * {@code minSize} or above {@code kernelSize}), then the copy.
     */
    @Override
    public final ByteBuffer copyEntry(int index, int expectedType, int kernelSize, int minSize) {
        checkIndex(index);
        checkType(expectedType);
        UserStructs.checkIommuLength(Integer.toUnsignedLong(entryLen), kernelSize, minSize, "entry_len");
        return UserStructs.copyStruct(raw(index), 0, entryLen, kernelSize, minSize, "entry " + index);
    }

    /** {@code iommu_copy_struct_from_full_user_array} for one entry: type, entry_num, then copy_struct_from_user. */
    @Override
    public final ByteBuffer copyFullArrayEntry(int index, int expectedType, int kernelSize) {
        checkType(expectedType);
        if (entryNum == 0) {
            throw ErrnoException.of(Errno.EINVAL, "entry_num is 0");
        }
        checkIndex(index);
        if (entryLen < 0 || entryLen > MAX_ENTRY_LEN) {
            throw ErrnoException.of(Errno.E2BIG, "entry_len %d is larger than any entry this kernel knows",
                    Integer.toUnsignedLong(entryLen));
        }
        return UserStructs.copyStruct(raw(index), 0, entryLen, kernelSize, 0, "entry " + index);
    }

    private byte[] raw(int index) {
        byte[] raw = new byte[entryLen];
        readEntry(index, raw);
        return raw;
    }

    private void checkType(int expectedType) {
        if (type != expectedType) {
            throw ErrnoException.of(Errno.EINVAL, "data_type %#x is not the expected %#x", type, expectedType);
        }
    }

    private void checkIndex(int index) {
        if (Integer.compareUnsigned(index, entryNum) >= 0) {
            throw ErrnoException.of(Errno.EINVAL, "entry %d is beyond entry_num %d", index, Integer.toUnsignedLong(entryNum));
        }
    }
}
