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
     * {@code iommu_copy_struct_from_user_array} rules.
     *
     * @throws dev.iommufd.api.ErrnoException EINVAL for a type mismatch, an index out of range, an
     *         {@code entry_len} below {@code minSize}; E2BIG for non-zero bytes past {@code kernelSize}; EFAULT
     *         when the user memory cannot be read
     */
    ByteBuffer copyEntry(int index, int expectedType, int kernelSize, int minSize);
}
