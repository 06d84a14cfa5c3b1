package dev.iommufd.api.uapi;

import java.util.Arrays;

/**
 * A kernel-side copy of a uAPI struct: little-endian fields at the offsets the layout classes of this package
 * define ({@code IommuIoasMap.OFFSET_IOVA}, ...). The ioctl layer fills it from user memory with
 * {@code copy_struct_from_user} semantics and copies it back; tests use it to build arguments.
 *
 * <p>Not thread-safe; one buffer belongs to one call.
 */
public final class UserStruct {
    private final byte[] bytes;

    /** A zeroed struct of {@code size} bytes. */
    public UserStruct(int size) {
        this.bytes = new byte[size];
    }

    /** Wraps {@code bytes} (not copied). */
    public UserStruct(byte[] bytes) {
        this.bytes = bytes;
    }

    public int size() {
        return bytes.length;
    }

    /** The backing bytes (not copied). */
    public byte[] bytes() {
        return bytes;
    }

    public int u8(int offset) {
        return bytes[offset] & 0xff;
    }

    public int u16(int offset) {
        return (bytes[offset] & 0xff) | (bytes[offset + 1] & 0xff) << 8;
    }

    public int u32(int offset) {
        return (bytes[offset] & 0xff) | (bytes[offset + 1] & 0xff) << 8 | (bytes[offset + 2] & 0xff) << 16
                | (bytes[offset + 3] & 0xff) << 24;
    }

    public long u64(int offset) {
        return (u32(offset) & 0xffff_ffffL) | ((long) u32(offset + 4)) << 32;
    }

    public UserStruct put8(int offset, int value) {
        bytes[offset] = (byte) value;
        return this;
    }

    public UserStruct put16(int offset, int value) {
        bytes[offset] = (byte) value;
        bytes[offset + 1] = (byte) (value >>> 8);
        return this;
    }

    public UserStruct put32(int offset, int value) {
        bytes[offset] = (byte) value;
        bytes[offset + 1] = (byte) (value >>> 8);
        bytes[offset + 2] = (byte) (value >>> 16);
        bytes[offset + 3] = (byte) (value >>> 24);
        return this;
    }

    public UserStruct put64(int offset, long value) {
        put32(offset, (int) value);
        put32(offset + 4, (int) (value >>> 32));
        return this;
    }

    /** Whether every byte in {@code [from, to)} is zero. */
    public boolean isZero(int from, int to) {
        for (int i = from; i < to; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "UserStruct" + Arrays.toString(bytes);
    }
}
