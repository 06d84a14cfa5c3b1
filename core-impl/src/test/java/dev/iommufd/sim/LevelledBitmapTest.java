package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.BitSet;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The allocator's summary bitmap against java.util.BitSet. */
class LevelledBitmapTest {

    @Test
    void lowestSetBitAgreesWithBitSet() {
        for (long size : new long[] {1, 63, 64, 65, 4096, 262_145, 300_000}) {
            Random rnd = new Random(size);
            LevelledBitmap bm = new LevelledBitmap(size);
            BitSet ref = new BitSet();
            assertEquals(-1, bm.first());
            for (int i = 0; i < 20_000; i++) {
                long bit = (long) (rnd.nextDouble() * size);
                if (rnd.nextInt(3) == 0) {
                    bm.clear(bit);
                    ref.clear((int) bit);
                } else {
                    bm.set(bit);
                    ref.set((int) bit);
                }
                assertEquals(ref.get((int) bit), bm.get(bit));
                assertEquals(ref.nextSetBit(0), (int) bm.first(), "size " + size + " step " + i);
            }
            assertEquals(false, bm.get(size), "out of range reads as clear");
        }
    }
}
