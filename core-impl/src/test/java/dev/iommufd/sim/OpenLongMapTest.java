package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The primitive pin-count map against java.util.HashMap, through growth and backward-shift deletions. */
class OpenLongMapTest {

    @Test
    void agreesWithHashMapUnderRandomOperations() {
        Random rnd = new Random(7);
        OpenLongMap map = new OpenLongMap(4);
        Map<Long, Long> ref = new HashMap<>();
        for (int i = 0; i < 200_000; i++) {
            // A small key space with page-aligned keys forces long probe runs and wrap-around.
            long key = (long) rnd.nextInt(3000) << 12;
            switch (rnd.nextInt(4)) {
                case 0:
                    map.put(key, i);
                    ref.put(key, (long) i);
                    break;
                case 1:
                    assertEquals(ref.remove(key) != null, map.remove(key));
                    break;
                case 2: {
                    long delta = rnd.nextBoolean() ? 1 : -1;
                    long now = map.add(key, delta);
                    long expected = ref.getOrDefault(key, 0L) + delta;
                    if (expected == 0) {
                        ref.remove(key);
                    } else {
                        ref.put(key, expected);
                    }
                    assertEquals(expected, now);
                    break;
                }
                default:
                    assertEquals(ref.getOrDefault(key, OpenLongMap.ABSENT), map.get(key));
            }
            assertEquals(ref.size(), map.size());
        }
        for (Map.Entry<Long, Long> e : ref.entrySet()) {
            assertEquals(e.getValue(), map.get(e.getKey()));
        }
    }
}
