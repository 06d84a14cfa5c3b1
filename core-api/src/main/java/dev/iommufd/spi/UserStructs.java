package dev.iommufd.spi;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** The kernel's {@code copy_struct_from_user} rules, shared by {@link UserData} and {@link UserDataArray}. */
public final class UserStructs {
    private UserStructs() {
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
