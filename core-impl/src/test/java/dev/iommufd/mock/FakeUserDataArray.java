package dev.iommufd.mock;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.UserDataArray;
import dev.iommufd.spi.UserStructs;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** A user array held in a byte array, copied with the SPI's rules ({@link UserStructs}). */
final class FakeUserDataArray implements UserDataArray {
    private final int type;
    private final int entryLength;
    private final int count;
    private final byte[] bytes;

    FakeUserDataArray(int type, int entryLength, int count, byte[] bytes) {
        this.type = type;
        this.entryLength = entryLength;
        this.count = count;
        this.bytes = bytes;
    }

    /**
     * A user buffer of {@code entries} laid out as real structs of {@code structSize} bytes (little-endian u32
     * fields) followed by 16 zero bytes, described to the driver with a possibly different {@code entryLength}
     * (the kernel reads entry {@code i} at {@code uptr + entry_len * i}).
     */
    static FakeUserDataArray of(int type, int entryLength, int structSize, int[][] entries) {
        ByteBuffer b = ByteBuffer.allocate(structSize * entries.length + 16).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < entries.length; i++) {
            for (int j = 0; j < entries[i].length; j++) {
                b.putInt(i * structSize + 4 * j, entries[i][j]);
            }
        }
        return new FakeUserDataArray(type, entryLength, entries.length, b.array());
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
        return count;
    }

    @Override
    public ByteBuffer copyEntry(int index, int expectedType, int kernelSize, int minSize) {
        if (type != expectedType || index < 0 || index >= count) {
            throw ErrnoException.of(Errno.EINVAL, "bad type or index");
        }
        return UserStructs.copyStruct(bytes, index * entryLength, entryLength, kernelSize, minSize, "entry");
    }
}
