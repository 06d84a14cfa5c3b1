package dev.iommufd.spi;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * A vendor structure from user space ({@code struct iommu_user_data}): a type and the bytes the user passed
 * ({@code data_len} of them, already copied in by the core). Drivers read it with {@link #copyStruct}, which
 * applies the kernel's {@code __iommu_copy_struct_from_user} rules.
 */
public final class UserData {
    private final int type;
    private final byte[] bytes;

    public UserData(int type, byte[] bytes) {
        this.type = type;
        this.bytes = Objects.requireNonNull(bytes, "bytes").clone();
    }

    /** The {@code data_type} the user named. */
    public int type() {
        return type;
    }

    /** {@code data_len}. */
    public int length() {
        return bytes.length;
    }

    /**
     * Copies the user's structure into a little-endian buffer of the driver's {@code kernelSize}
     * (zero-extending shorter input), as {@code __iommu_copy_struct_from_user} does.
     *
     * @param expectedType the data type the driver handles
     * @param kernelSize {@code sizeof} the driver's struct
     * @param minSize {@code offsetofend} of the last field of the first uAPI version
     * @throws ErrnoException EINVAL on a type mismatch, or when {@code data_len} is shorter than {@code minSize} or
     *         longer than {@code kernelSize} (the iommu rule is stricter than {@code copy_struct_from_user})
     */
    public ByteBuffer copyStruct(int expectedType, int kernelSize, int minSize) {
        if (type != expectedType) {
            throw ErrnoException.of(Errno.EINVAL, "data_type %#x is not the expected %#x", type, expectedType);
        }
        UserStructs.checkIommuLength(bytes.length, kernelSize, minSize, "data");
        return UserStructs.copyStruct(bytes, 0, bytes.length, kernelSize, minSize, "data");
    }

    /** A little-endian view of the raw bytes (read-only). */
    public ByteBuffer raw() {
        return ByteBuffer.wrap(bytes).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }
}
