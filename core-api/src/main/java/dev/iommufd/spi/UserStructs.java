package dev.iommufd.spi;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The kernel's user-struct copy rules, shared by {@link UserData}, {@link UserDataArray} and their implementations.
 *
 * <p>Two rules exist in the kernel and they differ for input longer than the kernel's struct:
 * <ul>
 *   <li>{@code __iommu_copy_struct_from_user} (and the per-entry {@code __iommu_copy_struct_from_user_array}):
 *       a length below {@code min_len} <em>or above</em> {@code sizeof} is EINVAL ({@link #checkIommuLength});
 *   <li>{@code copy_struct_from_user} (used by {@code iommu_copy_struct_from_full_user_array}): longer input is
 *       accepted when the extra bytes are zero, E2BIG otherwise ({@link #copyStruct}).
 * </ul>
 */
public final class UserStructs {
    private UserStructs() {
    }

    /**
     * The length rule of {@code __iommu_copy_struct_from_user}: {@code userSize < minSize || userSize > kernelSize}
     * is EINVAL (include/linux/iommu.h: {@code if (src_data->len < min_len || data_len < src_data->len)}).
     */
    public static void checkIommuLength(long userSize, int kernelSize, int minSize, String what) {
        if (userSize < minSize || userSize > kernelSize) {
            throw ErrnoException.of(Errno.EINVAL, "%s length %d is outside [%d, %d] (the minimum and this kernel's struct size)",
                    what, userSize, minSize, kernelSize);
        }
    }

    /**
     * {@code copy_struct_from_user}: copies {@code userSize} bytes at {@code src[offset]} into a zeroed buffer of
     * {@code kernelSize}; input shorter than {@code minSize} is EINVAL; bytes beyond {@code kernelSize} must be zero
     * (E2BIG otherwise).
     */
    public static ByteBuffer copyStruct(byte[] src, int offset, int userSize, int kernelSize, int minSize, String what) {
        if (userSize < minSize) {
            throw ErrnoException.of(Errno.EINVAL, "%s length %d is shorter than the minimum %d", what, userSize, minSize);
        }
        for (int i = kernelSize; i < userSize; i++) {
            if (src[offset + i] != 0) {
                throw ErrnoException.of(Errno.E2BIG, "%s has non-zero byte at offset %d beyond the %d bytes understood",
                        what, i, kernelSize);
            }
        }
        ByteBuffer out = ByteBuffer.allocate(kernelSize).order(ByteOrder.LITTLE_ENDIAN);
        out.put(src, offset, Math.min(userSize, kernelSize));
        out.clear();
        return out;
    }
}
