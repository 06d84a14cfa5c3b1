package dev.iommufd.core;

import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.AbstractUserDataArray;

/**
 * {@code struct iommu_user_data_array} over user memory: {@code entry_num} entries of {@code entry_len} bytes at
 * {@code uptr}, read one at a time when the driver asks. The copy rules and their order are
 * {@link AbstractUserDataArray}'s; reading unmapped user memory is EFAULT. Immutable.
 */
final class UserMemoryDataArray extends AbstractUserDataArray {
    private final UserProcess process;
    private final long uptr;

    UserMemoryDataArray(UserProcess process, int type, long uptr, int entryLen, int entryNum) {
        super(type, entryLen, entryNum);
        this.process = process;
        this.uptr = uptr;
    }

    @Override
    protected void readEntry(int index, byte[] dst) {
        process.read(uptr + (long) dst.length * index, dst, 0, dst.length);
    }
}
