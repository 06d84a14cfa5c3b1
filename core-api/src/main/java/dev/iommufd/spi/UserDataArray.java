package dev.iommufd.spi;

import java.nio.ByteBuffer;

/**
 * An array of vendor entries from user space ({@code struct iommu_user_data_array}), for
 * {@code IOMMU_HWPT_INVALIDATE}. Entries are read lazily from user memory.
 */
public interface UserDataArray {

    /** The {@code data_type} the user named. */
    int type();

    /** {@code entry_len}: bytes per entry as the user laid them out. */
    int entryLength();

    /** {@code entry_num}: how many entries the user passed. */
    int entryCount();

    /**
     * Copies entry {@code index} into a little-endian buffer of {@code kernelSize} bytes, with the kernel's
     * {@code __iommu_copy_struct_from_user_array} rules.
     *
     * @throws dev.iommufd.api.ErrnoException EINVAL for an index out of range, a type mismatch, or an
     *         {@code entry_len} below {@code minSize} or above {@code kernelSize}
     *         ({@link UserStructs#checkIommuLength}); EFAULT when the user memory cannot be read
     */
    ByteBuffer copyEntry(int index, int expectedType, int kernelSize, int minSize);

    /**
     * Copies entry {@code index} with the rules of {@code iommu_copy_struct_from_full_user_array}, which drivers
     * use to take a whole array at once: a type mismatch or {@code entry_num == 0} is EINVAL; an entry shorter
     * than {@code kernelSize} is zero-extended; a longer one is accepted when its extra bytes are zero and is
     * E2BIG otherwise ({@code copy_struct_from_user}).
     *
     * @throws dev.iommufd.api.ErrnoException as above; EFAULT when the user memory cannot be read; EOPNOTSUPP
     *         when the implementation cannot read raw entries
     */
    default ByteBuffer copyFullArrayEntry(int index, int expectedType, int kernelSize) {
        throw dev.iommufd.api.ErrnoException.notSupported("full-array copy of user entries");
    }

    /**
     * An array held in memory: {@code entryNum} entries of {@code entryLen} bytes at the start of {@code bytes}
     * (entry {@code i} at offset {@code entryLen * i}, as the kernel reads {@code uptr + entry_len * i}).
     *
     * @throws IllegalArgumentException when {@code bytes} is shorter than {@code entryLen * entryNum}
     */
    static UserDataArray of(int type, int entryLen, int entryNum, byte[] bytes) {
        if ((long) entryLen * entryNum > bytes.length || entryLen < 0 || entryNum < 0) {
            throw new IllegalArgumentException("entries do not fit in " + bytes.length + " bytes");
        }
        byte[] copy = bytes.clone();
        return new AbstractUserDataArray(type, entryLen, entryNum) {
            @Override
            protected void readEntry(int index, byte[] dst) {
                System.arraycopy(copy, entryLen * index, dst, 0, entryLen);
            }
        };
    }
}
