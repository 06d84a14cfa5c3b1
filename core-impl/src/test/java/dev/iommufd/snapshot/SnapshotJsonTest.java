package dev.iommufd.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.MemoryRange;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.RegisterValues;
import java.util.Base64;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The iommufd-sim.snapshot/1 JSON writer and reader (reference/snapshot-format.md). */
class SnapshotJsonTest {

    private static byte[] frame(int seed) {
        byte[] f = new byte[4096];
        for (int i = 0; i < f.length; i++) {
            f[i] = (byte) (i * 7 + seed);
        }
        return f;
    }

    private static MachineSnapshot sample() {
        TreeMap<Long, byte[]> frames = new TreeMap<>();
        frames.put(0x104000L, frame(1));
        frames.put(0x105000L, frame(2));
        frames.put(0x200000L, frame(3));
        return new MachineSnapshot("q35", List.of(new MemoryRange(0, 0x4000_0000L)),
                List.of(new MachineSnapshot.Unit("dmar0", "vtd", 0xfed9_0000L, 0x1000,
                        List.of(new RegisterValues.Value(new RegisterInfo(0x20, "RTADDR_REG", 64), 0x104000L),
                                new RegisterValues.Value(new RegisterInfo(0x0, "VER_REG", 32), 0x10L)))),
                List.of(new MachineSnapshot.Device("0000:00:04.0", 0x20, "dmar0", 20)),
                List.of(new MachineSnapshot.Mapping("0000:00:04.0", MachineSnapshot.NO_PASID, 0x1_0000_0000L, 0x200000,
                        0x2000000, true, true),
                        new MachineSnapshot.Mapping("0000:00:04.0", 5, 0xffff_ffff_ffff_f000L, 0x1000, 0x3000, true, false)),
                frames);
    }

    @Test
    void writesTheSchemaWithHexStringsAndMergesAdjacentFrames() {
        String json = SnapshotJson.write(sample());
        assertTrue(json.contains("\"schema\": \"iommufd-sim.snapshot/1\""), json);
        assertTrue(json.contains("{ \"offset\": \"0x20\", \"name\": \"RTADDR_REG\", \"width\": 64, \"value\": \"0x104000\" }"), json);
        assertTrue(json.contains("{ \"bdf\": \"0000:00:04.0\", \"rid\": \"0x20\", \"iommu\": \"dmar0\", \"pasid_bits\": 20 }"), json);
        assertTrue(json.contains("\"pasid\": null, \"iova\": \"0x100000000\", \"size\": \"0x200000\", \"pa\": \"0x2000000\","
                + " \"read\": true, \"write\": true"), json);
        assertTrue(json.contains("\"iova\": \"0xfffffffffffff000\""), json);
        // 0x104000 and 0x105000 are adjacent: one entry of 8 KiB; 0x200000 on its own
        int entries = json.split("\"data\": ").length - 1;
        assertEquals(2, entries, json);
        byte[] both = new byte[8192];
        System.arraycopy(frame(1), 0, both, 0, 4096);
        System.arraycopy(frame(2), 0, both, 4096, 4096);
        assertTrue(json.contains("{ \"base\": \"0x104000\", \"data\": \"" + Base64.getEncoder().encodeToString(both) + "\" }"));
    }

    @Test
    void readsBackWhatItWrote() {
        MachineSnapshot s = sample();
        assertEquals(s, SnapshotJson.read(SnapshotJson.write(s)));
    }

    @Test
    void memoryViewReadsLittleEndianWordsAndKnowsWhichFramesItHolds() {
        SnapshotMemory m = sample().memory();
        assertTrue(m.contains(0x105ff8L));
        assertEquals(false, m.contains(0x106000L));
        byte[] f = frame(2);
        long expected = 0;
        for (int b = 7; b >= 0; b--) {
            expected = expected << 8 | (f[0x10 + b] & 0xff);
        }
        assertEquals(expected, m.read64(0x105010L));
        assertEquals(0, m.read64(0x300000L));
    }

    @Test
    void ignoresUnknownKeys() {
        String json = SnapshotJson.write(sample()).replace("\"schema\":", "\"comment\": {\"x\": [1, 2.5, null]}, \"schema\":");
        assertEquals(sample(), SnapshotJson.read(json));
    }

    @Test
    void errorsNameThePlace() {
        String json = SnapshotJson.write(sample());
        SnapshotFormatException e = assertThrows(SnapshotFormatException.class,
                () -> SnapshotJson.read(json.replace("\"value\": \"0x104000\"", "\"value\": \"104000\"")));
        assertEquals("iommus[0].registers[0].value is not a 0x-prefixed hexadecimal string: '104000'", e.getMessage());
        e = assertThrows(SnapshotFormatException.class, () -> SnapshotJson.read("{\n  \"schema\": tru\n}"));
        assertEquals("line 2, column 13: expected 'true'", e.getMessage());
        e = assertThrows(SnapshotFormatException.class,
                () -> SnapshotJson.read(json.replace("iommufd-sim.snapshot/1", "other/2")));
        assertTrue(e.getMessage().startsWith("schema is 'other/2'"), e.getMessage());
        e = assertThrows(SnapshotFormatException.class, () -> SnapshotJson.read(json.replace("\"pasid_bits\": 20, ", "")
                .replace("\"pasid_bits\": 20", "\"x\": 1")));
        assertEquals("devices[0].pasid_bits is missing", e.getMessage());
    }
}
