package dev.iommufd.mock.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.spi.hw.DecodedNode;
import dev.iommufd.spi.hw.MemoryView;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.RegisterValues;
import dev.iommufd.spi.hw.StructureDecoder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/**
 * The mock IOMMU's structure decoder on hand-computed words (layouts in MockContextEntry and MockIoPte): a device
 * table at 0x100000, RID 0x20 in paging mode with DTAG 3 and root 0x200000, an L1 block of 1 MiB read-only and an
 * L0 page of 2 KiB read/write.
 */
class MockStructureDecoderTest {
    @Test
    void decodesTheDeviceTableEntryAndTheWalk() {
        Map<Long, Long> words = new HashMap<>();
        words.put(0x100000L + 0x20 * 16, 1L | 2L << 1 | 0x200000L | 3L << 48);   // V, MODE paging, ROOT, DTAG 3
        words.put(0x200000L + 8 * 2, 1L | 0x201000L);                             // L2[2] (IOVA 1 GiB) -> L1 table
        words.put(0x201000L + 8 * 5, 1L | 1L << 1 | 1L << 3 | 0x900000L);         // L1[5]: block, R, PA 9 MiB
        words.put(0x201000L + 8 * 6, 1L | 0x202000L);                             // L1[6] -> L0 table
        words.put(0x202000L + 8 * 3, 1L | 1L << 1 | 1L << 2 | 1L << 3 | 0x5800L);  // L0[3]: page, RW, PA 0x5800
        MemoryView mem = new MemoryView() {
            @Override
            public boolean contains(long pa) {
                return words.keySet().stream().anyMatch(a -> (a & -4096L) == (pa & -4096L));
            }

            @Override
            public long read64(long pa) {
                return words.getOrDefault(pa, 0L);
            }
        };
        RegisterValues regs = new RegisterValues(List.of(new RegisterValues.Value(new RegisterInfo(0x18, "MOCK_DTBR", 64),
                0x100000L)));
        DecodedNode dev = new MockStructureDecoder().decode(regs, mem,
                List.of(new StructureDecoder.Device("0000:00:04.0", 0x20, 0))).child("0000:00:04.0");
        assertNotNull(dev);
        DecodedNode dte = dev.child("DTE[32]");
        assertEquals(2, dte.child("MODE").value());
        assertEquals(3, dte.child("DTAG").value());
        DecodedNode l1 = dev.child("L2 table").child("[2]").child("L1 table");
        assertEquals("IOVA 0x40500000 -> PA 0x900000, 1024 KiB block, R-", l1.child("[5]").meaning());
        assertEquals("IOVA 0x40601800 -> PA 0x5800, 2 KiB page, RW", l1.child("[6]").child("L0 table").child("[3]").meaning());
        assertTrue(ServiceLoader.load(StructureDecoder.class).stream().anyMatch(p -> p.get().model().equals("mock")));
    }
}
