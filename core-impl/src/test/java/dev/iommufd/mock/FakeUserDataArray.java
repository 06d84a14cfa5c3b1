package dev.iommufd.mock;

import dev.iommufd.spi.AbstractUserDataArray;
import dev.iommufd.spi.UserStructs;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** A user array held in a byte array, copied with the kernel's rules ({@link AbstractUserDataArray}, {@link UserStructs}). */
final class FakeUserDataArray extends AbstractUserDataArray {
    private final byte[] bytes;

    FakeUserDataArray(int type, int entryLength, int count, byte[] bytes) {
        super(type, entryLength, count);
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
    protected void readEntry(int index, byte[] dst) {
        System.arraycopy(bytes, index * dst.length, dst, 0, dst.length);
    }
}
